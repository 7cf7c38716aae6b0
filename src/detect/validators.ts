// Validators behind the built-in detectors: a regex only proposes a candidate, one of these
// decides. All are pure and allocation-light; none throws on any input.

import { Buffer } from 'node:buffer';
import { createHash } from 'node:crypto';
import { keccak256 } from './keccak.js';

/** Luhn (mod 10) over a string of ASCII digits. */
export function luhn(digits: string): boolean {
  if (digits.length === 0) return false;
  let sum = 0;
  let double = false;
  for (let i = digits.length - 1; i >= 0; i--) {
    let d = digits.charCodeAt(i) - 48;
    if (d < 0 || d > 9) return false;
    if (double) {
      d *= 2;
      if (d > 9) d -= 9;
    }
    sum += d;
    double = !double;
  }
  return sum % 10 === 0;
}

/** Card brand of a PAN by its issuer identification number and length; undefined if none fits. */
export function cardBrand(pan: string): string | undefined {
  const n = pan.length;
  const p = (k: number): number => Number(pan.slice(0, k));
  if (pan.startsWith('4')) return n === 13 || n === 16 || n === 19 ? 'visa' : undefined;
  if (n === 16 && ((p(2) >= 51 && p(2) <= 55) || (p(4) >= 2221 && p(4) <= 2720)))
    return 'mastercard';
  if (n === 15 && (p(2) === 34 || p(2) === 37)) return 'amex';
  if (n === 16 && p(4) >= 2200 && p(4) <= 2204) return 'mir';
  if (n >= 16 && n <= 19) {
    if (p(4) === 6011 || (p(3) >= 644 && p(3) <= 649) || p(2) === 65) return 'discover';
    if (p(6) >= 622126 && p(6) <= 622925) return 'discover';
    if (p(4) >= 3528 && p(4) <= 3589) return 'jcb';
    if (p(2) === 62) return 'unionpay';
  }
  if (n >= 14 && n <= 19 && ((p(3) >= 300 && p(3) <= 305) || [36, 38, 39].includes(p(2))))
    return 'diners';
  if (n >= 13 && n <= 19 && (p(2) === 50 || (p(2) >= 56 && p(2) <= 69))) return 'maestro';
  return undefined;
}

/**
 * Whether the separators of a card candidate group its digits the way cards are printed:
 * none, or one separator kind throughout with groups 4-4-4-4(-3), 4-6-5 (Amex), 4-6-4
 * (Diners), or 4-4-4-1..4 / 4-4-4-4-1..3 (13–19 digits).
 */
export function cardGroupingOk(groups: readonly string[]): boolean {
  if (groups.length === 1) return true;
  const lens = groups.map((g) => g.length);
  const key = lens.join('-');
  if (key === '4-6-5' || key === '4-6-4') return true;
  for (let i = 0; i < lens.length - 1; i++) if (lens[i] !== 4) return false;
  const last = lens[lens.length - 1] as number;
  return last >= 1 && last <= 4;
}

/** IBAN length per country (SWIFT IBAN registry). */
export const IBAN_LENGTHS: Readonly<Record<string, number>> = {
  AD: 24, AE: 23, AL: 28, AT: 20, AZ: 28, BA: 20, BE: 16, BG: 22, BH: 22, BI: 27, BR: 29,
  BY: 28, CH: 21, CR: 22, CY: 28, CZ: 24, DE: 22, DJ: 27, DK: 18, DO: 28, EE: 20, EG: 29,
  ES: 24, FI: 18, FK: 18, FO: 18, FR: 27, GB: 22, GE: 22, GI: 23, GL: 18, GR: 27, GT: 28,
  HN: 28, HR: 21, HU: 28, IE: 22, IL: 23, IQ: 23, IS: 26, IT: 27, JO: 30, KW: 30, KZ: 20,
  LB: 28, LC: 32, LI: 21, LT: 20, LU: 20, LV: 21, LY: 25, MC: 27, MD: 24, ME: 22, MK: 19,
  MN: 20, MR: 27, MT: 31, MU: 30, NI: 28, NL: 18, NO: 15, OM: 23, PK: 24, PL: 28, PS: 29,
  PT: 25, QA: 29, RO: 24, RS: 22, RU: 33, SA: 24, SC: 31, SD: 18, SE: 24, SI: 19, SK: 24,
  SM: 27, SO: 23, ST: 25, SV: 28, TL: 23, TN: 24, TR: 26, UA: 29, VA: 22, VG: 24, XK: 20,
  YE: 30,
}; // prettier-ignore

/** ISO 13616 check: known country, its exact length, and mod-97 of the rearranged number is 1. */
export function ibanValid(compact: string): boolean {
  const want = IBAN_LENGTHS[compact.slice(0, 2)];
  if (want === undefined || compact.length !== want) return false;
  if (!/^[A-Z]{2}\d{2}[A-Z0-9]+$/.test(compact)) return false;
  const re = compact.slice(4) + compact.slice(0, 4);
  let rem = 0;
  for (let i = 0; i < re.length; i++) {
    const c = re.charCodeAt(i);
    if (c <= 57) rem = (rem * 10 + (c - 48)) % 97;
    else rem = (rem * 100 + (c - 55)) % 97;
  }
  return rem === 1;
}

