// The Exchange in process, without Envoy: ProcessingRequest objects played in the order Envoy
// sends them, a real policy, the dev-header identity and a sink that keeps the records. What
// each answer does and what the session record keeps, for whole bodies and streamed answers.

import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { Fingerprinter } from '../../src/audit/fingerprint.js';
import type { SessionRecord } from '../../src/audit/record.js';
import { loadConfig } from '../../src/config/config.js';
import { Exchange } from '../../src/extproc/exchange.js';
import type { ExchangeDeps } from '../../src/extproc/exchange.js';
import type { ProcessingRequest, ProcessingResponse } from '../../src/extproc/protos.js';
import { Identifier } from '../../src/identity/identify.js';
import { createLogger } from '../../src/log.js';
import { loadPolicy } from '../../src/policy/load.js';
import { channelsPolicyDir } from '../support/channels.js';
import { containing } from '../support/matchers.js';

const CARD = '4242 4242 4242 4242';
const IBAN = 'DE89 3704 0044 0532 0130 00';
const EMAIL = 'ada@example.com';

/** A chat route: cards masked, IBANs blocked, e-mail addresses held for managers. */
export function chatPolicy() {
  const dir = mkdtempSync(join(tmpdir(), 'cg-exchange-'));
  writeFileSync(
    join(dir, 'policy.yaml'),
    `routes:
  - name: chat
    match: { path: /v1/chat/completions, methods: [POST] }
    format: openai-chat
    access: { require_groups: [agents] }
  - name: public
    match: { path_prefix: /public/ }
    public: true
rules:
  - name: card-masked
    match: { detectors: [card] }
    action: { type: mask, keep_last: 4 }
  - name: iban-blocked
    match: { detectors: [iban] }
    action: block
  - name: email-held
    match: { detectors: [email] }
    action: { type: hold, approvers: [managers], wait: 0s }
`,
  );
  return loadPolicy([dir]);
}

const config = loadConfig('/nonexistent/callguard.yaml', [], { optional: true });
config.dev.groups_header = 'x-dev-groups';
const fingerprinter = new Fingerprinter([{ id: 'k1', secret: Buffer.alloc(32, 7) }], 'k1');

export function harness(policy = chatPolicy(), deps: Partial<ExchangeDeps> = {}) {
  const records: SessionRecord[] = [];
  let t = Date.parse('2026-11-28T10:00:00Z');
  const ex = new Exchange({
    policy: () => policy,
    config,
    log: createLogger('silent'),
    sink: { submit: (r) => records.push(r) },
    identifier: new Identifier(config.identity, config.dev.groups_header),
    fingerprint: (v) => fingerprinter.of(v),
    now: () => (t += 5),
    newId: () => 'sess-1',
    ...deps,
  });
  return { ex, records };
}

export function headers(
  h: Record<string, string>,
  endOfStream = false,
): NonNullable<ProcessingRequest['request_headers']> {
  return {
    headers: {
      headers: Object.entries(h).map(([key, v]) => ({ key, raw_value: Buffer.from(v) })),
    },
    end_of_stream: endOfStream,
  };
}

export const CHAT = headers({
  ':method': 'POST',
  ':path': '/v1/chat/completions',
  ':authority': 'api.example',
  'content-type': 'application/json',
  'x-dev-groups': 'agents',
  'x-dev-groups-user': 'ada',
});

const SSE = headers({ ':status': '200', 'content-type': 'text/event-stream' });

export const body = (s: string, endOfStream = true) => ({
  body: Buffer.from(s),
  end_of_stream: endOfStream,
});

const chunk = (content: string, extra: Record<string, unknown> = {}) =>
  `data: ${JSON.stringify({ id: 'c1', object: 'chat.completion.chunk', ...extra, choices: [{ index: 0, delta: { content }, finish_reason: null }] })}\n\n`;

/** The bytes a streamed body answer forwards: the replacement, or the chunk as it came. */
function forwarded(a: ProcessingResponse, original: string): string {
  const m = a.response_body?.response?.body_mutation;
  if (!m) return original;
  return m.clear_body ? '' : Buffer.from(m.body ?? []).toString('utf8');
}

