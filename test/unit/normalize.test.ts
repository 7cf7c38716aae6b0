// Look-alike characters (issue 15, items 5 and 6): detectors read a normalized view of each
// text (normalize.ts) and report hits on the original offsets, the whole original value and
// nothing else. Cases, the engine's byte preservation on such a value, and properties.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { compileDetectors } from '../../src/detect/index.js';
import { foldCodePoint, normalizeText } from '../../src/detect/normalize.js';
import { inspect } from '../../src/engine/index.js';
import { loadPolicy } from '../../src/policy/load.js';
import { FUZZ_SEED, runs } from '../support/fuzz.js';

const detectors = compileDetectors({ custom: [] });
const plain = compileDetectors({ custom: [], normalize: false });

function found(text: string, keys: readonly string[] = []): [string, string][] {
  return detectors.scan(text, { keys }).map((h) => [h.detector, text.slice(h.start, h.end)]);
}

describe('the normalized view', () => {
  it('folds digits, dashes, spaces and compatibility forms; removes format characters', () => {
    expect(normalizeText('４１１１\u200b１１１１')?.text).toBe('41111111');
    expect(normalizeText('284\u201356\u20135351')?.text).toBe('284-56-5351');
    expect(normalizeText('536\u00a022\u202f1234\u3000x')?.text).toBe('536 22 1234 x');
    expect(normalizeText('٤١١١ ४१११ 𝟒𝟏𝟏𝟏')?.text).toBe('4111 4111 4111');
    expect(normalizeText('ＳＳＮ\u2212ｉｄ ﬁle')?.text).toBe('SSN-id file');
    expect(normalizeText('pass\u00adword \u202ertl\u202c')?.text).toBe('password rtl');
  });

  it('folds look-alike letters of other scripts only inside a run with ASCII in it', () => {
    expect(normalizeText('j\u043ehn@ex\u0430mple.com')?.text).toBe('john@example.com');
    expect(normalizeText('\u0420\u0430yPal')?.text).toBe('PayPal');
    // Words wholly in Cyrillic or Greek are text, not a disguise: no view.
    expect(
      normalizeText('\u0441\u043e\u0441\u043e\u0441 \u0430 \u03bf\u03b9\u03ba\u03bf\u03c2'),
    ).toBeUndefined();
    // A space ends the run: the Latin word beside does not make the Cyrillic one mixed.
    expect(normalizeText('\u0441\u043e\u043a \u0440ay')?.text).toBe('\u0441\u043e\u043a pay');
  });

  it('decodes percent-encoded printable ASCII, and nothing else', () => {
    expect(normalizeText('ada%40example%2Ecom')?.text).toBe('ada@example.com');
    const n = normalizeText('a%40b')!;
    expect(n.original(1, 2)).toEqual([1, 4]); // the @ is the three characters %40
    // UTF-8 bytes, control characters and a lone % stay as they are.
    expect(normalizeText('caf%C3%A9 %0A 100% %zz')).toBeUndefined();
  });

  it('leaves ASCII, accents, quotes, emoji and footnote marks alone', () => {
    expect(normalizeText('plain ASCII 4111')).toBeUndefined();
    expect(normalizeText('née “quoted” l’été 😀 中文')).toBeUndefined();
    // A superscript after a number is a footnote mark, not one more digit of it.
    expect(foldCodePoint(0xb2)).toBeNull();
    expect(normalizeText('536-22-1234²')).toBeUndefined();
  });

  it('maps every normalized range back to the original code points it came from', () => {
    const text = 'a\u200b𝟒𝟏\u00adb';
    const n = normalizeText(text)!;
    expect(n.text).toBe('a41b');
    expect(n.original(1, 3)).toEqual([2, 6]); // the two astral digits, not the ZWSP or SHY
    expect(n.original(0, 4)).toEqual([0, 8]);
  });
});

