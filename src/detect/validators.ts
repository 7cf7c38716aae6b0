// Validators behind the built-in detectors: a regex only proposes a candidate, one of these
// decides. All are pure and allocation-light; none throws on any input.

import { Buffer } from 'node:buffer';

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
