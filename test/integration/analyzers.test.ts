// External analyzers through the real Envoy: a real Presidio (presidio-analyzer from PyPI in
// .cache/, served by presidio/server.py, a deny-list recognizer standing in for NER) and a
// webhook analyzer of ours. What the upstream receives and what the client gets are both
// checked: the analyzers' spans masked byte for byte (a name after an emoji included:
// Presidio counts code points), a down or slow analyzer refusing the call with nothing
// forwarded (or forwarding it, recorded, under allow_with_record), monitor mode changing
// nothing, the cache sparing a second call, streamed answers, Envoy's timer extended for a
// long timeout, and no analyzed text in the logs or the metrics.

import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { indexFor, toDocument } from '../../src/audit/record.js';
import type { SessionRecord } from '../../src/audit/record.js';
import { installTemplate } from '../../src/audit/template.js';
import { esClient, uniquePrefix } from '../support/es.js';
import { startPresidio } from '../../src/cli/presidio.js';
import type { PresidioProcess } from '../../src/cli/presidio.js';
import { metricValue, parseExposition } from '../support/prom.js';
import { startTestAnalyzer } from '../support/analyzer-server.js';
import type { TestAnalyzer } from '../support/analyzer-server.js';
import { freePort, http, postJson, sessionRecord, startStack } from './stack.js';
import type { EnvoyConfig, HttpResult, Stack } from './stack.js';
import { hcmOf } from '../support/envoy-config.js';

const ADA = 'Ada Lovelace';
const GRACE = 'Grace Hopper';
const ALAN = 'Alan Turing';
const agents = { 'x-callguard-dev-groups': 'agents' };

let presidio: PresidioProcess;
let guard: TestAnalyzer;
let guardSlow: TestAnalyzer;
let stack: Stack;

/** A chat route at `prefix` running `analyzers` (and more route keys). */
const route = (name: string, prefix: string, analyzers: string[], more = '') =>
  `  - name: ${name}
    match: { path: ${prefix}/v1/chat/completions, methods: [POST] }
    format: openai-chat
    access: { require_groups: [agents] }
    analyzers: [${analyzers.join(', ')}]
${more}`;

beforeAll(async () => {
  const closed = await freePort(); // nothing listens there: an analyzer that is down
  [presidio, guard, guardSlow] = await Promise.all([
    startPresidio({
      port: await freePort(),
      denyLists: { PERSON: [ADA, GRACE] },
      log: (l) => process.stderr.write(`${l}\n`),
    }),
    startTestAnalyzer({ [ALAN]: 'PERSON' }),
    startTestAnalyzer({ [ALAN]: 'PERSON' }),
  ]);
  guardSlow.delayMs = 2_500;
  const person = 'PERSON: { detector: person_name, level: confidential }';
  const dir = mkdtempSync(join(tmpdir(), 'cg-analyzers-it-'));
  writeFileSync(
    join(dir, 'policy.yaml'),
    `analyzers:
  presidio:
    kind: presidio
    url: ${presidio.url}
    entities: { ${person}, EMAIL_ADDRESS: { detector: email, level: confidential } }
  presidio_down:
    kind: presidio
    url: http://127.0.0.1:${closed}
    entities: { ${person} }
  presidio_slow:
    kind: presidio
    url: ${presidio.url}
    timeout: 1ms
    entities: { ${person} }
  presidio_allow:
    kind: presidio
    url: http://127.0.0.1:${closed}
    on_error: allow_with_record
    entities: { ${person} }
  presidio_monitor:
    kind: presidio
    url: ${presidio.url}
    mode: monitor
    entities: { ${person} }
  guard:
    kind: webhook
    url: ${guard.url}
    entities: { ${person} }
  guard_slow:
    kind: webhook
    url: ${guardSlow.url}
    timeout: 1s
    entities: { ${person} }
  guard_patient:
    kind: webhook
    url: ${guardSlow.url}
    timeout: 4s
    entities: { ${person} }
routes:
${route('chat', '', ['presidio'])}
${route('down', '/down', ['presidio_down'])}
${route('slow', '/slow', ['presidio_slow'])}
${route('allow', '/allow', ['presidio_allow'])}
${route('monitored', '/monitored', ['presidio_monitor'])}
${route('route_monitor', '/route-monitor', ['presidio'], '    mode: monitor')}
${route('webhook', '/webhook', ['guard'])}
${route('webhook_slow', '/webhook-slow', ['guard_slow'])}
${route('webhook_patient', '/buffered/webhook-patient', ['guard_patient'])}
rules:
  - name: names-masked
    match: { detectors: [person_name] }
    action: { type: mask, keep_first: 1, keep_last: 0 }
  - name: emails-masked
    match: { detectors: [email] }
    action: { type: mask, keep_last: 0 }
`,
  );
  stack = await startStack({ policies: [dir], envoy: bufferedRoute });
}, 300_000);
afterAll(async () => {
  await Promise.all([stack?.stop(), presidio?.stop(), guard?.close(), guardSlow?.close()]);
});

