// Properties of scan over arbitrary strings (fixed seed): it never throws, and its hits are
// within bounds, sorted, non-overlapping, and the same on every run.
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { BUILTIN_DETECTORS, compileDetectors } from '../../src/detect/index.js';
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