/** The content of every chat chunk of an SSE text, joined. */
function chatText(sse: string): string {
  let text = '';
  for (const m of sse.matchAll(/^data: (\{.*)$/gm)) {
    const j = JSON.parse(m[1]!) as { choices?: { delta?: { content?: string } }[] };
    text += j.choices?.[0]?.delta?.content ?? '';
  }
  return text;
}

/** Request headers and body, then an SSE answer in `chunks`; the record at the end. */
async function streamed(chunks: string[], policy = chatPolicy()) {
  const { ex, records } = harness(policy);
  await ex.handle({ request_headers: CHAT });
  await ex.handle({
    request_body: body('{"model":"m","messages":[{"role":"user","content":"hi"}]}'),
  });
  const h = await ex.handle({ response_headers: SSE });
  let out = '';
  for (const [i, c] of chunks.entries()) {
    const a = await ex.handle({ response_body: body(c, i === chunks.length - 1) });
    out += forwarded(a, c);
  }
  ex.finish(false);
  return { headersAnswer: h, out, record: records[0]! };
}

describe('a streamed answer', () => {
  it('is inspected event by event; its findings keep their fingerprints for search by value', async () => {
    const { headersAnswer, out, record } = await streamed([
      chunk('Your card 4242 4242'),
      chunk(' 4242 4242 is on file.'),
      'data: [DONE]\n\n',
    ]);
    expect(headersAnswer.mode_override?.response_body_mode).toBe('STREAMED');
    expect(out).not.toContain('4242 4242');
    expect(chatText(out)).toBe('Your card **** **** **** 4242 is on file.');
    expect(record.outcome).toBe('modified');
    expect(record.response?.findings).toEqual([
      expect.objectContaining({
        detector: 'card',
        action: 'mask',
        fingerprint: fingerprinter.of(CARD),
      }),
    ]);
  });

  // A value the policy blocks stops the stream wherever it is: in an event's own fields, in
  // the deltas (joined across events), or in data that is not JSON. Each time the findings
  // that stopped it are in the record, with their fingerprints, and the status is the one
  // of a refused response (502).
  const places: [string, string[]][] = [
    ['an event field', [chunk('hello', { note: `pay to ${IBAN}` })]],
    ['the deltas', [chunk(`pay to ${IBAN.slice(0, 9)}`), chunk(`${IBAN.slice(9)} now`)]],
    ['non-JSON data', [`data: pay to ${IBAN} now\n\n`]],
  ];
  for (const [place, chunks] of places) {
    it(`a blocked value in ${place} stops it: findings kept, status 502`, async () => {
      const { out, record } = await streamed([...chunks, chunk(' more'), 'data: [DONE]\n\n']);
      expect(out).not.toContain(IBAN);
      expect(out).toMatch(/event: error\ndata: \{"error":\{"code":"blocked"/);
      expect(record.outcome).toBe('denied');
      expect(record.error).toMatchObject({ code: 'blocked', status: 502, rule: 'iban-blocked' });
      expect(record.response?.action).toBe('block');
      expect(record.response?.findings).toContainEqual(
        expect.objectContaining({
          detector: 'iban',
          action: 'block',
          fingerprint: fingerprinter.of(IBAN),
        }),
      );
    });
  }

  it('a held value stops it (a stream cannot wait): findings kept, status 502', async () => {
    const { out, record } = await streamed([
      chunk(`write to ${EMAIL} please`),
      chunk(' thanks'),
      'data: [DONE]\n\n',
    ]);
    expect(out).not.toContain(EMAIL);
    const event = /event: error\ndata: (.*)\n/.exec(out);
    expect(JSON.parse(event![1]!)).toMatchObject({
      error: { code: 'blocked', rule: 'email-held', session_id: 'sess-1' },
    });
    expect(record.error).toMatchObject({ code: 'blocked', status: 502 });
    expect(record.response?.findings).toContainEqual(
      expect.objectContaining({
        detector: 'email',
        action: 'hold',
        fingerprint: fingerprinter.of(EMAIL),
      }),
    );
  });
});

/** The JSON error of an immediate response, and its status and headers. */
function refusalOf(a: ProcessingResponse) {
  const r = a.immediate_response!;
  const headers = Object.fromEntries(
    (r.headers?.set_headers ?? []).map((h) => [
      String(h.header?.key),
      Buffer.from(h.header?.raw_value ?? []).toString(),
    ]),
  );
  const json = JSON.parse(Buffer.from(r.body ?? []).toString()) as {
    error: Record<string, unknown>;
  };
  return { status: r.status?.code, headers, error: json.error };
}

describe('a whole body', () => {
  it('is masked and forwarded with its length; the record keeps every fact of the exchange', async () => {
    const { ex, records } = harness();
    const h = headers({
      ':method': 'POST',
      ':path': '/v1/chat/completions?stream=false',
      ':authority': 'api.example',
      'x-request-id': 'trace-1',
      'content-type': 'application/json',
      'x-dev-groups': 'agents',
      'x-dev-groups-user': 'ada',
    });
    const sent = `{"model":"m","messages":[{"role":"user","content":"card ${CARD} ok"}]}`;
    const first = await ex.handle({ request_headers: h });
    expect(first.request_headers?.response?.header_mutation?.remove_headers).toContain(
      'x-callguard-approval',
    );
    const a = await ex.handle({ request_body: body(sent) });
    const out = Buffer.from(a.request_body!.response!.body_mutation!.body!).toString();
    expect(out).toBe(sent.replace(CARD, '**** **** **** 4242'));
    expect(a.request_body?.response?.header_mutation?.set_headers).toEqual([
      expect.objectContaining({
        header: { key: 'content-length', raw_value: Buffer.from(String(out.length)) },
      }),
    ]);
    await ex.handle({
      response_headers: headers({ ':status': '200', 'content-type': 'application/json' }),
    });
    await ex.handle({ response_body: body('{"choices":[]}') });
    expect(ex.complete).toBe(true);
    ex.finish(false);
    expect(ex.finish(false)).toBeUndefined(); // once
    expect(records).toHaveLength(1);
    const r = records[0]!;
    expect(r).toMatchObject({
      session_id: 'sess-1',
      started_at: '2026-11-28T10:00:00.005Z',
      method: 'POST',
      path: '/v1/chat/completions',
      authority: 'api.example',
      request_id: 'trace-1',
      route: 'chat',
      route_via: 'path',
      format: 'openai-chat',
      principal: { subject: 'ada', groups: ['agents'], authMethod: 'dev-header' },
      outcome: 'modified',
      upstream_status: 200,
      max_level: 'confidential',
      request: {
        action: 'mask',
        trace: containing(['caller ada via dev-header, groups [agents]']),
      },
      response: { action: 'allow', findings: [] },
      request_body: { text: out, bytes: out.length, truncated: false },
      response_body: { text: '{"choices":[]}' },
    });
    expect(r.duration_ms).toBeGreaterThan(0);
    expect(r.request?.findings[0]).toMatchObject({
      path: '/messages/0/content',
      detector: 'card',
      fingerprint: fingerprinter.of(CARD),
    });
    expect(JSON.stringify(r)).not.toContain(CARD);
  });

  it('a blocked value is refused with its path and rule; the record keeps the findings', async () => {
    const { ex, records } = harness();
    await ex.handle({ request_headers: CHAT });
    const a = await ex.handle({
      request_body: body(`{"messages":[{"role":"user","content":"to ${IBAN}"}]}`),
    });
    const r = refusalOf(a);
    expect(r.status).toBe(403);
    expect(r.headers).toEqual({
      'content-type': 'application/json',
      'x-callguard-session': 'sess-1',
    });
    expect(r.error).toEqual({
      code: 'blocked',
      message: 'request carries values the policy blocks',
      paths: ['/messages/0/content'],
      rule: 'iban-blocked',
      session_id: 'sess-1',
    });
    expect(ex.complete).toBe(true);
    ex.finish(false);
    expect(records[0]).toMatchObject({
      outcome: 'denied',
      error: { code: 'blocked', status: 403, paths: ['/messages/0/content'] },
      request: { action: 'block' },
    });
    expect(records[0]!.request?.findings[0]?.fingerprint).toBe(fingerprinter.of(IBAN));
  });

  it('a held call with no approval store is refused 503, naming the held paths', async () => {
    const { ex, records } = harness();
    await ex.handle({ request_headers: CHAT });
    const interims: ProcessingResponse[] = [];
    const a = await ex.handle(
      { request_body: body(`{"messages":[{"role":"user","content":"mail ${EMAIL}"}]}`) },
      (i) => interims.push(i),
    );
    expect(refusalOf(a)).toMatchObject({
      status: 503,
      error: { code: 'approval_unavailable', paths: ['/messages/0/content'], rule: 'email-held' },
    });
    expect(interims).toEqual([]);
    ex.finish(false);
    expect(records[0]).toMatchObject({ outcome: 'denied', request: { action: 'hold' } });
  });

  it('a retry naming a malformed approval id is refused at its headers', async () => {
    const { ex } = harness();
    const h = headers({
      ':method': 'POST',
      ':path': '/v1/chat/completions',
      'content-type': 'application/json',
      'x-dev-groups': 'agents',
      'x-callguard-approval': 'apr_1/../x',
    });
    expect(refusalOf(await ex.handle({ request_headers: h }))).toMatchObject({
      status: 403,
      error: { code: 'approval_unknown', rule: 'approvals' },
    });
  });

  it('a response the policy holds is refused 502 (it cannot wait); its findings are kept', async () => {
    const { ex, records } = harness();
    await ex.handle({ request_headers: CHAT });
    await ex.handle({ request_body: body('{"messages":[]}') });
    await ex.handle({
      response_headers: headers({ ':status': '200', 'content-type': 'application/json' }),
    });
    const a = await ex.handle({
      response_body: body(`{"choices":[{"message":{"content":"mail ${EMAIL}"}}]}`),
    });
    expect(refusalOf(a)).toMatchObject({ status: 502, error: { code: 'blocked', rule: 'hold' } });
    ex.finish(false);
    expect(records[0]?.response?.findings).toEqual([
      expect.objectContaining({ detector: 'email', action: 'hold' }),
    ]);
  });

  it('a response body that does not decode is a bad gateway (502), like every refused response', async () => {
    const { ex, records } = harness();
    await ex.handle({ request_headers: CHAT });
    await ex.handle({ request_body: body('{"messages":[]}') });
    await ex.handle({
      response_headers: headers({
        ':status': '200',
        'content-type': 'application/json',
        'content-encoding': 'gzip',
      }),
    });
    const a = await ex.handle({ response_body: body('not gzip at all') });
    expect(refusalOf(a)).toMatchObject({ status: 502, error: { code: 'unsupported_encoding' } });
    ex.finish(false);
    expect(records[0]?.error).toMatchObject({ code: 'unsupported_encoding', status: 502 });
  });
});

describe('request headers', () => {
  it('a public route takes the fast path: no identity, no bodies', async () => {
    const { ex, records } = harness();
    const a = await ex.handle({
      request_headers: headers({ ':method': 'GET', ':path': '/public/x' }, true),
    });
    expect(a.mode_override).toMatchObject({
      request_body_mode: 'NONE',
      response_body_mode: 'NONE',
    });
    expect(ex.complete).toBe(true);
    ex.finish(false);
    expect(records[0]).toMatchObject({ route: 'public', outcome: 'public' });
  });

  it('no route: no_policy; an anonymous caller: unauthenticated with a Bearer challenge', async () => {
    const none = harness();
    const a = await none.ex.handle({
      request_headers: headers({ ':method': 'GET', ':path': '/nowhere' }, true),
    });
    expect(refusalOf(a)).toMatchObject({ status: 403, error: { code: 'no_policy' } });
    none.ex.finish(false);
    expect(none.records[0]).toMatchObject({ outcome: 'denied', path: '/nowhere' });

    const anon = harness();
    const b = await anon.ex.handle({
      request_headers: headers({ ':method': 'POST', ':path': '/v1/chat/completions' }),
    });
    const r = refusalOf(b);
    expect(r.status).toBe(401);
    expect(r.headers['www-authenticate']).toBe('Bearer realm="callguard"');
    anon.ex.finish(false);
    expect(anon.records[0]).toMatchObject({ route: 'chat', error: { code: 'unauthenticated' } });
  });

  it('an exchange whose request was never judged is recorded as aborted', async () => {
    const { ex, records } = harness();
    await ex.handle({ request_headers: CHAT });
    ex.finish(true);
    expect(records[0]).toMatchObject({ outcome: 'aborted', route: 'chat' });
  });
});

describe("Envoy's own reply", () => {
  it('a reply Envoy made before callguard saw the request goes on unchanged and is recorded', async () => {
    // jwt_authn ahead of ext_proc refused the call: since Envoy 1.38 its reply still passes
    // ext_proc's response path, with no request headers before it.
    const { ex, records } = harness();
    const h = await ex.handle({
      response_headers: headers({ ':status': '401', 'content-type': 'text/plain' }),
    });
    expect(h.immediate_response).toBeUndefined();
    expect(h.response_headers?.response?.header_mutation?.set_headers?.[0]?.header?.key).toBe(
      'x-callguard-session',
    );
    const b = await ex.handle({ response_body: body('Jwt is missing') });
    expect(b).toEqual({ response_body: { response: {} } });
    expect(ex.complete).toBe(true);
    ex.finish(false);
    expect(records[0]).toMatchObject({ outcome: 'envoy_reply', upstream_status: 401 });
  });
});

describe('the head of a call: the URL and named headers', () => {
  const channels = loadPolicy([channelsPolicyDir()]);
  const get = (path: string, extra: Record<string, string> = {}) =>
    headers({ ':method': 'GET', ':path': path, ':authority': 'a', ...extra }, true);
  const set = (a: ProcessingResponse) =>
    Object.fromEntries(
      (a.request_headers?.response?.header_mutation?.set_headers ?? []).map((h) => [
        String(h.header?.key),
        Buffer.from(h.header?.raw_value ?? []).toString('latin1'),
      ]),
    );

  it('a header-only GET: :path and a named header rewritten, the record keeps them masked', async () => {
    const { ex, records } = harness(channels);
    const a = await ex.handle({
      request_headers: get('/fn/cards/4111111111111111?contact=ada%40example.com', {
        'x-user-email': EMAIL,
        'user-agent': EMAIL,
      }),
    });
    expect(set(a)[':path']).toBe(
      '/fn/cards/************1111?contact=%5BREDACTED%3Ainternal%3Aemail%5D',
    );
    expect(set(a)['x-user-email']).toBe('[REDACTED:internal:email]');
    // user-agent is not named: not read, forwarded as it came.
    expect(set(a)['user-agent']).toBeUndefined();
    ex.finish(false);
    const r = records[0]!;
    expect(r.path).toBe('/fn/cards/************1111');
    expect(r.request?.findings.map((f) => f.path)).toEqual([
      ':path/2',
      ':path?contact',
      ':headers/x-user-email',
    ]);
    expect(JSON.stringify(r)).not.toContain('4111111111111111');
    expect(JSON.stringify(r)).not.toContain(EMAIL.replace('@', '%40'));
  });

  it('refused before the URL is read (no route covers it): the record path is redacted', async () => {
    const { ex, records } = harness(channels);
    const a = await ex.handle({ request_headers: get('/nowhere/4111111111111111/x') });
    expect(a.immediate_response?.details).toBe('callguard_no_policy');
    ex.finish(false);
    expect(records[0]!.path).toBe('/nowhere/%5BREDACTED%3Aconfidential%3Acard%5D/x');
  });

  it('a malformed URL is refused and not recorded at all', async () => {
    const { ex, records } = harness(channels);
    const a = await ex.handle({ request_headers: get('/fn/4111111111111111%zz') });
    expect(a.immediate_response?.details).toBe('callguard_malformed_url');
    ex.finish(false);
    expect(records[0]!.path).toBeUndefined();
  });

  it('a held header-only GET without an approval store is refused (503), the path recorded redacted', async () => {
    const { ex, records } = harness(channels);
    const a = await ex.handle({ request_headers: get('/held/4111111111111111') });
    expect(a.immediate_response?.details).toBe('callguard_approval_unavailable');
    ex.finish(false);
    expect(records[0]!.path).toBe('/held/%5BREDACTED%3Aconfidential%3Acard%5D');
    expect(records[0]!.request?.action).toBe('hold');
  });

  it('named response headers are masked', async () => {
    const { ex } = harness(channels);
    await ex.handle({ request_headers: get('/fn/x') });
    const a = await ex.handle({
      response_headers: headers({ ':status': '200', 'x-user-email': EMAIL }, true),
    });
    const mutated = a.response_headers?.response?.header_mutation?.set_headers ?? [];
    expect(
      mutated.map((h) => [h.header?.key, Buffer.from(h.header?.raw_value ?? []).toString()]),
    ).toContainEqual(['x-user-email', '[REDACTED:internal:email]']);
  });
});