/**
 * /buffered/… in BUFFERED mode: there Envoy's message_timeout (2 s) bounds each answer of
 * callguard (in the shipped FULL_DUPLEX_STREAMED mode it does not bound a body's answer).
 */
function bufferedRoute(cfg: EnvoyConfig): void {
  const routes = hcmOf(cfg).route_config.virtual_hosts[0]!.routes;
  routes.splice(routes.length - 1, 0, {
    match: { prefix: '/buffered/' },
    route: { cluster: 'demo_upstream' },
    typed_per_filter_config: {
      'envoy.filters.http.ext_proc': {
        '@type': 'type.googleapis.com/envoy.extensions.filters.http.ext_proc.v3.ExtProcPerRoute',
        overrides: {
          processing_mode: {
            request_header_mode: 'SEND',
            response_header_mode: 'SEND',
            request_body_mode: 'BUFFERED',
            response_body_mode: 'BUFFERED',
            request_trailer_mode: 'SKIP',
            response_trailer_mode: 'SKIP',
          },
        },
      },
    },
  });
}

const received = (path: string) =>
  stack.upstream.received.filter((r) => r.path === path).map((r) => r.body.toString('utf8'));

async function chat(prefix: string, body: string): Promise<HttpResult> {
  return postJson(`${stack.url}${prefix}/v1/chat/completions`, body, agents);
}

const sessionOf = (r: HttpResult) => sessionRecord(stack, String(r.headers['x-callguard-session']));

async function metrics() {
  return parseExposition((await http(`${stack.callguardAdmin}/metrics`)).text);
}

