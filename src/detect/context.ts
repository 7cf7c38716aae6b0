// Context: words near a match, or the name of the JSON key the scanned value sits under,
// that make a candidate more (or at all) credible. Built once per detector at compile
// time; the word lists are escaped literals, never patterns, so the regexes are linear.

/** Characters looked at before and after a match for context words. */
export const WINDOW_BEFORE = 48;
export const WINDOW_AFTER = 32;

/** A part of the scanned text: its offset in the text, and its characters. */
export interface Part {
  from: number;
  text: string;
}

/** What a finder sees of one scan. */
export interface FindEnv {
  /** The text this detector reads: the original, or its normalized view (normalize.ts). */
  readonly text: string;
  /** The innermost key name holds one of this detector's context words. */
  readonly keyContext: boolean;
  /**
   * A context word is in the key name or within the window around [start, end); `lo` and
   * `hi` clip the window (a finder passes the neighbouring candidates' ends, so one
   * context word does not vouch for every candidate in a list).
   */
  context(start: number, end: number, lo?: number, hi?: number): boolean;
  /** A context word is in the key name or anywhere in the text (a cheap pre-check). */
  anyContext(): boolean;
  /**
   * The parts of the text a detector whose every match holds a digit (needsDigit) need
   * scan: the windows around the text's digits, DIGIT_MARGIN characters on each side, or
   * the whole text as one part. A detector without needsDigit gets the whole text.
   */
  readonly parts: readonly Part[];
}

/**
 * How far from a digit a digit detector's match (with its look-around) can reach: an IBAN's
 * letters run up to ~40 characters past its last digit, a month name ~13 before a day.
 */
export const DIGIT_MARGIN = 64;

/**
 * Digits at most this many characters apart are one cluster (`4111 1111`, `123.456.789-09`,
 * `AB 12 34 56 C`, `(415) 555-2671`): a detector whose every match holds N digits spaced
 * no wider (BuiltinSpec.minDigits) is not run on a text whose largest cluster is smaller.
 */
export const CLUSTER_GAP = 3;

export interface DigitLayout {
  /** Windows around the digits (merged); undefined when they cover most of the text. */
  windows: readonly (readonly [number, number])[] | undefined;
  /** The most digits in one cluster (CLUSTER_GAP). */
  maxCluster: number;
}

/**
 * The windows of `text` that hold its digits, DIGIT_MARGIN on each side, merged (undefined
 * when they would cover most of the text anyway: scanning it whole is then cheaper), and
 * its largest digit cluster. `first` is the index of the first digit.
 */
export function digitLayout(text: string, first: number): DigitLayout {
  const windows: [number, number][] = [];
  const len = text.length;
  let from = Math.max(0, first - DIGIT_MARGIN);
  let to = Math.min(len, first + DIGIT_MARGIN + 1);
  let covered = 0;
  let cluster = 1;
  let maxCluster = 1;
  let last = first;
  for (let i = first + 1; i < len; i++) {
    const c = text.charCodeAt(i);
    if (c < 0x30 || c > 0x39) continue;
    if (i - last - 1 <= CLUSTER_GAP) {
      if (++cluster > maxCluster) maxCluster = cluster;
    } else cluster = 1;
    last = i;
    if (i - DIGIT_MARGIN <= to) to = Math.min(len, i + DIGIT_MARGIN + 1);
    else {
      windows.push([from, to]);
      covered += to - from;
      from = i - DIGIT_MARGIN;
      to = Math.min(len, i + DIGIT_MARGIN + 1);
    }
  }
  windows.push([from, to]);
  covered += to - from;
  return { windows: covered * 2 > len ? undefined : windows, maxCluster };
}

export type Emit = (start: number, end: number, score: number) => void;
export type Finder = (env: FindEnv, emit: Emit) => void;

function escapeLiteral(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\/-]/g, '\\$&');
}

/** Scripts written without spaces between words. */
const UNSPACED = /[\p{sc=Han}\p{sc=Hiragana}\p{sc=Katakana}\p{sc=Thai}]/u;

/**
 * One case-insensitive regex for a list of context words. Inside a word, a space, `_`,
 * `-` or `.` matches any run of those (so `date of birth` matches `date_of_birth`); a
 * trailing plural `s` is allowed; a word that starts (ends) with a letter or digit must
 * start (end) on a word boundary, except a word in a script written without spaces
 * (`マイナンバー`, `身份证`), which may sit inside a run of letters.
 */
export function contextRegExp(words: readonly string[]): RegExp | null {
  const parts = words
    .map((w) => w.trim())
    .filter((w) => w.length > 0)
    .sort((a, b) => b.length - a.length)
    .map((w) => {
      const body = w
        .split(/[\s_.-]+/)
        .map(escapeLiteral)
        .join('[\\s_.\\-]{1,3}');
      const spaced = !UNSPACED.test(w);
      const pre = spaced && /^[\p{L}\p{N}]/u.test(w) ? '(?<![\\p{L}\\p{N}])' : '';
      const post = spaced && /[\p{L}\p{N}]$/u.test(w) ? 's?(?![\\p{L}\\p{N}])' : '';
      return `${pre}${body}${post}`;
    });
  if (parts.length === 0) return null;
  return new RegExp(`(?:${parts.join('|')})`, 'iu');
}

/** `customerSSN` / `date_of_birth` / `api-key` → `customer ssn` / `date of birth` / `api key`. */
export function normalizeKey(key: string): string {
  return key
    .replace(/([\p{Ll}\p{N}])(\p{Lu})/gu, '$1 $2')
    .replace(/[_.\-\s]+/g, ' ')
    .trim()
    .toLowerCase();
}

/** Whether `re` matches just before or just after [start, end) of `text`. */
export function nearContext(
  re: RegExp,
  text: string,
  start: number,
  end: number,
  lo = 0,
  hi = text.length,
): boolean {
  const before = text.slice(Math.max(lo, start - WINDOW_BEFORE), start);
  if (re.test(before)) return true;
  const after = text.slice(end, Math.min(hi, end + WINDOW_AFTER));
  return re.test(after);
}
