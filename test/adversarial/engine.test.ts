// Bad input against the engine, at every byte: truncations and byte flips of valid payloads,
// invalid UTF-8, lone surrogates, duplicate keys, hostile nesting, huge strings and numbers,
// tool-call arguments that are not JSON or are JSON nested in JSON, SSE events split at every
// byte. The engine either refuses with a coded CallguardError (never another exception) or
// forwards a body in which the card number no longer appears, at any level of nesting.
// CALLGUARD_LONG=1 tries every byte value at every position instead of a seeded sample.

import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { inspect } from '../../src/engine/index.js';
import type { InspectInput } from '../../src/engine/index.js';
import { Tokenizer } from '../../src/enforce/tokenize.js';
import { CallguardError } from '../../src/errors.js';
import { parseJson } from '../../src/payload/json.js';
import { loadPolicy } from '../../src/policy/load.js';
import type { Principal } from '../../src/policy/types.js';
import { StreamInspector } from '../../src/engine/index.js';
import { prng } from '../support/fuzz.js';

const LONG = process.env.CALLGUARD_LONG === '1';
const policy = loadPolicy([join(import.meta.dirname, '../../policies')]);
const tokenizer = new Tokenizer([{ id: 'k1', secret: Buffer.alloc(32, 3) }]);
const agent: Principal = { subject: 'u1', groups: ['agents'], authMethod: 'dev-header' };
const CARD = '4000 0566 5566 5556';
const CARD_DIGITS = CARD.replace(/ /g, '');

/** Every code the engine may refuse bad input with. */
const INPUT_CODES = new Set([
  'malformed_json',
  'invalid_utf8',
  'duplicate_key',
  'too_deep',
  'contract_violation',
  'prohibited_field',
  'blocked',
]);

function input(route: string, body: Buffer, maxDepth = 64): InspectInput {
  const r = policy.routesByName.get(route)!;
  return {
    policy,
    route: r,
    fn: r.fn,
    principal: agent,
    direction: 'request',
    body,
    maxDepth,
    tokenizer,
  };
}

type Outcome = { ok: true; body: string } | { ok: false; code: string; status: number };

function run(route: string, body: Buffer, maxDepth = 64): Outcome {
  try {
    const r = inspect(input(route, body, maxDepth));
    return { ok: true, body: Buffer.from(r.body).toString('utf8') };
  } catch (e) {
    if (!(e instanceof CallguardError)) throw e;
    // An error names paths and rules, never the value.
    expect(e.message).not.toContain(CARD);
    expect(JSON.stringify(e.paths)).not.toContain(CARD_DIGITS);
    return { ok: false, code: e.code, status: e.status };
  }
}

/** Every string at every level, JSON in strings decoded as far as it goes. */
function allText(text: string, depth = 0): string {
  let out = text;
  if (depth > 8) return out;
  try {
    const v: unknown = JSON.parse(text);
    const walk = (x: unknown): void => {
      if (typeof x === 'string') out += '\n' + allText(x, depth + 1);
      else if (Array.isArray(x)) x.forEach(walk);
      else if (x && typeof x === 'object') Object.values(x).forEach(walk);
    };
    walk(v);
  } catch {
    // not JSON: the text itself
  }
  return out;
}

/** The forwarded body holds the card in no readable form (spaced or not, at any level). */
function expectNoCard(body: string): void {
  const t = allText(body);
  expect(t).not.toContain(CARD);
  expect(t).not.toContain(CARD_DIGITS);
}

const CHARGE = Buffer.from(
  `{"amount":12.5,"currency":"EUR","card":{"number":"${CARD}","holder":"Ada"},"customer":{"email":"ada@example.com"},"metadata":{"note":"card ${CARD} again","n":[1,2.50,-3e2,true,null]}}`,
);
const CHAT = Buffer.from(
  JSON.stringify({
    model: 'gpt-4o',
    messages: [
      { role: 'user', content: `pay with ${CARD}` },
      {
        role: 'assistant',
        tool_calls: [
          {
            id: 'call_1',
            type: 'function',
            function: { name: 'lookup', arguments: JSON.stringify({ card: CARD, n: 1 }) },
          },
        ],
      },
    ],
  }),
);

