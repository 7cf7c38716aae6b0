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
  const chars = Array.from(text);
  let total = 0;
  for (const c of chars) if (isAlnum(c)) total++;
  const reveal = spec.keep_first + spec.keep_last;
  const [first, last] = reveal * 2 > total ? [0, 0] : [spec.keep_first, spec.keep_last];
  let seen = 0;
  let out = '';
  for (const c of chars) {
    if (!isAlnum(c)) {
      out += c;
      continue;
    }
    seen++;
    out += seen <= first || seen > total - last ? c : spec.mask_char;
  }
  return out;
}

function isAlnum(c: string): boolean {
  return /[\p{L}\p{N}]/u.test(c);
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
