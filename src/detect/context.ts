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
  /** The enclosing JSON key names, outermost first (ScanContext.keys). */
  readonly keys: readonly string[];
  /** The text is an object key itself, not the value of the field `keys` ends with. */
  readonly isKey: boolean;
  /** The innermost key name holds one of this detector's context words. */
  readonly keyContext: boolean;
  /** The innermost key name holds one of its anti-context words (BuiltinSpec.antiContext). */
  readonly keyAnti: boolean;
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

/**
 * How far from a digit a `nearDigits` detector's match (with the character before it and
 * the characters after it its end check reads) can reach: 8 characters before its first
 * digit, 4 after its last, and margin to spare.
 */
export const TIGHT_MARGIN = 16;

export interface DigitLayout {
  /** Windows around the digits (merged); undefined when they cover most of the text. */
  windows: readonly (readonly [number, number])[] | undefined;
  /** The same with TIGHT_MARGIN. */
  tight: readonly (readonly [number, number])[] | undefined;
  /** The most digits in one cluster (CLUSTER_GAP). */
  maxCluster: number;
  /** The most digits in a row. */
  maxRun: number;
}

/** Merged windows of `margin` characters around digits, built one digit at a time. */
class Windows {
  readonly list: [number, number][] = [];
  private covered = 0;
  private from: number;
  private to: number;

  constructor(
    private readonly len: number,
    private readonly margin: number,
    first: number,
  ) {
    this.from = Math.max(0, first - margin);
    this.to = Math.min(len, first + margin + 1);
  }

  add(i: number): void {
    if (i - this.margin <= this.to) this.to = Math.min(this.len, i + this.margin + 1);
    else {
      this.list.push([this.from, this.to]);
      this.covered += this.to - this.from;
      this.from = i - this.margin;
      this.to = Math.min(this.len, i + this.margin + 1);
    }
  }

  /** The windows, or undefined when they would cover most of the text. */
  done(): readonly (readonly [number, number])[] | undefined {
    this.list.push([this.from, this.to]);
    this.covered += this.to - this.from;
    return this.covered * 2 > this.len ? undefined : this.list;
  }
}

/**
 * The windows of `text` that hold its digits, DIGIT_MARGIN (and TIGHT_MARGIN) on each side,
 * merged (undefined when they would cover most of the text anyway: scanning it whole is
 * then cheaper), and its largest digit cluster. `first` is the index of the first digit.
 */
export function digitLayout(text: string, first: number): DigitLayout {
  const len = text.length;
  const wide = new Windows(len, DIGIT_MARGIN, first);
  const tight = new Windows(len, TIGHT_MARGIN, first);
  let cluster = 1;
  let maxCluster = 1;
  let run = 1;
  let maxRun = 1;
  let last = first;
  for (let i = first + 1; i < len; i++) {
    const c = text.charCodeAt(i);
    if (c < 0x30 || c > 0x39) continue;
    if (i === last + 1) {
      if (++run > maxRun) maxRun = run;
    } else run = 1;
    if (i - last - 1 <= CLUSTER_GAP) {
      if (++cluster > maxCluster) maxCluster = cluster;
    } else cluster = 1;
    last = i;
    wide.add(i);
    tight.add(i);
  }
  return { windows: wide.done(), tight: tight.done(), maxCluster, maxRun };
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
  const clean = cleanWords(words);
  if (clean.length === 0) return null;
  // Words that start and end with a letter or digit share one pair of boundaries (a
  // Unicode class is costly to compile, once per regex is enough); the others bring their
  // own; words of unspaced scripts need none.
  const shared: string[] = [];
  const own: string[] = [];
  for (const w of clean) {
    if (UNSPACED.test(w)) own.push(wordBody(w));
    else if (/^[\p{L}\p{N}].*[\p{L}\p{N}]$|^[\p{L}\p{N}]$/u.test(w)) shared.push(wordBody(w));
    else own.push(wordPattern(w));
  }
  const alts = [...own];
  if (shared.length > 0)
    alts.unshift(`(?<![\\p{L}\\p{N}])(?:${shared.join('|')})s?(?![\\p{L}\\p{N}])`);
  return new RegExp(`(?:${alts.join('|')})`, 'iu');
}

/** Trimmed, non-empty, distinct, longest first (an alternation takes the first that fits). */
export function cleanWords(words: readonly string[]): string[] {
  return [...new Set(words.map((w) => w.trim()).filter((w) => w.length > 0))].sort(
    (a, b) => b.length - a.length,
  );
}

/** A context word's letters, any run of space, `_`, `-`, `.` between its parts. */
function wordBody(w: string): string {
  return w
    .split(/[\s_.-]+/)
    .map(escapeLiteral)
    .join('[\\s_.\\-]{1,3}');
}

function wordPattern(w: string): string {
  const body = wordBody(w);
  const spaced = !UNSPACED.test(w);
  const pre = spaced && /^[\p{L}\p{N}]/u.test(w) ? '(?<![\\p{L}\\p{N}])' : '';
  const post = spaced && /[\p{L}\p{N}]$/u.test(w) ? 's?(?![\\p{L}\\p{N}])' : '';
  return `${pre}${body}${post}`;
}

/** `customerSSN` / `date_of_birth` / `api-key` → `customer ssn` / `date of birth` / `api key`. */
export function normalizeKey(key: string): string {
  return key
    .replace(/([\p{Ll}\p{N}])(\p{Lu})/gu, '$1 $2')
    .replace(/[_.\-\s]+/g, ' ')
    .trim()
    .toLowerCase();
}

/**
 * A sentence ends here: `.`, `!` or `?`, space, then a capital letter (`…optional. Order
 * 536221234` — not `D.O.B. 1985-03-12`, not `4.5 kg`).
 */
const SENTENCE_END = /[.!?]\s+(?=\p{Lu})/gu;

/**
 * Whether `re` matches just before or just after [start, end) of `text`, in the same
 * sentence: a context word in the sentence before does not vouch for a number in this one.
 */
export function nearContext(
  re: RegExp,
  text: string,
  start: number,
  end: number,
  lo = 0,
  hi = text.length,
): boolean {
  let before = text.slice(Math.max(lo, start - WINDOW_BEFORE), start);
  SENTENCE_END.lastIndex = 0;
  let cut = -1;
  for (let m = SENTENCE_END.exec(before); m !== null; m = SENTENCE_END.exec(before))
    cut = m.index + m[0].length;
  if (cut > 0) before = before.slice(cut);
  if (re.test(before)) return true;
  let after = text.slice(end, Math.min(hi, end + WINDOW_AFTER));
  SENTENCE_END.lastIndex = 0;
  const m = SENTENCE_END.exec(after);
  if (m) after = after.slice(0, m.index + 1);
  return re.test(after);
}
