// The bad-input campaign through the real Envoy: a seeded sample of truncations and byte
// flips, invalid UTF-8, lone surrogates, escaped duplicate keys, 10,000-deep nesting, 100 MB
// bodies (declared and chunked), gzip bombs, content-type lies, broken tool-call arguments.
// Each case: the right status, nothing unmasked forwarded on the protected route; after the
// campaign callguard is healthy, a good call still works, and its RSS stayed bounded.
// test/integration/bad-input.test.ts holds the one-of-each cases; this file is the campaign.

import { request } from 'node:http';
import { gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  http,
  logLines,
  postJson,
  sessionRecord,
  startStack,
  rssBytes,
} from '../integration/stack.js';
import type { LoggedSession, Stack } from '../integration/stack.js';
import { prng } from '../support/fuzz.js';

const LONG = process.env.CALLGUARD_LONG === '1';
const CARD = '4000 0566 5566 5556';
const CARD_DIGITS = CARD.replace(/ /g, '');
const AGENTS = { 'x-callguard-dev-groups': 'agents' };
/** Generous: callguard idles at ~100–180 MB; the campaign must not leave it much above. */
const RSS_BOUND = 512 * 1024 * 1024;

let stack: Stack;
const url = () => `${stack.url}/functions/charge_card`;

beforeAll(async () => {
  stack = await startStack({ config: { log: { level: 'info' } } });
});
afterAll(async () => {
  await stack?.stop();
});

/** Nothing the upstream ever received holds the card in clear. */
function expectNothingUnmaskedForwarded(): void {
  for (const r of stack.upstream.received) {
    const t = r.body.toString('latin1');
    expect(t).not.toContain(CARD);
    expect(t).not.toContain(CARD_DIGITS);
  }
}

async function post(body: Buffer | string, headers: Record<string, string> = {}) {
  const before = stack.upstream.received.length;
  const r = await http(url(), {
    method: 'POST',
    headers: { ...AGENTS, 'content-type': 'application/json', ...headers },
    body,
  });
  expect(r.text).not.toContain(CARD);
  return { ...r, forwarded: stack.upstream.received.length - before };
}

/** Ids of the sessions callguard has recorded so far. */
function sessionIds(): string[] {
  return logLines(stack.callguardOutput())
    .filter((l) => l.msg === 'session')
    .map((l) => (l.session as LoggedSession).session_id);
}

const VALID = Buffer.from(
  `{"amount":12.5,"currency":"EUR","card":{"number":"${CARD}","holder":"Ada"},"customer":{"email":"ada@example.com"},"metadata":{"note":"card ${CARD} again"}}`,
);

describe('malformed payloads through Envoy (seeded sample)', () => {
  const rnd = prng(8);
  const n = LONG ? VALID.length : 16;
  // From 1: an empty body is not inspected (a request without a body goes on as it is, as a
  // header-only GET does), so prefix 0 is forwarded; see docs/resilience.md.
  const positions = LONG
    ? Array.from({ length: VALID.length - 1 }, (_, i) => i + 1)
    : Array.from({ length: n }, () => 1 + Math.floor(rnd() * (VALID.length - 1)));

  it('the valid payload is forwarded masked', async () => {
    const r = await post(VALID);
    expect(r.status).toBe(200);
    expect(r.forwarded).toBe(1);
    expectNothingUnmaskedForwarded();
  });

  it(`truncations at ${positions.length} positions → 400, nothing forwarded`, async () => {
    for (const i of positions) {
      const r = await post(VALID.subarray(0, i));
      expect(r.status, `prefix ${i}`).toBe(400);
      expect(r.forwarded).toBe(0);
    }
  });

  it(`byte flips at ${positions.length} positions → refused, or forwarded masked`, async () => {
    const glued = new Set<number>();
    for (let k = VALID.indexOf(CARD); k >= 0; k = VALID.indexOf(CARD, k + 1))
      glued.add(k - 1).add(k + CARD.length);
    for (const i of positions.filter((p) => !glued.has(p))) {
      const mutated = Buffer.from(VALID);
      mutated[i] = Math.floor(rnd() * 256);
      const r = await post(mutated);
      if (r.status === 200) expect(r.forwarded).toBe(1);
      else {
        expect([400, 403], `flip at ${i}`).toContain(r.status);
        expect(r.forwarded).toBe(0);
      }
    }
    expectNothingUnmaskedForwarded();
  });
});

const withHolder = (raw: Buffer | string) =>
  Buffer.concat([
    Buffer.from(`{"amount":1,"currency":"EUR","card":{"number":"${CARD}","holder":"`),
    Buffer.from(raw),
    Buffer.from('"}}'),
  ]);

interface Case {
  name: string;
  body: Buffer | string;
  headers?: Record<string, string>;
  status: number;
  code: string;
}

