// Values that are personal or secret because of the field they are in, whatever they look
// like: a name under `first_name`, an address under `billing_address`, a password or a
// card's security code. No pattern can tell "Jane Doe" or "hunter2" from other text; the
// field name can. Each reports the whole value of such a field (trimmed), after a check
// that the value has the shape the field promises, and never a key (`{"password":
// {"min_length": 8}}`: `min_length` is no password). In free text, names and addresses are
// found only where their form says so: a title or `my name is` before a name, a house
// number, street words and a street type for an address; a password never.

import type { Finder } from './context.js';
import { normalizeKey } from './context.js';
import { eachMatch } from './spec.js';
import type { BuiltinSpec } from './spec.js';

/** A parent key that makes a bare `name` field a person's name (`customer.name`). */
const PERSON_PARENT =
  /(?<![\p{L}\p{N}])(?:customer|client|patient|user|employee|contact|person|cardholder|card holder|account holder|holder|beneficiary|member|guest|passenger|applicant|recipient|sender|owner|driver|student|traveller|traveler|payee|payer|signer|subscriber|tenant|insured|policyholder)s?$/u;
/** A bare `name` (or `fullName`, `full_name`) key, as written. */
const BARE_NAME = /^(?:name|full[ ._-]?name)$/i;

/** A `name` field under a person's key: `customer.name`, `patient.fullName`. */
function personsName(keys: readonly string[]): boolean {
  const n = keys.length;
  // The cheap test first: most texts are under some other key.
  if (n < 2 || !BARE_NAME.test(keys[n - 1]!)) return false;
  return PERSON_PARENT.test(normalizeKey(keys[n - 2]!));
}

/** The trimmed span of the whole text, or undefined when it is blank. */
function whole(text: string): [number, number] | undefined {
  const start = text.length - text.trimStart().length;
  const end = text.trimEnd().length;
  return end > start ? [start, end] : undefined;
}

/** A capitalized word of a name or a street, in free text. */
const WORD = "[A-Z][a-z'’-]{1,20}";

