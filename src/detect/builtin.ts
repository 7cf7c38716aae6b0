// The built-in detectors: id, default level, context words, and a compile step that builds
// its regexes once and returns the finder a scan runs. A regex only proposes a candidate;
// a validator (validators.ts) decides. These patterns are trusted configuration and run in
// V8's backtracking engine, so every one of them is written to stay linear: no nested
// quantifiers, every repetition bounded, and a look-behind on each token-like pattern so a
// match can only start where a token starts.

import { isIP } from 'node:net';
import { parsePhoneNumberFromString } from 'libphonenumber-js/max';
import type { CountryCode } from 'libphonenumber-js/max';
import type { Emit, FindEnv, Finder } from './context.js';
import {
  calendarDateValid,
  cardBrand,
  cardGroupingOk,
  charClasses,
  ibanValid,
  IBAN_LENGTHS,
  jwtHeaderValid,
  luhn,
  shannonEntropy,
  SSN_SAMPLES,
  ssnStructureValid,
} from './validators.js';

export interface BuiltinSpec {
  id: string;
  level: string;
  description: string;
  context: readonly string[];
  /** Every value it finds holds an ASCII digit: a text without one is not scanned. */
  needsDigit?: boolean;
  /**
   * Literal strings (case-sensitive) that every value it finds holds: a text that lacks one
   * of them is not scanned (one native `indexOf` each instead of a regex over the text).
   * Each should start with a character prose seldom has (`@`, `_`, `-`): V8 finds a literal
   * by its first character, so `sk-` would be looked for at every `s`.
   */
  requires?: readonly string[];
  compile(): Finder;
}

/**
 * Runs a global regex over the text, or only over `windows` of it (ranges of the text; a
 * match's `index` is still an offset in the whole text); `each` sees every match.
 */
function eachMatch(
  re: RegExp,
  text: string,
  each: (m: RegExpExecArray) => void,
  windows?: readonly (readonly [number, number])[],
): void {
  if (windows === undefined) {
    re.lastIndex = 0;
    for (let m = re.exec(text); m !== null; m = re.exec(text)) {
      if (m[0].length === 0) re.lastIndex++;
      else each(m);
    }
    return;
  }
  for (const [from, to] of windows) {
    const part = text.slice(from, to);
    re.lastIndex = 0;
    for (let m = re.exec(part); m !== null; m = re.exec(part)) {
      if (m[0].length === 0) re.lastIndex++;
      else {
        m.index += from;
        each(m);
      }
    }
  }
}

/** eachMatch for a detector whose every match holds a digit: only where the digits are. */
function eachDigitMatch(env: FindEnv, re: RegExp, each: (m: RegExpExecArray) => void): void {
  eachMatch(re, env.text, each, env.digitWindows);
}

// ---------------------------------------------------------------------------- cards

function compileCard(): Finder {
  const re = /(?<![\p{L}\p{N}_]|\d[.,])\d[\d -]{11,22}\d(?![\p{L}\p{N}_]|[.,]\d)/gu;
  const valid = (groups: readonly string[]): boolean => {
    const pan = groups.join('');
    return (
      pan.length >= 13 &&
      pan.length <= 19 &&
      cardGroupingOk(groups) &&
      luhn(pan) &&
      cardBrand(pan) !== undefined
    );
  };
  return (env, emit) => {
    eachDigitMatch(env, re, (m) => {
      const s = m[0];
      const seps = s.replace(/\d/g, '');
      if (seps.length > 0 && !(/^ +$/.test(seps) || /^-+$/.test(seps))) return;
      const groups = s.split(/[ -]/);
      if (groups.some((g) => g.length === 0)) return;
      // Offsets of each group in the candidate.
      const offs: number[] = [];
      let o = 0;
      for (const g of groups) {
        offs.push(o);
        o += g.length + 1;
      }
      const emitRange = (i: number, j: number): void => {
        const start = m.index + (offs[i] as number);
        const end = m.index + (offs[j - 1] as number) + (groups[j - 1] as string).length;
        emit(start, end, env.context(start, end) ? 1 : 0.9);
      };
      if (valid(groups)) return emitRange(0, groups.length);
      if (groups.length === 1) return;
      // A card next to other grouped digits (a date, an amount): try group-aligned windows.
      for (let i = 0; i < groups.length;) {
        // Every printed card grouping starts with a group of four.
        if ((groups[i] as string).length !== 4) {
          i++;
          continue;
        }
        let found = 0;
        for (let j = groups.length; j > i + 1; j--) {
          if (valid(groups.slice(i, j))) {
            found = j;
            break;
          }
        }
        if (found > 0) {
          emitRange(i, found);
          i = found;
        } else i++;
      }
    });
  };
}

