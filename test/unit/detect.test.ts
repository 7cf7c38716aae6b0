// Built-in detectors: named-case tables of values that must be found, values that must not
// (checksum failures, false-positive traps), and key-name context.
import { describe, expect, it } from 'vitest';
import { BUILTIN_SPECS } from '../../src/detect/builtin.js';
import { BUILTIN_DETECTORS, compileDetectors, PACK_NAMES } from '../../src/detect/index.js';

const detectors = compileDetectors({ custom: [] });

/** [detector, matched text] of every hit. */
function found(text: string, keys: readonly string[] = []): [string, string][] {
  return detectors.scan(text, { keys }).map((h) => [h.detector, text.slice(h.start, h.end)]);
}

// Secret-looking test values are assembled at run time so no scanner mistakes this file
// for a leak.
const j = (...parts: string[]): string => parts.join('');
const GHP = j('ghp', '_', 'aB3dE5fG7hJ9kL1mN3pQ5rS7tU9vW1xY3zA5');
const GH_PAT = j(
  'github',
  '_pat_',
  '11ABCDEFG0aB3dE5fG7hJ9k',
  '_',
  'L1mN3pQ5rS7tU9vW1xY3zA5bC7dE9fG1hJ3kL5mN7pQ9rS1tU3vW5xY7zA9b',
);
const STRIPE = j('sk', '_live_', '4eC39HqLyjWDarjtT1zdp7dc');
const STRIPE_RK = j('rk', '_live_', '51H8xYzAbCdEfGhIjKlMnOp');
const OPENAI = j('sk-', 'proj-', 'abcDEF123ghiJKL456mnoPQR789stuVWX');
const OPENAI_OLD = j('sk-', 'T3BlbkFJabcDEF123ghiJKL456mnoPQR789');
const ANTHROPIC = j(
  'sk-ant-',
  'api03-',
  'aB3dE5fG7hJ9kL1mN3pQ5rS7tU9vW1xY3zA5bC7dE9fG1hJ3kL5mN7pQ9',
);
const SLACK = j('xox', 'b-', '123456789012-1234567890123-AbCdEfGhIjKlMnOpQrStUvWx');
const AWS = j('AKIA', 'IOSFODNN7EXAMPLE');
const AWS_STS = j('ASIA', 'Y34FZKBOKMUTVV7A');
const JWT = j(
  'eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9',
  '.eyJzdWIiOiIxMjM0NTY3ODkwIiwibmFtZSI6IkpvaG4gRG9lIn0',
  '.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U',
);
const PEM = j(
  '-----BEGIN ',
  'RSA PRIVATE KEY-----\nMIIEowIBAAKCAQEA0Z3VS5JJcds3xfn/ygWyF8PbnGy0AHB7MhgHcTz6sE2I2yPB\naFDrBz9vFqU4yz2S+q8CHtGSBQH6bF9bE8Fx6kWHpqZ7uH4XxT9oGJ5nFcQvQ2Y3\n-----END RSA PRIVATE KEY-----',
);

type Case = [name: string, text: string, keys: readonly string[], expected: [string, string][]];

