// What a built-in detector is (BuiltinSpec), its packs, and the helpers the finders share.
// A regex only proposes a candidate; a validator (validators.ts) or a context word decides.
// Built-in patterns are trusted code and run in V8's backtracking engine, so every one is
// written to stay linear: no nested quantifiers, every repetition bounded, and a
// look-behind on each token-like pattern so a match can only start where a token starts.

import type { Emit, FindEnv, Finder, Part } from './context.js';
import { charClasses, shannonEntropy } from './validators.js';

/** The packs a policy or route turns on (`detectors.packs`); `all` is every one. */
export const PACKS = {
  core: 'contact details, names and postal addresses in their fields, payment cards, IBANs, US SSNs, IP addresses, dates of birth',
  secrets:
    'API keys, tokens, private keys, credentials in URLs and connection strings, passwords, PINs and card security codes in their fields',
  health: 'patient and provider identifiers, diagnosis codes',
  finance: 'bank, securities and crypto-currency identifiers',
  us: 'United States',
  uk: 'United Kingdom',
  ca: 'Canada',
  au: 'Australia',
  in: 'India',
  br: 'Brazil',
  es: 'Spain',
  it: 'Italy',
  fr: 'France',
  de: 'Germany',
  nl: 'Netherlands',
  be: 'Belgium',
  pl: 'Poland',
  se: 'Sweden',
  fi: 'Finland',
  ch: 'Switzerland',
  sg: 'Singapore',
  jp: 'Japan',
  kr: 'South Korea',
  cn: 'China',
} as const;
export type PackName = keyof typeof PACKS;
export const PACK_NAMES = Object.keys(PACKS) as PackName[];

export interface BuiltinSpec {
  id: string;
  level: string;
  /** The packs it belongs to: it runs when any of them is on. */
  packs: readonly PackName[];
  description: string;
  /** Words that make a candidate credible near it or in the JSON key name. */
  context: readonly string[];
  /**
   * Words that, in the JSON key name, say the value is something else: they take the key's
   * context away (`nextPageToken` holds "token" but is a page cursor) and a finder may
   * decline the value (FindEnv.keyAnti: a dotted quad under `version`).
   */
  antiContext?: readonly string[];
  /** For docs/detectors.md: the check beyond the pattern ('—' for none). */
  validator: string;
  /** For docs/detectors.md: when context is needed. */
  contextRule: string;
  /** For docs/detectors.md: a value it finds (secrets: the shape only). */
  example: string;
  /** The key the example is found under, for a detector that reads the field's name. */
  exampleKey?: string;
  /** For docs/detectors.md: the look-alikes it is written not to report. */
  guards: string;
  /**
   * A catch-all (the generic secret): where it and a detector of the value's own format
   * report the same span at the same level, the specific one is reported.
   */
  generic?: boolean;
  /**
   * 'original': reads the text as it is (secrets: exact bytes). Default 'normalized': reads
   * the normalized view (normalize.ts), hits mapped back to the original offsets.
   */
  view?: 'original' | 'normalized';
  /** Every value it finds holds an ASCII digit: a text without one is not scanned. */
  needsDigit?: boolean;
  /**
   * With needsDigit: every value it finds starts at most 8 characters before its first
   * digit and ends at most 4 after its last, so only TIGHT_MARGIN around the digits is
   * scanned.
   */
  nearDigits?: boolean;
  /**
   * It reports nothing without a context word (in the key name, or near the value): a
   * needsDigit detector is not run on a text whose digit windows hold none of its words.
   */
  contextRequired?: boolean;
  /** Every value it finds holds this many digits in one cluster (context.ts CLUSTER_GAP). */
  minDigits?: number;
  /** Every value it finds holds this many digits in a row (a date of birth, a serial). */
  minRun?: number;
  /**
   * Every value it finds holds a run of LONG_TOKEN or more token characters
   * (`A-Z a-z 0-9 _ - + / =`): a text without such a run is not scanned.
   */
  longToken?: boolean;
  /**
   * Every value it finds holds UPPER_RUN upper-case ASCII letters in a row (a BIC's bank
   * and country): a text without such a run is not scanned.
   */
  upperRun?: boolean;
  /**
   * Literal strings (case-sensitive) that every value it finds holds: a text that lacks one
   * of them is not scanned (one native `indexOf` each instead of a regex over the text).
   */
  requires?: readonly string[];
  compile(): Finder;
}

