// compileDetectors configuration: enabled/disabled/levels, custom RE2 detectors (pattern,
// dictionary, context, context_required, min_score), compile-time errors, and overlaps.
import { describe, expect, it } from 'vitest';
import { compileDetectors } from '../../src/detect/index.js';
import type { CustomDetectorConfig, DetectorHit } from '../../src/detect/index.js';

function found(hits: DetectorHit[], text: string): [string, string, string][] {
  return hits.map((h) => [h.detector, h.level, text.slice(h.start, h.end)]);
}

const EMP: CustomDetectorConfig = {
  id: 'employee_id',
  level: 'confidential',
  pattern: 'EMP-\\d{6}',
};

describe('enabled, disabled, levels', () => {
  const text = 'ada@example.com 4111 1111 1111 1111';

  it('by default every built-in and every custom detector runs', () => {
    const d = compileDetectors({ custom: [EMP] });
    expect(found(d.scan(`${text} EMP-123456`, { keys: [] }), `${text} EMP-123456`)).toEqual([
      ['email', 'internal', 'ada@example.com'],
      ['card', 'confidential', '4111 1111 1111 1111'],
      ['employee_id', 'confidential', 'EMP-123456'],
    ]);
  });

  it('enabled limits to the listed ids', () => {
    const d = compileDetectors({ enabled: ['email'], custom: [EMP] });
    expect(found(d.scan(`${text} EMP-123456`, { keys: [] }), `${text} EMP-123456`)).toEqual([
      ['email', 'internal', 'ada@example.com'],
    ]);
  });

  it('disabled removes ids', () => {
    const d = compileDetectors({ disabled: ['email'], custom: [] });
    expect(found(d.scan(text, { keys: [] }), text)).toEqual([
      ['card', 'confidential', '4111 1111 1111 1111'],
    ]);
  });

  it('levels override the default level', () => {
    const d = compileDetectors({
      levels: { email: 'confidential', card: 'restricted' },
      custom: [],
    });
    expect(found(d.scan(text, { keys: [] }), text)).toEqual([
      ['email', 'confidential', 'ada@example.com'],
      ['card', 'restricted', '4111 1111 1111 1111'],
    ]);
  });

  it.each([
    ['enabled', { enabled: ['nope'], custom: [] }],
    ['disabled', { disabled: ['nope'], custom: [] }],
    ['levels', { levels: { nope: 'internal' }, custom: [] }],
  ])('an unknown id in %s throws at compile', (_what, opts) => {
    expect(() => compileDetectors(opts)).toThrow(/unknown detector "nope"/);
  });

  it('a level off a given ladder throws at compile', () => {
    expect(() =>
      compileDetectors({
        ladder: ['public', 'internal', 'confidential', 'restricted'],
        levels: { email: 'secret' },
        custom: [],
      }),
    ).toThrow(/level "secret"/);
  });
});

