// Properties of scan over arbitrary strings (fixed seed): it never throws, and its hits are
// within bounds, sorted, non-overlapping, and the same on every run.
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { BUILTIN_DETECTORS, compileDetectors, sortSmall } from '../../src/detect/index.js';
import { encodeJsonString, parseJson } from '../../src/payload/json.js';
import type { JsonString } from '../../src/payload/json.js';
import { FUZZ_SEED, runs } from '../support/fuzz.js';

const detectors = compileDetectors({
  custom: [
    { id: 'employee_id', level: 'confidential', pattern: 'EMP-\\d{6}', context: ['employee'] },
    { id: 'codename', level: 'restricted', dictionary: ['falcon', 'project x'] },
  ],
});
const ids = new Set([...BUILTIN_DETECTORS.map((d) => d.id), 'employee_id', 'codename']);

// Pieces that make candidates and near-misses likely when concatenated at random.
const FRAGMENTS = [
  '4111 1111 1111 1111',
  '4111-1111-1111-1112',
  'DE89 3704 0044 0532 0130 00',
  '536-22-1234',
  '078-05-1120',
  '123456789',
  'ssn',
  'dob',
  'born',
  '1985-03-12',
  '12 March 1985',
  'ada@example.com',
  '@',
  '.',
  '-',
  ' ',
  '\n',
  '+1 415 555 2671',
  '(415) 555-2671',
  '192.168.1.10',
  '2001:db8::1',
  '::',
  ':',
  'password: ',
  'token=',
  'Tr0ub4dor&3xyzzy',
  'eyJhbGciOiJIUzI1NiJ9',
  'eyJzdWIiOiIxIn0',
  '-----BEGIN PRIVATE KEY-----',
  '-----END PRIVATE KEY-----',
  'MIIEvQIBADANBg',
  'AKIA',
  'ghp_',
  'sk-',
  'xoxb-',
  'EMP-123456',
  'employee',
  'Falcon',
  '😀',
  '\ud800',
  'é',
  '0',
  '9',
];

const text = fc.oneof(
  fc.string({ unit: 'binary', maxLength: 300 }),
  fc.array(fc.constantFrom(...FRAGMENTS), { maxLength: 40 }).map((parts) => parts.join('')),
  fc
    .array(fc.oneof(fc.constantFrom(...FRAGMENTS), fc.string({ maxLength: 8 })), { maxLength: 30 })
    .map((parts) => parts.join('')),
);
const keys = fc.array(
  fc.oneof(fc.constantFrom('ssn', 'password', 'dob', 'phone', 'note'), fc.string()),
  {
    maxLength: 3,
  },
);

describe('scan over arbitrary strings', () => {
  it('never throws; hits are in bounds, sorted, non-overlapping, deterministic', () => {
    fc.assert(
      fc.property(text, keys, (t, k) => {
        const hits = detectors.scan(t, { keys: k });
        let prevEnd = 0;
        for (const h of hits) {
          expect(ids.has(h.detector)).toBe(true);
          expect(typeof h.level).toBe('string');
          expect(Number.isInteger(h.start) && Number.isInteger(h.end)).toBe(true);
          expect(h.start).toBeGreaterThanOrEqual(prevEnd);
          expect(h.end).toBeGreaterThan(h.start);
          expect(h.end).toBeLessThanOrEqual(t.length);
          expect(h.score).toBeGreaterThanOrEqual(0);
          expect(h.score).toBeLessThanOrEqual(1);
          prevEnd = h.end;
        }
        expect(detectors.scan(t, { keys: k })).toEqual(hits);
      }),
      { seed: FUZZ_SEED, numRuns: runs(500) },
    );
  });
});

describe('digit windows', () => {
  const custom = [
    { id: 'employee_id', level: 'confidential', pattern: 'EMP-\\d{6}', context: ['employee'] },
  ];
  const windowed = compileDetectors({ custom });
  const whole = compileDetectors({ custom, digitWindows: false });
  // Long texts with sparse digits, so that the windows cover only part of them: fragments
  // apart by runs of letters (upper case too: an IBAN's tail), spaces and month names.
  const PADDING = [
    'lorem ipsum ',
    'ABCDEFGHIJKLMNOPQRSTUVWXYZ',
    'September ',
    ' ',
    'version ',
    'é😀',
  ];
  const padding = fc
    .array(fc.constantFrom(...PADDING), { minLength: 1, maxLength: 30 })
    .map((p) => p.join(''));
  const sparse = fc
    .array(fc.oneof(fc.constantFrom(...FRAGMENTS), padding, fc.string({ maxLength: 6 })), {
      maxLength: 40,
    })
    .map((parts) => parts.join(''));

  it('the detectors of numbers find the same hits in the windows around digits as in the whole text', () => {
    fc.assert(
      fc.property(sparse, keys, (t, k) => {
        expect(windowed.scan(t, { keys: k })).toEqual(whole.scan(t, { keys: k }));
      }),
      { seed: FUZZ_SEED, numRuns: runs(1000) },
    );
  });
});

