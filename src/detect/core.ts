// The core pack: payment cards, IBANs, US SSNs, e-mail addresses, phone numbers, IP
// addresses and dates of birth. They read the normalized view (normalize.ts).

import { isIP } from 'node:net';
import { parsePhoneNumberFromString } from 'libphonenumber-js/max';
import type { CountryCode } from 'libphonenumber-js/max';
import type { Finder } from './context.js';
import { eachMatch, withNeighbours } from './spec.js';
import type { BuiltinSpec } from './spec.js';
import {
  calendarDateValid,
  cardBrand,
  cardGroupingOk,
  ibanValid,
  IBAN_LENGTHS,
  luhn,
  SSN_SAMPLES,
  ssnStructureValid,
} from './validators.js';

// ---------------------------------------------------------------------------- cards

function compileCard(): Finder {
  const re = /(?<![\p{L}\p{N}_]|\d[.,])\d[\d .-]{11,22}\d(?![\p{L}\p{N}_]|[.,]\d)/gu;
  const valid = (groups: readonly string[], dots: boolean): boolean => {
    const pan = groups.join('');
    return (
      pan.length >= 13 &&
      pan.length <= 19 &&
      cardGroupingOk(groups) &&
      // Dotted groups only as cards are printed whole (4-4-4-4, 4-4-4-4-3, 4-6-5): dotted
      // shorter runs are versions, decimals and outline numbers.
      (!dots || groups.length === 1 || /^(?:4-4-4-4(?:-3)?|4-6-5)$/.test(groupKey(groups))) &&
      luhn(pan) &&
      cardBrand(pan) !== undefined
    );
  };
  return (env, emit) => {
    eachMatch(re, env.parts, (m) => {
      const s = m[0];
      const seps = s.replace(/\d/g, '');
      if (seps.length > 0 && !(/^ +$/.test(seps) || /^-+$/.test(seps) || /^\.+$/.test(seps)))
        return;
      const dots = seps.length > 0 && seps[0] === '.';
      const groups = s.split(/[ .-]/);
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
      if (valid(groups, dots)) return emitRange(0, groups.length);
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
          if (valid(groups.slice(i, j), dots)) {
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

function groupKey(groups: readonly string[]): string {
  return groups.map((g) => g.length).join('-');
}

// ---------------------------------------------------------------------------- IBAN

function compileIban(): Finder {
  // Any case: a pasted IBAN is often lower-case; it is validated upper-cased.
  const re =
    /(?<![\p{L}\p{N}_])[A-Za-z]{2}\d{2}(?:[A-Za-z0-9]{11,30}|(?: [A-Za-z0-9]{4}){2,7}(?: [A-Za-z0-9]{1,3})?)(?![\p{L}\p{N}_])/gu;
  return (env, emit) => {
    eachMatch(re, env.parts, (m) => {
      const s = m[0].toUpperCase();
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
    eachMatch(formatted, env.parts, (m) => {
      const nine = `${m[1]}${m[3]}${m[4]}`;
      if (ssnStructureValid(nine))
        found.push({ start: m.index, end: m.index + m[0].length, nine, bare: false });
    });
    eachMatch(bare, env.parts, (m) => {
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
      // The user of a URL (`ssh://git@host`), not an address.
      if (start >= 2 && text.startsWith('//', start - 2)) continue;
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
    /^\+(?:\d{7,15}|\d{1,3}[ .-]?(?:\(\d{1,4}\)[ .-]?)?\d{1,8}(?:[ .-]\d{1,8}){0,6})$/;
  const shapeNanp = /^(?:1[ .-]?)?(?:\(\d{3}\) ?|\d{3}[ .-])\d{3}[ .-]\d{4}$/;
  const shapeNational = /^(?:\(0\d{1,4}\) ?|0\d{1,4}[ .-])\d{2,8}(?:[ .-]\d{2,5}){0,4}$/;
  const valid = (s: string, region?: CountryCode): boolean => {
    try {
      return parsePhoneNumberFromString(s, region)?.isValid() ?? false;
    } catch {
      return false;
    }
  };
  return (env, emit) => {
    eachMatch(re, env.parts, (m) => {
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
      if (/^1?\d{10}$/.test(s) && valid(s, 'US')) {
        emit(start, end, 0.8);
        return;
      }
      // Under a phone word, digits alone can be an international number written without
      // its '+' (a JSON number cannot hold one) or after the 00 prefix: 442079460958.
      const intl = /^(?:00)?(\d{8,15})$/.exec(s);
      if (intl && valid(`+${intl[1]}`)) {
        emit(start, end, 0.75);
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
    if (env.keyAnti) return;
    eachMatch(re, env.parts, (m) => {
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
    eachMatch(re, env.parts, (m) => {
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

// ---------------------------------------------------------------------------- the table

export const CORE: readonly BuiltinSpec[] = [
  {
    id: 'card',
    packs: ['core', 'finance'],
    needsDigit: true,
    minDigits: 13,
    level: 'confidential',
    description: 'Payment card number: 13–19 digits, Luhn, issuer (IIN) ranges, card grouping',
    context: ['card', 'credit', 'debit', 'visa', 'mastercard', 'amex', 'pan', 'cc', 'payment'],
    validator: 'Luhn; issuer ranges with their lengths; printed grouping',
    contextRule: 'raises the score',
    example: '4111 1111 1111 1111',
    guards:
      'Luhn-failing 16 digits, Luhn-valid runs with no issuer, mixed separators, odd groupings, decimals (`4111111111111111.50`), 20-digit order numbers, dotted versions',
    compile: compileCard,
  },
  {
    id: 'iban',
    packs: ['core', 'finance'],
    needsDigit: true,
    minDigits: 4,
    level: 'confidential',
    description: 'IBAN: country length (SWIFT registry) and ISO 13616 mod-97, any letter case',
    context: ['iban', 'account', 'bank'],
    validator: 'ISO 13616 mod-97 = 1; the country’s exact length (89 countries)',
    contextRule: 'raises the score',
    example: 'DE89 3704 0044 0532 0130 00',
    guards: 'wrong check digits, wrong length for the country, unknown country codes',
    compile: compileIban,
  },
  {
    id: 'ssn',
    packs: ['core', 'us'],
    needsDigit: true,
    minDigits: 9,
    level: 'restricted',
    description:
      'US Social Security number: AAA-GG-SSSS (SSA area/group/serial rules); 9 bare digits only with context',
    context: ['ssn', 'social security', 'social security number', 'social sec'],
    validator: 'SSA structure: area not 000, 666, 900–999; group not 00; serial not 0000',
    contextRule: 'required for 9 bare digits; well-known sample numbers only with context',
    example: '536-22-1234',
    guards:
      'invalid areas/groups/serials, mixed separators, phone-shaped 3-3-4, bare 9-digit ids, advertised sample numbers',
    compile: compileSsn,
  },
  {
    id: 'email',
    packs: ['core'],
    requires: ['@'],
    level: 'internal',
    description: 'E-mail address: local part and DNS-valid domain with an alphabetic TLD',
    context: ['email', 'e-mail', 'mail'],
    validator: 'DNS labels, alphabetic TLD',
    contextRule: 'none',
    example: 'ada@example.com',
    guards: '`user@localhost`, numeric TLDs, double dots, `@mentions`, decorators',
    compile: compileEmail,
  },
  {
    id: 'phone',
    packs: ['core'],
    needsDigit: true,
    minDigits: 7,
    level: 'internal',
    description:
      'Phone number: +E.164 / international, NANP (US/CA) formats, national formats with context; libphonenumber-js validation',
    context: [
      'phone',
      'telephone',
      'tel',
      'mobile',
      'cell',
      'call',
      'fax',
      'whatsapp',
      'sms',
      'text me',
      'reach me',
      'ring',
      'dial',
      'landline',
      'contact number',
    ],
    validator: 'libphonenumber-js (the country’s numbering plan)',
    contextRule:
      'required for bare 10 digits, national numbers with a trunk 0, and international digits without `+` (or after `00`)',
    example: '+49 30 90182050',
    guards: 'invalid area codes (`555-123-4567`), order numbers, prose numbers, too-short numbers',
    compile: compilePhone,
  },
  {
    id: 'ipv4',
    packs: ['core'],
    requires: ['.'],
    needsDigit: true,
    minDigits: 4,
    level: 'internal',
    description: 'IPv4 address (valid octets), not after a version word',
    context: ['ip', 'address', 'host'],
    antiContext: ['version', 'build', 'release', 'firmware', 'oid'],
    validator: '`node:net` isIP',
    contextRule: 'none',
    example: '192.168.1.10',
    guards:
      'version numbers (`v1.2.3.4`, or under a `version` key), OIDs (`1.3.6.1.4`), octets over 255',
    compile: compileIpv4,
  },
  {
    id: 'ipv6',
    packs: ['core'],
    requires: [':'],
    level: 'internal',
    description: 'IPv6 address (node:net isIP)',
    context: ['ip', 'address', 'host'],
    validator: '`node:net` isIP; two groups and a digit',
    contextRule: 'none',
    example: '2001:db8::1',
    guards: '`::1`-like fragments, MAC addresses, clock times, `std::vector`',
    compile: compileIpv6,
  },
  {
    id: 'dob',
    packs: ['core'],
    needsDigit: true,
    contextRequired: true,
    minDigits: 4,
    level: 'confidential',
    description: 'Date of birth: a valid calendar date, only with context (born, dob, birthday…)',
    context: ['dob', 'd.o.b', 'born', 'birth', 'birthday', 'birthdate', 'date of birth'],
    validator: 'a real calendar date in 1900–2099',
    contextRule: 'required (the nearest date only)',
    example: 'born 12 March 1985',
    guards: 'timestamps, creation dates, impossible dates (`1985-02-30`)',
    compile: compileDob,
  },
];