/**
 * Numbers that pass the SSA's structural rules but are well-known samples, printed in
 * advertisements and documentation (078-05-1120 is the Woolworth wallet card). Rejected
 * only when no context says "this is an SSN".
 */
export const SSN_SAMPLES: ReadonlySet<string> = new Set([
  '078051120',
  '219099999',
  '457555462',
  '123456789',
]);

/** SSA structure: area not 000, 666 or 900–999; group not 00; serial not 0000. */
export function ssnStructureValid(nine: string): boolean {
  if (!/^\d{9}$/.test(nine)) return false;
  const area = Number(nine.slice(0, 3));
  const group = Number(nine.slice(3, 5));
  const serial = Number(nine.slice(5));
  return area !== 0 && area !== 666 && area < 900 && group !== 0 && serial !== 0;
}

/** Shannon entropy in bits per character. */
export function shannonEntropy(s: string): number {
  if (s.length === 0) return 0;
  const counts = new Map<number, number>();
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    counts.set(c, (counts.get(c) ?? 0) + 1);
  }
  let h = 0;
  for (const n of counts.values()) {
    const p = n / s.length;
    h -= p * Math.log2(p);
  }
  return h;
}

/** How many of the classes lower case, upper case and digits (ASCII) occur. */
export function charClasses(s: string): number {
  let lower = 0;
  let upper = 0;
  let digit = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c >= 97 && c <= 122) lower = 1;
    else if (c >= 65 && c <= 90) upper = 1;
    else if (c >= 48 && c <= 57) digit = 1;
  }
  return lower + upper + digit;
}

/** A real calendar date in 1900–2099. */
export function calendarDateValid(year: number, month: number, day: number): boolean {
  if (!Number.isInteger(year) || year < 1900 || year > 2099) return false;
  if (!Number.isInteger(month) || month < 1 || month > 12) return false;
  if (!Number.isInteger(day) || day < 1) return false;
  const leap = (year % 4 === 0 && year % 100 !== 0) || year % 400 === 0;
  const days = [31, leap ? 29 : 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31][month - 1] as number;
  return day <= days;
}

/** The decoded header of a JWT candidate is a JSON object with a string `alg`. */
export function jwtHeaderValid(b64url: string): boolean {
  if (b64url.length > 2048) return false;
  try {
    const json = Buffer.from(b64url, 'base64url').toString('utf8');
    const v: unknown = JSON.parse(json);
    return (
      typeof v === 'object' &&
      v !== null &&
      !Array.isArray(v) &&
      typeof (v as Record<string, unknown>)['alg'] === 'string'
    );
  } catch {
    return false;
  }
}

// ---------------------------------------------------------------------------- check digits

/** The digit values of an ASCII digit string; undefined if any character is not a digit. */
function digitValues(s: string): number[] | undefined {
  const out: number[] = [];
  for (let i = 0; i < s.length; i++) {
    const d = s.charCodeAt(i) - 48;
    if (d < 0 || d > 9) return undefined;
    out.push(d);
  }
  return out;
}

/** Σ digit × weight over the first weights.length digits. */
export function weightedSum(digits: readonly number[], weights: readonly number[]): number {
  let sum = 0;
  for (let i = 0; i < weights.length; i++) sum += (digits[i] as number) * (weights[i] as number);
  return sum;
}

const VERHOEFF_D = [
  [0, 1, 2, 3, 4, 5, 6, 7, 8, 9],
  [1, 2, 3, 4, 0, 6, 7, 8, 9, 5],
  [2, 3, 4, 0, 1, 7, 8, 9, 5, 6],
  [3, 4, 0, 1, 2, 8, 9, 5, 6, 7],
  [4, 0, 1, 2, 3, 9, 5, 6, 7, 8],
  [5, 9, 8, 7, 6, 0, 4, 3, 2, 1],
  [6, 5, 9, 8, 7, 1, 0, 4, 3, 2],
  [7, 6, 5, 9, 8, 2, 1, 0, 4, 3],
  [8, 7, 6, 5, 9, 3, 2, 1, 0, 4],
  [9, 8, 7, 6, 5, 4, 3, 2, 1, 0],
];
const VERHOEFF_P = [
  [0, 1, 2, 3, 4, 5, 6, 7, 8, 9],
  [1, 5, 7, 6, 2, 8, 3, 0, 9, 4],
  [5, 8, 0, 3, 7, 9, 6, 1, 4, 2],
  [8, 9, 1, 6, 0, 4, 3, 5, 2, 7],
  [9, 4, 5, 3, 1, 2, 6, 8, 7, 0],
  [4, 2, 8, 6, 5, 7, 3, 9, 0, 1],
  [2, 7, 9, 3, 8, 0, 6, 4, 1, 5],
  [7, 0, 4, 6, 9, 1, 3, 2, 5, 8],
];

