// Every bad input of the design, through the real Envoy: the right status and error code,
// a JSON error body that names no value, and nothing forwarded to the upstream.

import { gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { framing, http, postJson, startStack } from './stack.js';
import type { Stack } from './stack.js';

let stack: Stack;
const agents = { 'x-callguard-dev-groups': 'agents' };
const CANARY = '4000 0566 5566 5556';
const url = () => `${stack.url}/functions/charge_card`;

beforeAll(async () => {
  stack = await startStack();
});
afterAll(async () => {
  await stack?.stop();
});

const valid = `{"amount":1,"currency":"EUR","card":{"number":"${CANARY}"}}`;
/** A body whose deepest value sits at depth n + 1 (the top-level object is depth 1). */
const deep = (n: number) =>
  `{"amount":1,"currency":"EUR","card":{"number":"${CANARY}"},"metadata":${'{"x":'.repeat(n)}1${'}'.repeat(n)}}`;

interface Case {
  name: string;
  body: Buffer | string;
  headers?: Record<string, string>;
  status: number;
  code: string | null;
}

const cases: Case[] = [
  // No body at all: a function with a request contract gets nothing it can check.
  { name: 'empty body', body: '', status: 400, code: 'malformed_json' },
  {
    name: 'empty body, chunked',
    body: Buffer.alloc(0),
    headers: { 'transfer-encoding': 'chunked' },
    status: 400,
    code: 'malformed_json',
  },
  {
    name: 'malformed JSON',
    body: `{"amount":1,"card":{"number":"${CANARY}"}`,
    status: 400,
    code: 'malformed_json',
  },
  {
    name: 'trailing comma',
    body: `{"amount":1,"card":{"number":"${CANARY}",}}`,
    status: 400,
    code: 'malformed_json',
  },
  {
    name: 'invalid UTF-8',
    body: Buffer.concat([
      Buffer.from(`{"amount":1,"card":{"number":"${CANARY}","holder":"`),
      Buffer.from([0xc3, 0x28]),
      Buffer.from('"}}'),
    ]),
    status: 400,
    code: 'invalid_utf8',
  },
  {
    name: 'duplicate key (the second value would slip past a first-wins parser)',
    body: `{"amount":1,"currency":"EUR","card":{"number":"1111","number":"${CANARY}"}}`,
    status: 400,
    code: 'duplicate_key',
  },
  {
    name: 'duplicate key spelled with an escape',
    body: `{"amount":1,"currency":"EUR","card":{"number":"${CANARY}","\\u006eumber":"1"}}`,
    status: 400,
    code: 'duplicate_key',
  },
  {
    name: 'nesting deeper than limits.max_depth (64)',
    body: deep(64),
    status: 400,
    code: 'too_deep',
  },
  {
    name: 'wrong content-type',
    body: valid,
    headers: { 'content-type': 'text/plain' },
    status: 415,
    code: 'unsupported_media_type',
  },
  {
    name: 'missing content-type',
    body: valid,
    headers: { 'content-type': '' },
    status: 415,
    code: 'unsupported_media_type',
  },
  {
    name: 'JSON in a charset other than UTF-8',
    body: valid,
    headers: { 'content-type': 'application/json; charset=latin1' },
    status: 415,
    code: 'unsupported_media_type',
  },
  {
    name: 'unknown content-encoding',
    body: valid,
    headers: { 'content-encoding': 'zstd' },
    status: 415,
    code: 'unsupported_encoding',
  },
  {
    name: 'gzip that is not gzip',
    body: valid,
    headers: { 'content-encoding': 'gzip' },
    status: 415,
    code: 'unsupported_encoding',
  },
  {
    name: 'gzip bomb: decoded size over the limit',
    body: gzipSync(Buffer.alloc(4 * 1024 * 1024, 0x20)),
    headers: { 'content-encoding': 'gzip' },
    status: 413,
    code: 'body_too_large',
  },
];

describe('bad input on a protected route', () => {
  it.each(cases)('$name → $status $code', async (c) => {
    const before = stack.upstream.received.length;
    const headers: Record<string, string> = {
      ...agents,
      'content-type': 'application/json',
      ...c.headers,
    };
    if (headers['content-type'] === '') delete headers['content-type'];
    const r = await http(url(), { method: 'POST', headers, body: c.body });
    expect(r.status).toBe(c.status);
    expect(r.headers['content-type']).toBe('application/json');
    const e = r.json<{ error: { code: string; session_id: string; message: string } }>().error;
    expect(e.code).toBe(c.code);
    expect(e.session_id).toBe(r.headers['x-callguard-session']);
    expect(r.text).not.toContain(CANARY);
    expect(stack.upstream.received.length).toBe(before);
  });

  it('accepts nesting exactly at the limit', async () => {
    const r = await postJson(url(), deep(63), agents);
    expect(r.status).toBe(200);
  });

  it('a declared content-length over the limit gets 413, and nothing is forwarded', async () => {
    const before = stack.upstream.received.length;
    const r = await postJson(
      url(),
      `{"card":{"number":"${CANARY}"},"pad":"${'x'.repeat(1024 * 1024)}"}`,
      agents,
    );
    // Envoy refuses it from the content-length alone, before it buffers anything.
    expect(r.status).toBe(413);
    expect(r.text).not.toContain(CANARY);
    expect(stack.upstream.received.length).toBe(before);
  });

  it('a chunked body over Envoy’s buffer limit gets Envoy’s own 413, and nothing is forwarded', async () => {
    const before = stack.upstream.received.length;
    const big = Buffer.from(`{"amount":1,"pad":"${'x'.repeat(2 * 1024 * 1024)}"}`);
    // No content-length: Envoy buffers for callguard until its limit, then refuses.
    const r = await http(url(), {
      method: 'POST',
      headers: { ...agents, 'content-type': 'application/json', 'transfer-encoding': 'chunked' },
      body: big,
    });
    expect(r.status).toBe(413);
    expect(stack.upstream.received.length).toBe(before);
  });

  it('decodes a gzip body, masks it, and forwards it decoded with the right length', async () => {
    const body = `{"amount":1,"currency":"EUR","card":{"number":"${CANARY}"}}`;
    const r = await http(url(), {
      method: 'POST',
      headers: { ...agents, 'content-type': 'application/json', 'content-encoding': 'gzip' },
      body: gzipSync(body),
    });
    expect(r.status).toBe(200);
    const got = stack.upstream.received.at(-1);
    const expected = body.replace(CANARY, '**** **** **** 5556');
    expect(got?.body.toString()).toBe(expected);
    expect(got?.headers['content-encoding']).toBeUndefined();
    expect(['length', 'chunked']).toContain(framing(got!.headers, expected.length));
  });

  it('forwards a gzip body with nothing to mask untouched, still compressed', async () => {
    const body = '{"amount":1,"currency":"EUR","card":{"number":""}}';
    const gz = gzipSync(body);
    const r = await http(url(), {
      method: 'POST',
      headers: { ...agents, 'content-type': 'application/json', 'content-encoding': 'gzip' },
      body: gz,
    });
    expect(r.status).toBe(200);
    const got = stack.upstream.received.at(-1);
    expect(got?.headers['content-encoding']).toBe('gzip');
    expect(got?.body.equals(gz)).toBe(true);
  });

  it('the canary appears in no log line of callguard or Envoy', () => {
    expect(stack.callguardOutput()).toContain('"msg":"session"'); // the logs are there
    expect(stack.callguardOutput()).not.toContain(CANARY);
    expect(stack.callguardOutput()).not.toContain(CANARY.replace(/ /g, ''));
    expect(stack.envoyOutput()).not.toContain(CANARY);
  });
});
