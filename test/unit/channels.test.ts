// The channels a body has besides string values: number literals (read as their digit text,
// edited into JSON strings) and object keys (edited in place, never two equal keys in one
// object, named by position in every path), in plain bodies, tool-call arguments carried in
// a string, tool results, responses and streamed answers.

import { describe, expect, it } from 'vitest';
import { auditBody } from '../../src/audit/body.js';
import { inspect, StreamInspector } from '../../src/engine/index.js';
import type { InspectInput } from '../../src/engine/index.js';
import { Tokenizer } from '../../src/enforce/tokenize.js';
import { CallguardError } from '../../src/errors.js';
import { locate, parseJson } from '../../src/payload/json.js';
import type { JsonNode } from '../../src/payload/json.js';
import { parseEvent, SseSplitter } from '../../src/payload/sse.js';
import { loadPolicy } from '../../src/policy/load.js';
import type { Direction, Principal } from '../../src/policy/types.js';
import { channelsPolicyDir } from '../support/channels.js';

const tokenizer = new Tokenizer([{ id: 'k1', secret: Buffer.alloc(32, 5) }]);
const agent: Principal = { subject: 'u1', groups: ['agents'], authMethod: 'dev-header' };
const admin: Principal = { subject: 'u2', groups: ['admins'], authMethod: 'dev-header' };

const policy = loadPolicy([channelsPolicyDir()]);

function input(
  route: string,
  body: string,
  principal = agent,
  direction: Direction = 'request',
): InspectInput {
  const r = policy.routesByName.get(route)!;
  return {
    policy,
    route: r,
    fn: r.fn,
    principal,
    direction,
    body: Buffer.from(body),
    maxDepth: 64,
    tokenizer,
  };
}

function run(route: string, body: string, principal = agent, direction: Direction = 'request') {
  const r = inspect(input(route, body, principal, direction));
  const text = Buffer.from(r.body).toString('utf8');
  // Every edited document is one the strict reader accepts: valid, no duplicate keys.
  parseJson(Buffer.from(text), { maxDepth: 64 });
  return {
    text,
    json: JSON.parse(text) as Record<string, unknown>,
    paths: r.decision.findings.map((f) => `${f.path} ${f.detector} ${f.action}`),
    changed: r.changed,
  };
}

function refused(route: string, body: string): CallguardError {
  try {
    inspect(input(route, body));
  } catch (e) {
    if (e instanceof CallguardError) return e;
    throw e;
  }
  throw new Error('the body was not refused');
}

const CARD = '4111111111111111';
const SSN = '284565351';
const PHONE = '14155552671';

describe('number literals are read as their digit text', () => {
  it.each([
    ['a card anywhere', `{"acct": ${CARD}}`, '{"acct": "************1111"}'],
    [
      'a card under metadata',
      `{"metadata": {"acct": ${CARD}}}`,
      '{"metadata": {"acct": "************1111"}}',
    ],
    ['an SSN under its key', `{"ssn": ${SSN}}`, '{"ssn": "[REDACTED:restricted:ssn]"}'],
    ['a negative card', `{"n": -${CARD}}`, '{"n": "-************1111"}'],
    ['a card with a fraction', `{"n": ${CARD}.0}`, '{"n": "************1111.0"}'],
  ])('%s becomes a JSON string', (_, body, expected) => {
    expect(run('fn', body).text).toBe(expected);
  });

  it('a phone number under its key is tokenized: a token, reversible to the digits', () => {
    const { json } = run('fn', `{"phone": ${PHONE}}`);
    const token = json.phone as string;
    expect(token).toMatch(/^tok_phone_/);
    expect(tokenizer.detokenize(token).value).toBe(PHONE);
  });

  it('never through Number: a 20-digit number keeps every digit, and other numbers stay', () => {
    const body = `{"big": 12345678901234567890, "f": 1.0e3, "z": -0, "t": 0.4111111111111111}`;
    const r = run('fn', body);
    expect(r.changed).toBe(false);
    expect(r.text).toBe(body);
  });

  it('a 9-digit number is an SSN under ssn only', () => {
    expect(run('fn', `{"id": ${SSN}}`).changed).toBe(false);
    expect(run('fn', `{"ssn": ${SSN}}`).paths).toEqual(['/ssn ssn redact']);
  });

  it('a contract-tagged number is written as a JSON string, like a detected one', () => {
    const r = run('strict', '{"account": 12345678, "note": "x"}');
    expect(r.text).toBe('{"account": "******78", "note": "x"}');
    expect(r.paths).toEqual(['/account undefined mask']);
  });

  it('in tool-call arguments (JSON in a string), tool results and responses', () => {
    const args = JSON.stringify({ acct: Number(CARD), ssn: Number(SSN) });
    const chat = JSON.stringify({
      messages: [
        {
          role: 'assistant',
          tool_calls: [{ id: 'c1', type: 'function', function: { name: 'f', arguments: args } }],
        },
        { role: 'tool', tool_call_id: 'c1', content: args },
      ],
    });
    const r = run('chat', chat);
    const msgs = r.json.messages as {
      tool_calls?: { function: { arguments: string } }[];
      content?: string;
    }[];
    const expected = { acct: '************1111', ssn: '[REDACTED:restricted:ssn]' };
    expect(JSON.parse(msgs[0]!.tool_calls![0]!.function.arguments)).toEqual(expected);
    expect(JSON.parse(msgs[1]!.content!)).toEqual(expected);
    expect(r.paths).toContain('/messages/0/tool_calls/0/function/arguments#/acct card mask');
    const response = JSON.stringify({
      choices: [
        { message: { role: 'assistant', content: null, metadata: { acct: Number(CARD) } } },
      ],
    });
    expect(run('chat', response, agent, 'response').text).not.toContain(CARD);
  });
});