describe('every byte position of a valid payload', () => {
  for (const [name, route, body] of [
    ['charge_card', 'charge_card', CHARGE],
    ['openai chat', 'openai_chat', CHAT],
  ] as const) {
    it(`${name}: the untouched payload is forwarded with the card masked`, () => {
      const r = run(route, body);
      expect(r.ok).toBe(true);
      if (r.ok) expectNoCard(r.body);
    });

    it(`${name}: every truncation is refused with a coded 400`, () => {
      for (let n = 0; n < body.length; n++) {
        const r = run(route, body.subarray(0, n));
        expect(r.ok, `prefix of ${n} bytes`).toBe(false);
        if (!r.ok) {
          expect(INPUT_CODES.has(r.code), `${n}: ${r.code}`).toBe(true);
          expect(r.status).toBe(400);
        }
      }
    });

    it(`${name}: a flipped byte at every position is refused or forwarded without the card`, () => {
      const rnd = prng(20261128);
      const counts = { refused: 0, forwarded: 0 };
      // A letter or digit glued to a card number in free text ("withA4000 0566 …") makes it
      // part of a longer token, which the card detector leaves alone by design (word
      // boundaries keep ids and order numbers from being taken for cards): at the byte just
      // before or after a free-text card, a flip may forward the digits (docs/resilience.md).
      const glued = new Set<number>();
      for (let k = body.indexOf(CARD); k >= 0; k = body.indexOf(CARD, k + 1)) {
        glued.add(k - 1);
        glued.add(k + CARD.length);
      }
      for (let i = 0; i < body.length; i++) {
        const values = LONG
          ? Array.from({ length: 256 }, (_, v) => v)
          : [0x00, 0x22, 0x5c, 0x7b, 0xff, Math.floor(rnd() * 256)];
        for (const v of values) {
          if (v === body[i]) continue;
          const mutated = Buffer.from(body);
          mutated[i] = v;
          const r = run(route, mutated);
          if (r.ok) {
            counts.forwarded++;
            if (!glued.has(i)) expectNoCard(r.body);
          } else {
            counts.refused++;
            expect(INPUT_CODES.has(r.code), `${i}=${v}: ${r.code}`).toBe(true);
          }
        }
      }
      expect(counts.refused).toBeGreaterThan(0);
      console.log(`${name} byte flips: ${JSON.stringify(counts)} (glued positions: ${glued.size})`);
    });
  }
});

/** charge_card with `raw` bytes as the card holder's string content. */
const withHolder = (raw: Buffer) =>
  Buffer.concat([
    Buffer.from(`{"amount":1,"currency":"EUR","card":{"number":"${CARD}","holder":"`),
    raw,
    Buffer.from('"}}'),
  ]);

describe('invalid UTF-8 and overlong encodings', () => {
  const cases: [string, number[]][] = [
    ['lone continuation byte', [0x80]],
    ['truncated 2-byte sequence', [0xc3]],
    ['overlong "/" (2 bytes)', [0xc0, 0xaf]],
    ['overlong NUL (2 bytes)', [0xc0, 0x80]],
    ['overlong "/" (3 bytes)', [0xe0, 0x80, 0xaf]],
    ['overlong "/" (4 bytes)', [0xf0, 0x80, 0x80, 0xaf]],
    ['UTF-8 encoded surrogate U+D800', [0xed, 0xa0, 0x80]],
    ['code point above U+10FFFF', [0xf4, 0x90, 0x80, 0x80]],
    ['0xF5 lead byte', [0xf5, 0x80, 0x80, 0x80]],
    ['0xFE and 0xFF', [0xfe, 0xff]],
    ['truncated 4-byte sequence', [0xf0, 0x9f, 0x98]],
  ];
  it.each(cases)('%s → 400 invalid_utf8', (_name, bytes) => {
    const r = run('charge_card', withHolder(Buffer.from(bytes)));
    expect(r).toEqual({ ok: false, code: 'invalid_utf8', status: 400 });
  });

  it('in a key, and at the very end of the body', () => {
    expect(
      run('charge_card', Buffer.from([0x7b, 0x22, 0xc0, 0xaf, 0x22, 0x3a, 0x31, 0x7d])),
    ).toEqual({ ok: false, code: 'invalid_utf8', status: 400 });
    expect(run('charge_card', Buffer.concat([CHARGE, Buffer.from([0xc3])]))).toEqual({
      ok: false,
      code: 'invalid_utf8',
      status: 400,
    });
  });
});