/** The run of token characters a `longToken` detector's every value holds. */
export const LONG_TOKEN = 16;
/** The run of upper-case letters an `upperRun` detector's every value holds. */
export const UPPER_RUN = 6;

/** Runs a global regex over each part; `each` sees every match, `index` in the whole text. */
export function eachMatch(
  re: RegExp,
  parts: readonly Part[],
  each: (m: RegExpExecArray) => void,
): void {
  for (let p = 0; p < parts.length; p++) {
    const { from, text } = parts[p]!;
    re.lastIndex = 0;
    for (let m = re.exec(text); m !== null; m = re.exec(text)) {
      if (m[0].length === 0) re.lastIndex++;
      else {
        m.index += from;
        each(m);
      }
    }
  }
}

/** Calls `each` with every candidate and the bounds its context window may not cross. */
export function withNeighbours<T extends { start: number; end: number }>(
  sorted: readonly T[],
  each: (c: T, lo: number, hi: number) => void,
): void {
  for (let i = 0; i < sorted.length; i++) {
    const c = sorted[i] as T;
    const lo = i > 0 ? (sorted[i - 1] as T).end : 0;
    const hi = i + 1 < sorted.length ? (sorted[i + 1] as T).start : Number.MAX_SAFE_INTEGER;
    each(c, lo, hi);
  }
}

/** A key body that is not a placeholder: two of lower/upper/digit and some entropy. */
export function randomLooking(body: string, minEntropy = 3): boolean {
  return charClasses(body) >= 2 && shannonEntropy(body) >= minEntropy;
}

/**
 * A detector for one prefixed key format; `body` extracts the random part to check.
 * `notAfter`: a match right after one of these characters is inside a longer token (a
 * check in code, where a leading look-behind would be tried at every position).
 */
export function prefixed(
  re: RegExp,
  body: (m: RegExpExecArray) => string,
  score = 0.95,
  minEntropy = 3,
  notAfter?: RegExp,
): () => Finder {
  return () => (env, emit) => {
    const text = env.text;
    eachMatch(re, env.parts, (m) => {
      if (notAfter && m.index > 0 && notAfter.test(text[m.index - 1]!)) return;
      if (randomLooking(body(m), minEntropy)) emit(m.index, m.index + m[0].length, score);
    });
  };
}

/**
 * Letters of scripts written without spaces (Han, Hiragana, Katakana, Hangul): a number
 * right after `番号は` or before `です` still starts and ends a token.
 */
const UNSPACED = /^[\p{sc=Han}\p{sc=Hiragana}\p{sc=Katakana}\p{sc=Hangul}]$/u;

/** ASCII characters a token cannot follow: it would be inside a word, a phone number, a path. */
const NOT_BEFORE = new Uint8Array(128);
for (let c = 0; c < 128; c++)
  if (/[A-Za-z0-9_+@/\\-]/.test(String.fromCharCode(c))) NOT_BEFORE[c] = 1;
/** ASCII characters a token cannot precede: it would go on as a word. */
const NOT_AFTER = new Uint8Array(128);
for (let c = 0; c < 128; c++) if (/[A-Za-z0-9_]/.test(String.fromCharCode(c))) NOT_AFTER[c] = 1;
const LETTER_OR_NUMBER = /^[\p{L}\p{N}]$/u;
const NUMBER = /^\p{N}$/u;

/** The character (code point) that ends just before `i`. */
function charBefore(text: string, i: number): string {
  const lo = text.charCodeAt(i - 1);
  return lo >= 0xdc00 && lo <= 0xdfff && i >= 2 ? text.slice(i - 2, i) : text[i - 1]!;
}

/** The character (code point) that starts at `i`. */
function charAt(text: string, i: number): string {
  return String.fromCodePoint(text.codePointAt(i)!);
}

/**
 * Whether a token may start at `i`: not inside a word, a longer number (`1.23`, `12:30`),
 * a phone number (`+`), a path or an identifier (`/`, `-`, `_`, `@`).
 */
export function tokenStart(text: string, i: number): boolean {
  if (i === 0) return true;
  const c = text.charCodeAt(i - 1);
  if (c < 128) {
    if (NOT_BEFORE[c] === 1) return false;
    if ((c === 0x2e || c === 0x2c || c === 0x3a) && i >= 2)
      return !NUMBER.test(charBefore(text, i - 1));
    return true;
  }
  const ch = charBefore(text, i);
  return !LETTER_OR_NUMBER.test(ch) || UNSPACED.test(ch);
}