const valid: Case[] = [
  // cards
  ['visa, spaces', 'pay with 4111 1111 1111 1111 today', [], [['card', '4111 1111 1111 1111']]],
  ['visa, compact', 'card=4242424242424242', [], [['card', '4242424242424242']]],
  ['mastercard, dashes', '5555-5555-5555-4444', [], [['card', '5555-5555-5555-4444']]],
  ['mastercard 2-series', '2223003122003222', [], [['card', '2223003122003222']]],
  ['amex 4-6-5', 'amex 3782 822463 10005', [], [['card', '3782 822463 10005']]],
  ['discover', '6011111111111117', [], [['card', '6011111111111117']]],
  ['jcb', '3530111333300000', [], [['card', '3530111333300000']]],
  ['diners 14 digits', '3056 9309 0259 04', [], [['card', '3056 9309 0259 04']]],
  ['card followed by a year', '4111 1111 1111 1111 2029', [], [['card', '4111 1111 1111 1111']]],
  // IBAN
  [
    'iban DE grouped',
    'IBAN DE89 3704 0044 0532 0130 00 please',
    [],
    [['iban', 'DE89 3704 0044 0532 0130 00']],
  ],
  ['iban GB compact', 'GB29NWBK60161331926819', [], [['iban', 'GB29NWBK60161331926819']]],
  [
    'iban FR with letters',
    'FR14 2004 1010 0505 0001 3M02 606',
    [],
    [['iban', 'FR14 2004 1010 0505 0001 3M02 606']],
  ],
  ['iban NO (15)', 'to NO9386011117947.', [], [['iban', 'NO9386011117947']]],
  [
    'iban followed by a word',
    'AT61 1904 3002 3457 3201 THEN',
    [],
    [['iban', 'AT61 1904 3002 3457 3201']],
  ],
  // SSN
  ['ssn formatted, no context', 'ref 536-22-1234 ok', [], [['ssn', '536-22-1234']]],
  ['ssn with spaces', '536 22 1234', [], [['ssn', '536 22 1234']]],
  ['ssn sample with context word', 'SSN: 078-05-1120', [], [['ssn', '078-05-1120']]],
  ['ssn sample under an ssn key', '078-05-1120', ['customer', 'ssn'], [['ssn', '078-05-1120']]],
  ['bare ssn under an ssn key', '123456789', ['ssn'], [['ssn', '123456789']]],
  ['bare ssn under a camelCase key', '536221234', ['customerSSN'], [['ssn', '536221234']]],
  ['bare ssn with context words', 'social security number 536221234', [], [['ssn', '536221234']]],
  // e-mail
  ['email', 'write to ada@example.com today', [], [['email', 'ada@example.com']]],
  [
    'email, plus tag and subdomains',
    'first.last+tag@mail.example.co.uk',
    [],
    [['email', 'first.last+tag@mail.example.co.uk']],
  ],
  ['email at sentence end', 'mail ada@example.com.', [], [['email', 'ada@example.com']]],
  // phone
  ['phone E.164', '+14155552671', [], [['phone', '+14155552671']]],
  ['phone international, spaces', 'call +44 20 7946 0958 now', [], [['phone', '+44 20 7946 0958']]],
  ['phone NANP parentheses', 'at (415) 555-2671', [], [['phone', '(415) 555-2671']]],
  ['phone NANP dashes', '415-555-2671', [], [['phone', '415-555-2671']]],
  ['phone national with context', 'phone: 020 7946 0958', [], [['phone', '020 7946 0958']]],
  // values named by their field
  ['first name field', 'Ada', ['customer', 'first_name'], [['person_name', 'Ada']]],
  ['camelCase last name', 'de la Cruz', ['lastName'], [['person_name', 'de la Cruz']]],
  ['name under a customer key', ' Jane Doe ', ['customer', 'name'], [['person_name', 'Jane Doe']]],
  [
    'billing address field',
    '221B Baker Street, London NW1 6XE',
    ['order', 'billing_address'],
    [['postal_address', '221B Baker Street, London NW1 6XE']],
  ],
  ['weak password', 'hunter2', ['password'], [['password', 'hunter2']]],
  ['name after a title', 'please call Dr. Jane Doe today', [], [['person_name', 'Jane Doe']]],
  ['my name is', 'Hi, my name is Ada Lovelace and', [], [['person_name', 'Ada Lovelace']]],
  [
    'street address with town and ZIP',
    'ship to 1600 Amphitheatre Parkway, Mountain View, CA 94043 today',
    [],
    [['postal_address', '1600 Amphitheatre Parkway, Mountain View, CA 94043']],
  ],
  [
    'street address with a unit',
    'I live at 42 Elm Street, Apt 5B, Springfield.',
    [],
    [['postal_address', '42 Elm Street, Apt 5B, Springfield']],
  ],
  [
    'UK house number with a letter',
    'at 221B Baker Street',
    [],
    [['postal_address', '221B Baker Street']],
  ],
  [
    'UK street address with a postcode',
    'Ship to: 10 Downing St, London SW1A 2AA. Thanks',
    [],
    [['postal_address', '10 Downing St, London SW1A 2AA']],
  ],
  ['card security code as a number', '123', ['card', 'cvv'], [['password', '123']]],
  ['PIN field', '0000', ['pin'], [['password', '0000']]],
  ['phone bare digits under a phone key', '4155552671', ['mobilePhone'], [['phone', '4155552671']]],
  [
    'phone international without + under a phone key',
    '442079460958',
    ['telephone'],
    [['phone', '442079460958']],
  ],
  [
    'phone international after 00 under a phone key',
    '0033142685300',
    ['mobile'],
    [['phone', '0033142685300']],
  ],
  ['phone digits without a plan are no phone under a phone key', '999999999999', ['phone'], []],
  ['phone international digits need the context', 'ref 442079460958', [], []],
  // IP
  ['ipv4', 'from 192.168.1.10 at noon', [], [['ipv4', '192.168.1.10']]],
  ['ipv4 CIDR', 'route 10.0.0.1/8', [], [['ipv4', '10.0.0.1']]],
  ['ipv4 in prose is an ip', 'the server 8.8.8.8 answered', [], [['ipv4', '8.8.8.8']]],
  ['ipv6 compressed', 'host 2001:db8::1 is up', [], [['ipv6', '2001:db8::1']]],
  ['ipv6 full', 'fe80:0:0:0:1ff:fe23:4567:890a', [], [['ipv6', 'fe80:0:0:0:1ff:fe23:4567:890a']]],
  ['ipv6 with ipv4 tail', '::ffff:192.0.2.1', [], [['ipv6', '::ffff:192.0.2.1']]],
  // dates of birth
  ['dob, born + month name', 'she was born 12 March 1985 in Leeds', [], [['dob', '12 March 1985']]],
  ['dob, DOB: numeric', 'DOB: 03/12/1985', [], [['dob', '03/12/1985']]],
  ['dob, date of birth ISO', 'date of birth 1985-03-12', [], [['dob', '1985-03-12']]],
  ['dob, month first', 'birthday March 12th, 1985', [], [['dob', 'March 12th, 1985']]],
  ['dob under a key', '1985-03-12', ['patient', 'birthDate'], [['dob', '1985-03-12']]],
  ['dob under date_of_birth', '12.03.1985', ['date_of_birth'], [['dob', '12.03.1985']]],
  // secrets
  ['aws access key id', `key ${AWS} here`, [], [['aws_access_key', AWS]]],
  ['aws sts key id', AWS_STS, [], [['aws_access_key', AWS_STS]]],
  ['github classic token', `token ${GHP}`, [], [['github_token', GHP]]],
  ['github fine-grained pat', GH_PAT, [], [['github_token', GH_PAT]]],
  ['stripe secret key', `use ${STRIPE}`, [], [['stripe_key', STRIPE]]],
  ['stripe restricted key', STRIPE_RK, [], [['stripe_key', STRIPE_RK]]],
  ['openai project key', `OPENAI_API_KEY=${OPENAI}`, [], [['openai_key', OPENAI]]],
  ['openai legacy key', OPENAI_OLD, [], [['openai_key', OPENAI_OLD]]],
  ['anthropic key', `x-api-key: ${ANTHROPIC}`, [], [['anthropic_key', ANTHROPIC]]],
  ['slack bot token', SLACK, [], [['slack_token', SLACK]]],
  ['pem private key', `here:\n${PEM}\nbye`, [], [['private_key', PEM]]],
  ['jwt', `Bearer ${JWT}`, [], [['jwt', JWT]]],
  [
    'password after a secret word',
    'password: Tr0ub4dor&3xyzzy',
    [],
    [['secret', 'Tr0ub4dor&3xyzzy']],
  ],
  [
    'hex after api_key=',
    'api_key=3f786850e387550fdab836ed7e6dc881de23001b',
    [],
    [['secret', '3f786850e387550fdab836ed7e6dc881de23001b']],
  ],
  [
    'value of a password field',
    's3cr3tPassw0rd',
    ['user', 'password'],
    [['password', 's3cr3tPassw0rd']],
  ],
  [
    'authorization field, scheme kept',
    'Bearer abcDEF123456ghiJKL',
    ['Authorization'],
    [['secret', 'abcDEF123456ghiJKL']],
  ],
];