describe('look-alike values are found, on exactly their original span', () => {
  const cases: [string, string, string, readonly string[]][] = [
    [
      'full-width card',
      'pay ４１１１ １１１１ １１１１ １１１１ now',
      '４１１１ １１１１ １１１１ １１１１',
      [],
    ],
    [
      'zero-width spaces between card groups',
      'card 4111\u200b1111\u200b1111\u200b1111.',
      '4111\u200b1111\u200b1111\u200b1111',
      [],
    ],
    ['card groups separated by dots', 'cc 4111.1111.1111.1111 ok', '4111.1111.1111.1111', []],
    ['ssn with en dashes', 'ssn 284\u201356\u20135351', '284\u201356\u20135351', []],
    ['ssn with no-break spaces', 'SSN: 536\u00a022\u00a01234', '536\u00a022\u00a01234', []],
    [
      'lower-case iban',
      'iban de89 3704 0044 0532 0130 00 thanks',
      'de89 3704 0044 0532 0130 00',
      [],
    ],
    ['mixed-case compact iban', 'to Gb29NwBk60161331926819', 'Gb29NwBk60161331926819', []],
    [
      'full-width e-mail',
      'mail ａｄａ＠ｅｘａｍｐｌｅ．ｃｏｍ',
      'ａｄａ＠ｅｘａｍｐｌｅ．ｃｏｍ',
      [],
    ],
    [
      'soft hyphens inside a card',
      '4111\u00ad1111\u00ad1111\u00ad1111',
      '4111\u00ad1111\u00ad1111\u00ad1111',
      [],
    ],
    ['Arabic-Indic digits of a phone', 'call +٤٤ ٢٠ ٧٩٤٦ ٠٩٥٨', '+٤٤ ٢٠ ٧٩٤٦ ٠٩٥٨', []],
    ['full-width context word and bare ssn', 'ＳＳＮ ５３６２２１２３４', '５３６２２１２３４', []],
    ['bidi controls around a cpf', 'CPF \u202a123.456.789-09\u202c', '123.456.789-09', []],
    // Cyrillic о and а inside Latin words: the e-mail a reader sees.
    [
      'Cyrillic look-alikes in an e-mail',
      'mail j\u043ehn@ex\u0430mple.com',
      'j\u043ehn@ex\u0430mple.com',
      [],
    ],
    [
      'percent-encoded e-mail in a URL',
      'see https://x.test/u?m=ada%40example.com&x=1',
      'ada%40example.com',
      [],
    ],
    [
      'percent-encoded spaces in a card',
      'n=4111%201111%201111%201111',
      '4111%201111%201111%201111',
      [],
    ],
    ['Greek omicron in an e-mail', 'to ada@\u03bfrg-mail.com', 'ada@\u03bfrg-mail.com', []],
  ];
  it.each(cases)('%s', (_name, text, value, keys) => {
    const hits = detectors.scan(text, { keys });
    const at = text.indexOf(value);
    expect(hits.map((h) => [h.start, h.end])).toContainEqual([at, at + value.length]);
    // Without normalization, most of these pass unseen.
    expect(
      plain.scan(text, { keys }).some((h) => h.start === at && h.end === at + value.length),
    ).toBe(
      [
        'card groups separated by dots',
        'lower-case iban',
        'mixed-case compact iban',
        'bidi controls around a cpf',
      ].includes(_name),
    );
  });

  it('secrets read the original bytes', () => {
    const key = ['AKIA', 'IOSFODNN7', '\u200b', 'EXAMPLE'].join('');
    expect(found(key)).toEqual([]);
  });
});

describe('through the engine: only the value’s bytes change', () => {
  const dir = mkdtempSync(join(tmpdir(), 'cg-norm-'));
  writeFileSync(
    join(dir, 'p.yaml'),
    'routes: [{ name: chat, match: { path: /c }, format: openai-chat }]\n' +
      'rules: [{ name: r, match: { min_level: internal }, action: redact }]\n',
  );
  const policy = loadPolicy([join(dir, 'p.yaml')], dir);
  const route = policy.routesByName.get('chat')!;
  const principal = { subject: 's', groups: ['agents'], authMethod: 'dev-header' as const };
  const run = (content: string) => {
    const body = Buffer.from(JSON.stringify({ model: 'm', messages: [{ role: 'user', content }] }));
    return {
      body,
      r: inspect({
        policy,
        route,
        fn: undefined,
        principal,
        direction: 'request',
        body,
        maxDepth: 64,
        tokenizer: undefined,
      }),
    };
  };

  it('a redacted full-width SSN leaves the text around it as it was', () => {
    const { body, r } = run('ＳＳＮ ２８４\u2013５６\u2013５３５１, thanks — Ada');
    expect(r.decision.findings.map((f) => f.detector)).toEqual(['ssn']);
    const before = body.toString('utf8');
    const after = Buffer.from(r.body).toString('utf8');
    expect(after).toBe(
      before.replace('２８４\u2013５６\u2013５３５１', '[REDACTED:restricted:ssn]'),
    );
  });
});

// ---------------------------------------------------------------------------- properties

/** Values that need no context, and one that does with its word. */
const VALUES: [detector: string, value: string, prefix: string][] = [
  ['card', '4111 1111 1111 1111', 'card '],
  ['card', '5555-5555-5555-4444', ''],
  ['iban', 'DE89 3704 0044 0532 0130 00', 'IBAN '],
  ['ssn', '536-22-1234', ''],
  ['email', 'ada.lovelace@example.com', 'mail '],
  ['phone', '+44 20 7946 0958', 'tel '],
  ['br_cpf', '123.456.789-09', 'CPF '],
  ['it_fiscal_code', 'RSSMRA85T10A562S', 'CF '],
  ['cn_resident_id', '11010519491231002X', ''],
  ['uk_nhs', '943 476 5919', 'NHS number '],
  ['in_aadhaar', '2345 6789 0124', 'Aadhaar '],
];

