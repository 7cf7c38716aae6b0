// Properties of the engine over number literals and object keys (fixed seed, see
// test/support/fuzz.ts): a body in which nothing is found is forwarded byte for byte, and
// an edited body is always one the strict reader accepts (valid JSON, no duplicate keys)
// with none of the planted values left in it.

import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { inspect } from '../../src/engine/index.js';
import { Tokenizer } from '../../src/enforce/tokenize.js';
import { parseJson } from '../../src/payload/json.js';
import { loadPolicy } from '../../src/policy/load.js';
import type { Principal } from '../../src/policy/types.js';
import { channelsPolicyDir } from '../support/channels.js';

const policy = loadPolicy([channelsPolicyDir()]);
const tokenizer = new Tokenizer([{ id: 'k1', secret: Buffer.alloc(32, 6) }]);
const agent: Principal = { subject: 'u1', groups: ['agents'], authMethod: 'dev-header' };

function run(route: string, body: string) {
  const r = policy.routesByName.get(route)!;
  return inspect({
    policy,
    route: r,
    fn: r.fn,
    principal: agent,
    direction: 'request',
    body: Buffer.from(body),
    maxDepth: 64,
    tokenizer,
  });
}

/** Planted values: each is found wherever it is, as a number, a key or a string. */
const CARDS = ['4111111111111111', '4000056655665556', '4000000000061111', '5555555555554444'];
const EMAILS = ['ada@example.com', 'amy@example.org', 'bob@example.net'];

/** A JSON text with random whitespace, from values whose keys and numbers are arbitrary. */
function sloppy(value: unknown, ws: () => string): string {
  if (Array.isArray(value))
    return `[${ws()}${value.map((v) => sloppy(v, ws)).join(`,${ws()}`)}${ws()}]`;
  if (value !== null && typeof value === 'object') {
    const members = Object.entries(value).map(
      ([k, v]) => `${ws()}${JSON.stringify(k)}${ws()}:${ws()}${sloppy(v, ws)}`,
    );
    return `{${members.join(',')}${ws()}}`;
  }
  if (typeof value === 'bigint') return value.toString();
  return JSON.stringify(value);
}

const key = fc.stringMatching(/^[a-z_]{1,12}$/);
const plainNumber = fc.oneof(
  fc.integer(),
  fc.double({ noNaN: true, noDefaultInfinity: true }),
  // Long digit strings: never read through Number (a 20-digit number keeps every digit).
  fc.bigInt({ min: -(10n ** 30n), max: 10n ** 30n }),
);
const plain: fc.Arbitrary<unknown> = fc.letrec((tie) => ({
  value: fc.oneof(
    { depthSize: 'small' },
    plainNumber,
    fc.stringMatching(/^[a-z ]{0,20}$/),
    fc.boolean(),
    fc.constant(null),
    fc.array(tie('value'), { maxLength: 4 }),
    fc.dictionary(key, tie('value'), { maxKeys: 4 }),
  ),
})).value;
const whitespace = fc.array(fc.constantFrom('', ' ', '\n', '\t', '  '), {
  minLength: 64,
  maxLength: 64,
});

describe('numbers and keys: properties', () => {
  it('a body in which nothing is found is forwarded byte for byte', () => {
    let unchanged = 0;
    fc.assert(
      fc.property(plain, whitespace, (v, spaces) => {
        let i = 0;
        const body = sloppy(v, () => spaces[i++ % spaces.length]!);
        const r = run('fn', body);
        if (r.decision.findings.length > 0) return; // a random number can be a card
        unchanged++;
        expect(r.changed).toBe(false);
        expect(Buffer.from(r.body).toString('utf8')).toBe(body);
      }),
    );
    // The generator makes bodies without findings nearly always: the property was exercised.
    expect(unchanged).toBeGreaterThan(80);
  });

  it('an edited body is valid JSON without duplicate keys, and holds no planted value', () => {
    // Values planted as keys and as numbers, among plain members; several planted keys in
    // one object (masked or redacted alike) must stay distinct keys.
    const planted = fc.oneof(
      fc.constantFrom(...CARDS).map((c) => ({ kind: 'number' as const, text: c })),
      fc.constantFrom(...CARDS, ...EMAILS).map((t) => ({ kind: 'key' as const, text: t })),
      fc.constantFrom(...EMAILS).map((t) => ({ kind: 'string' as const, text: t })),
    );
    const doc: fc.Arbitrary<string> = fc.letrec((tie) => ({
      node: fc.oneof(
        { depthSize: 'small', withCrossShrink: true },
        plainNumber.map((n) => (typeof n === 'bigint' ? n.toString() : JSON.stringify(n))),
        planted
          .filter((p) => p.kind !== 'key')
          .map((p) => (p.kind === 'number' ? p.text : JSON.stringify(p.text))),
        fc.array(tie('node'), { maxLength: 4 }).map((items) => `[${items.join(',')}]`),
        fc
          .uniqueArray(
            fc.tuple(
              fc.oneof(
                key,
                planted.filter((p) => p.kind === 'key').map((p) => p.text),
              ),
              // letrec's tie is untyped; every node is JSON text.
              tie('node') as fc.Arbitrary<string>,
            ),
            {
              maxLength: 5,
              selector: ([k]) => k,
            },
          )
          .map((members) => `{${members.map(([k, v]) => `${JSON.stringify(k)}:${v}`).join(',')}}`),
      ),
    })).node;
    const wrapped = fc.tuple(doc, fc.constantFrom('fn', 'chat')).map(([d, route]) =>
      route === 'fn'
        ? { route, body: `{"d":${d}}` }
        : {
            route,
            body: JSON.stringify({
              messages: [
                {
                  role: 'assistant',
                  tool_calls: [
                    { id: 'c', type: 'function', function: { name: 'f', arguments: `{"d":${d}}` } },
                  ],
                },
              ],
            }),
          },
    );
    fc.assert(
      fc.property(wrapped, ({ route, body }) => {
        const r = run(route, body);
        const out = Buffer.from(r.body).toString('utf8');
        // Strict: duplicate keys, bad escapes or a bare masked number would throw here.
        parseJson(Buffer.from(out), { maxDepth: 64 });
        if (route === 'chat') {
          const args = (
            JSON.parse(out) as {
              messages: { tool_calls: { function: { arguments: string } }[] }[];
            }
          ).messages[0]!.tool_calls[0]!.function.arguments;
          parseJson(Buffer.from(args), { maxDepth: 64 });
        }
        for (const v of [...CARDS, ...EMAILS]) expect(out).not.toContain(v);
      }),
    );
  });
});
