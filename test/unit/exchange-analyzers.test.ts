// The Exchange on routes with external analyzers, without Envoy, against a webhook analyzer
// of ours on loopback: spans masked byte for byte, a failed analyzer refuses the call (503
// analyzer_unavailable) or lets it on recorded (allow_with_record, monitor mode), Envoy's
// timer is extended for a long timeout, streamed answers are analyzed per batch, and no
// analyzed text reaches a log line.

import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Analyzers } from '../../src/analyze/index.js';
import type { SessionRecord } from '../../src/audit/record.js';
import { loadConfig } from '../../src/config/config.js';
import { Exchange } from '../../src/extproc/exchange.js';
import type { ProcessingRequest, ProcessingResponse } from '../../src/extproc/protos.js';
import { Identifier } from '../../src/identity/identify.js';
import { createLogger } from '../../src/log.js';
import { loadPolicy } from '../../src/policy/load.js';
import { startTestAnalyzer } from '../support/analyzer-server.js';
import type { TestAnalyzer } from '../support/analyzer-server.js';

const NAME = 'Ada Lovelace';
const config = loadConfig('/nonexistent/callguard.yaml', [], { optional: true });
config.dev.groups_header = 'x-dev-groups';

let server: TestAnalyzer;
let pool: Analyzers;
beforeEach(async () => {
  server = await startTestAnalyzer({ [NAME]: 'PERSON' });
  pool = new Analyzers();
});
afterEach(async () => {
  pool.close();
  await server.close();
});

function policy(analyzer: string, route = '') {
  const dir = mkdtempSync(join(tmpdir(), 'cg-exchange-analyzers-'));
  writeFileSync(
    join(dir, 'policy.yaml'),
    `analyzers:
  guard:
    kind: webhook
    url: ${server.url}
    entities:
      PERSON: { detector: person_name, level: confidential }
${analyzer}
routes:
  - name: chat
    match: { path: /v1/chat/completions, methods: [POST] }
    format: openai-chat
    analyzers: [guard]
${route}
rules:
  - name: names-masked
    match: { detectors: [person_name] }
    action: { type: mask, keep_first: 1, keep_last: 0 }
  - name: emails-masked
    match: { detectors: [email] }
    action: { type: mask, keep_last: 0 }
`,
  );
  return loadPolicy([dir]);
}

function harness(p: ReturnType<typeof policy>, withPool = true) {
  const records: SessionRecord[] = [];
  const lines: string[] = [];
  const interims: ProcessingResponse[] = [];
  const ex = new Exchange({
    policy: () => p,
    config,
    log: createLogger('debug', { write: (s: string) => void lines.push(s) }),
    sink: { submit: (r) => records.push(r) },
    identifier: new Identifier(config.identity, config.dev.groups_header),
    newId: () => 'sess-1',
    ...(withPool ? { analyzers: pool } : {}),
  });
  const handle = (m: ProcessingRequest) => ex.handle(m, (r) => interims.push(r));
  return { ex, records, lines, interims, handle };
}

const headers = (h: Record<string, string>, endOfStream = false) => ({
  headers: {
    headers: Object.entries(h).map(([key, v]) => ({ key, raw_value: Buffer.from(v) })),
  },
  end_of_stream: endOfStream,
});
const CHAT = headers({
  ':method': 'POST',
  ':path': '/v1/chat/completions',
  'content-type': 'application/json',
  authorization: 'Bearer caller-secret-token',
  'x-dev-groups': 'agents',
});
const body = (s: string, endOfStream = true) => ({
  body: Buffer.from(s),
  end_of_stream: endOfStream,
});
const CALL = `{"model":"m","messages":[{"role":"user","content":"I am ${NAME}, mail ada@example.com"}]}`;

/** The body a request answer forwards (its replacement, or the original). */
function forwardedBody(a: ProcessingResponse, original: string): string {
  const m = a.request_body?.response?.body_mutation ?? a.response_body?.response?.body_mutation;
  if (!m) return original;
  return m.clear_body ? '' : Buffer.from(m.body ?? []).toString('utf8');
}