/** Whether a token may end at `i`: no word character, and no `.`, `,`, `/`, `:`, `-` and a number. */
export function tokenEnd(text: string, i: number): boolean {
  if (i >= text.length) return true;
  const c = text.charCodeAt(i);
  if (c < 128) {
    if (NOT_AFTER[c] === 1) return false;
    if (c === 0x2e || c === 0x2c || c === 0x2f || c === 0x3a || c === 0x2d)
      return !(i + 1 < text.length && NUMBER.test(charAt(text, i + 1)));
    return true;
  }
  const ch = charAt(text, i);
  return !LETTER_OR_NUMBER.test(ch) || UNSPACED.test(ch);
}

/**
 * A candidate pattern (global; `i` for letter case); see eachToken. Its token boundaries
 * are code (tokenStart, tokenEnd), not look-arounds: those would be tried at every
 * position, and Unicode classes make a regex slow to compile.
 */
export function tokenRe(body: string, caseInsensitive = false): RegExp {
  return new RegExp(body, caseInsensitive ? 'gi' : 'g');
}

/** eachMatch for a tokenRe pattern: only matches that start and end a token. */
export function eachToken(
  re: RegExp,
  parts: readonly Part[],
  each: (m: RegExpExecArray) => void,
): void {
  for (let p = 0; p < parts.length; p++) {
    const { from, text } = parts[p]!;
    re.lastIndex = 0;
    for (let m = re.exec(text); m !== null; m = re.exec(text)) {
      if (
        m[0].length === 0 ||
        !tokenStart(text, m.index) ||
        !tokenEnd(text, m.index + m[0].length)
      ) {
        re.lastIndex = m.index + 1;
        continue;
      }
      m.index += from;
      each(m);
    }
  }
}

/** Upper-cased, without spaces, dots, dashes and slashes. */
export function compact(s: string): string {
  return s.replace(/[\s./-]/g, '').toUpperCase();
}

/** Only the ASCII digits of `s`. */
export function digitsOf(s: string): string {
  let out = '';
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c >= 48 && c <= 57) out += s[i];
  }
  return out;
}

/** A candidate and its score without context and with it (undefined: not reported). */
export interface NumberCandidate {
  start: number;
  end: number;
  /** Scores without and with context; undefined: not reported at all in that case. */
  plain: number | undefined;
  withContext: number | undefined;
}

/**
 * Emits each candidate by its context: a context word between its neighbours (or the key
 * name) gives `withContext`, else `plain`. Candidates are sorted here.
 */
export function emitByContext(env: FindEnv, emit: Emit, found: NumberCandidate[]): void {
  if (found.length === 0) return;
  found.sort((a, b) => a.start - b.start);
  withNeighbours(found, (c, lo, hi) => {
    const score =
      c.withContext !== undefined && env.context(c.start, c.end, lo, hi) ? c.withContext : c.plain;
    if (score !== undefined) emit(c.start, c.end, score);
  });
}

/**
 * The finder of a number identifier: `re` proposes a candidate (its whole match), `check`
 * says whether it is valid and how it is written. `formatted` candidates need no context
 * when the identifier's separators and check digits are strong enough (`formattedPlain`);
 * bare ones need context unless `barePlain` is given.
 */
export function numberFinder(opts: {
  re: RegExp;
  check: (m: RegExpExecArray) => 'formatted' | 'bare' | false;
  formattedPlain?: number | undefined;
  barePlain?: number | undefined;
  withContext?: number;
}): () => Finder {
  const withContext = opts.withContext ?? 0.9;
  return () => (env, emit) => {
    const found: NumberCandidate[] = [];
    eachToken(opts.re, env.parts, (m) => {
      const how = opts.check(m);
      if (how === false) return;
      found.push({
        start: m.index,
        end: m.index + m[0].length,
        plain: how === 'formatted' ? opts.formattedPlain : opts.barePlain,
        withContext,
      });
    });
    emitByContext(env, emit, found);
  };
}

/** A value found only beside a context word (or under a key that names it). */
export function contextOnly(re: RegExp, valid: (m: RegExpExecArray) => boolean, score = 0.85) {
  return numberFinder({ re, check: (m) => (valid(m) ? 'bare' : false), withContext: score });
}