/** Verhoeff (dihedral group D5) over an ASCII digit string, check digit last. */
export function verhoeff(digits: string): boolean {
  const d = digitValues(digits);
  if (!d || d.length < 2) return false;
  let c = 0;
  for (let i = 0; i < d.length; i++) c = VERHOEFF_D[c]![VERHOEFF_P[i % 8]![d[d.length - 1 - i]!]!]!;
  return c === 0;
}

const DAMM = [
  [0, 3, 1, 7, 5, 9, 8, 6, 4, 2],
  [7, 0, 9, 2, 1, 5, 4, 8, 6, 3],
  [4, 2, 0, 6, 8, 7, 1, 3, 5, 9],
  [1, 7, 5, 0, 9, 8, 3, 4, 2, 6],
  [6, 1, 2, 3, 0, 4, 5, 9, 7, 8],
  [3, 6, 7, 4, 2, 0, 9, 5, 8, 1],
  [5, 8, 6, 9, 7, 2, 0, 1, 3, 4],
  [8, 9, 4, 5, 3, 6, 2, 0, 1, 7],
  [9, 4, 3, 8, 6, 1, 7, 2, 0, 5],
  [2, 5, 8, 1, 4, 3, 6, 7, 9, 0],
];

/** Damm (totally anti-symmetric quasigroup of order 10), check digit last. */
export function damm(digits: string): boolean {
  const d = digitValues(digits);
  if (!d || d.length < 2) return false;
  let c = 0;
  for (const x of d) c = DAMM[c]![x]!;
  return c === 0;
}

/** ISO 7064 MOD 11-2 over digits with a final check character 0–9 or X (= 10). */
export function iso7064Mod11_2(s: string): boolean {
  if (s.length < 2) return false;
  let c = 0;
  for (let i = 0; i < s.length; i++) {
    const ch = s.charCodeAt(i);
    const v = ch === 88 && i === s.length - 1 ? 10 : ch - 48;
    if (v < 0 || v > 10) return false;
    c = (2 * c + v) % 11;
  }
  return c === 1;
}

/** ISO 7064 MOD 11,10 (hybrid) over an ASCII digit string, check digit last. */
export function iso7064Mod11_10(digits: string): boolean {
  const d = digitValues(digits);
  if (!d || d.length < 2) return false;
  let c = 5;
  for (const x of d) c = ((((c || 10) * 2) % 11) + x) % 10;
  return c === 1;
}

/** ISO 7064 MOD 97-10 over digits and letters (A = 10 … Z = 35): the remainder is 1. */
export function iso7064Mod97_10(s: string): boolean {
  if (s.length < 3) return false;
  let rem = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c >= 48 && c <= 57) rem = (rem * 10 + (c - 48)) % 97;
    else if (c >= 65 && c <= 90) rem = (rem * 100 + (c - 55)) % 97;
    else return false;
  }
  return rem === 1;
}

/** All the same digit (`111.111.111-11` passes several national checks). */
export function allSame(digits: string): boolean {
  for (let i = 1; i < digits.length; i++) if (digits[i] !== digits[0]) return false;
  return true;
}

// ---------------------------------------------------------------------------- national

/** UK NHS number: 10 digits, mod 11 with weights 10…2 (a remainder giving 10 is invalid). */
export function nhsValid(d10: string): boolean {
  const d = digitValues(d10);
  if (!d || d.length !== 10) return false;
  const r = 11 - (weightedSum(d, [10, 9, 8, 7, 6, 5, 4, 3, 2]) % 11);
  const check = r === 11 ? 0 : r;
  return check !== 10 && check === d[9];
}

/** US NPI: 10 digits starting 1 or 2, Luhn over the prefix 80840 and the number. */
export function npiValid(d10: string): boolean {
  return /^[12]\d{9}$/.test(d10) && luhn(`80840${d10}`);
}

/** US DEA registration number: 2 letters + 7 digits with the DEA check digit. */
export function deaValid(s: string): boolean {
  if (!/^[ABCDEFGHJKLMPRSTUX][A-Z9]\d{7}$/.test(s)) return false;
  const d = digitValues(s.slice(2))!;
  const sum = d[0]! + d[2]! + d[4]! + 2 * (d[1]! + d[3]! + d[5]!);
  return sum % 10 === d[6];
}

/**
 * US Medicare Beneficiary Identifier (CMS): 11 characters, by position: 1–9, letter,
 * letter or digit, digit, letter, letter or digit, digit, letter, letter, digit, digit; no
 * S, L, O, I, B, Z.
 */
export function mbiValid(s: string): boolean {
  return /^[1-9][AC-HJKMNP-RT-Y][AC-HJKMNP-RT-Y0-9]\d[AC-HJKMNP-RT-Y][AC-HJKMNP-RT-Y0-9]\d[AC-HJKMNP-RT-Y]{2}\d{2}$/.test(
    s,
  );
}