describe('object keys are read like string values', () => {
  it('a key is edited in place and named by its position', () => {
    const r = run('fn', '{"by_contact": {"ada@example.com": {"visits": 3}}}');
    expect(r.text).toBe('{"by_contact": {"[REDACTED:internal:email]": {"visits": 3}}}');
    expect(r.paths).toEqual(['/by_contact/~key0 email redact']);
  });

  it('two keys that edit to the same text get a distinguishing suffix', () => {
    const r = run('fn', '{"m": {"ada@example.com": 1, "bob@example.com": 2, "x": 3}}');
    expect(r.text).toBe(
      '{"m": {"[REDACTED:internal:email]": 1, "[REDACTED:internal:email]#2": 2, "x": 3}}',
    );
  });

  it('an edited key never takes the text of a key the object already has', () => {
    const r = run('fn', '{"ada@example.com": 1, "[REDACTED:internal:email]": 2}');
    expect(r.json).toEqual({
      '[REDACTED:internal:email]#2': 1,
      '[REDACTED:internal:email]': 2,
    });
  });

  it('masked keys that come out equal stay distinct', () => {
    const r = run('fn', `{"m": {"${CARD}": 1, "4000056655665556": 2}}`);
    expect(Object.keys(r.json.m as object)).toEqual(['************1111', '************5556']);
    const s = run('fn', `{"m": {"${CARD}": 1, "4000000000061111": 2}}`);
    expect(Object.keys(s.json.m as object)).toEqual(['************1111', '************1111#2']);
  });

  it('tokens of keys differ per value, so an object keyed by phone numbers stays an object', () => {
    const r = run('fn', `{"phone": {"${PHONE}": "a", "14155552672": "b"}}`);
    const keys = Object.keys(r.json.phone as object);
    expect(keys).toHaveLength(2);
    expect(keys.every((k) => k.startsWith('tok_phone_'))).toBe(true);
    expect(keys.map((k) => tokenizer.detokenize(k).value)).toEqual([PHONE, '14155552672']);
  });

  it('no path carries a flagged key: members below it are named by position too', () => {
    const r = run('fn', `{"by": {"ada@example.com": {"card": "${CARD}", "ssn": ${SSN}}}}`);
    expect(r.paths).toEqual([
      '/by/~key0 email redact',
      '/by/~value0/card card mask',
      '/by/~value0/ssn ssn redact',
    ]);
    for (const p of r.paths) expect(p).not.toContain('ada');
  });

  it('keys in tool-call arguments, tool results (MCP, Anthropic) and responses', () => {
    const args = JSON.stringify({ by_contact: { 'ada@example.com': { visits: 3 } } });
    const chat = run(
      'chat',
      JSON.stringify({
        messages: [
          {
            role: 'assistant',
            tool_calls: [{ id: 'c1', type: 'function', function: { name: 'f', arguments: args } }],
          },
        ],
      }),
    );
    expect(chat.text).not.toContain('ada@example.com');
    expect(chat.paths).toEqual([
      '/messages/0/tool_calls/0/function/arguments#/by_contact/~key0 email redact',
    ]);
    const anthropic = run(
      'anthropic',
      JSON.stringify({
        messages: [
          {
            role: 'assistant',
            content: [{ type: 'tool_use', id: 't1', name: 'f', input: { 'ada@example.com': 1 } }],
          },
        ],
      }),
    );
    expect(anthropic.paths).toEqual(['/messages/0/content/0/input/~key0 email redact']);
    const mcp = run(
      'mcp',
      JSON.stringify({
        jsonrpc: '2.0',
        id: 1,
        result: { structuredContent: { 'ada@example.com': { visits: 3 } } },
      }),
      agent,
      'response',
    );
    expect(mcp.text).not.toContain('ada@example.com');
  });

  it('a prohibited key is named by its position in the error, never by itself', () => {
    const e = refused('strict', '{"account": 1, "ada@example.com": 2}');
    expect(e.code).toBe('prohibited_field');
    expect(e.paths).toEqual(['/~value1']);
    expect(JSON.stringify({ m: e.message, p: e.paths })).not.toContain('ada');
  });

  it('a duplicate key that is a value is hidden in the parse error', () => {
    const e = refused('fn', '{"by": {"ada@example.com": 1, "ada@example.com": 2}}');
    expect(e.code).toBe('duplicate_key');
    expect(e.paths).toEqual(['/by/~hidden']);
    expect(e.message).not.toContain('ada');
    // A plain key still names itself.
    expect(refused('fn', '{"a": 1, "a": 2}').paths).toEqual(['/a']);
  });

  it('a body with no finding in keys or numbers is forwarded byte for byte', () => {
    const body = '{ "visits" : {"monday":3,"tuesday" : 4}, "n": [1, 2.5e-3, -7] }';
    const r = run('fn', body);
    expect(r.changed).toBe(false);
    expect(r.text).toBe(body);
  });
});

