// The normalized view of a text that most detectors read (see docs/detectors.md,
// "Normalization"): look-alike characters folded to the ASCII a reader sees, with an offset
// map back to the original, so a hit is reported on exactly the original span.
//
// Per code point, outside ASCII (ASCII is never changed, so an ASCII text has no view):
// - default-ignorable and format characters (zero-width space and joiners, soft hyphen,
//   bidi controls, word joiner, BOM, variation selectors) are removed;
// - every dash (Unicode Pd, and the minus sign) becomes `-`;
// - every space separator (Zs, Zl, Zp, NEL) becomes ` `;
// - every decimal digit (Nd: full-width, Arabic-Indic, Devanagari, mathematical…) becomes
//   its ASCII digit;
// - everything else its NFKC compatibility form (full-width letters, ligatures), except the
//   other numbers (No: superscripts, circled digits, fractions), which stay as they are: a
//   footnote mark after a number must not become one more digit of it.
// Case is not folded here: a case-insensitive detector (IBAN) folds for itself.

const IGNORABLE = /^[\p{Default_Ignorable_Code_Point}\p{Cf}]$/u;
const DASH = /^[\p{Pd}\u2212]$/u;
const SPACE = /^[\p{Zs}\p{Zl}\p{Zp}\u0085]$/u;
const DIGIT = /^\p{Nd}$/u;
const OTHER_NUMBER = /^\p{No}$/u;
const NON_ASCII = /[^\0-\x7f]/g;

/** Folds of the code points seen so far (null: unchanged); bounded, reset when full. */
const FOLDS = new Map<number, string | null>();
const FOLDS_MAX = 4096;

/** The value of a decimal digit: Nd characters come in runs of whole decades from 0. */
function digitValue(cp: number): number {
  let start = cp;
  while (DIGIT.test(String.fromCodePoint(start - 1))) start--;
  return (cp - start) % 10;
}

/** One code point's fold, without the NFKC step (for the characters NFKC produced). */
function foldSimple(cp: number, ch: string): string | null {
  if (cp < 0x80) return null;
  if (IGNORABLE.test(ch)) return '';
  if (DASH.test(ch)) return '-';
  if (SPACE.test(ch)) return ' ';
  if (DIGIT.test(ch)) return String.fromCharCode(0x30 + digitValue(cp));
  return null;
}

/** What code point `cp` becomes in the normalized view; null when it stays as it is. */
export function foldCodePoint(cp: number): string | null {
  const known = FOLDS.get(cp);
  if (known !== undefined) return known;
  const ch = String.fromCodePoint(cp);
  let out = foldSimple(cp, ch);
  if (out === null && !OTHER_NUMBER.test(ch)) {
    const n = ch.normalize('NFKC');
    if (n !== ch) {
      out = '';
      for (const c of n) {
        const f = foldSimple(c.codePointAt(0)!, c);
        out += f ?? c;
      }
      if (out === ch) out = null;
    }
  }
  if (FOLDS.size >= FOLDS_MAX) FOLDS.clear();
  FOLDS.set(cp, out);
  return out;
}

/** A normalized text and the way back to the original's UTF-16 offsets. */
export class NormalizedText {
  constructor(
    readonly text: string,
    /** Original start and end of each normalized unit; undefined: the same offsets. */
    private readonly from: Int32Array | undefined,
    private readonly to: Int32Array | undefined,
  ) {}

  /** The original [start, end) of the normalized [start, end) (end > start). */
  original(start: number, end: number): [number, number] {
    if (this.from === undefined || this.to === undefined) return [start, end];
    return [this.from[start]!, this.to[end - 1]!];
  }
}

interface Fold {
  start: number;
  end: number;
  text: string;
}

/**
 * The normalized view of `text`, or undefined when normalization changes nothing (every
 * ASCII text, and most others: accented letters, quotes and emoji stay as they are).
 */
export function normalizeText(text: string): NormalizedText | undefined {
  NON_ASCII.lastIndex = 0;
  let folds: Fold[] | undefined;
  let sameLength = true;
  for (let m = NON_ASCII.exec(text); m !== null; m = NON_ASCII.exec(text)) {
    const i = m.index;
    const cp = text.codePointAt(i)!;
    const width = cp > 0xffff ? 2 : 1;
    if (width === 2) NON_ASCII.lastIndex = i + 2;
    const f = foldCodePoint(cp);
    if (f === null) continue;
    (folds ??= []).push({ start: i, end: i + width, text: f });
    if (f.length !== width) sameLength = false;
  }
  if (folds === undefined) return undefined;
  let out = '';
  let at = 0;
  for (const f of folds) {
    out += text.slice(at, f.start) + f.text;
    at = f.end;
  }
  out += text.slice(at);
  if (sameLength) return new NormalizedText(out, undefined, undefined);
  const from = new Int32Array(out.length);
  const to = new Int32Array(out.length);
  let j = 0;
  at = 0;
  const copy = (upto: number): void => {
    for (; at < upto; at++, j++) {
      from[j] = at;
      to[j] = at + 1;
    }
  };
  for (const f of folds) {
    copy(f.start);
    for (let k = 0; k < f.text.length; k++, j++) {
      from[j] = f.start;
      to[j] = f.end;
    }
    at = f.end;
  }
  copy(text.length);
  return new NormalizedText(out, from, to);
}