describe('custom detectors', () => {
  it('a pattern runs in RE2 and reports UTF-16 offsets', () => {
    const d = compileDetectors({ enabled: ['employee_id'], custom: [EMP] });
    const text = '😀 worker EMP-123456, not EMP-12345';
    expect(found(d.scan(text, { keys: [] }), text)).toEqual([
      ['employee_id', 'confidential', 'EMP-123456'],
    ]);
    expect(d.scan(text, { keys: [] })[0]?.start).toBe(10);
  });

  it('a dictionary matches words and phrases case-insensitively on word boundaries', () => {
    const d = compileDetectors({
      enabled: ['codename'],
      custom: [
        { id: 'codename', level: 'restricted', dictionary: ['Project Falcon', 'falcon', 'Zürich'] },
      ],
    });
    const text = 'PROJECT   falcon, falconry, Falcon; zürich and Zürichsee';
    expect(found(d.scan(text, { keys: [] }), text).map((h) => h[2])).toEqual([
      'PROJECT   falcon',
      'Falcon',
      'zürich',
    ]);
  });

  it('context words raise the score; in the text or in the key name', () => {
    const custom = [{ ...EMP, context: ['employee', 'staff id'] }];
    const d = compileDetectors({ enabled: ['employee_id'], custom });
    const bare = d.scan('EMP-123456', { keys: [] })[0]?.score ?? 0;
    const near = d.scan('employee EMP-123456', { keys: [] })[0]?.score ?? 0;
    const key = d.scan('EMP-123456', { keys: ['staff_id'] })[0]?.score ?? 0;
    expect(bare).toBeGreaterThan(0);
    expect(near).toBeGreaterThan(bare);
    expect(key).toBe(near);
  });

  it('context_required: only a hit with a context word', () => {
    const d = compileDetectors({
      enabled: ['employee_id'],
      custom: [{ ...EMP, context: ['employee'], context_required: true }],
    });
    expect(d.scan('EMP-123456', { keys: [] })).toEqual([]);
    expect(d.scan('employee: EMP-123456', { keys: [] })).toHaveLength(1);
    expect(d.scan('EMP-123456', { keys: ['employeeRef'] })).toHaveLength(1);
  });

  it('min_score drops weaker hits', () => {
    const d = compileDetectors({
      enabled: ['employee_id'],
      custom: [{ ...EMP, context: ['employee'], min_score: 0.8 }],
    });
    expect(d.scan('EMP-123456', { keys: [] })).toEqual([]);
    expect(d.scan('employee EMP-123456', { keys: [] })).toHaveLength(1);
  });

  it('a catastrophic-backtracking pattern runs in linear time (RE2) and returns', () => {
    const d = compileDetectors({
      enabled: ['evil'],
      custom: [{ id: 'evil', level: 'internal', pattern: '(a+)+$' }],
    });
    expect(d.scan(`${'a'.repeat(100_000)}!`, { keys: [] })).toEqual([]);
  });

  it.each<[string, CustomDetectorConfig, RegExp]>([
    ['unbalanced group', { id: 'bad', level: 'internal', pattern: '(abc' }, /"bad".*not valid RE2/],
    // Look-around and back-references exist only in backtracking engines: RE2 refuses them,
    // which shows the pattern is compiled by RE2 and not by RegExp.
    ['lookahead', { id: 'bad', level: 'internal', pattern: '(?=a)a' }, /not valid RE2/],
    ['back-reference', { id: 'bad', level: 'internal', pattern: '(a)\\1' }, /not valid RE2/],
    ['empty match', { id: 'bad', level: 'internal', pattern: 'a*' }, /matches the empty string/],
    [
      'neither pattern nor dictionary',
      { id: 'bad', level: 'internal' },
      /pattern or a non-empty dictionary/,
    ],
    ['empty dictionary word', { id: 'bad', level: 'internal', dictionary: [' '] }, /dictionary/],
    ['id taken by a built-in', { id: 'card', level: 'internal', pattern: 'x' }, /built-in/],
    ['bad id', { id: 'Bad Id', level: 'internal', pattern: 'x' }, /must match/],
    [
      'min_score out of range',
      { id: 'bad', level: 'internal', pattern: 'x', min_score: 2 },
      /min_score/,
    ],
    [
      'context_required without context',
      { id: 'bad', level: 'internal', pattern: 'x', context_required: true },
      /context_required/,
    ],
  ])('%s throws at compile', (_name, cfg, message) => {
    expect(() => compileDetectors({ custom: [cfg] })).toThrow(message);
  });

  it('validate: only matches that pass the check are reported', () => {
    const withCheck = (validate: CustomDetectorConfig['validate'], pattern: string) =>
      compileDetectors({
        enabled: ['num'],
        custom: [{ id: 'num', level: 'internal', pattern, validate }],
      });
    const digits = '\\b[0-9][0-9 -]{2,20}[0-9X]\\b';
    for (const [validate, pattern, good, bad] of [
      ['luhn', digits, '4111-1111-1111-1111', '4111-1111-1111-1112'],
      ['verhoeff', digits, '2363', '2364'],
      ['damm', digits, '5724', '5727'],
      ['mod11', digits, '11010519491231002X', '110105194912310021'],
      ['mod11_10', digits, '794623', '794624'],
      [
        'iban',
        '[A-Z]{2}[0-9]{2}[A-Z0-9 ]{11,30}[A-Z0-9]',
        'GB29 NWBK 6016 1331 9268 19',
        'GB29 NWBK 6016 1331 9268 18',
      ],
    ] as const) {
      const d = withCheck(validate, pattern);
      const text = `x ${good} y`;
      expect(found(d.scan(text, { keys: [] }), text), validate).toEqual([
        ['num', 'internal', good],
      ]);
      expect(d.scan(`x ${bad} y`, { keys: [] }), validate).toEqual([]);
    }
    expect(() => withCheck('nope' as CustomDetectorConfig['validate'], digits)).toThrow(
      /validate must be one of luhn/,
    );
  });

  it('mod97 checks digits and letters (ISO 7064 MOD 97-10)', () => {
    const d = compileDetectors({
      enabled: ['ref'],
      custom: [{ id: 'ref', level: 'internal', pattern: 'RF[0-9A-Z]{3,23}', validate: 'mod97' }],
    });
    // ISO 11649 creditor references rearrange before the check; the raw form here is the
    // rearranged one: its remainder is 1.
    expect(d.scan('3214282912345698765432161182', { keys: [] })).toEqual([]);
    const raw = compileDetectors({
      enabled: ['ref'],
      custom: [{ id: 'ref', level: 'internal', pattern: '[0-9]{20,30}', validate: 'mod97' }],
    });
    expect(raw.scan('3214282912345698765432161182', { keys: [] })).toHaveLength(1);
    expect(raw.scan('3214282912345698765432161183', { keys: [] })).toEqual([]);
  });

  it('exclude and exclude_pattern: values never reported', () => {
    const d = compileDetectors({
      enabled: ['employee_id'],
      custom: [{ ...EMP, exclude: ['emp 000000', 'EMP-999999'], exclude_pattern: 'EMP-12\\d{4}' }],
    });
    const text = 'EMP-000000 EMP-999999 EMP-123456 EMP-654321 ＥＭＰ-９９９９９９';
    expect(found(d.scan(text, { keys: [] }), text).map((h) => h[2])).toEqual(['EMP-654321']);
    expect(() => compileDetectors({ custom: [{ ...EMP, exclude_pattern: '(' }] })).toThrow(
      /exclude_pattern is not valid RE2/,
    );
  });

  it('a duplicate custom id throws at compile', () => {
    expect(() => compileDetectors({ custom: [EMP, EMP] })).toThrow(/defined twice/);
  });
});

