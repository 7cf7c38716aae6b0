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
// - a percent-encoded printable ASCII character (`%40`, `%2E`, `%20`) becomes that
//   character: a value inside a URL or a form body (`john.doe%40example.com`) is read as
//   the address it is. Bytes outside printable ASCII (UTF-8 sequences) stay encoded.
// - a Cyrillic, Greek or Armenian letter that looks like a Latin one (`о` U+043E, `а`
//   U+0430, `ο` U+03BF…) becomes that Latin letter, but only inside a run of text that
//   also holds ASCII letters or digits (`jоhn@exаmple.com`): mixing scripts in one word is
//   how a value is disguised, while a word wholly in Cyrillic or Greek is just text.

const IGNORABLE = /^[\p{Default_Ignorable_Code_Point}\p{Cf}]$/u;
const DASH = /^[\p{Pd}\u2212]$/u;
const SPACE = /^[\p{Zs}\p{Zl}\p{Zp}\u0085]$/u;
const DIGIT = /^\p{Nd}$/u;
const OTHER_NUMBER = /^\p{No}$/u;
const NON_ASCII = /[^\0-\x7f]/g;
const NON_ASCII_OR_PERCENT = /[^\0-\x7f]|%[0-9A-Fa-f]{2}/g;
/** A percent-encoded byte somewhere in a text. */
export const PERCENT = /%[0-9A-Fa-f]{2}/;

/**
 * Letters of other scripts drawn like a Latin letter, from Unicode's confusables
 * (confusablesSummary.txt): the ones whose skeleton is one ASCII letter.
 */
const CONFUSABLES: ReadonlyMap<number, string> = new Map(
  Object.entries({
    // Cyrillic
    '\u0430': 'a',
    '\u0435': 'e',
    '\u043e': 'o',
    '\u0440': 'p',
    '\u0441': 'c',
    '\u0443': 'y',
    '\u0445': 'x',
    '\u0455': 's',
    '\u0456': 'i',
    '\u0458': 'j',
    '\u04bb': 'h',
    '\u04cf': 'l',
    '\u0501': 'd',
    '\u051b': 'q',
    '\u051d': 'w',
    '\u0410': 'A',
    '\u0412': 'B',
    '\u0415': 'E',
    '\u041a': 'K',
    '\u041c': 'M',
    '\u041d': 'H',
    '\u041e': 'O',
    '\u0420': 'P',
    '\u0421': 'C',
    '\u0422': 'T',
    '\u0423': 'Y',
    '\u0425': 'X',
    '\u0405': 'S',
    '\u0406': 'I',
    '\u0408': 'J',
    '\u04c0': 'I',
    '\u051a': 'Q',
    '\u051c': 'W',
    // Greek
    '\u03b1': 'a',
    '\u03b9': 'i',
    '\u03ba': 'k',
    '\u03bd': 'v',
    '\u03bf': 'o',
    '\u03c1': 'p',
    '\u03c5': 'u',
    '\u03c7': 'x',
    '\u0391': 'A',
    '\u0392': 'B',
    '\u0395': 'E',
    '\u0396': 'Z',
    '\u0397': 'H',
    '\u0399': 'I',
    '\u039a': 'K',
    '\u039c': 'M',
    '\u039d': 'N',
    '\u039f': 'O',
    '\u03a1': 'P',
    '\u03a4': 'T',
    '\u03a5': 'Y',
    '\u03a7': 'X',
    // Armenian
    '\u0585': 'o',
    '\u0578': 'n',
    '\u057d': 'u',
    '\u0570': 'h',
    // Latin letters without a compatibility form
    '\u0131': 'i',
    '\u0237': 'j',
    '\u0251': 'a',
    '\u0261': 'g',
    '\u026a': 'i',
  }).map(([ch, ascii]) => [ch.codePointAt(0)!, ascii]),
);

/** How far either way the run around a look-alike letter is read for ASCII. */
const RUN_MAX = 64;
const RUN_LETTER = /^[\p{L}\p{M}]$/u;

/**
 * Whether the run of text around offset `i` (letters and digits of any script, and the
 * characters of addresses and tokens: `@ . _ - + %`) holds an ASCII letter or digit.
 */
function inMixedRun(text: string, i: number): boolean {
  const ascii = (c: number): boolean | undefined => {
    if ((c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x5a) || (c >= 0x61 && c <= 0x7a))
      return true;
    // @ . _ - + % continue the run; other ASCII ends it.
    if (c === 0x40 || c === 0x2e || c === 0x5f || c === 0x2d || c === 0x2b || c === 0x25)
      return false;
    return undefined;
  };
  const step = (from: number, dir: 1 | -1): boolean => {
    for (let k = 1, j = from + dir; k <= RUN_MAX && j >= 0 && j < text.length; k++, j += dir) {
      const c = text.charCodeAt(j);
      if (c < 0x80) {
        const a = ascii(c);
        if (a === undefined) return false;
        if (a) return true;
        continue;
      }
      if (c >= 0xd800 && c <= 0xdfff) continue; // a surrogate half: part of a letter or not
      if (!RUN_LETTER.test(text[j]!)) return false;
    }
    return false;
  };
  return step(i, -1) || step(i, 1);
}

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
 * ASCII text without a percent-encoded character, and most others: accented letters,
 * quotes and emoji stay as they are).
 */
export function normalizeText(text: string): NormalizedText | undefined {
  const re = PERCENT.test(text) ? NON_ASCII_OR_PERCENT : NON_ASCII;
  re.lastIndex = 0;
  let folds: Fold[] | undefined;
  let sameLength = true;
  for (let m = re.exec(text); m !== null; m = re.exec(text)) {
    const i = m.index;
    if (m[0].length === 3) {
      // %XX: printable ASCII only.
      const code = parseInt(m[0].slice(1), 16);
      if (code < 0x20 || code > 0x7e) continue;
      (folds ??= []).push({ start: i, end: i + 3, text: String.fromCharCode(code) });
      sameLength = false;
      continue;
    }
    const cp = text.codePointAt(i)!;
    const width = cp > 0xffff ? 2 : 1;
    if (width === 2) re.lastIndex = i + 2;
    let f = foldCodePoint(cp);
    if (f === null) {
      const look = CONFUSABLES.get(cp);
      if (look === undefined || !inMixedRun(text, i)) continue;
      f = look;
    }
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