// ---------------------------------------------------------------------------- IBAN

function compileIban(): Finder {
  const re =
    /(?<![\p{L}\p{N}_])[A-Z]{2}\d{2}(?:[A-Z0-9]{11,30}|(?: [A-Z0-9]{4}){2,7}(?: [A-Z0-9]{1,3})?)(?![\p{L}\p{N}_])/gu;
  return (env, emit) => {
    eachDigitMatch(env, re, (m) => {
      const s = m[0];
      const want = IBAN_LENGTHS[s.slice(0, 2)];
      if (want === undefined) return;
      // Cut the candidate to the country's length (grouped IBANs may run into the next word).
      let n = 0;
      let end = 0;
      for (; end < s.length && n < want; end++) if (s[end] !== ' ') n++;
      if (n !== want || (end < s.length && s[end] !== ' ')) return;
      if (!ibanValid(s.slice(0, end).replace(/ /g, ''))) return;
      const start = m.index;
      emit(start, start + end, env.context(start, start + end) ? 1 : 0.95);
    });
  };
}

// ---------------------------------------------------------------------------- SSN

function compileSsn(): Finder {
  const formatted = /(?<![\p{L}\p{N}_-])(\d{3})([- ])(\d{2})\2(\d{4})(?![\p{L}\p{N}_]|-\d)/gu;
  const bare = /(?<![\p{L}\p{N}_.-])\d{9}(?![\p{L}\p{N}_]|[.-]\d)/gu;
  return (env, emit) => {
    const found: Span[] = [];
    eachDigitMatch(env, formatted, (m) => {
      const nine = `${m[1]}${m[3]}${m[4]}`;
      if (ssnStructureValid(nine))
        found.push({ start: m.index, end: m.index + m[0].length, nine, bare: false });
    });
    eachDigitMatch(env, bare, (m) => {
      if (ssnStructureValid(m[0]))
        found.push({ start: m.index, end: m.index + m[0].length, nine: m[0], bare: true });
    });
    found.sort((a, b) => a.start - b.start);
    withNeighbours(found, (c, lo, hi) => {
      const ctx = env.context(c.start, c.end, lo, hi);
      if (c.bare) {
        if (ctx) emit(c.start, c.end, 0.85);
      } else if (ctx) emit(c.start, c.end, 0.95);
      // Without context a well-known sample number is documentation, not a person's SSN.
      else if (!SSN_SAMPLES.has(c.nine)) emit(c.start, c.end, 0.75);
    });
  };
}

interface Span {
  start: number;
  end: number;
  nine: string;
  bare: boolean;
}