/** ABA routing number: 9 digits, weights 3-7-1, and a Federal Reserve prefix. */
export function abaValid(d9: string): boolean {
  const d = digitValues(d9);
  if (!d || d.length !== 9) return false;
  const p = d[0]! * 10 + d[1]!;
  if (!(p <= 12 || (p >= 21 && p <= 32) || (p >= 61 && p <= 72) || p === 80)) return false;
  return weightedSum(d, [3, 7, 1, 3, 7, 1, 3, 7, 1]) % 10 === 0 && !allSame(d9);
}

/** US ITIN: 9XX-XX-XXXX with the group 50–65, 70–88, 90–92 or 94–99. */
export function itinValid(d9: string): boolean {
  if (!/^9\d{8}$/.test(d9)) return false;
  const g = Number(d9.slice(3, 5));
  return (g >= 50 && g <= 65) || (g >= 70 && g <= 88) || (g >= 90 && g <= 92) || g >= 94;
}

/** US EIN: 9 digits whose first two are an IRS campus prefix. */
const EIN_PREFIXES = new Set(
  '01 02 03 04 05 06 10 11 12 13 14 15 16 20 21 22 23 24 25 26 27 30 31 32 33 34 35 36 37 38 39 40 41 42 43 44 45 46 47 48 50 51 52 53 54 55 56 57 58 59 60 61 62 63 64 65 66 67 68 71 72 73 74 75 76 77 80 81 82 83 84 85 86 87 88 90 91 92 93 94 95 98 99'.split(
    ' ',
  ),
);
export function einValid(d9: string): boolean {
  return /^\d{9}$/.test(d9) && EIN_PREFIXES.has(d9.slice(0, 2)) && !allSame(d9);
}

/** UK National Insurance number: two prefix letters (DWP rules), six digits, A–D. */
export function ninoValid(s: string): boolean {
  if (!/^[A-CEGHJ-PR-TW-Z][A-CEGHJ-NPR-TW-Z]\d{6}[A-D]$/.test(s)) return false;
  return !['BG', 'GB', 'NK', 'KN', 'TN', 'NT', 'ZZ'].includes(s.slice(0, 2));
}

/** HMRC's sample NINO prefix (QQ 12 34 56 C), found only with context, like SSN samples. */
export function ninoSample(s: string): boolean {
  return /^QQ\d{6}[A-D]$/.test(s);
}

/**
 * Canadian SIN: 9 digits, Luhn; not starting with 8 (business numbers). 0 is not issued to
 * people, but the published sample numbers start with it: context decides (ca_sin needs it).
 */
export function sinValid(d9: string): boolean {
  return /^[0-79]\d{8}$/.test(d9) && luhn(d9) && !allSame(d9);
}

/** Australian TFN: 9 digits (or 8, older), weighted sum (1-4-3-7-5-8-6-9-10) divisible by 11. */
export function tfnValid(d: string): boolean {
  const v = digitValues(d);
  if (!v || (v.length !== 8 && v.length !== 9) || allSame(d)) return false;
  return weightedSum(v, [1, 4, 3, 7, 5, 8, 6, 9, 10].slice(0, v.length)) % 11 === 0;
}

/** Australian Medicare number: 10 digits (11 with the IRN), first 2–6, check 9th digit. */
export function auMedicareValid(d: string): boolean {
  const v = digitValues(d);
  if (!v || (v.length !== 10 && v.length !== 11) || v[0]! < 2 || v[0]! > 6) return false;
  if (v.length === 11 && v[10] === 0) return false;
  return weightedSum(v, [1, 3, 7, 9, 1, 3, 7, 9]) % 10 === v[8];
}

/** Australian Business Number: 11 digits (check digits 11–99), first less 1, weights, mod 89. */
export function abnValid(d11: string): boolean {
  const v = digitValues(d11);
  if (!v || v.length !== 11 || v[0]! * 10 + v[1]! < 11) return false;
  v[0]! -= 1;
  return weightedSum(v, [10, 1, 3, 5, 7, 9, 11, 13, 15, 17, 19]) % 89 === 0;
}

/** Aadhaar: 12 digits, not starting 0 or 1, Verhoeff, not a palindrome. */
export function aadhaarValid(d12: string): boolean {
  if (!/^[2-9]\d{11}$/.test(d12) || !verhoeff(d12)) return false;
  return d12 !== [...d12].reverse().join('');
}

/**
 * Indian PAN: 5 letters, 4 digits, a letter. The 4th letter names the holder type (P, C,
 * H, F, A, T, B, L, J, G), but the sample everyone writes (`ABCDE1234F`) has none: the
 * detector needs context anyway, so the shape is the check.
 */
export function panValid(s: string): boolean {
  return /^[A-Z]{5}\d{4}[A-Z]$/.test(s) && s.slice(5, 9) !== '0000';
}