describe('lone surrogates in \\u escapes', () => {
  it.each(['\\ud800', '\\udc00', '\\ud800\\u0041', '\\udbff"x', '\\ud800\\ud800'])(
    '%s → 400 malformed_json',
    (esc) => {
      const r = run('charge_card', withHolder(Buffer.from(esc.replace('"x', 'x'))));
      expect(r).toEqual({ ok: false, code: 'malformed_json', status: 400 });
    },
  );

  it('a surrogate pair is a character and passes', () => {
    const r = run('charge_card', withHolder(Buffer.from('\\ud83d\\ude00')));
    expect(r.ok).toBe(true);
  });
});

describe('duplicate keys', () => {
  it.each([
    [
      'plain',
      `{"amount":1,"currency":"EUR","card":{"number":"${CARD}"},"customer":{"ssn":"1","ssn":"078-05-1120"}}`,
    ],
    [
      'spelled with an escape',
      `{"amount":1,"currency":"EUR","card":{"number":"${CARD}"},"customer":{"ssn":"078-05-1120","\\u0073sn":"1"}}`,
    ],
    [
      'escape of every letter',
      `{"amount":1,"currency":"EUR","card":{"number":"${CARD}"},"customer":{"ssn":"1","\\u0073\\u0073\\u006e":"2"}}`,
    ],
    [
      'escaped slash',
      `{"amount":1,"currency":"EUR","card":{"number":"${CARD}"},"metadata":{"a/b":1,"a\\/b":2}}`,
    ],
    ['at the top level', `{"amount":1,"amount":2,"currency":"EUR","card":{"number":"${CARD}"}}`],
  ])('%s → 400 duplicate_key', (_name, body) => {
    expect(run('charge_card', Buffer.from(body))).toEqual({
      ok: false,
      code: 'duplicate_key',
      status: 400,
    });
  });

  it('in tool-call arguments (JSON in a string) as well', () => {
    const body = JSON.stringify({
      model: 'm',
      messages: [
        {
          role: 'assistant',
          tool_calls: [
            {
              id: 'c',
              type: 'function',
              function: { name: 'pay_invoice', arguments: `{"card":"1","\\u0063ard":"${CARD}"}` },
            },
          ],
        },
      ],
    });
    const r = run('openai_chat', Buffer.from(body));
    expect(r.ok).toBe(false);
    if (!r.ok) expect(['duplicate_key', 'contract_violation']).toContain(r.code);
  });
});

describe('hostile shapes', () => {
  const deep = (n: number, open = '[', close = ']') =>
    `{"amount":1,"currency":"EUR","card":{"number":"${CARD}"},"metadata":{"x":${open.repeat(n)}${close.repeat(n)}}}`;

  it('10,000-deep nesting → 400 too_deep, for arrays and objects', () => {
    expect(run('charge_card', Buffer.from(deep(10_000)))).toEqual({
      ok: false,
      code: 'too_deep',
      status: 400,
    });
    const objects = `{"amount":1,"metadata":${'{"a":'.repeat(10_000)}1${'}'.repeat(10_000)}}`;
    expect(run('charge_card', Buffer.from(objects))).toMatchObject({ ok: false, code: 'too_deep' });
  });

  it('the parser itself reads 100,000-deep nesting without a stack overflow', () => {
    const n = 100_000;
    expect(() =>
      parseJson(Buffer.from('['.repeat(n) + ']'.repeat(n)), { maxDepth: n }),
    ).not.toThrow();
    expect(() =>
      parseJson(Buffer.from('['.repeat(n) + ']'.repeat(n - 1)), { maxDepth: n }),
    ).toThrow(CallguardError);
  });

  it('a 900 KB string is scanned: the card at its end is masked', () => {
    const body = Buffer.from(
      `{"amount":1,"currency":"EUR","card":{"number":"${CARD}"},"metadata":{"note":"${'lorem ipsum '.repeat(75_000)}card ${CARD}"}}`,
    );
    const r = run('charge_card', body);
    expect(r.ok).toBe(true);
    if (r.ok) expectNoCard(r.body);
  });

  it('huge numbers keep their spelling; an out-of-range amount is not a pass for the card', () => {
    const digits = '9'.repeat(400_000);
    for (const amount of [digits, `0.${digits}`, `1e${digits}`, `-${digits}`]) {
      const r = run(
        'charge_card',
        Buffer.from(
          `{"amount":${amount},"currency":"EUR","card":{"number":"${CARD}"},"metadata":{"n":${digits}}}`,
        ),
      );
      if (r.ok) {
        expectNoCard(r.body);
        expect(r.body).toContain(`"n":${digits}`);
      } else {
        expect(INPUT_CODES.has(r.code)).toBe(true);
      }
    }
  });

  it('100,000 members and 100,000 items are read and scanned', () => {
    const members = Array.from({ length: 100_000 }, (_, i) => `"k${i}":"v${i}"`).join(',');
    const items = Array.from({ length: 100_000 }, () => '"x"').join(',');
    const body = `{"amount":1,"currency":"EUR","card":{"number":"${CARD}"},"metadata":{${members},"list":[${items}],"z":"${CARD}"}}`;
    const r = run('charge_card', Buffer.from(body));
    expect(r.ok).toBe(true);
    if (r.ok) expectNoCard(r.body);
  });
});