describe('prefilter', () => {
  const custom = [
    { id: 'employee_id', level: 'confidential', pattern: 'EMP-\\d{6}', context: ['employee'] },
  ];
  const gated = compileDetectors({ custom });
  const ungated = compileDetectors({ custom, prefilter: false, digitWindows: false });
  // A real value for every detector a literal gates (e-mail `@`, IPs `.`/`:`, keys `_`/`-`/
  // `xox`, PEM `-----BEGIN `, JWT `.`), so that a gate that skipped a text holding one of
  // them would lose a hit the ungated scan finds.
  const VALUES = [
    'ada.lovelace@example.com',
    '192.168.1.10',
    '2001:db8::1',
    'AKIAZ7QW2K4M6N3P5R2T',
    'ghp_aB3dE5fG7hJ9kL1mN3pQ5rS7tU9vW1xY3z5A',
    'sk_live_4eC39HqLyjWDarjtT1zdp7dc',
    'sk-proj-Ab3De5Fg7Hj9Kl1Mn3Pq5Rs7Tu9',
    'sk-ant-api03-Ab3De5Fg7Hj9Kl1Mn3Pq5Rs7Tu9Vw',
    'xoxb-1234567890-AbCdEfGhIjKlMn',
    '-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQC7\n-----END PRIVATE KEY-----',
    '-----BEGIN RSA PRIVATE KEY-----\nMIIEpAIBAAKCAQEA3Tz2mr7SZiAMfQyuvBjM',
    'eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U',
    'password: Tr0ub4dor&3xyzzyQ',
    '4111 1111 1111 1111',
    'EMP-123456',
  ];

  it('each value is found on its own (the fragments are real hits)', () => {
    for (const v of VALUES) expect(gated.scan(v, { keys: [] }).length, v).toBeGreaterThan(0);
  });

  it('gives the same hits as running every detector on every text', () => {
    const parts = fc.array(
      fc.oneof(
        fc.constantFrom(...VALUES),
        fc.constantFrom(...FRAGMENTS),
        fc.constantFrom(' ', '\n', 'lorem ipsum ', 'é😀', '"', ','),
        fc.string({ maxLength: 6 }),
      ),
      { maxLength: 25 },
    );
    fc.assert(
      fc.property(
        parts.map((p) => p.join('')),
        keys,
        (t, k) => {
          expect(gated.scan(t, { keys: k })).toEqual(ungated.scan(t, { keys: k }));
        },
      ),
      { seed: FUZZ_SEED, numRuns: runs(1000) },
    );
  });
});

describe('prefilter characters read by the JSON reader', () => {
  const custom = [
    { id: 'employee_id', level: 'confidential', pattern: 'EMP-\\d{6}', context: ['employee'] },
  ];
  const gated = compileDetectors({ custom });
  it('a scan told which characters a parsed string holds finds what a scan that looks finds', () => {
    const value = fc
      .array(fc.oneof(fc.constantFrom(...FRAGMENTS), fc.string({ maxLength: 6 })), {
        maxLength: 25,
      })
      .map((p) => p.join(''));
    fc.assert(
      fc.property(value, keys, fc.boolean(), (v, k, escapeSlash) => {
        // With and without escapes (an escaped literal's characters are not known: -1).
        let literal = Buffer.from(encodeJsonString(v)).toString('utf8');
        if (escapeSlash) literal = literal.replaceAll('/', '\\/').replaceAll('4', '\\u0034');
        const node = parseJson(Buffer.from(literal), { maxDepth: 4 }) as JsonString;
        expect(gated.scan(node.value, { keys: k, chars: node.chars })).toEqual(
          gated.scan(node.value, { keys: k }),
        );
      }),
      { seed: FUZZ_SEED, numRuns: runs(1000) },
    );
  });
});

describe('sortSmall', () => {
  it('orders like the built-in stable sort, ties kept in their order', () => {
    fc.assert(
      fc.property(fc.array(fc.tuple(fc.nat(5), fc.nat()), { maxLength: 40 }), (xs) => {
        const cmp = (a: [number, number], b: [number, number]): number => a[0] - b[0];
        const mine = [...xs];
        sortSmall(mine, cmp);
        expect(mine).toEqual([...xs].sort(cmp));
      }),
      { seed: FUZZ_SEED, numRuns: runs(300) },
    );
  });
});