/** Brazilian CPF: 11 digits, two mod-11 check digits, not all the same. */
export function cpfValid(d11: string): boolean {
  const v = digitValues(d11);
  if (!v || v.length !== 11 || allSame(d11)) return false;
  const check = (n: number): number => {
    let sum = 0;
    for (let i = 0; i < n; i++) sum += v[i]! * (n + 1 - i);
    const r = (sum * 10) % 11;
    return r === 10 ? 0 : r;
  };
  return check(9) === v[9] && check(10) === v[10];
}

/** Brazilian CNPJ: 14 digits, two mod-11 check digits, not all the same. */
export function cnpjValid(d14: string): boolean {
  const v = digitValues(d14);
  if (!v || v.length !== 14 || allSame(d14)) return false;
  const check = (weights: readonly number[]): number => {
    const r = weightedSum(v, weights) % 11;
    return r < 2 ? 0 : 11 - r;
  };
  return (
    check([5, 4, 3, 2, 9, 8, 7, 6, 5, 4, 3, 2]) === v[12] &&
    check([6, 5, 4, 3, 2, 9, 8, 7, 6, 5, 4, 3, 2]) === v[13]
  );
}

const DNI_LETTERS = 'TRWAGMYFPDXBNJZSQVHLCKE';

/** Spanish DNI: 8 digits and the letter of their value mod 23. */
export function dniValid(s: string): boolean {
  const m = /^(\d{8})([A-Z])$/.exec(s);
  return m !== null && DNI_LETTERS[Number(m[1]) % 23] === m[2] && !allSame(m[1]!);
}

/** Spanish NIE: X, Y or Z (0, 1, 2), 7 digits, and the DNI letter of the whole. */
export function nieValid(s: string): boolean {
  const m = /^([XYZ])(\d{7})([A-Z])$/.exec(s);
  if (!m) return false;
  const n = Number(`${'XYZ'.indexOf(m[1]!)}${m[2]}`);
  return DNI_LETTERS[n % 23] === m[3];
}

const CF_ODD = [
  1, 0, 5, 7, 9, 13, 15, 17, 19, 21, 2, 4, 18, 20, 11, 3, 6, 8, 12, 14, 16, 10, 22, 25, 24, 23,
];
const CF_OMOCODE = 'LMNPQRSTUV';
const CF_MONTHS = 'ABCDEHLMPRST';

/**
 * Italian codice fiscale: 16 characters (surname, name, year, month letter, day (+40 for
 * women), municipality, check letter); digits may be replaced by LMNPQRSTUV (omocodia).
 */
export function fiscalCodeValid(s: string): boolean {
  if (!/^[A-Z]{6}[0-9LMNP-V]{2}[ABCDEHLMPRST][0-9LMNP-V]{2}[A-Z][0-9LMNP-V]{3}[A-Z]$/.test(s))
    return false;
  const num = (c: string): number => {
    const i = CF_OMOCODE.indexOf(c);
    return i >= 0 ? i : c.charCodeAt(0) - 48;
  };
  const day = num(s[9]!) * 10 + num(s[10]!);
  // A real day of the month (women: day + 40), in any year (2000: 29 February exists).
  if (!calendarDateValid(2000, CF_MONTHS.indexOf(s[8]!) + 1, day > 40 ? day - 40 : day))
    return false;
  let sum = 0;
  for (let i = 0; i < 15; i++) {
    const c = s.charCodeAt(i);
    const v = c <= 57 ? c - 48 : c - 65;
    sum += i % 2 === 0 ? CF_ODD[v]! : v;
  }
  return String.fromCharCode(65 + (sum % 26)) === s[15];
}

/**
 * French NIR (numéro de sécurité sociale): sex, year, month, department (2A/2B for
 * Corsica), commune, order, and the key 97 − (number mod 97).
 */
export function nirValid(s: string): boolean {
  const m =
    /^([1-478])(\d{2})(0[1-9]|1[0-2]|[2-4]\d|[5-9]\d)(\d{2}|2[AB])(\d{3})(\d{3})(\d{2})$/.exec(s);
  if (!m) return false;
  const dept = m[4] === '2A' ? '19' : m[4] === '2B' ? '18' : m[4]!;
  const body = `${m[1]}${m[2]}${m[3]}${dept}${m[5]}${m[6]}`;
  let rem = 0;
  for (let i = 0; i < body.length; i++) rem = (rem * 10 + (body.charCodeAt(i) - 48)) % 97;
  return 97 - rem === Number(m[7]);
}

/**
 * German tax id (Steuer-IdNr): 11 digits, no leading 0; among the first 10 one digit occurs
 * two or three times and the others at most once; ISO 7064 MOD 11,10.
 */
export function steuerIdValid(d11: string): boolean {
  if (!/^[1-9]\d{10}$/.test(d11)) return false;
  const counts = new Array<number>(10).fill(0);
  for (let i = 0; i < 10; i++) counts[d11.charCodeAt(i) - 48]!++;
  const repeated = counts.filter((c) => c > 1);
  if (repeated.length !== 1 || repeated[0]! > 3) return false;
  return iso7064Mod11_10(d11);
}