describe('key names and short numbers without a hit are remembered per route', () => {
  it('changes no result: the same text under another key, in a later call, is read again', () => {
    // A key "284565351" under "id" is nothing; under "ssn" it is an SSN, in the same body
    // and in later ones, whatever order they come in.
    for (let i = 0; i < 3; i++) {
      const r = run('fn', `{"id": {"${SSN}": 1}, "ssn": {"${SSN}": 2}, "n": {"7": 7}}`);
      expect(r.paths).toEqual(['/ssn/~key0 ssn redact']);
      expect(run('fn', `{"ssn": {"${SSN}": 1}}`).paths).toEqual(['/ssn/~key0 ssn redact']);
      expect(run('fn', `{"ssn": 123456}`).changed).toBe(false);
    }
  });
});

describe('the record of a body: keys and numbers let through in clear', () => {
  const levels = policy.levels;
  it('are redacted for the record where they are, keys kept unique', () => {
    const body = `{"m": {"${CARD}": {"n": ${CARD}}, "4000056655665556": 1}}`;
    const r = inspect(input('fn', body, admin));
    expect(r.changed).toBe(false);
    const rec = auditBody(r.body, r.decision, levels, { maxBytes: 1 << 16, maxDepth: 64 });
    expect(rec.withheld).toBeUndefined();
    expect(rec.text).not.toContain('1111');
    expect(rec.text).not.toContain('5556');
    expect(JSON.parse(rec.text!)).toEqual({
      m: {
        '[REDACTED:confidential:card]#1': { n: '[REDACTED:confidential:card]' },
        '[REDACTED:confidential:card]#2': 1,
      },
    });
  });

  it('locate() resolves positions: a key span, a member by position', () => {
    const text = '{"a": {"k": [1, {"z": 2}]}}';
    const root: JsonNode = parseJson(Buffer.from(text), { maxDepth: 8 });
    const slice = (p: string) => {
      const s = locate(root, p);
      return s && text.slice(s.start, s.end);
    };
    expect(slice('/a/~key0')).toBe('"k"');
    expect(slice('/a/~value0/1/z')).toBe('2');
    expect(slice('/a/k/1/~key0')).toBe('"z"');
    expect(slice('/a/~key0/x')).toBeUndefined();
    expect(slice('/a/~key1')).toBeUndefined();
    expect(slice('/a/k#/x')).toBeUndefined();
  });
});