function compilePersonName(): Finder {
  // Letters of any script, with the marks, spaces, dots, hyphens and apostrophes of names;
  // one to six words, no digit, no `@`.
  const shape = /^[\p{L}\p{M}][\p{L}\p{M}.'’ -]{0,79}$/u;
  // In free text, only where the writer says it is a name: a title before capitalized
  // words (`Dr. Jane Doe`, `Mr Smith`), or `my name is` before two or three of them.
  const titled = new RegExp(
    `(?<![\\p{L}\\p{N}])(?:Mr|Mrs|Ms|Mx|Miss|Dr|Prof)\\.? (${WORD}(?: ${WORD}){0,2})(?![\\p{L}\\p{N}])`,
    'gu',
  );
  const named = new RegExp(
    `(?<![\\p{L}\\p{N}])[Mm]y name is (${WORD}(?: ${WORD}){1,2})(?![\\p{L}\\p{N}])`,
    'gu',
  );
  return (env, emit) => {
    if (env.isKey) return;
    if (!env.keyContext && !personsName(env.keys)) {
      // Native substring searches first: most texts hold neither a title nor `name is`.
      const t = env.text;
      const titles =
        t.includes('Mr') ||
        t.includes('Ms') ||
        t.includes('Mx') ||
        t.includes('Miss') ||
        t.includes('Dr') ||
        t.includes('Prof');
      const says = t.includes('name is');
      if (!titles && !says) return;
      for (const re of titles ? (says ? [titled, named] : [titled]) : [named])
        eachMatch(re, env.parts, (m) => {
          const name = m[1]!;
          const start = m.index + m[0].length - name.length;
          emit(start, start + name.length, 0.7);
        });
      return;
    }
    const span = whole(env.text);
    if (!span) return;
    const v = env.text.slice(span[0], span[1]);
    if (!shape.test(v) || v.split(/\s+/).length > 6) return;
    emit(span[0], span[1], 0.8);
  };
}

function compilePostalAddress(): Finder {
  // In free text: a street address as written in English-speaking countries: a house
  // number, capitalized street words and a street type, then optionally a unit, a town and
  // a US state with its ZIP code or a UK postcode (`1600 Amphitheatre Parkway, Mountain
  // View, CA 94043`, `10 Downing St, London SW1A 2AA`).
  const street = new RegExp(
    [
      `(?<![\\p{L}\\p{N}])\\d{1,5}[A-Za-z]?(?: ${WORD}){1,4} `,
      // Only street types that are rarely anything else after a number and capitals
      // (not Court, Place, Way, Square: `2 Supreme Court rulings`, `2 First Place finishes`).
      '(?:Street|St|Avenue|Ave|Road|Rd|Boulevard|Blvd|Lane|Ln|Drive|Dr|Parkway|Pkwy|',
      'Highway|Hwy|Terrace|Crescent)',
      '\\.?(?![\\p{L}\\p{N}])',
      '(?:,? (?:Apt|Apartment|Suite|Ste|Unit|Flat|#) ?[A-Za-z0-9-]{1,6})?',
      `(?:, ${WORD}(?: ${WORD}){0,2})?`,
      // A US state and ZIP code, or a UK postcode.
      '(?:,? (?:[A-Z]{2} \\d{5}(?:-\\d{4})?|[A-Z]{1,2}\\d[A-Z\\d]? \\d[A-Z]{2})(?![\\p{L}\\p{N}]))?',
    ].join(''),
    'gu',
  );
  return (env, emit) => {
    if (env.isKey) return;
    if (!env.keyContext) {
      eachMatch(street, env.parts, (m) => {
        const end = m.index + m[0].length;
        emit(m.index, end, env.context(m.index, end) ? 0.85 : 0.7);
      });
      return;
    }
    const span = whole(env.text);
    if (!span) return;
    const v = env.text.slice(span[0], span[1]);
    // A street address has words and a number (the house, or the postcode); not an
    // e-mail, a URL, a host or a wallet (those fields are "addresses" too).
    if (v.length < 6 || v.length > 300) return;
    if (!/\d/.test(v) || !/\p{L}{2}/u.test(v) || !/\s/.test(v)) return;
    if (v.includes('@') || v.includes('://')) return;
    emit(span[0], span[1], 0.75);
  };
}

function compilePassword(): Finder {
  return (env, emit) => {
    if (!env.keyContext || env.isKey) return;
    const span = whole(env.text);
    if (!span || span[1] - span[0] > 256) return;
    // A URL with credentials in it is url_credentials' (the credentials, not the URL).
    if (env.text.includes('://')) return;
    emit(span[0], span[1], 0.9);
  };
}

export const FIELDS: readonly BuiltinSpec[] = [
  {
    id: 'person_name',
    packs: ['core'],
    level: 'internal',
    description:
      "A person's name: the value of a name field (`first_name`, `lastName`, `full_name`, `customer.name`, …); in text, after a title (`Dr. Jane Doe`) or `my name is`",
    context: [
      'first name',
      'firstname',
      'last name',
      'lastname',
      'full name',
      'fullname',
      'given name',
      'givenname',
      'family name',
      'familyname',
      'middle name',
      'maiden name',
      'surname',
      'forename',
      'legal name',
      'customer name',
      'client name',
      'patient name',
      'employee name',
      'contact name',
      'cardholder name',
      'card holder name',
      'holder name',
      'account holder',
      'account name',
      'beneficiary name',
      'recipient name',
      'sender name',
      'passenger name',
      'applicant name',
      'member name',
      'guest name',
      'owner name',
      'next of kin',
      'emergency contact',
    ],
    antiContext: ['file', 'user name', 'username', 'company', 'business', 'product', 'tool'],
    validator: 'letters, spaces, dots, hyphens and apostrophes only; 1–6 words, ≤ 80 characters',
    contextRule:
      'a field: the key name (or `name` under a person key: `customer.name`); in text: a title or `my name is` before it',
    example: 'Ada Lovelace',
    exampleKey: 'full_name',
    guards: 'values with digits or `@`, long texts, `file_name`, `username`, `company_name`',
    compile: compilePersonName,
  },
  {
    id: 'postal_address',
    packs: ['core'],
    level: 'internal',
    needsDigit: true,
    description:
      'A postal address: the value of an address field (`address`, `street`, `billing_address`, …), or a street address in text (`1600 Amphitheatre Parkway, Mountain View, CA 94043`)',
    context: [
      'address',
      'street',
      'street address',
      'address line',
      'address line 1',
      'address line 2',
      'addr',
      'home address',
      'mailing address',
      'postal address',
      'billing address',
      'shipping address',
      'delivery address',
      'residential address',
    ],
    antiContext: [
      'email',
      'e mail',
      'ip',
      'mac',
      'wallet',
      'web',
      'url',
      'server',
      'host',
      'memory',
      'contract',
      'bitcoin',
      'eth',
      'remote',
      'local',
      'network',
      'bind',
      'listen',
      'proxy',
    ],
    validator: 'words and a number (house or postcode), no `@` or `://`, 6–300 characters',
    contextRule:
      'a field: the key name; in text: none (a house number, street words and a street type)',
    example: '221B Baker Street, London NW1 6XE',
    exampleKey: 'billing_address',
    guards:
      '`email_address`, `ip_address`, `wallet_address`, `server_address`; values without a number',
    compile: compilePostalAddress,
  },
  {
    id: 'password',
    packs: ['secrets'],
    level: 'restricted',
    view: 'original',
    description:
      'A password, passphrase, PIN or card security code: the whole value of such a field, however weak',
    context: [
      'password',
      'passwd',
      'pwd',
      'passphrase',
      'pass phrase',
      'pin',
      'pin code',
      'pincode',
      'cvv',
      'cvv2',
      'cvc',
      'cvc2',
      'cid',
      'security code',
      'card verification',
      'card code',
    ],
    antiContext: [
      'hash',
      'hashed',
      'policy',
      'length',
      'reset',
      'expiry',
      'expires',
      'changed',
      'required',
      'hint',
      'strength',
    ],
    validator: 'any non-blank value up to 256 characters',
    contextRule: 'required: the key name only',
    example: 'hunter2',
    exampleKey: 'password',
    guards: '`password_policy`, `password_length`, `password_reset`, `pin_hash`, blank values',
    compile: compilePassword,
  },
];