/** Dutch BSN: 9 digits (8 with a leading 0 added), the "11-proof" with −1 for the last. */
export function bsnValid(d: string): boolean {
  const s = d.length === 8 ? `0${d}` : d;
  const v = digitValues(s);
  if (!v || v.length !== 9 || allSame(s)) return false;
  return (weightedSum(v, [9, 8, 7, 6, 5, 4, 3, 2]) - v[8]!) % 11 === 0;
}

/**
 * Belgian national number: YYMMDD (month + 20 or + 40 for BIS numbers), serial, and
 * 97 − (number mod 97); for births from 2000 (YY up to 30 here) a 2 is prefixed first.
 */
export function beNationalNumberValid(d11: string): boolean {
  if (!/^\d{11}$/.test(d11)) return false;
  const mm = Number(d11.slice(2, 4));
  if (mm > 12 && !(mm >= 20 && mm <= 32) && !(mm >= 40 && mm <= 52)) return false;
  const base = Number(d11.slice(0, 9));
  const check = Number(d11.slice(9));
  if (97 - (base % 97) === check) return true;
  return Number(d11.slice(0, 2)) <= 30 && 97 - ((2_000_000_000 + base) % 97) === check;
}

/** Polish PESEL: 11 digits, a date with the century in the month, weights 1-3-7-9. */
export function peselValid(d11: string): boolean {
  const v = digitValues(d11);
  if (!v || v.length !== 11 || allSame(d11)) return false;
  const yy = v[0]! * 10 + v[1]!;
  const mm = v[2]! * 10 + v[3]!;
  const dd = v[4]! * 10 + v[5]!;
  const century = [1900, 2000, 2100, 2200, 1800][Math.floor(mm / 20)];
  if (century === undefined || !calendarDateValid(century === 1800 ? 1900 : century, mm % 20, dd))
    return false;
  if (century !== 1800 && century !== 2200 && !calendarDateValid(century + yy, mm % 20, dd))
    return false;
  return (10 - (weightedSum(v, [1, 3, 7, 9, 1, 3, 7, 9, 1, 3]) % 10)) % 10 === v[10];
}

/** Swedish personnummer: YYMMDD (day + 60 for a coordination number) NNN C, Luhn of 10. */
export function personnummerValid(d10: string): boolean {
  if (!/^\d{10}$/.test(d10)) return false;
  const mm = Number(d10.slice(2, 4));
  let dd = Number(d10.slice(4, 6));
  if (dd > 60) dd -= 60;
  // Any century: a valid day in the month of some year (29 February in a leap year).
  if (!calendarDateValid(2000, mm, dd)) return false;
  return luhn(d10);
}

const HETU_CHECK = '0123456789ABCDEFHJKLMNPRSTUVWXY';

/** Finnish henkilötunnus: DDMMYY, century sign, NNN, check character of the 9 digits mod 31. */
export function hetuValid(s: string): boolean {
  const m = /^(\d{2})(\d{2})(\d{2})([-+A-FU-Y])(\d{3})([0-9A-Y])$/.exec(s);
  if (!m) return false;
  const century = m[4] === '+' ? 1800 : /[-U-Y]/.test(m[4]!) ? 1900 : 2000;
  if (
    !calendarDateValid(
      century === 1800 ? 1900 + Number(m[3]) : century + Number(m[3]),
      Number(m[2]),
      Number(m[1]),
    )
  )
    return false;
  const n = Number(`${m[1]}${m[2]}${m[3]}${m[5]}`);
  return HETU_CHECK[n % 31] === m[6] && Number(m[5]) >= 2;
}

/** Swiss AHV / AVS number: 756 + 10 digits, EAN-13 check digit. */
export function ahvValid(d13: string): boolean {
  const v = digitValues(d13);
  if (!v || v.length !== 13 || !d13.startsWith('756')) return false;
  let sum = 0;
  for (let i = 0; i < 12; i++) sum += v[i]! * (i % 2 === 0 ? 1 : 3);
  return (10 - (sum % 10)) % 10 === v[12];
}

/** Singapore NRIC / FIN: S, T, F, G or M, 7 digits, and the check letter of its series. */
export function nricValid(s: string): boolean {
  const m = /^([STFGM])(\d{7})([A-Z])$/.exec(s);
  if (!m) return false;
  const v = digitValues(m[2]!)!;
  let sum = weightedSum(v, [2, 7, 6, 5, 4, 3, 2]);
  const p = m[1]!;
  if (p === 'T' || p === 'G') sum += 4;
  if (p === 'M') sum += 3;
  const r = sum % 11;
  const table =
    p === 'S' || p === 'T' ? 'JZIHGFEDCBA' : p === 'F' || p === 'G' ? 'XWUTRQPNMLK' : 'KLJNPQRTUWX';
  return table[p === 'M' ? 10 - r : r] === m[3];
}