const invalid: Case[] = [
  // cards: checksum, brand, grouping
  ['card failing Luhn', '4111 1111 1111 1112', [], []],
  ['luhn-valid, no issuer', '0000 0000 0000 0000', [], []],
  ['mixed separators', '4111-1111 1111 1111', [], []],
  ['odd grouping', '41111 111 1111 1111', [], []],
  ['visa with 15 digits', '411111111111116', [], []],
  ['order id of 20 digits', 'order 12345678901234567890 shipped', [], []],
  ['amount with decimals', 'total 4111111111111111.50', [], []],
  // IBAN
  ['iban bad checksum', 'DE89 3704 0044 0532 0130 01', [], []],
  ['iban wrong length', 'GB29 NWBK 6016 1331 9268 1', [], []],
  ['iban unknown country', 'XX89 3704 0044 0532 0130 00', [], []],
  // SSN
  ['ssn area 000', '000-12-3456', [], []],
  ['ssn area 666', '666-12-3456', [], []],
  ['ssn area 9xx', '912-12-3456', [], []],
  ['ssn group 00', '536-00-1234', [], []],
  ['ssn serial 0000', '536-22-0000', [], []],
  ['ssn mixed separators', '536-22 1234', [], []],
  ['ssn sample without context', 'e.g. 078-05-1120', [], []],
  ['ssn sample 219-09-9999 without context', '219-09-9999', [], []],
  ['bare 9 digits without context', 'invoice 536221234', [], []],
  ['bare 9 digits under an unrelated key', '536221234', ['invoice'], []],
  // e-mail
  ['no dot in domain', 'ada@localhost', [], []],
  ['numeric tld', 'ada@example.123', [], []],
  ['double dot local part', 'a..b@example.com', [], []],
  ['domain label starting with a hyphen', 'user@-example.com', [], []],
  // fields whose names look like a personal one, and values a field does not promise
  ['a tool name', 'lookup_customer', ['tool', 'name'], []],
  ['a bare name key', 'gpt-4o', ['name'], []],
  ['a file name', 'report', ['file_name'], []],
  ['a user name', 'jdoe', ['username'], []],
  ['a name field holding digits', 'Order 12345 shipped', ['full_name'], []],
  ['a server address', 'db 1 host', ['server_address'], []],
  ['an address without a number', 'see below', ['address'], []],
  ['a password policy', 'min 8 characters', ['password_policy'], []],
  ['a blank password', '   ', ['password'], []],
  ['a password word in prose', 'my password is hunter2', ['note'], []],
  ['a title without a capitalized name', 'Dr. who? Mr. nobody', [], []],
  ['a count of capitalized things', 'we shipped 25 Large Boxes today', [], []],
  [
    'a court and a place, numbered',
    'the 2 Supreme Court rulings and 3 First Place finishes',
    [],
    [],
  ],
  ['a street word without a number', 'walk down Baker Street', [], []],
  // phone and prose numbers
  ['prose numbers', 'I have 3 apples, 12 pears and 1500 grapes', [], []],
  ['invalid NANP area code', '555-123-4567', [], []],
  ['too short international', '+12345678', [], []],
  ['bare 10 digits without context', 'ref 4155552671', [], []],
  ['national without context', '020 7946 0958', [], []],
  ['order id with dashes', 'order #123-456-7890', [], []],
  // IP traps
  ['octet over 255', '256.1.1.1', [], []],
  ['version word before a dotted quad', 'version 1.2.3.4', [], []],
  ['v-prefixed version', 'node v10.2.3', [], []],
  ['four-part version after v', 'release v1.2.3.4', [], []],
  ['five dotted parts', 'oid 1.3.6.1.4', [], []],
  ['clock time', 'at 12:30:45', [], []],
  ['mac address', '00:1a:2b:3c:4d:5e', [], []],
  ['c++ scope', 'std::vector and a::b', [], []],
  // dates without context
  ['iso date without context', 'created 2024-01-05', [], []],
  ['timestamp', '2024-01-05T12:30:45.123Z', [], []],
  ['impossible date with context', 'born 1985-02-30', [], []],
  ['month 13 with context', 'dob 1985-13-01', [], []],
  [
    'context is used up by the nearest date',
    'born 1985-03-12, created 2024-01-05',
    [],
    [['dob', '1985-03-12']],
  ],
  // identifiers and hashes
  ['uuid', 'id 550e8400-e29b-41d4-a716-446655440000', [], []],
  ['git sha without a secret word', 'commit 3f786850e387550fdab836ed7e6dc881de23001b', [], []],
  [
    'sha256 without a secret word',
    'sha256:9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08',
    [],
    [],
  ],
  // secrets that are not
  ['placeholder github token', j('ghp', '_', 'x'.repeat(36)), [], []],
  ['placeholder openai key', j('sk-', 'x'.repeat(40)), [], []],
  ['stripe publishable key', j('pk', '_live_', '4eC39HqLyjWDarjtT1zdp7dc'), [], []],
  ['aws prefix with lowercase', j('AKIA', 'iosfodnn7example'), [], []],
  ['jwt-shaped without alg', 'eyJmb28iOiJiYXIifQ.eyJzdWIiOiIxIn0.abc', [], []],
  ['secret word, plain word after', 'the token expired yesterday', [], []],
  ['secret word, long plain word after', 'password requirements are strict', [], []],
  ['token type field', 'Bearer', ['token_type'], []],
  ['source code after a secret word', 'const TOKEN_RE = /^tok_([a-z0-9]{1,24})_/;', [], []],
  ['identifier under a secret key', 'client_secret_basic', ['token_endpoint_auth_method'], []],
  ['url under a token key', 'https://example.com/oauth/token', ['token_url'], []],
];