describe('a request on a route with an analyzer', () => {
  it("masks the analyzer's span, byte for byte, and records what it found and how it went", async () => {
    const { ex, records, lines, handle } = harness(policy(''));
    await handle({ request_headers: CHAT });
    const a = await handle({ request_body: body(CALL) });
    expect(forwardedBody(a, CALL)).toBe(
      CALL.replace(NAME, 'A** ********').replace('ada@example.com', '***@*******.***'),
    );
    expect(server.received).toHaveLength(1);
    expect(server.received[0]!.body.texts).toContain(`I am ${NAME}, mail ada@example.com`);
    expect(server.received[0]!.headers.authorization).toBeUndefined();
    ex.finish(false);
    const r = records[0]!;
    expect(r.outcome).toBe('modified');
    expect(r.request?.findings).toContainEqual(
      expect.objectContaining({ detector: 'person_name', analyzer: 'guard', action: 'mask' }),
    );
    expect(r.analyzers).toEqual([
      expect.objectContaining({
        analyzer: 'guard',
        direction: 'request',
        outcome: 'ok',
        texts: 7, // distinct: "m", "user", the message, and the keys model, messages, role, content
        cached: 0,
        requests: 1,
      }),
    ]);
    expect(lines.join('')).not.toContain('Ada');
  });

  it('a repeated body is answered by the cache: no second request', async () => {
    const p = policy('');
    for (let i = 0; i < 2; i++) {
      const { handle } = harness(p);
      await handle({ request_headers: CHAT });
      const a = await handle({ request_body: body(CALL) });
      expect(forwardedBody(a, CALL)).not.toContain(NAME);
    }
    expect(server.received).toHaveLength(1);
  });

  it('the analyzer down: 503 analyzer_unavailable naming it, nothing forwarded, recorded', async () => {
    const { ex, records, lines, handle } = harness(policy(''));
    await server.close();
    await handle({ request_headers: CHAT });
    const a = await handle({ request_body: body(CALL) });
    expect(a.immediate_response?.status?.code).toBe(503);
    const err = JSON.parse(Buffer.from(a.immediate_response!.body!).toString()) as {
      error: { code: string; rule: string };
    };
    expect(err.error).toMatchObject({ code: 'analyzer_unavailable', rule: 'analyzers.guard' });
    expect(JSON.stringify(err)).not.toContain('Ada');
    ex.finish(false);
    expect(records[0]).toMatchObject({
      outcome: 'denied',
      error: { code: 'analyzer_unavailable', status: 503 },
      analyzers: [
        { analyzer: 'guard', outcome: 'failed', error: 'unavailable', on_error: 'block' },
      ],
    });
    const warn = lines
      .map((l) => JSON.parse(l) as Record<string, unknown>)
      .find((l) => l.msg === 'analyzer failed');
    expect(warn).toMatchObject({ analyzer: 'guard', error: 'unavailable', on_error: 'block' });
    expect(lines.join('')).not.toContain('Ada');
  });

  it('allow_with_record: forwarded without its spans (the detectors still apply), and recorded', async () => {
    const { ex, records, handle } = harness(policy('    on_error: allow_with_record'));
    server.mode = 'status500';
    await handle({ request_headers: CHAT });
    const a = await handle({ request_body: body(CALL) });
    expect(a.immediate_response).toBeUndefined();
    expect(forwardedBody(a, CALL)).toBe(CALL.replace('ada@example.com', '***@*******.***'));
    ex.finish(false);
    expect(records[0]!.analyzers).toEqual([
      expect.objectContaining({
        outcome: 'failed',
        error: 'bad_status',
        status: 500,
        on_error: 'allow_with_record',
      }),
    ]);
  });

  it('an analyzer in monitor mode: its findings recorded, nothing changed; its failure never refuses', async () => {
    const p = policy('    mode: monitor');
    const { ex, records, handle } = harness(p);
    await handle({ request_headers: CHAT });
    const a = await handle({ request_body: body(CALL) });
    expect(forwardedBody(a, CALL)).toBe(CALL.replace('ada@example.com', '***@*******.***'));
    ex.finish(false);
    expect(records[0]!.request?.findings).toContainEqual(
      expect.objectContaining({ analyzer: 'guard', action: 'allow', monitor: 'mask' }),
    );
    server.mode = 'garbage';
    const second = harness(p);
    await second.handle({ request_headers: CHAT });
    const b = await second.handle({
      request_body: body(CALL.replace('mail', 'write to')),
    });
    expect(b.immediate_response).toBeUndefined();
    second.ex.finish(false);
    expect(second.records[0]!.analyzers![0]).toMatchObject({
      outcome: 'failed',
      error: 'bad_answer',
      on_error: 'monitor',
    });
  });

  it('a route in monitor mode forwards the body unchanged and records what would be masked', async () => {
    const { ex, records, handle } = harness(policy('', '    mode: monitor'));
    await handle({ request_headers: CHAT });
    const a = await handle({ request_body: body(CALL) });
    expect(a.request_body?.response?.body_mutation).toBeUndefined();
    ex.finish(false);
    expect(records[0]!.outcome).toBe('allowed');
    expect(records[0]!.request?.findings.map((f) => [f.detector, f.action, f.monitor])).toEqual([
      ['person_name', 'allow', 'mask'],
      ['email', 'allow', 'mask'],
    ]);
  });

  it("a timeout beyond what fits in Envoy's message_timeout extends its timer first", async () => {
    const long = harness(policy('    timeout: 1500ms'));
    await long.handle({ request_headers: CHAT });
    await long.handle({ request_body: body(CALL) });
    expect(long.interims).toEqual([{ override_message_timeout: { seconds: 3, nanos: 500e6 } }]);
    const short = harness(policy(''));
    await short.handle({ request_headers: CHAT });
    await short.handle({ request_body: body(CALL.replace('I am', 'Me:')) });
    expect(short.interims).toEqual([]);
  });

  it('without analyzer clients a route with analyzers refuses (fail closed)', async () => {
    const { handle } = harness(policy(''), false);
    await handle({ request_headers: CHAT });
    const a = await handle({ request_body: body(CALL) });
    expect(a.immediate_response?.status?.code).toBe(503);
    expect(Buffer.from(a.immediate_response!.body!).toString()).toContain('analyzer_unavailable');
  });
});