const cases: Case[] = [
  {
    name: 'overlong "/"',
    body: withHolder(Buffer.from([0xc0, 0xaf])),
    status: 400,
    code: 'invalid_utf8',
  },
  {
    name: 'UTF-8 encoded surrogate',
    body: withHolder(Buffer.from([0xed, 0xa0, 0x80])),
    status: 400,
    code: 'invalid_utf8',
  },
  {
    name: 'above U+10FFFF',
    body: withHolder(Buffer.from([0xf4, 0x90, 0x80, 0x80])),
    status: 400,
    code: 'invalid_utf8',
  },
  {
    name: 'lone surrogate escape',
    body: withHolder('\\ud800'),
    status: 400,
    code: 'malformed_json',
  },
  {
    name: '"ssn" and "\\u0073sn"',
    body: `{"amount":1,"currency":"EUR","card":{"number":"${CARD}"},"customer":{"ssn":"078-05-1120","\\u0073sn":"1"}}`,
    status: 400,
    code: 'duplicate_key',
  },
  {
    name: '10,000-deep nesting',
    body: `{"amount":1,"currency":"EUR","card":{"number":"${CARD}"},"metadata":{"x":${'['.repeat(10_000)}${']'.repeat(10_000)}}}`,
    status: 400,
    code: 'too_deep',
  },
  {
    name: 'gzip bomb: 100 MB of zeros in ~100 KB',
    body: gzipSync(Buffer.alloc(100 * 1024 * 1024)),
    headers: { 'content-encoding': 'gzip' },
    status: 413,
    code: 'body_too_large',
  },
  {
    name: 'gzip in gzip',
    body: gzipSync(gzipSync(VALID)),
    headers: { 'content-encoding': 'gzip, gzip' },
    status: 415,
    code: 'unsupported_encoding',
  },
  {
    name: 'content-type lie: gzip bytes sent as plain application/json',
    body: gzipSync(VALID),
    status: 400,
    code: 'invalid_utf8',
  },
  {
    name: 'content-type lie: a form body sent as application/json',
    body: `amount=1&card=${encodeURIComponent(CARD)}`,
    status: 400,
    code: 'malformed_json',
  },
  {
    name: 'content-type lie: JSON sent as multipart/form-data',
    body: VALID,
    headers: { 'content-type': 'multipart/form-data; boundary=x' },
    status: 415,
    code: 'unsupported_media_type',
  },
  {
    name: 'UTF-16 JSON declared as such',
    body: Buffer.from(VALID.toString('utf8'), 'utf16le'),
    headers: { 'content-type': 'application/json; charset=utf-16' },
    status: 415,
    code: 'unsupported_media_type',
  },
  {
    name: 'UTF-16 JSON declared as UTF-8',
    body: Buffer.from(VALID.toString('utf8'), 'utf16le'),
    status: 400,
    code: 'malformed_json',
  },
];

describe('bad input cases through Envoy', () => {
  it.each(cases)('$name → $status $code, nothing forwarded', async (c) => {
    const r = await post(c.body, c.headers);
    expect(r.status).toBe(c.status);
    expect(r.json<{ error: { code: string } }>().error.code).toBe(c.code);
    expect(r.forwarded).toBe(0);
  });

  it('a 900 KB string within the limit is scanned: the card at its end is masked', async () => {
    const body = `{"amount":1,"currency":"EUR","card":{"number":"${CARD}"},"metadata":{"note":"${'lorem ipsum '.repeat(75_000)}card ${CARD}"}}`;
    const r = await post(body);
    expect(r.status).toBe(200);
    expect(r.forwarded).toBe(1);
    expectNothingUnmaskedForwarded();
  });

  it('tool-call arguments that are not JSON, for a function with a contract → 400, nothing forwarded', async () => {
    const before = stack.upstream.received.length;
    const body = JSON.stringify({
      model: 'gpt-4o',
      messages: [
        {
          role: 'assistant',
          tool_calls: [
            {
              id: 'c1',
              type: 'function',
              function: { name: 'pay_invoice', arguments: `{"card_number":"${CARD}"` },
            },
          ],
        },
      ],
    });
    const r = await postJson(`${stack.url}/v1/chat/completions`, body, AGENTS);
    expect(r.status).toBe(400);
    expect(r.json<{ error: { code: string } }>().error.code).toBe('contract_violation');
    expect(r.text).not.toContain(CARD);
    expect(stack.upstream.received.length).toBe(before);
  });

  it('JSON in JSON in JSON in tool-call arguments: forwarded with the card tokenized at the innermost level', async () => {
    const before = stack.upstream.received.length;
    const inner = JSON.stringify({
      payload: JSON.stringify({ payload: JSON.stringify({ card: CARD }) }),
    });
    const body = JSON.stringify({
      model: 'gpt-4o',
      messages: [
        {
          role: 'assistant',
          tool_calls: [
            { id: 'c1', type: 'function', function: { name: 'lookup', arguments: inner } },
          ],
        },
      ],
    });
    const r = await postJson(`${stack.url}/v1/chat/completions`, body, AGENTS);
    expect(r.status).toBe(200);
    expect(stack.upstream.received.length).toBe(before + 1);
    const got = stack.upstream.received.at(-1)!.body.toString();
    expect(got).toContain('tok_card_');
    expectNothingUnmaskedForwarded();
  });
});