/** Japanese My Number (individual number): 12 digits, the check digit of the first 11. */
export function myNumberValid(d12: string): boolean {
  const v = digitValues(d12);
  if (!v || v.length !== 12 || allSame(d12)) return false;
  let sum = 0;
  for (let n = 1; n <= 11; n++) sum += v[11 - n]! * (n <= 6 ? n + 1 : n - 5);
  const r = sum % 11;
  return (r <= 1 ? 0 : 11 - r) === v[11];
}

/**
 * Korean resident registration number: YYMMDD, the sex/century digit, 6 digits. Numbers
 * issued before October 2020 end in a check digit; `checked` says whether it holds.
 */
export function rrnShape(d13: string): { valid: boolean; checked: boolean } {
  const v = digitValues(d13);
  if (!v || v.length !== 13) return { valid: false, checked: false };
  const g = v[6]!;
  const century = g === 9 || g === 0 ? 1800 : g <= 2 || g === 5 || g === 6 ? 1900 : 2000;
  const year = (century === 1800 ? 1900 : century) + v[0]! * 10 + v[1]!;
  if (!calendarDateValid(year, v[2]! * 10 + v[3]!, v[4]! * 10 + v[5]!))
    return { valid: false, checked: false };
  const sum = weightedSum(v, [2, 3, 4, 5, 6, 7, 8, 9, 2, 3, 4, 5]);
  // Old numbers: a place-of-birth code up to 96, and the check digit.
  const checked = v[7]! * 10 + v[8]! <= 96 && (11 - (sum % 11)) % 10 === v[12];
  return { valid: true, checked };
}

/** Chinese resident identity card number: 17 digits + check (ISO 7064 MOD 11-2, X = 10), a date. */
export function cnResidentIdValid(s: string): boolean {
  if (!/^[1-9]\d{16}[\dX]$/.test(s)) return false;
  const y = Number(s.slice(6, 10));
  if (!calendarDateValid(y, Number(s.slice(10, 12)), Number(s.slice(12, 14)))) return false;
  return iso7064Mod11_2(s);
}

// ---------------------------------------------------------------------------- finance

/** ISO 3166-1 alpha-2 country codes (with XK, Kosovo), for BIC and ISIN prefixes. */
export const COUNTRY_CODES: ReadonlySet<string> = new Set(
  'AD AE AF AG AI AL AM AO AQ AR AS AT AU AW AX AZ BA BB BD BE BF BG BH BI BJ BL BM BN BO BQ BR BS BT BV BW BY BZ CA CC CD CF CG CH CI CK CL CM CN CO CR CU CV CW CX CY CZ DE DJ DK DM DO DZ EC EE EG EH ER ES ET FI FJ FK FM FO FR GA GB GD GE GF GG GH GI GL GM GN GP GQ GR GS GT GU GW GY HK HM HN HR HT HU ID IE IL IM IN IO IQ IR IS IT JE JM JO JP KE KG KH KI KM KN KP KR KW KY KZ LA LB LC LI LK LR LS LT LU LV LY MA MC MD ME MF MG MH MK ML MM MN MO MP MQ MR MS MT MU MV MW MX MY MZ NA NC NE NF NG NI NL NO NP NR NU NZ OM PA PE PF PG PH PK PL PM PN PR PS PT PW PY QA RE RO RS RU RW SA SB SC SD SE SG SH SI SJ SK SL SM SN SO SR SS ST SV SX SY SZ TC TD TF TG TH TJ TK TL TM TN TO TR TT TV TW TZ UA UG UM US UY UZ VA VC VE VG VI VN VU WF WS XK YE YT ZA ZM ZW'.split(
    ' ',
  ),
);

/** SWIFT / BIC: bank (4 letters), country, location (2), optional branch (3). */
export function bicValid(s: string): boolean {
  const m = /^[A-Z]{4}([A-Z]{2})[A-Z0-9]{2}(?:[A-Z0-9]{3})?$/.exec(s);
  return m !== null && COUNTRY_CODES.has(m[1]!);
}

/** ISIN: country (or XS, EU, XA…), 9 alphanumerics, Luhn over the letters as numbers. */
export function isinValid(s: string): boolean {
  if (!/^[A-Z]{2}[A-Z0-9]{9}\d$/.test(s)) return false;
  const cc = s.slice(0, 2);
  if (!COUNTRY_CODES.has(cc) && !['XS', 'EU', 'XA', 'XB', 'XC', 'XD', 'QS', 'QT'].includes(cc))
    return false;
  let digits = '';
  for (const c of s) digits += c <= '9' ? c : String(c.charCodeAt(0) - 55);
  return luhn(digits);
}