describe('built-in detectors: found', () => {
  it.each(valid)('%s', (_name, text, keys, expected) => {
    expect(found(text, keys)).toEqual(expected);
  });
});

describe('built-in detectors: not found', () => {
  it.each(invalid)('%s', (_name, text, keys, expected) => {
    expect(found(text, keys)).toEqual(expected);
  });
});

describe('hits', () => {
  it('carry level, UTF-16 offsets and a score', () => {
    const text = '😀 née ada@example.com';
    const [hit] = detectors.scan(text, { keys: [] });
    expect(hit).toEqual({ detector: 'email', level: 'internal', start: 7, end: 22, score: 0.9 });
  });

  it('context raises the score', () => {
    const plain = detectors.scan('536-22-1234', { keys: [] })[0];
    const ctx = detectors.scan('536-22-1234', { keys: ['ssn'] })[0];
    expect(plain?.score).toBeLessThan(ctx?.score ?? 0);
  });

  it('are sorted by start across detectors', () => {
    const text = 'ssn 536-22-1234, mail ada@example.com, card 4111 1111 1111 1111, ip 10.1.2.3';
    expect(found(text).map(([d]) => d)).toEqual(['ssn', 'email', 'card', 'ipv4']);
  });

  it('empty text has none', () => {
    expect(detectors.scan('', { keys: ['ssn'] })).toEqual([]);
  });

  it('the ssn sample in the design demo is found under its key', () => {
    expect(found('078-05-1120', ['customer', 'ssn'])).toEqual([['ssn', '078-05-1120']]);
  });
});