describe('Presidio through Envoy', () => {
  it('masks its spans at the upstream, byte for byte; a name after an emoji exactly', async () => {
    // Spacing, key order, number spellings and escapes elsewhere must reach the upstream as
    // sent; only the two names change. 🙂 is one code point for Presidio, two UTF-16 units.
    const body = `{ "model" : "gpt-4o",\n  "temperature": 1.0, "messages": [\n  {"role":"user","content":"🙂 I am ${ADA}; ask ${GRACE}."},\n  {"role":"user","content":"caf\\u00e9 at 10"} ] }`;
    const r = await chat('', body);
    expect(r.status).toBe(200);
    expect(received('/v1/chat/completions').at(-1)).toBe(
      body.replace(ADA, 'A** ********').replace(GRACE, 'G**** ******'),
    );
    const s = await sessionOf(r);
    expect(s.request?.findings).toEqual([
      expect.objectContaining({
        path: '/messages/0/content',
        action: 'mask',
        rule: 'names-masked',
      }),
      expect.objectContaining({
        path: '/messages/0/content',
        action: 'mask',
        rule: 'names-masked',
      }),
    ]);
    // The answer (the demo model repeats what it saw) went through Presidio too.
    expect(r.text).not.toContain(ADA);
  });

  it('a repeated call is answered from the cache: no second request to Presidio', async () => {
    const body = JSON.stringify({
      model: 'gpt-4o',
      messages: [{ role: 'user', content: `Only once for ${GRACE}, please` }],
    });
    const first = await chat('', body);
    expect(first.status).toBe(200);
    const before = await metrics();
    const second = await chat('', body);
    expect(second.status).toBe(200);
    expect(received('/v1/chat/completions').at(-1)).toBe(body.replace(GRACE, 'G**** ******'));
    await sessionOf(second); // the record is written once the exchange is over
    const after = await metrics();
    const calls = (m: typeof before) =>
      metricValue(m, 'callguard_analyzer_calls_total', { analyzer: 'presidio' });
    const cached = (m: typeof before) =>
      metricValue(m, 'callguard_analyzer_texts_total', { analyzer: 'presidio', source: 'cache' });
    expect(calls(after)).toBe(calls(before));
    expect(cached(after)).toBeGreaterThan(cached(before));
    const s = await sessionOf(second);
    expect(s).toMatchObject({ outcome: 'modified' });
  });

  it.each([
    ['down', '/down', 'presidio_down', 'unavailable'],
    ['slow', '/slow', 'presidio_slow', 'timeout'],
  ])('%s: 503 analyzer_unavailable, nothing forwarded', async (_what, prefix, name, error) => {
    const before = stack.upstream.received.length;
    const r = await chat(
      prefix,
      JSON.stringify({ messages: [{ role: 'user', content: `I am ${ADA}` }] }),
    );
    expect(r.status).toBe(503);
    expect(r.json()).toMatchObject({
      error: { code: 'analyzer_unavailable', rule: `analyzers.${name}` },
    });
    expect(r.text).not.toContain('Ada');
    expect(stack.upstream.received.length).toBe(before);
    const s = (await sessionOf(r)) as unknown as { analyzers: unknown[]; outcome: string };
    expect(s.outcome).toBe('denied');
    expect(s.analyzers).toEqual([
      expect.objectContaining({ analyzer: name, outcome: 'failed', error, on_error: 'block' }),
    ]);
  });

  it('allow_with_record: forwarded unanalyzed, and the record says so', async () => {
    const body = JSON.stringify({ messages: [{ role: 'user', content: `I am ${ADA}` }] });
    const r = await chat('/allow', body);
    expect(r.status).toBe(404); // the demo upstream has no such function: it got the call
    expect(received('/allow/v1/chat/completions').at(-1)).toBe(body);
    const s = (await sessionOf(r)) as unknown as { analyzers: unknown[] };
    expect(s.analyzers).toContainEqual(
      expect.objectContaining({
        analyzer: 'presidio_allow',
        direction: 'request',
        outcome: 'failed',
        error: 'unavailable',
        on_error: 'allow_with_record',
      }),
    );
  });

  it.each([
    ['an analyzer', '/monitored'],
    ['a route', '/route-monitor'],
  ])(
    'monitor mode on %s: forwarded unchanged, the findings recorded with what would be done',
    async (_what, prefix) => {
      const body = JSON.stringify({ messages: [{ role: 'user', content: `I am ${GRACE}` }] });
      const r = await chat(prefix, body);
      expect(received(`${prefix}/v1/chat/completions`).at(-1)).toBe(body);
      const s = (await sessionOf(r)) as unknown as {
        request: { findings: Record<string, unknown>[] };
      };
      expect(s.request.findings).toEqual([
        expect.objectContaining({
          detector: 'person_name',
          analyzer: prefix === '/monitored' ? 'presidio_monitor' : 'presidio',
          action: 'allow',
          monitor: 'mask',
        }),
      ]);
      const m = await metrics();
      expect(
        metricValue(m, 'callguard_monitor_findings_total', {
          detector: 'person_name',
          action: 'mask',
        }),
      ).toBeGreaterThan(0);
    },
  );

  it('a streamed answer: a name split across events reaches the client masked whole', async () => {
    const chunk = (content: string, finish: string | null = null) =>
      `data: ${JSON.stringify({ id: 'c1', object: 'chat.completion.chunk', choices: [{ index: 0, delta: { content }, finish_reason: finish }] })}\n\n`;
    stack.upstream.respond('/v1/chat/completions', {
      status: 200,
      headers: { 'content-type': 'text/event-stream' },
      body: '',
      chunks: [
        chunk('Your contact is Grace '),
        chunk('Hop'),
        chunk('per. Call her'),
        chunk('.', 'stop'),
        'data: [DONE]\n\n',
      ].map((data) => ({ data, delayMs: 20 })),
    });
    try {
      const r = await chat('', JSON.stringify({ stream: true, messages: [] }));
      expect(r.status).toBe(200);
      expect(r.text).not.toMatch(/Grace|Hop/);
      const text = [...r.text.matchAll(/^data: (\{.*)$/gm)]
        .map(
          (m) =>
            (JSON.parse(m[1]!) as { choices: { delta: { content?: string } }[] }).choices[0]!.delta
              .content ?? '',
        )
        .join('');
      expect(text).toBe('Your contact is G**** ******. Call her.');
    } finally {
      stack.upstream.respond('/v1/chat/completions', {
        status: 404,
        headers: { 'content-type': 'application/json' },
        body: '{}',
      });
    }
  });
});

describe('a webhook analyzer of ours through Envoy', () => {
  it('masks its spans at the upstream; it gets texts only, never a credential', async () => {
    const body = `{"messages":[{"role":"user","content":"Ask ${ALAN} 🙂 or ${ALAN}"}]}`;
    const r = await postJson(`${stack.url}/webhook/v1/chat/completions`, body, {
      ...agents,
      authorization: 'Bearer caller-secret-cnry',
    });
    expect(received('/webhook/v1/chat/completions').at(-1)).toBe(
      body.replaceAll(ALAN, 'A*** ******'),
    );
    expect(r.status).toBe(404);
    const sent = guard.received.find((q) => q.body.texts.some((t) => t.includes(ALAN)))!;
    expect(sent.headers.authorization).toBeUndefined();
    expect(JSON.stringify(guard.received)).not.toContain('caller-secret-cnry');
    expect(sent.body.texts).toEqual(expect.arrayContaining(['user', `Ask ${ALAN} 🙂 or ${ALAN}`]));
  });

  it('slow: 503 analyzer_unavailable, nothing forwarded', async () => {
    const before = stack.upstream.received.length;
    const r = await chat(
      '/webhook-slow',
      JSON.stringify({ messages: [{ role: 'user', content: `${ALAN}` }] }),
    );
    expect(r.status).toBe(503);
    expect(r.json()).toMatchObject({
      error: { code: 'analyzer_unavailable', rule: 'analyzers.guard_slow' },
    });
    expect(stack.upstream.received.length).toBe(before);
  });

  it("a timeout longer than Envoy's message_timeout: the timer is extended and the call goes on", async () => {
    // The analyzer answers after 2.5 s; Envoy's message_timeout is 2 s (BUFFERED route).
    const body = JSON.stringify({ messages: [{ role: 'user', content: `Patiently, ${ALAN}` }] });
    const r = await chat('/buffered/webhook-patient', body);
    expect(r.status).toBe(404); // the upstream's own answer: the call got through
    expect(received('/buffered/webhook-patient/v1/chat/completions').at(-1)).toBe(
      body.replace(ALAN, 'A*** ******'),
    );
  });
});

describe('nothing analyzed leaks', () => {
  it('no analyzed text in callguard logs or metric labels; analyzer metrics by name only', async () => {
    const m = await metrics();
    expect(
      metricValue(m, 'callguard_analyzer_calls_total', { analyzer: 'presidio' }),
    ).toBeGreaterThan(0);
    expect(
      metricValue(m, 'callguard_analyzer_errors_total', {
        analyzer: 'presidio_down',
        reason: 'unavailable',
      }),
    ).toBeGreaterThan(0);
    expect(
      metricValue(m, 'callguard_analyzer_errors_total', {
        analyzer: 'presidio_slow',
        reason: 'timeout',
      }),
    ).toBeGreaterThan(0);
    expect(
      metricValue(m, 'callguard_analyzer_request_duration_seconds_count', { analyzer: 'presidio' }),
    ).toBeGreaterThan(0);
    const exposition = (await http(`${stack.callguardAdmin}/metrics`)).text;
    const logs = stack.callguardOutput();
    for (const name of ['Lovelace', 'Hopper', 'Turing']) {
      expect(exposition).not.toContain(name);
      expect(logs).not.toContain(name);
    }
    expect(logs).toContain('"msg":"analyzer failed"');
  });
});

describe('the audit', () => {
  it("the session document's analyzer fields fit the strict index template (real Elasticsearch)", async () => {
    const es = esClient(inject('esUrl'));
    const prefix = uniquePrefix('analyzers');
    await installTemplate(es, prefix);
    const record: SessionRecord = {
      session_id: 'sess-analyzers-1',
      started_at: new Date().toISOString(),
      duration_ms: 4,
      principal: { subject: 'u', groups: ['agents'], authMethod: 'dev-header' },
      outcome: 'allowed',
      request: {
        action: 'allow',
        trace: [],
        findings: [
          {
            direction: 'request',
            path: '/messages/0/content',
            level: 'confidential',
            source: 'detector',
            detector: 'person_name',
            analyzer: 'presidio',
            span: { start: 1, end: 20 },
            action: 'allow',
            monitor: 'mask',
            rule: 'names-masked',
            record: 'masked',
          },
        ],
      },
      analyzers: [
        {
          analyzer: 'presidio',
          direction: 'request',
          outcome: 'failed',
          error: 'bad_status',
          status: 500,
          on_error: 'allow_with_record',
          texts: 3,
          cached: 1,
          requests: 1,
          duration_ms: 2.5,
        },
      ],
    };
    const doc = toDocument(record);
    expect(doc.callguard.analyzers).toEqual(record.analyzers);
    expect(doc.callguard.findings[0]).toMatchObject({ analyzer: 'presidio', monitor: 'mask' });
    const index = indexFor(prefix, doc['@timestamp']);
    await es.index({ index, id: record.session_id, document: doc, refresh: true });
    const found = await es.search({
      index,
      query: {
        bool: {
          filter: [
            { term: { 'callguard.analyzers.on_error': 'allow_with_record' } },
            {
              nested: {
                path: 'callguard.findings',
                query: { term: { 'callguard.findings.monitor': 'mask' } },
              },
            },
          ],
        },
      },
    });
    expect(found.hits.hits.map((h) => h._id)).toEqual([record.session_id]);
    await es.indices.delete({ index });
    await es.indices.deleteIndexTemplate({ name: prefix });
  });
});