/** Calls `each` with every candidate and the bounds its context window may not cross. */
function withNeighbours<T extends { start: number; end: number }>(
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

// ---------------------------------------------------------------------------- e-mail

/** A character of an e-mail local part (the unquoted, common subset). */
function isLocalChar(c: number): boolean {
  return (
    (c >= 48 && c <= 57) ||
    (c >= 65 && c <= 90) ||
    (c >= 97 && c <= 122) ||
    c === 46 || // .
    c === 95 || // _
    c === 37 || // %
    c === 43 || // +
    c === 45 // -
  );
}

function compileEmail(): Finder {
  // Anchored on '@' (found with indexOf), so text without one costs a single pass.
  const domainRe = /[A-Za-z0-9.-]{1,253}/y;
  const label = /^[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?$/;
  const wordChar = /^[\p{L}\p{N}_]/u;
  return (env, emit) => {
    const text = env.text;
    for (let at = text.indexOf('@'); at >= 0; at = text.indexOf('@', at + 1)) {
      let start = at;
      while (start > 0 && at - start <= 64 && isLocalChar(text.charCodeAt(start - 1))) start--;
      if (start === at || at - start > 64) continue;
      if (start > 0 && wordChar.test(text.slice(start - 1, start))) continue;
      const local = text.slice(start, at);
      if (local.startsWith('.') || local.endsWith('.') || local.includes('..')) continue;
      domainRe.lastIndex = at + 1;
      const dm = domainRe.exec(text);
      if (!dm) continue;
      const domain = dm[0].replace(/[.-]+$/, '');
      const labels = domain.split('.');
      if (labels.length < 2 || !labels.every((l) => label.test(l))) continue;
      if (!/^[A-Za-z]{2,63}$/.test(labels[labels.length - 1] as string)) continue;
      const end = at + 1 + domain.length;
      if (wordChar.test(text.slice(end, end + 1))) continue;
      emit(start, end, 0.9);
    }
  };
}

// ---------------------------------------------------------------------------- phone

/** Regions tried for a national number written with a trunk 0, when context says "phone". */
const TRUNK_ZERO_REGIONS: readonly CountryCode[] = [
  'GB',
  'DE',
  'FR',
  'IT',
  'ES',
  'NL',
  'BE',
  'CH',
  'AT',
  'IE',
  'AU',
  'IN',
  'JP',
];

function compilePhone(): Finder {
  const re = /(?<![\p{L}\p{N}_+./-])(?:\+\d|\(\d|\d)[\d ().-]{5,20}\d(?![\p{L}\p{N}_]|[./-]\d)/gu;
  const shapeIntl =
    /^\+(?:\d{7,15}|\d{1,3}[ .-]?(?:\(\d{1,4}\)[ .-]?)?\d{1,5}(?:[ .-]\d{1,5}){0,6})$/;
  const shapeNanp = /^(?:1[ .-]?)?(?:\(\d{3}\) ?|\d{3}[ .-])\d{3}[ .-]\d{4}$/;
  const shapeNational = /^(?:\(0\d{1,4}\) ?|0\d{1,4}[ .-])\d{2,5}(?:[ .-]\d{2,5}){0,4}$/;
  const valid = (s: string, region?: CountryCode): boolean => {
    try {
      return parsePhoneNumberFromString(s, region)?.isValid() ?? false;
    } catch {
      return false;
    }
  };
  return (env, emit) => {
    eachDigitMatch(env, re, (m) => {
      const s = m[0];
      const digits = s.replace(/\D/g, '').length;
      if (digits < 7 || digits > 15) return;
      const start = m.index;
      const end = start + s.length;
      if (s.startsWith('+')) {
        if (shapeIntl.test(s) && valid(s)) emit(start, end, env.context(start, end) ? 0.95 : 0.85);
        return;
      }
      if (shapeNanp.test(s)) {
        if (valid(s, 'US')) emit(start, end, env.context(start, end) ? 0.9 : 0.7);
        return;
      }
      if (!env.context(start, end)) return;
      if (/^1?\d{10}$/.test(s)) {
        if (valid(s, 'US')) emit(start, end, 0.8);
        return;
      }
      if (shapeNational.test(s) && TRUNK_ZERO_REGIONS.some((r) => valid(s, r)))
        emit(start, end, 0.8);
    });
  };
}

// ---------------------------------------------------------------------------- IP addresses

function compileIpv4(): Finder {
  const re = /(?<![\p{L}\p{N}_.])(?:\d{1,3}\.){3}\d{1,3}(?![\p{L}\p{N}_]|\.\d)/gu;
  // A dotted quad right after "version", "v", "build"… is a version number, not an address.
  const versionBefore =
    /(?:^|[^\p{L}\p{N}])(?:v|ver|version|release|build|firmware|rev)\.?\s{0,2}[:=]?\s{0,2}$/iu;
  return (env, emit) => {
    eachDigitMatch(env, re, (m) => {
      if (isIP(m[0]) !== 4) return;
      if (versionBefore.test(env.text.slice(Math.max(0, m.index - 16), m.index))) return;
      emit(m.index, m.index + m[0].length, 0.8);
    });
  };
}

function isHex(c: number): boolean {
  return (c >= 48 && c <= 57) || (c >= 65 && c <= 70) || (c >= 97 && c <= 102);
}

function compileIpv6(): Finder {
  // Anchored on ':' (found with indexOf): back up over at most 4 hex digits, then match.
  const re =
    /(?:[0-9A-Fa-f]{0,4}:){2,7}(?:[0-9A-Fa-f]{1,4}|\d{1,3}(?:\.\d{1,3}){3})?(?![\p{L}\p{N}_:]|\.\d)/uy;
  const before = /^[\p{L}\p{N}_:.]/u;
  return (env, emit) => {
    const text = env.text;
    let tried = -1;
    for (let p = text.indexOf(':'); p >= 0; p = text.indexOf(':', p + 1)) {
      let start = p;
      while (start > 0 && p - start < 4 && isHex(text.charCodeAt(start - 1))) start--;
      if (start <= tried) continue;
      tried = start;
      if (start > 0 && before.test(text.slice(start - 1, start))) continue;
      re.lastIndex = start;
      const m = re.exec(text);
      if (!m) continue;
      const s = m[0];
      p = start + s.length - 1;
      tried = p;
      if (isIP(s) !== 6 || !/\d/.test(s)) continue;
      if (s.split(/[:.]/).filter((g) => g.length > 0).length < 2) continue;
      emit(start, start + s.length, 0.8);
    }
  };
}

// ---------------------------------------------------------------------------- dates of birth

const MONTHS =
  'jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?|sep(?:t(?:ember)?)?|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?';

function monthNumber(name: string): number {
  return (
    ['jan', 'feb', 'mar', 'apr', 'may', 'jun', 'jul', 'aug', 'sep', 'oct', 'nov', 'dec'].indexOf(
      name.slice(0, 3).toLowerCase(),
    ) + 1
  );
}

function compileDob(): Finder {
  const y = '((?:19|20)\\d{2})';
  const re = new RegExp(
    '(?<![\\p{L}\\p{N}_])(?:' +
      [
        `${y}[-/.](\\d{1,2})[-/.](\\d{1,2})`,
        `(\\d{1,2})[-/.](\\d{1,2})[-/.]${y}`,
        `(\\d{1,2})(?:st|nd|rd|th)?\\s{1,3}(?:of\\s{1,3})?(${MONTHS})\\.?,?\\s{1,3}${y}`,
        `(${MONTHS})\\.?\\s{1,3}(\\d{1,2})(?:st|nd|rd|th)?,?\\s{1,3}${y}`,
      ].join('|') +
      ')(?![\\p{N}])',
    'giu',
  );
  return (env, emit) => {
    const dates: { start: number; end: number }[] = [];
    eachDigitMatch(env, re, (m) => {
      const n = (i: number): number => Number(m[i]);
      let ok: boolean;
      if (m[1] !== undefined) ok = calendarDateValid(n(1), n(2), n(3));
      else if (m[4] !== undefined)
        ok = calendarDateValid(n(6), n(5), n(4)) || calendarDateValid(n(6), n(4), n(5));
      else if (m[7] !== undefined) ok = calendarDateValid(n(9), monthNumber(m[8] ?? ''), n(7));
      else ok = calendarDateValid(n(12), monthNumber(m[10] ?? ''), n(11));
      if (ok) dates.push({ start: m.index, end: m.index + m[0].length });
    });
    // A date only counts with a context word; looking for one in the whole text costs more
    // than looking for dates in the windows around the digits, so dates come first.
    if (dates.length === 0 || !env.anyContext()) return;
    withNeighbours(dates, (d, lo, hi) => {
      if (env.context(d.start, d.end, lo, hi)) emit(d.start, d.end, 0.9);
    });
  };
}

// ---------------------------------------------------------------------------- secrets

/** A key body that is not a placeholder: two of lower/upper/digit and some entropy. */
function randomLooking(body: string, minEntropy = 3): boolean {
  return charClasses(body) >= 2 && shannonEntropy(body) >= minEntropy;
}

/** A detector for one prefixed key format; `body` extracts the random part to check. */
function prefixed(re: RegExp, body: (m: RegExpExecArray) => string, score = 0.95): () => Finder {
  return () => (env, emit) => {
    eachMatch(re, env.text, (m) => {
      if (randomLooking(body(m))) emit(m.index, m.index + m[0].length, score);
    });
  };
}

function compilePrivateKey(): Finder {
  const begin = /-----BEGIN ((?:[A-Z0-9]{1,16} ){0,3}PRIVATE KEY(?: BLOCK)?)-----/g;
  const body = /[A-Za-z0-9+/=\s:,\\-]{0,32768}/y;
  const MAX_BLOCK = 32768;
  return (env, emit) => {
    const text = env.text;
    // Labels with no END marker anywhere after some point: later BEGINs need not look again.
    const noEnd = new Set<string>();
    eachMatch(begin, text, (m) => {
      const after = m.index + m[0].length;
      const endMarker = `-----END ${m[1]}-----`;
      const e = noEnd.has(endMarker) ? -1 : text.indexOf(endMarker, after);
      if (e < 0) noEnd.add(endMarker);
      if (e >= 0 && e - after <= MAX_BLOCK) {
        emit(m.index, e + endMarker.length, 0.99);
        begin.lastIndex = e + endMarker.length;
        return;
      }
      // Truncated block: the header and the base64 that follows still leak the key.
      body.lastIndex = after;
      const b = body.exec(text);
      let end = after + (b?.[0].length ?? 0);
      while (end > after && /\s/.test(text[end - 1] as string)) end--;
      emit(m.index, end, 0.9);
      begin.lastIndex = Math.max(end, after);
    });
  };
}

function compileJwt(): Finder {
  const re =
    /(?<![A-Za-z0-9_-])(ey[A-Za-z0-9_-]{8,2048})\.[A-Za-z0-9_-]{2,8192}\.[A-Za-z0-9_-]{0,2048}(?![A-Za-z0-9_-])/g;
  return (env, emit) => {
    eachMatch(re, env.text, (m) => {
      if (jwtHeaderValid(m[1] as string)) emit(m.index, m.index + m[0].length, 0.95);
    });
  };
}

const SECRET_WORDS = [
  'password',
  'passwd',
  'pwd',
  'passphrase',
  'secret',
  'token',
  'api key',
  'apikey',
  'access key',
  'private key',
  'client secret',
  'credential',
  'auth token',
  'authorization',
  'bearer',
];

function compileGenericSecret(): Finder {
  // "<secret word>[suffix] [is|:|=|=>] [quote]<token>"; the token is group 1, at the end.
  const near =
    /\b(?:password|passwd|pwd|passphrase|secret|token|api[_ -]?key|apikey|access[_ -]?key|private[_ -]?key|client[_ -]?secret|credentials?|auth[_ -]?token|authorization|bearer)[A-Za-z0-9_-]{0,32}["'`]?\s{0,3}(?:[:=]|=>|is|was)?\s{0,3}["'`]?([^\s"'`,;]{8,512})/gi;
  const scheme = /^(?:bearer|basic|token)\s+/i;
  return (env, emit) => {
    const text = env.text;
    if (env.keyContext) {
      // The whole value of a "password"/"api_key"/… field, less an auth scheme.
      const lead = text.length - text.trimStart().length;
      let start = lead;
      const end = text.trimEnd().length;
      const sm = scheme.exec(text.slice(start, end));
      if (sm) start += sm[0].length;
      const v = text.slice(start, end);
      const whole = v.length >= 8 && v.length <= 1024 && !/\s/.test(v) && !v.includes('://');
      if (whole && randomLooking(v, 2.5)) return emit(start, end, 0.9);
    }
    eachMatch(near, text, (m) => {
      let tok = m[1] as string;
      const start = m.index + m[0].length - tok.length;
      tok = tok.replace(/[.)\]}>]+$/, '');
      if (tok.length < 12 || tok.includes('://')) return;
      // Code, not a credential: `TOKEN_RE = /^tok_([a-z0-9]{1,24})…/`.
      if ((tok.match(/[()[\]{}<>]/g)?.length ?? 0) >= 2) return;
      if (randomLooking(tok, 3)) emit(start, start + tok.length, 0.8);
    });
  };
}

// ---------------------------------------------------------------------------- the table

export const BUILTIN_SPECS: readonly BuiltinSpec[] = [
  {
    id: 'card',
    needsDigit: true,
    level: 'confidential',
    description: 'Payment card number: 13–19 digits, Luhn, issuer (IIN) ranges, card grouping',
    context: ['card', 'credit', 'debit', 'visa', 'mastercard', 'amex', 'pan', 'cc', 'payment'],
    compile: compileCard,
  },
  {
    id: 'iban',
    needsDigit: true,
    level: 'confidential',
    description: 'IBAN: country length (SWIFT registry) and ISO 13616 mod-97',
    context: ['iban', 'account', 'bank'],
    compile: compileIban,
  },
  {
    id: 'ssn',
    needsDigit: true,
    level: 'restricted',
    description:
      'US Social Security number: AAA-GG-SSSS (SSA area/group/serial rules); 9 bare digits only with context',
    context: ['ssn', 'social security', 'social security number', 'social sec'],
    compile: compileSsn,
  },
  {
    id: 'email',
    requires: ['@'],
    level: 'internal',
    description: 'E-mail address: local part and DNS-valid domain with an alphabetic TLD',
    context: ['email', 'e-mail', 'mail'],
    compile: compileEmail,
  },
  {
    id: 'phone',
    needsDigit: true,
    level: 'internal',
    description:
      'Phone number: +E.164 / international, NANP (US/CA) formats, national formats with context; libphonenumber-js validation',
    context: ['phone', 'telephone', 'tel', 'mobile', 'cell', 'call', 'fax', 'whatsapp', 'sms'],
    compile: compilePhone,
  },
  {
    id: 'ipv4',
    requires: ['.'],
    needsDigit: true,
    level: 'internal',
    description: 'IPv4 address (valid octets), not after a version word',
    context: ['ip', 'address', 'host'],
    compile: compileIpv4,
  },
  {
    id: 'ipv6',
    requires: [':'],
    level: 'internal',
    description: 'IPv6 address (node:net isIP)',
    context: ['ip', 'address', 'host'],
    compile: compileIpv6,
  },
  {
    id: 'dob',
    needsDigit: true,
    level: 'confidential',
    description: 'Date of birth: a valid calendar date, only with context (born, dob, birthday…)',
    context: ['dob', 'd.o.b', 'born', 'birth', 'birthday', 'birthdate', 'date of birth'],
    compile: compileDob,
  },
  {
    id: 'aws_access_key',
    level: 'restricted',
    description: 'AWS access key id (AKIA…, ASIA…)',
    context: [],
    compile: prefixed(
      /(?<![A-Za-z0-9])(?:AKIA|ASIA|ABIA|ACCA|AGPA|AIDA|AIPA|AROA|ANPA|ANVA|APKA)[A-Z2-7]{16}(?![A-Za-z0-9])/g,
      (m) => m[0].slice(4),
      0.95,
    ),
  },
  {
    id: 'github_token',
    requires: ['_'],
    level: 'restricted',
    description: 'GitHub token (ghp_, gho_, ghu_, ghs_, ghr_, github_pat_)',
    context: [],
    compile: prefixed(
      /(?<![A-Za-z0-9_])(?:gh[pousr]_[A-Za-z0-9]{36,251}|github_pat_[A-Za-z0-9_]{22,244})(?![A-Za-z0-9_])/g,
      (m) => m[0].slice(m[0].indexOf('_') + 1),
    ),
  },
  {
    id: 'stripe_key',
    requires: ['_'],
    level: 'restricted',
    description: 'Stripe secret or restricted key (sk_live_, rk_live_, sk_test_, rk_test_)',
    context: [],
    compile: prefixed(
      /(?<![A-Za-z0-9_])[sr]k_(?:live|test)_[A-Za-z0-9]{16,247}(?![A-Za-z0-9_])/g,
      (m) => m[0].slice(8),
    ),
  },
  {
    id: 'openai_key',
    requires: ['-'],
    level: 'restricted',
    description: 'OpenAI-style API key (sk-…, sk-proj-…, sk-svcacct-…)',
    context: [],
    compile: prefixed(
      /(?<![A-Za-z0-9_-])sk-(?!ant-)(?:proj-|svcacct-|admin-)?[A-Za-z0-9_-]{20,200}(?![A-Za-z0-9_-])/g,
      (m) => m[0].replace(/^sk-(?:proj-|svcacct-|admin-)?/, ''),
    ),
  },
  {
    id: 'anthropic_key',
    requires: ['-ant-'],
    level: 'restricted',
    description: 'Anthropic API key (sk-ant-api03-…, sk-ant-admin01-…)',
    context: [],
    compile: prefixed(
      /(?<![A-Za-z0-9_-])sk-ant-(?:api|admin|oat)\d{2}-[A-Za-z0-9_-]{20,200}(?![A-Za-z0-9_-])/g,
      (m) => m[0].replace(/^sk-ant-[a-z]+\d{2}-/, ''),
    ),
  },
  {
    id: 'slack_token',
    requires: ['xox'],
    level: 'restricted',
    description: 'Slack token (xoxa-, xoxb-, xoxp-, xoxr-, xoxs-)',
    context: [],
    compile: prefixed(/(?<![A-Za-z0-9-])xox[abprs]-[A-Za-z0-9-]{10,250}(?![A-Za-z0-9-])/g, (m) =>
      m[0].slice(5),
    ),
  },
  {
    id: 'private_key',
    requires: ['-----BEGIN '],
    level: 'restricted',
    description: 'PEM private key block (-----BEGIN … PRIVATE KEY----- … END), truncated ones too',
    context: [],
    compile: compilePrivateKey,
  },
  {
    id: 'jwt',
    requires: ['.'],
    level: 'restricted',
    description: 'JSON Web Token: three base64url parts whose header decodes to JSON with "alg"',
    context: [],
    compile: compileJwt,
  },
  {
    id: 'secret',
    level: 'restricted',
    description:
      'Generic secret: a high-entropy token after a secret word (password, token, api_key…) or under such a key',
    context: SECRET_WORDS,
    compile: compileGenericSecret,
  },
];

export type { Emit, FindEnv };