describe('overlaps', () => {
  const card = '4111 1111 1111 1111';
  const run = (custom: CustomDetectorConfig[], text = card): [string, string, string][] =>
    found(
      compileDetectors({ enabled: ['card', ...custom.map((c) => c.id)], custom }).scan(text, {
        keys: [],
      }),
      text,
    );

  it('the higher level wins', () => {
    expect(run([{ id: 'acct', level: 'restricted', pattern: '\\d{4} \\d{4}' }])).toEqual([
      ['acct', 'restricted', '4111 1111'],
      ['acct', 'restricted', '1111 1111'],
    ]);
    expect(run([{ id: 'acct', level: 'internal', pattern: '\\d{4} \\d{4}' }])).toEqual([
      ['card', 'confidential', card],
    ]);
  });

  it('at the same level the longer span wins', () => {
    const text = `card ${card}`;
    expect(run([{ id: 'zz', level: 'confidential', pattern: 'card [\\d ]+' }], text)).toEqual([
      ['zz', 'confidential', text],
    ]);
  });

  it('at the same level and length the lower id wins', () => {
    expect(run([{ id: 'aaa', level: 'confidential', pattern: '[\\d ]{19}' }])).toEqual([
      ['aaa', 'confidential', card],
    ]);
    expect(run([{ id: 'zzz', level: 'confidential', pattern: '[\\d ]{19}' }])).toEqual([
      ['card', 'confidential', card],
    ]);
  });

  it('at the same level and length the earlier start wins', () => {
    const d = compileDetectors({
      enabled: ['x'],
      custom: [{ id: 'x', level: 'internal', pattern: 'ab|ba' }],
    });
    // RE2 yields "ab" at 0 and "ab" at 2; "ba" at 1 is never proposed by a left-to-right scan.
    expect(found(d.scan('abab', { keys: [] }), 'abab').map((h) => h[2])).toEqual(['ab', 'ab']);
  });

  it('overlapping detectors resolve the same way every time', () => {
    const text = 'ip ::ffff:192.0.2.1 and ssn 536-22-1234';
    const d = compileDetectors({ custom: [] });
    const first = d.scan(text, { keys: [] });
    expect(found(first, text)).toEqual([
      ['ipv6', 'internal', '::ffff:192.0.2.1'],
      ['ssn', 'restricted', '536-22-1234'],
    ]);
    expect(d.scan(text, { keys: [] })).toEqual(first);
  });
});