describe('streamed answers: numbers and keys in events and in tool-call argument deltas', () => {
  function stream(route: string, events: unknown[], principal = agent) {
    const r = policy.routesByName.get(route)!;
    const ins = new StreamInspector({
      policy,
      route: r,
      fn: r.fn,
      principal,
      direction: 'response',
      maxDepth: 64,
      tokenizer,
    });
    let out = '';
    events.forEach((e, i) => {
      const chunk = Buffer.from(`data: ${JSON.stringify(e)}\n\n`);
      out += Buffer.from(ins.push(chunk, i === events.length - 1).body).toString('utf8');
    });
    const datas: Record<string, unknown>[] = [];
    for (const e of new SseSplitter(1 << 20).push(Buffer.from(out))) {
      const d = parseEvent(e.raw).data;
      if (d) datas.push(JSON.parse(d) as Record<string, unknown>);
    }
    return { out, datas, ins };
  }

  const argsEvents = (args: string, size: number) => {
    const events: unknown[] = [];
    for (let i = 0; i < args.length; i += size)
      events.push({
        choices: [
          {
            index: 0,
            delta: { tool_calls: [{ index: 0, function: { arguments: args.slice(i, i + size) } }] },
            finish_reason: null,
          },
        ],
      });
    events.push({ choices: [{ index: 0, delta: {}, finish_reason: 'tool_calls' }] });
    return events;
  };
  const joinedArgs = (datas: Record<string, unknown>[]) =>
    datas
      .map(
        (d) =>
          (d as { choices: { delta: { tool_calls?: { function: { arguments: string } }[] } }[] })
            .choices[0]?.delta.tool_calls?.[0]?.function.arguments ?? '',
      )
      .join('');

  it('an event whole: its numbers and keys are classified like a body', () => {
    const { datas } = stream('chat', [
      {
        choices: [{ index: 0, delta: { content: 'hi' } }],
        meta: { 'ada@example.com': Number(CARD) },
      },
    ]);
    expect(datas[0]!.meta).toEqual({ '[REDACTED:internal:email]': '************1111' });
  });

  it.each([1, 3, 7, 50])(
    'argument deltas split every %i characters stay JSON: bare numbers become strings, keys stay unique',
    (size) => {
      const args = JSON.stringify({
        acct: Number(CARD),
        ssn: Number(SSN),
        by_contact: { 'ada@example.com': { visits: 3 }, 'bob@example.com': 2 },
        note: `card ${CARD}`,
      });
      const { datas, out } = stream('chat', argsEvents(args, size));
      const joined = joinedArgs(datas);
      parseJson(Buffer.from(joined), { maxDepth: 64 });
      expect(JSON.parse(joined)).toEqual({
        acct: '************1111',
        ssn: '[REDACTED:restricted:ssn]',
        by_contact: {
          '[REDACTED:internal:email]': { visits: 3 },
          '[REDACTED:internal:email]#2': 2,
        },
        note: 'card ************1111',
      });
      expect(out).not.toContain('ada@');
      expect(out).not.toContain(SSN);
    },
  );

  it('Anthropic partial_json deltas: a bare number becomes a JSON string', () => {
    const args = JSON.stringify({ acct: Number(CARD) });
    const events: unknown[] = [
      {
        type: 'content_block_start',
        index: 0,
        content_block: { type: 'tool_use', id: 't', name: 'f', input: {} },
      },
      ...[args.slice(0, 10), args.slice(10)].map((p) => ({
        type: 'content_block_delta',
        index: 0,
        delta: { type: 'input_json_delta', partial_json: p },
      })),
      { type: 'content_block_stop', index: 0 },
    ];
    const { datas } = stream('anthropic', events);
    const joined = datas
      .map((d) => (d as { delta?: { partial_json?: string } }).delta?.partial_json ?? '')
      .join('');
    expect(JSON.parse(joined)).toEqual({ acct: '************1111' });
  });
});

describe('detokenize routes restore tokens in keys too', () => {
  it('a key that is a token comes back as its value, unique in its object', () => {
    const token = tokenizer.tokenize('ada@example.com', 'email');
    const r = inspect(input('detok', `{"by": {"${token}": 1, "x": 2}}`));
    // Restored, then read again: the e-mail address in the key is redacted for this route.
    expect(r.decision.trace.some((t) => t.startsWith('detokenized /by/~key0'))).toBe(true);
    expect(r.decision.findings.map((f) => f.path)).toEqual(['/by/~key0']);
  });
});