const LOOK_DIGIT = (d: number): string[] => [
  String(d),
  String.fromCodePoint(0xff10 + d), // full-width
  String.fromCodePoint(0x660 + d), // Arabic-Indic
  String.fromCodePoint(0x966 + d), // Devanagari
  String.fromCodePoint(0x1d7ce + d), // mathematical bold
];
const LOOK_SPACE = [' ', '\u00a0', '\u2009', '\u202f', '\u3000'];
const LOOK_DASH = ['-', '\u2010', '\u2011', '\u2013', '\u2014', '\u2212', '\uff0d'];
const INVISIBLE = ['\u200b', '\u200c', '\u200d', '\u2060', '\ufeff', '\u00ad', '\u200e'];
const fullWidth = (c: string): string => String.fromCodePoint(c.codePointAt(0)! - 0x21 + 0xff01);

/** A look-alike spelling of `value`: each character by one of its forms, invisibles between. */
function lookAlike(value: string): fc.Arbitrary<string> {
  const parts = [...value].map((c, i) => {
    let forms: string[];
    if (c >= '0' && c <= '9') forms = LOOK_DIGIT(Number(c));
    else if (c === ' ') forms = LOOK_SPACE;
    else if (c === '-') forms = LOOK_DASH;
    else if (/[A-Za-z@.]/.test(c)) forms = [c, fullWidth(c)];
    else forms = [c];
    const ch = fc.constantFrom(...forms);
    if (i === 0) return ch;
    return fc
      .tuple(fc.option(fc.constantFrom(...INVISIBLE), { freq: 3 }), ch)
      .map(([z, x]) => (z ?? '') + x);
  });
  return fc.tuple(...parts).map((p) => p.join(''));
}

/** Text around a value that stays clear of it (ends in a space). */
const around = fc
  .array(fc.constantFrom('the', 'née', 'l’été', '😀', '中文', 'ok,', 'Ünïcödé', '—', 'report'), {
    maxLength: 6,
  })
  .map((w) => w.join(' '));

describe('normalization properties (fixed seed)', () => {
  it('a normalized hit maps back to exactly the whole original value', () => {
    const cases = fc.constantFrom(...VALUES).chain(([detector, value, prefix]) =>
      fc.record({
        detector: fc.constant(detector),
        before: around.map((t) => `${t} ${prefix}`),
        value: lookAlike(value),
        after: around.map((t) => ` ${t}`),
      }),
    );
    fc.assert(
      fc.property(cases, ({ detector, before, value, after }) => {
        const text = before + value + after;
        const hits = detectors.scan(text, { keys: [] });
        const hit = hits.find((h) => h.detector === detector);
        expect(hit, `${detector} in ${JSON.stringify(text)}`).toBeDefined();
        expect([hit!.start, hit!.end]).toEqual([before.length, before.length + value.length]);
      }),
      { seed: FUZZ_SEED, numRuns: runs(300) },
    );
  });

  it('a text normalization leaves alone scans the same with it on or off', () => {
    const fragments = fc.constantFrom(
      '4111 1111 1111 1111',
      'ssn 536-22-1234',
      'ada@example.com',
      'née',
      '’',
      '😀',
      '中文',
      ' ',
      'x',
      '9',
      'CPF 123.456.789-09',
      '²',
      'é',
    );
    fc.assert(
      fc.property(
        fc.array(fragments, { maxLength: 20 }),
        fc.array(fc.constantFrom('ssn', 'note'), { maxLength: 2 }),
        (parts, keys) => {
          const text = parts.join('');
          expect(normalizeText(text)).toBeUndefined();
          expect(detectors.scan(text, { keys })).toEqual(plain.scan(text, { keys }));
        },
      ),
      { seed: FUZZ_SEED, numRuns: runs(300) },
    );
  });

  it('look-alike characters alone are never a finding', () => {
    const junk = fc.array(
      fc.constantFrom(...LOOK_SPACE, ...LOOK_DASH, ...INVISIBLE, 'ﬁ', 'Ａ', '²'),
      {
        maxLength: 40,
      },
    );
    fc.assert(
      fc.property(junk, (cs) => {
        expect(detectors.scan(cs.join(''), { keys: ['ssn'] })).toEqual([]);
      }),
      { seed: FUZZ_SEED, numRuns: runs(200) },
    );
  });
});