/** CUSIP: 8 characters and a check digit (double every second value, sum the digits). */
export function cusipValid(s: string): boolean {
  if (!/^[0-9A-Z*@#]{8}\d$/.test(s)) return false;
  let sum = 0;
  for (let i = 0; i < 8; i++) {
    const c = s[i]!;
    let v =
      c <= '9' && c >= '0'
        ? c.charCodeAt(0) - 48
        : c >= 'A' && c <= 'Z'
          ? c.charCodeAt(0) - 55
          : c === '*'
            ? 36
            : c === '@'
              ? 37
              : 38;
    if (i % 2 === 1) v *= 2;
    sum += Math.floor(v / 10) + (v % 10);
  }
  return (10 - (sum % 10)) % 10 === Number(s[8]);
}

// ---------------------------------------------------------------------------- crypto-currency

const BASE58 = '123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz';

/** Base58 → bytes (leading '1's are zero bytes); undefined for a character outside it. */
function base58Decode(s: string): Uint8Array | undefined {
  const bytes: number[] = [];
  for (const ch of s) {
    let carry = BASE58.indexOf(ch);
    if (carry < 0) return undefined;
    for (let i = 0; i < bytes.length; i++) {
      carry += bytes[i]! * 58;
      bytes[i] = carry & 0xff;
      carry >>= 8;
    }
    while (carry > 0) {
      bytes.push(carry & 0xff);
      carry >>= 8;
    }
  }
  for (let i = 0; i < s.length && s[i] === '1'; i++) bytes.push(0);
  return Uint8Array.from(bytes.reverse());
}

const sha256 = (b: Uint8Array): Buffer => createHash('sha256').update(b).digest();

/**
 * A Bitcoin base58check address: 25 bytes, version 0x00 (P2PKH, `1…`) or 0x05 (P2SH,
 * `3…`) (or their testnet 0x6f / 0xc4), checksum = the first 4 bytes of SHA-256(SHA-256).
 */
export function base58CheckAddressValid(s: string): boolean {
  const b = base58Decode(s);
  if (!b || b.length !== 25 || ![0x00, 0x05, 0x6f, 0xc4].includes(b[0]!)) return false;
  const sum = sha256(sha256(b.subarray(0, 21)));
  return sum[0] === b[21] && sum[1] === b[22] && sum[2] === b[23] && sum[3] === b[24];
}

const BECH32 = 'qpzry9x8gf2tvdw0s3jn54khce6mua7l';
const BECH32_GEN = [0x3b6a57b2, 0x26508e6d, 0x1ea119fa, 0x3d4233dd, 0x2a1462b3];

function bech32Polymod(values: readonly number[]): number {
  let chk = 1;
  for (const v of values) {
    const top = chk >>> 25;
    chk = (((chk & 0x1ffffff) << 5) ^ v) >>> 0;
    for (let i = 0; i < 5; i++) if ((top >>> i) & 1) chk = (chk ^ BECH32_GEN[i]!) >>> 0;
  }
  return chk;
}

/**
 * A SegWit address (BIP 173 / BIP 350): `bc1` (or `tb1`), one case, bech32 checksum for
 * witness version 0 (a 20- or 32-byte program) and bech32m for versions 1–16.
 */
export function segwitAddressValid(address: string): boolean {
  if (address !== address.toLowerCase() && address !== address.toUpperCase()) return false;
  const s = address.toLowerCase();
  const sep = s.lastIndexOf('1');
  const hrp = s.slice(0, sep);
  if ((hrp !== 'bc' && hrp !== 'tb') || s.length < 14 || s.length > 90) return false;
  const data: number[] = [];
  for (const ch of s.slice(sep + 1)) {
    const v = BECH32.indexOf(ch);
    if (v < 0) return false;
    data.push(v);
  }
  if (data.length < 7) return false;
  const expanded: number[] = [];
  for (let i = 0; i < hrp.length; i++) expanded.push(hrp.charCodeAt(i) >> 5);
  expanded.push(0);
  for (let i = 0; i < hrp.length; i++) expanded.push(hrp.charCodeAt(i) & 31);
  const check = bech32Polymod([...expanded, ...data]);
  const version = data[0]!;
  if (version > 16 || check !== (version === 0 ? 1 : 0x2bc830a3)) return false;
  // The witness program: 5-bit groups to bytes, no leftover bits.
  let acc = 0;
  let bits = 0;
  let bytes = 0;
  for (const v of data.slice(1, -6)) {
    acc = ((acc << 5) | v) & 0xfff;
    bits += 5;
    if (bits >= 8) {
      bits -= 8;
      bytes++;
    }
  }
  if (bits >= 5 || (acc & ((1 << bits) - 1)) !== 0) return false;
  return version === 0 ? bytes === 20 || bytes === 32 : bytes >= 2 && bytes <= 40;
}

/** EIP-55: in a mixed-case address, a letter is upper case iff its nibble of Keccak-256 of the lower-case hex is 8 or more. */
export function eip55Valid(hex40: string): boolean {
  if (!/^[0-9a-fA-F]{40}$/.test(hex40)) return false;
  const hash = keccak256(Buffer.from(hex40.toLowerCase(), 'ascii'));
  for (let i = 0; i < 40; i++) {
    const c = hex40[i]!;
    if (c >= '0' && c <= '9') continue;
    const nibble = (hash[i >> 1]! >> (i % 2 === 0 ? 4 : 0)) & 0xf;
    if (nibble >= 8 !== (c >= 'A' && c <= 'F')) return false;
  }
  return true;
}
