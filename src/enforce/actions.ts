// What each action does to one value. Only the value's own bytes are replaced; the
// replacement is always a JSON string literal.

import type { MaskSpec } from '../policy/types.js';

/**
 * Partial mask, format kept: letters and digits are masked, separators (spaces, dashes,
 * dots, @) stay, so `4242 4242 4242 4242` with keep_last 4 → `**** **** **** 4242`.
 * keep_first/keep_last count letters and digits only. If they would reveal half or more of
 * the value, everything is masked: a short value must not leak through its kept ends.
 */
export function maskText(text: string, spec: MaskSpec): string {
  // By code point (a lone surrogate is one), without an array of one-character strings: a
  // masked e-mail address or card number is on the hot path of a body with findings.
  let total = 0;
  for (let i = 0; i < text.length; i += width(text, i)) if (isAlnumAt(text, i)) total++;
  const reveal = spec.keep_first + spec.keep_last;
  const [first, last] = reveal * 2 > total ? [0, 0] : [spec.keep_first, spec.keep_last];
  let seen = 0;
  let out = '';
  for (let i = 0; i < text.length;) {
    const n = width(text, i);
    if (!isAlnumAt(text, i)) out += text.slice(i, i + n);
    else {
      seen++;
      out += seen <= first || seen > total - last ? text.slice(i, i + n) : spec.mask_char;
    }
    i += n;
  }
  return out;
}

/** UTF-16 units of the code point at `i`: 2 for a surrogate pair, else 1. */
function width(text: string, i: number): number {
  return (text.codePointAt(i) as number) > 0xffff ? 2 : 1;
}

const ALNUM = /^[\p{L}\p{N}]/u;

/** Whether the code point at `i` is a letter or a digit (ASCII without a regex). */
function isAlnumAt(text: string, i: number): boolean {
  const c = text.charCodeAt(i);
  if (c < 0x80) return (c >= 0x30 && c <= 0x39) || ((c | 0x20) >= 0x61 && (c | 0x20) <= 0x7a);
  return ALNUM.test(text.slice(i, i + width(text, i)));
}

/** `[REDACTED:<level>:<detector or field>]` */
export function redactPlaceholder(level: string, label: string): string {
  return `[REDACTED:${level}:${label}]`;
}

/** The label a placeholder names: the detector if the contract gives one, else the field. */
export function fieldLabel(path: string, detector: string | undefined): string {
  if (detector !== undefined) return detector;
  const i = path.lastIndexOf('/');
  const seg = path
    .slice(i + 1)
    .replace(/~1/g, '/')
    .replace(/~0/g, '~');
  return /^\d+$/.test(seg) || seg === '' ? 'value' : seg;
}