describe('BUILTIN_DETECTORS', () => {
  it('keeps the default level of every detector it had, and documents each one', () => {
    const levels = Object.fromEntries(BUILTIN_DETECTORS.map((d) => [d.id, d.level]));
    expect(levels).toMatchObject({
      card: 'confidential',
      iban: 'confidential',
      ssn: 'restricted',
      email: 'internal',
      phone: 'internal',
      ipv4: 'internal',
      ipv6: 'internal',
      dob: 'confidential',
      aws_access_key: 'restricted',
      github_token: 'restricted',
      stripe_key: 'restricted',
      openai_key: 'restricted',
      anthropic_key: 'restricted',
      slack_token: 'restricted',
      private_key: 'restricted',
      jwt: 'restricted',
      secret: 'restricted',
    });
    expect(BUILTIN_DETECTORS.length).toBeGreaterThanOrEqual(60);
    expect(new Set(BUILTIN_DETECTORS.map((d) => d.id)).size).toBe(BUILTIN_DETECTORS.length);
    for (const s of BUILTIN_SPECS) {
      expect(s.id).toMatch(/^[a-z][a-z0-9_]*$/);
      expect(['internal', 'confidential', 'restricted']).toContain(s.level);
      expect(s.packs.length).toBeGreaterThan(0);
      for (const p of s.packs) expect(PACK_NAMES).toContain(p);
      for (const f of [s.description, s.validator, s.contextRule, s.example, s.guards])
        expect(f.length).toBeGreaterThan(0);
    }
    // Every pack has a detector.
    for (const p of PACK_NAMES) expect(BUILTIN_SPECS.some((s) => s.packs.includes(p))).toBe(true);
  });
});
