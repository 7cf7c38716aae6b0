// Streamed answers (text/event-stream) inspected event by event: values split across events
// are caught, text before them is released at once, and the stream framing survives any
// chunking of the bytes.

import { join } from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { Tokenizer } from '../../src/enforce/tokenize.js';
import { loadPolicy } from '../../src/policy/load.js';
import type { Principal } from '../../src/policy/types.js';
import { parseEvent, SseSplitter } from '../../src/payload/sse.js';
import { StreamInspector } from '../../src/engine/index.js';
import { runs } from '../support/fuzz.js';

const policy = loadPolicy([join(import.meta.dirname, '../../policies')]);
const tokenizer = new Tokenizer([{ id: 'k1', secret: Buffer.alloc(32, 1) }]);
const agent: Principal = { subject: 'u1', groups: ['agents'], authMethod: 'dev-header' };
const CARD = '4242 4242 4242 4242';
const CARD_TOKEN = tokenizer.tokenize(CARD, 'card');

function inspector(route: string) {
  const r = policy.routesByName.get(route)!;
  return new StreamInspector({
    policy,
    route: r,
    fn: r.fn,
    principal: agent,
    direction: 'response',
    maxDepth: 64,
    tokenizer,
  });
}

const chatChunk = (content: string, finish: string | null = null) =>
  `data: ${JSON.stringify({ id: 'chatcmpl-1', object: 'chat.completion.chunk', choices: [{ index: 0, delta: { content }, finish_reason: finish }] })}\n\n`;

/** Content of every chat chunk in an SSE byte stream, joined. */
function chatText(sse: string): string {
  const s = new SseSplitter(1 << 20);
  let out = '';
  for (const e of s.push(Buffer.from(sse))) {
    const { data } = parseEvent(e.raw);
    if (!data || data === '[DONE]') continue;
    const j = JSON.parse(data) as { choices: { delta: { content?: string } }[] };
    out += j.choices[0]?.delta.content ?? '';
  }
  return out;
}

function runAll(
  route: string,
  chunks: string[],
): { out: string; ins: StreamInspector; perChunk: string[] } {
  const ins = inspector(route);
  const perChunk: string[] = [];
  chunks.forEach((c, i) =>
    perChunk.push(
      Buffer.from(ins.push(Buffer.from(c), i === chunks.length - 1).body).toString('utf8'),
    ),
  );
  return { out: perChunk.join(''), ins, perChunk };
}

describe('OpenAI chat.completion.chunk streams', () => {
  const events = [
    chatChunk('Hello! Your card '),
    chatChunk('4242 4242'),
    chatChunk(' 4242 4242 is'),
    chatChunk(' on file.', 'stop'),
    'data: [DONE]\n\n',
  ];

  it('a card number split across events is tokenized; nothing of it leaves in clear', () => {
    const { out, ins } = runAll('openai_chat', events);
    expect(chatText(out)).toBe(`Hello! Your card ${CARD_TOKEN} is on file.`);
    expect(out).not.toMatch(/4242/);
    expect(out.endsWith('data: [DONE]\n\n')).toBe(true);
    expect(ins.decision().findings.map((f) => `${f.detector}:${f.action}`)).toEqual([
      'card:tokenize',
    ]);
  });

  it('text before the value is released at once; the value waits only for its own run', () => {
    const { perChunk } = runAll('openai_chat', events);
    // The first event ends in a space: nothing in it can be the start of a value.
    expect(chatText(perChunk[0]!)).toBe('Hello! Your card ');
    // The digit groups may still grow into a card number: held, with the events after them.
    expect(chatText(perChunk[1]!)).toBe('');
    expect(chatText(perChunk[2]!)).toBe('');
    expect(chatText(perChunk[3]!)).toBe(`${CARD_TOKEN} is on file.`);
  });

  it('the same output whatever the chunking of the bytes (split at every byte)', () => {
    const whole = events.join('');
    const expected = runAll('openai_chat', [whole]).out;
    for (let i = 1; i < whole.length; i++) {
      const { out } = runAll('openai_chat', [whole.slice(0, i), whole.slice(i)]);
      expect(chatText(out)).toBe(chatText(expected));
    }
  });

  it('any partition of the events into chunks gives the same text (fast-check, fixed seed)', () => {
    const whole = events.join('');
    const expected = chatText(runAll('openai_chat', [whole]).out);
    fc.assert(
      fc.property(
        fc.uniqueArray(fc.integer({ min: 1, max: whole.length - 1 }), { maxLength: 8 }),
        (cuts) => {
          const sorted = [...cuts].sort((a, b) => a - b);
          const chunks: string[] = [];
          let at = 0;
          for (const c of sorted) {
            chunks.push(whole.slice(at, c));
            at = c;
          }
          chunks.push(whole.slice(at));
          expect(chatText(runAll('openai_chat', chunks).out)).toBe(expected);
        },
      ),
      { seed: 42, numRuns: runs(200) },
    );
  });

  it('unchanged events keep their exact bytes', () => {
    const plain = [chatChunk('nothing sensitive here'), chatChunk(' at all', 'stop')];
    const { out, ins } = runAll('openai_chat', plain);
    expect(out).toBe(plain.join(''));
    expect(ins.changed).toBe(false);
  });

  it('an e-mail split across events is masked', () => {
    const { out } = runAll('openai_chat', [
      chatChunk('write to ada@exa'),
      chatChunk('mple.com today', 'stop'),
    ]);
    expect(chatText(out)).toBe('write to a**@*******.*** today');
  });
});