describe('tool-call arguments (OpenAI format)', () => {
  const call = (name: string, args: string) =>
    Buffer.from(
      JSON.stringify({
        model: 'gpt-4o',
        messages: [
          {
            role: 'assistant',
            tool_calls: [{ id: 'c1', type: 'function', function: { name, arguments: args } }],
          },
        ],
      }),
    );

  it('invalid JSON for a function with a contract → 400 contract_violation', () => {
    for (const args of ['{', `{"card_number":"${CARD}"`, 'null x', '', `card ${CARD}`]) {
      const r = run('openai_chat', call('pay_invoice', args));
      expect(r, args).toMatchObject({ ok: false, code: 'contract_violation', status: 400 });
    }
  });

  it('invalid JSON for a function without a contract is text: the card is still caught', () => {
    for (const args of [`{"card":"${CARD}"`, `card ${CARD}`, `{"a":1}} ${CARD}`]) {
      const r = run('openai_chat', call('lookup', args));
      expect(r.ok, args).toBe(true);
      if (r.ok) expectNoCard(r.body);
    }
  });

  it('JSON nested in JSON nested in JSON: the card is caught at the innermost level', () => {
    let inner: string = JSON.stringify({ card: CARD });
    for (let level = 0; level < 4; level++) {
      inner = JSON.stringify({ payload: inner, level });
      const r = run('openai_chat', call('lookup', inner));
      expect(r.ok, `level ${level}`).toBe(true);
      if (r.ok) expectNoCard(r.body);
    }
  });
});

describe('SSE events split at every byte', () => {
  const route = policy.routesByName.get('openai_chat')!;
  const make = () =>
    new StreamInspector({
      policy,
      route,
      fn: undefined,
      principal: agent,
      direction: 'response',
      maxDepth: 64,
      tokenizer,
    });
  const chunk = (content: string) =>
    `data: ${JSON.stringify({ id: 'x', object: 'chat.completion.chunk', choices: [{ index: 0, delta: { content } }] })}\n\n`;
  const stream = Buffer.from(
    chunk('Your card is 4000 0566 ') +
      chunk('5566 5556, and your mail') +
      'event: ping\r\ndata: {}\r\n\r\n' +
      chunk(` is ada@example.com.`) +
      'data: [DONE]\n\n',
  );
  const feed = (chunks: Buffer[]) => {
    const ins = make();
    const out = chunks.map((c, i) => Buffer.from(ins.push(c, i === chunks.length - 1).body));
    return Buffer.concat(out).toString('utf8');
  };
  const whole = feed([stream]);

  it('the whole stream comes out with the card tokenized', () => {
    expect(whole).not.toContain('5566 5556');
    expect(whole).toContain('tok_card_');
  });

  it('any split point gives the same bytes out', () => {
    for (let i = 1; i < stream.length; i++) {
      expect(feed([stream.subarray(0, i), stream.subarray(i)]), `split at ${i}`).toBe(whole);
    }
  });

  it('one byte at a time gives the same bytes out', () => {
    const bytes = Array.from({ length: stream.length }, (_, i) => stream.subarray(i, i + 1));
    expect(feed(bytes)).toBe(whole);
  });

  it('an event that is not JSON (invalid UTF-8 in it) is text: the card split across it never comes out whole', () => {
    const broken = Buffer.concat([
      Buffer.from(chunk('card 4000 0566 ')),
      Buffer.from('data: {"choices":[{"index":0,"delta":{"content":"5566 5556"'),
      Buffer.from([0xc0, 0xaf]),
      Buffer.from('}}]}\n\n'),
    ]);
    for (let i = 1; i < broken.length; i += LONG ? 1 : 7) {
      const out = feed([broken.subarray(0, i), broken.subarray(i)]);
      expect(out).not.toContain(CARD);
      expect(out.replace(/[^0-9]/g, '')).not.toContain(CARD_DIGITS);
    }
  });
});