describe('a streamed answer on a route with an analyzer', () => {
  const SSE = headers({ ':status': '200', 'content-type': 'text/event-stream' });
  const chunk = (content: string, finish: string | null = null) =>
    `data: ${JSON.stringify({ id: 'c1', object: 'chat.completion.chunk', choices: [{ index: 0, delta: { content }, finish_reason: finish }] })}\n\n`;
  const text = (sse: string) =>
    [...sse.matchAll(/^data: (\{.*)$/gm)]
      .map(
        (m) =>
          (JSON.parse(m[1]!) as { choices: { delta: { content?: string } }[] }).choices[0]!.delta
            .content ?? '',
      )
      .join('');

  async function run(p: ReturnType<typeof policy>, chunks: string[], before?: () => Promise<void>) {
    const h = harness(p);
    await h.handle({ request_headers: CHAT });
    await h.handle({ request_body: body('{"model":"m","messages":[]}') });
    await h.handle({ response_headers: SSE });
    await before?.();
    let out = '';
    for (const [i, c] of chunks.entries()) {
      const a = await h.handle({ response_body: body(c, i === chunks.length - 1) });
      out += forwardedBody(a, c);
    }
    h.ex.finish(false);
    return { out, record: h.records[0]!, lines: h.lines };
  }

  it('a name split across events is masked whole; the record sums the batches', async () => {
    const { out, record } = await run(policy(''), [
      chunk('Sure, Ada '),
      chunk('Love'),
      chunk('lace. Bye'),
      chunk('.', 'stop'),
    ]);
    expect(out).not.toMatch(/Ada|Love/);
    expect(text(out)).toBe('Sure, A** ********. Bye.');
    expect(record.response?.findings).toEqual([
      expect.objectContaining({ detector: 'person_name', analyzer: 'guard', action: 'mask' }),
    ]);
    const use = record.analyzers!.find((u) => u.direction === 'response')!;
    expect(use.outcome).toBe('ok');
    expect(use.requests).toBeGreaterThanOrEqual(1);
  });

  it('the analyzer down: the stream stops with an analyzer_unavailable error event, nothing of the text released', async () => {
    const { out, record, lines } = await run(
      policy(''),
      [chunk(`Sure, ${NAME}. Bye`), chunk('.', 'stop')],
      () => server.close(),
    );
    expect(out).not.toContain('Ada');
    expect(out).toMatch(/event: error\ndata: \{"error":\{"code":"analyzer_unavailable"/);
    expect(record).toMatchObject({
      outcome: 'denied',
      error: { code: 'analyzer_unavailable', status: 503 },
    });
    expect(lines.join('')).not.toContain('Ada');
  });
});