describe('Anthropic content_block_delta streams', () => {
  const ev = (type: string, data: object) =>
    `event: ${type}\ndata: ${JSON.stringify({ type, ...data })}\n\n`;
  it('text_delta and input_json_delta fragments are joined per block', () => {
    const stream = [
      ev('message_start', {
        message: { id: 'msg_1', type: 'message', role: 'assistant', content: [] },
      }),
      ev('content_block_start', { index: 0, content_block: { type: 'text', text: '' } }),
      ev('content_block_delta', {
        index: 0,
        delta: { type: 'text_delta', text: 'Card 4242 4242 42' },
      }),
      ev('content_block_delta', {
        index: 0,
        delta: { type: 'text_delta', text: '42 4242 noted.' },
      }),
      ev('content_block_stop', { index: 0 }),
      ev('content_block_start', {
        index: 1,
        content_block: { type: 'tool_use', id: 'toolu_1', name: 'pay_invoice', input: {} },
      }),
      ev('content_block_delta', {
        index: 1,
        delta: { type: 'input_json_delta', partial_json: '{"card_number": "4242 42' },
      }),
      ev('content_block_delta', {
        index: 1,
        delta: { type: 'input_json_delta', partial_json: '42 4242 4242"}' },
      }),
      ev('content_block_stop', { index: 1 }),
      ev('message_stop', {}),
    ];
    const { out } = runAll('anthropic_messages', stream);
    expect(out).not.toMatch(/4242/);
    const s = new SseSplitter(1 << 20);
    const texts: Record<string, string> = {};
    for (const e of s.push(Buffer.from(out))) {
      const d = JSON.parse(parseEvent(e.raw).data!) as {
        type: string;
        index?: number;
        delta?: { text?: string; partial_json?: string };
      };
      if (d.type === 'content_block_delta')
        texts[d.index!] = (texts[d.index!] ?? '') + (d.delta?.text ?? d.delta?.partial_json ?? '');
    }
    expect(texts[0]).toBe(`Card ${CARD_TOKEN} noted.`);
    expect(JSON.parse(texts[1]!)).toEqual({ card_number: CARD_TOKEN });
    expect(out).toContain('event: content_block_delta\n');
  });
});

describe('stopping a stream', () => {
  it('an event larger than the limit stops the stream with an error event, nothing more', () => {
    const r = policy.routesByName.get('openai_chat')!;
    const ins = new StreamInspector(
      {
        policy,
        route: r,
        fn: undefined,
        principal: agent,
        direction: 'response',
        maxDepth: 64,
        tokenizer,
        sessionId: 'sess-1',
      },
      { maxEventBytes: 100, maxHoldChars: 256, maxPemHoldChars: 1000 },
    );
    const first = ins.push(Buffer.from(`data: ${'x'.repeat(200)}`), false);
    expect(first.stopped).toBe(true);
    const event = Buffer.from(first.body).toString();
    expect(event).toMatch(/^event: error\ndata: \{"error":\{"code":"body_too_large"/);
    // The same error body as every refusal: it names the session.
    expect(JSON.parse(event.replace(/^event: error\ndata: /, ''))).toMatchObject({
      error: { code: 'body_too_large', rule: 'limits.max_body_bytes', session_id: 'sess-1' },
    });
    expect(ins.push(Buffer.from(chatChunk('more')), true).body.length).toBe(0);
  });
});