/**
 * Streams `total` bytes of a JSON-looking body to the protected route, declared or chunked,
 * until Envoy answers or drops the connection. Returns the status (0: dropped, no answer).
 */
function sendHuge(
  total: number,
  chunked: boolean,
): Promise<{ status: number; sent: number; body: string }> {
  return new Promise((resolve) => {
    let sent = 0;
    let done = false;
    const finish = (status: number, body = '') => {
      if (done) return;
      done = true;
      req.destroy();
      resolve({ status, sent, body });
    };
    const headers: Record<string, string> = { ...AGENTS, 'content-type': 'application/json' };
    if (chunked) headers['transfer-encoding'] = 'chunked';
    else headers['content-length'] = String(total);
    const req = request(url(), { method: 'POST', headers }, (res) => {
      let body = '';
      res.on('data', (d: Buffer) => (body += d.toString()));
      res.on('end', () => finish(res.statusCode ?? 0, body));
      res.on('error', () => finish(res.statusCode ?? 0, body));
    });
    req.on('error', () => finish(0));
    const piece = Buffer.alloc(64 * 1024, 0x20);
    piece.write(`{"card":{"number":"${CARD}"},"pad":"`);
    const pump = () => {
      while (!done && sent < total) {
        sent += piece.length;
        if (!req.write(piece)) return void req.once('drain', pump);
      }
      if (!done) req.end();
    };
    pump();
  });
}

describe('100 MB bodies', () => {
  it.each([
    ['declared (content-length)', false],
    ['chunked', true],
  ] as const)(
    '%s: refused with 413 before most of it is sent; nothing forwarded',
    async (_n, chunked) => {
      const before = stack.upstream.received.length;
      const r = await sendHuge(100 * 1024 * 1024, chunked);
      expect(r.status).toBe(413);
      // callguard's refusal (on a streamed route it counts the chunks itself), not Envoy's.
      expect(JSON.parse(r.body)).toMatchObject({ error: { code: 'body_too_large' } });
      expect(r.sent).toBeLessThan(100 * 1024 * 1024);
      expect(stack.upstream.received.length).toBe(before);
    },
  );
});

describe('after the campaign', () => {
  it('callguard is healthy, a good call still works, nothing unmasked was forwarded, RSS bounded', async () => {
    expect((await http(`${stack.callguardAdmin}/healthz`)).status).toBe(200);
    const r = await post(VALID);
    expect(r.status).toBe(200);
    expect(r.forwarded).toBe(1);
    expect(stack.upstream.received.at(-1)!.body.toString()).toContain('**** **** **** 5556');
    expectNothingUnmaskedForwarded();
    expect(rssBytes(stack.callguardPid())).toBeLessThan(RSS_BOUND);
    expect(stack.callguardOutput()).not.toContain(CARD);
    expect(stack.callguardOutput()).not.toContain(CARD_DIGITS);
  });

  it('the session records agree with the upstream: a call recorded as allowed or modified was forwarded', async () => {
    const forwarded = () =>
      stack.upstream.received.filter((r) => r.path === '/functions/charge_card').length;
    const recorded = () => {
      const outcomes = new Map<string, number>();
      for (const l of logLines(stack.callguardOutput())) {
        const s = l.session as LoggedSession | undefined;
        if (l.msg !== 'session' || s?.path !== '/functions/charge_card') continue;
        outcomes.set(s.outcome, (outcomes.get(s.outcome) ?? 0) + 1);
      }
      return outcomes;
    };
    // Records land at stream end: give the last ones a moment.
    const until = Date.now() + 3_000;
    const passed = (o: Map<string, number>) => (o.get('allowed') ?? 0) + (o.get('modified') ?? 0);
    while (passed(recorded()) !== forwarded() && Date.now() < until)
      await new Promise((r) => setTimeout(r, 50));
    const outcomes = recorded();
    expect(passed(outcomes)).toBe(forwarded());
  });

  it('a request its client abandons before the body is recorded as aborted, not allowed', async () => {
    const before = stack.upstream.received.length;
    const id = await new Promise<string>((resolve) => {
      const req = request(url(), {
        method: 'POST',
        headers: { ...AGENTS, 'content-type': 'application/json', 'transfer-encoding': 'chunked' },
      });
      req.on('error', () => undefined);
      req.write(`{"card":{"number":"${CARD}"`);
      // Cut after 300 ms; the session is recorded when its stream ends, then.
      const seen = new Set(sessionIds());
      const poll = setInterval(() => {
        const fresh = sessionIds().find((s) => !seen.has(s));
        if (fresh !== undefined || Date.now() > deadline) {
          clearInterval(poll);
          resolve(fresh ?? '');
        }
      }, 20);
      const deadline = Date.now() + 5_000;
      setTimeout(() => req.destroy(), 300);
    });
    expect(id).not.toBe('');
    const record = await sessionRecord(stack, id);
    expect(record.outcome).toBe('aborted');
    expect(stack.upstream.received.length).toBe(before);
  });
});
