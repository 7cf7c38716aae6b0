// Every channel through the real Envoy, values checked at the upstream: number literals and
// object keys (request bodies, tool-call arguments as JSON in a string, tool results,
// responses, streamed answers), the URL (path segments and query parameters, masked by
// rewriting :path, on ext_proc and ext_authz routes, the route Envoy chose kept), named
// request and response headers, and bad input (invalid percent-encoding, an overlong URL,
// a header over the limit). Canary values planted in each channel appear in no log line,
// metric label, error body or stored audit document (the run's real Elasticsearch).

import { randomBytes } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { Tokenizer } from '../../src/enforce/tokenize.js';
import { channelsPolicyDir } from '../support/channels.js';
import { esClient, uniquePrefix, waitForDocs } from '../support/es.js';
import { http, postJson, startStack, TEST_TOKEN_KEY } from './stack.js';
import type { EnvoyConfig, HttpResult, Stack } from './stack.js';
import { hcmOf } from '../support/envoy-config.js';

const es = esClient(inject('esUrl'));
const prefix = uniquePrefix('channels');
const approvalsIndex = `${uniquePrefix('channels-approvals')}`;
const tokenizer = new Tokenizer([{ id: 'test1', secret: TEST_TOKEN_KEY }]);

/** A Luhn-valid 16-digit card number unique to this run: a canary. */
function canaryCard(): string {
  for (;;) {
    const body = `4${randomBytes(8).readBigUInt64BE(0).toString().padStart(14, '0').slice(0, 14)}`;
    for (let d = 0; d <= 9; d++) {
      const n = body + d;
      let sum = 0;
      for (let i = 0; i < n.length; i++) {
        let x = Number(n[n.length - 1 - i]);
        if (i % 2 === 1) x = x * 2 > 9 ? x * 2 - 9 : x * 2;
        sum += x;
      }
      if (sum % 10 === 0) return n;
    }
  }
}
const canaryEmail = () => `canary-${randomBytes(5).toString('hex')}@example.com`;

/** Every canary planted, by channel: none may appear anywhere but at the upstream. */
const CANARIES = {
  numberCard: canaryCard(),
  keyEmail: canaryEmail(),
  keyCard: canaryCard(),
  pathCard: canaryCard(),
  queryEmail: canaryEmail(),
  queryName: canaryEmail(),
  headerEmail: canaryEmail(),
  responseHeaderEmail: canaryEmail(),
  responseNumber: canaryCard(),
  responseKey: canaryEmail(),
  streamNumber: canaryCard(),
  streamKey: canaryEmail(),
  blockedPath: canaryCard(),
  heldPath: canaryCard(),
  authzPath: canaryCard(),
  duplicateKey: canaryEmail(),
};

const CARD = '4111111111111111';
const SSN = '284565351';
const PHONE = '14155552671';

let stack: Stack;
const errorBodies: string[] = [];
/** Every session of this file: each must have its record stored before the canary check. */
const sessions = new Set<string>();
const sid = (r: HttpResult) => r.headers['x-callguard-session'] as string;

interface StoredSession {
  url?: { path: string };
  callguard: { session_id: string; findings: { path: string; action: string }[] };
}

/** The session's record as stored in Elasticsearch. */
async function stored(id: string): Promise<StoredSession> {
  const docs = await waitForDocs(es, prefix, (d) =>
    d.some((x) => (x.source as unknown as StoredSession).callguard.session_id === id),
  );
  return docs
    .map((x) => x.source as unknown as StoredSession)
    .find((x) => x.callguard.session_id === id)!;
}

const anon = { 'x-callguard-dev-groups': 'agents', 'x-callguard-dev-groups-user': 'agent-1' };

async function track(r: Promise<HttpResult>): Promise<HttpResult> {
  const res = await r;
  if (sid(res)) sessions.add(sid(res));
  return res;
}
const get = (path: string, headers: Record<string, string> = anon) =>
  track(http(`${stack.url}${path}`, { headers }));
const post = (path: string, body: string, headers: Record<string, string> = anon) =>
  track(postJson(`${stack.url}${path}`, body, headers));

/** Envoy routes that tell the upstream which route Envoy chose: kept after a :path rewrite? */
function markRoutes(cfg: EnvoyConfig): void {
  const vh = hcmOf(cfg).route_config.virtual_hosts[0]!;
  const mark = (value: string) => [
    { header: { key: 'x-route', value }, append_action: 'OVERWRITE_IF_EXISTS_OR_ADD' },
  ];
  const routes = vh.routes;
  const fallback = routes.find((r) => r.match.prefix === '/' && !r.typed_per_filter_config)!;
  fallback.request_headers_to_add = mark('fallback');
  routes.unshift(
    {
      // Only a card number of 16 digits matches: the masked path would not.
      match: { safe_regex: { regex: '^/customers/[0-9]{16}/orders$' } },
      route: { cluster: 'demo_upstream' },
      request_headers_to_add: mark('digits'),
    },
    {
      // Header-only, through ext_authz (one Check) instead of ext_proc.
      match: { safe_regex: { regex: '^/fn/authz/[0-9]{16}$' } },
      route: { cluster: 'demo_upstream' },
      request_headers_to_add: mark('authz-digits'),
      typed_per_filter_config: {
        'envoy.filters.http.ext_authz': {
          '@type': 'type.googleapis.com/envoy.config.route.v3.FilterConfig',
          config: {},
        },
        'envoy.filters.http.ext_proc': {
          '@type': 'type.googleapis.com/envoy.extensions.filters.http.ext_proc.v3.ExtProcPerRoute',
          disabled: true,
        },
      },
    },
  );
}

beforeAll(async () => {
  const dir = mkdtempSync(join(tmpdir(), 'callguard-channels-'));
  stack = await startStack({
    policies: [channelsPolicyDir()],
    config: {
      limits: { max_url_bytes: 2048, max_header_bytes: 256 },
      audit: {
        elasticsearch: { url: inject('esUrl'), index_prefix: prefix },
        fingerprint: { keys: [{ id: 'k1', secret: 'channels-test-secret-0123456789' }] },
        spool: { dir: join(dir, 'spool') },
        flush_interval_ms: 100,
      },
      approvals: { elasticsearch_url: inject('esUrl'), index: approvalsIndex, max_wait_ms: 0 },
      admin: { auditor_groups: ['auditors'], auth_sources: ['dev-header'] },
    },
    envoy: markRoutes,
  });
}, 120_000);
afterAll(async () => {
  await stack?.stop();
});

/** The upstream's last request, when `before` requests had been received. */
function forwarded(before: number) {
  expect(stack.upstream.received.length).toBe(before + 1);
  return stack.upstream.received.at(-1)!;
}

async function refused(r: Promise<HttpResult>, status: number, code: string, before: number) {
  const res = await r;
  expect(res.status, res.text).toBe(status);
  expect(res.json<{ error: { code: string } }>().error.code).toBe(code);
  errorBodies.push(res.text);
  // Nothing forwarded: not the body, not even the headers.
  expect(stack.upstream.received.length).toBe(before);
  return res;
}

describe('the URL', () => {
  it('a path segment is masked by rewriting :path, and Envoy keeps the route it chose', async () => {
    const before = stack.upstream.received.length;
    const r = await get(`/customers/${CANARIES.pathCard}/orders`);
    expect(r.status).toBe(404); // the demo upstream has no such function: it answered
    const got = forwarded(before);
    expect(got.url).toBe(`/customers/************${CANARIES.pathCard.slice(-4)}/orders`);
    // The route matched the 16 digits; the masked path would have gone to the fallback.
    expect(got.headers['x-route']).toBe('digits');
    const rec = await stored(sid(r));
    expect(rec.url?.path).toBe(got.url);
    expect(rec.callguard.findings.map((f) => [f.path, f.action])).toEqual([[':path/1', 'mask']]);
  });

  it('query parameters: percent-decoded, parameter names as context, + as a space', async () => {
    const before = stack.upstream.received.length;
    const q = `contact=${encodeURIComponent(CANARIES.queryEmail)}&q=card+${CARD.replace(/(\d{4})/g, '$1+').slice(0, -1)}&n=7`;
    const r = await get(`/functions/lookup?${q}`);
    expect(r.status).toBe(404);
    const got = forwarded(before);
    expect(got.url).toBe(
      '/functions/lookup?contact=%5BREDACTED%3Ainternal%3Aemail%5D&q=card%20****%20****%20****%201111&n=7',
    );
    expect(got.headers['x-route']).toBe('fallback');
  });

  it("the issue's example: GET /functions/lookup?contact=ada%40example.com", async () => {
    const before = stack.upstream.received.length;
    await get('/functions/lookup?contact=ada%40example.com');
    expect(forwarded(before).url).toBe(
      '/functions/lookup?contact=%5BREDACTED%3Ainternal%3Aemail%5D',
    );
  });

  it('a flagged parameter name is masked and named by its position', async () => {
    const before = stack.upstream.received.length;
    const r = await get(`/functions/lookup?${encodeURIComponent(CANARIES.queryName)}=1`);
    expect(r.status).toBe(404);
    expect(forwarded(before).url).toBe('/functions/lookup?%5BREDACTED%3Ainternal%3Aemail%5D=1');
    const rec = await stored(sid(r));
    expect(rec.callguard.findings.map((f) => f.path)).toEqual([':path?~key0']);
  });

  it('a segment has the one before as context: an SSN, a phone number', async () => {
    let before = stack.upstream.received.length;
    await get(`/fn/ssn/${SSN}`);
    expect(forwarded(before).url).toBe('/fn/ssn/%5BREDACTED%3Arestricted%3Assn%5D');
    before = stack.upstream.received.length;
    await get(`/fn/phone/${PHONE}`);
    const token = decodeURIComponent(forwarded(before).url.split('/').at(-1)!);
    expect(tokenizer.detokenize(token).value).toBe(PHONE);
  });

  it('a body and a URL of one call are both masked', async () => {
    const before = stack.upstream.received.length;
    const r = await post(`/customers/${CARD}/orders`, `{"acct": ${CARD}}`);
    expect(r.status).toBe(404);
    const got = forwarded(before);
    expect(got.url).toBe('/customers/************1111/orders');
    expect(got.headers['x-route']).toBe('digits');
    expect(got.body.toString()).toBe('{"acct": "************1111"}');
  });

  it('block: refused, nothing forwarded, the value in no error body', async () => {
    const before = stack.upstream.received.length;
    const r = await refused(get(`/blocked/${CANARIES.blockedPath}`), 403, 'blocked', before);
    expect(r.json<{ error: { paths: string[] } }>().error.paths).toEqual([':path/1']);
    const rec = await stored(sid(r));
    expect(rec.url?.path).toBe('/blocked/%5BREDACTED%3Aconfidential%3Acard%5D');
  });

  it('hold on a header-only GET: approval_required, nothing forwarded; then exactly that URL', async () => {
    const before = stack.upstream.received.length;
    const url = `/held/${CANARIES.heldPath}`;
    const r = await refused(get(url), 403, 'approval_required', before);
    const id = r.json<{ error: { approval_id: string } }>().error.approval_id;
    const approve = await postJson(`${stack.callguardAdmin}/api/approvals/${id}/approve`, '{}', {
      'x-callguard-dev-groups': 'managers',
      'x-callguard-dev-groups-user': 'manager-1',
    });
    expect(approve.status, approve.text).toBe(200);
    // Another value in the URL is another call: the approval does not cover it.
    await refused(
      get(`/held/${CARD}`, { ...anon, 'x-callguard-approval': id }),
      403,
      'approval_mismatch',
      before,
    );
    const ok = await get(url, { ...anon, 'x-callguard-approval': id });
    expect(ok.status).toBe(404);
    // Approved: the value goes on as it is, once.
    expect(forwarded(before).url).toBe(`/held/${CANARIES.heldPath}`);
    await refused(
      get(url, { ...anon, 'x-callguard-approval': id }),
      403,
      'approval_used',
      before + 1,
    );
  });

  it('hold with a body: one approval for the URL and the body, bound to both', async () => {
    const before = stack.upstream.received.length;
    const url = `/held/${CARD}/pay`;
    const body = '{"note": "for invoice 7"}';
    const r = await refused(post(url, body), 403, 'approval_required', before);
    const id = r.json<{ error: { approval_id: string } }>().error.approval_id;
    const approve = await postJson(`${stack.callguardAdmin}/api/approvals/${id}/approve`, '{}', {
      'x-callguard-dev-groups': 'managers',
      'x-callguard-dev-groups-user': 'manager-1',
    });
    expect(approve.status, approve.text).toBe(200);
    const retry = { ...anon, 'x-callguard-approval': id };
    // The same URL with another body is another call.
    await refused(post(url, '{"note": "other"}', retry), 403, 'approval_mismatch', before);
    expect((await post(url, body, retry)).status).toBe(404);
    const got = forwarded(before);
    expect(got.url).toBe(url);
    expect(got.body.toString()).toBe(body);
  });

  it('ext_authz routes: the Check answer rewrites :path, the route is kept', async () => {
    const before = stack.upstream.received.length;
    const r = await get(`/fn/authz/${CANARIES.authzPath}`);
    expect(r.status).toBe(404);
    const got = forwarded(before);
    expect(got.url).toBe(`/fn/authz/************${CANARIES.authzPath.slice(-4)}`);
    expect(got.headers['x-route']).toBe('authz-digits');
  });

  it.each([
    ['an invalid percent-encoding', '/fn/x%zz'],
    ['a truncated escape', '/fn/x%4'],
    ['bytes that are not UTF-8', '/fn/x%ff%fe'],
    ['a URL over limits.max_url_bytes', `/fn/${'a'.repeat(2100)}`],
  ])('%s: 400 malformed_url, nothing forwarded', async (_, path) => {
    const before = stack.upstream.received.length;
    await refused(get(`${path}`), 400, 'malformed_url', before);
  });
});

describe('named headers', () => {
  it('request headers the route names are masked through header mutations', async () => {
    const before = stack.upstream.received.length;
    const r = await get('/fn/whoever', {
      ...anon,
      'x-user-email': CANARIES.headerEmail,
      'x-customer-id': `c ${CARD}`,
    });
    expect(r.status).toBe(404);
    const got = forwarded(before);
    expect(got.headers['x-user-email']).toBe('[REDACTED:internal:email]');
    expect(got.headers['x-customer-id']).toBe('c ************1111');
    const rec = await stored(sid(r));
    expect(rec.callguard.findings.map((f) => f.path)).toEqual([
      ':headers/x-user-email',
      ':headers/x-customer-id',
    ]);
  });

  it('response headers the route names are masked before the client sees them', async () => {
    stack.upstream.respond('/fn/profile', {
      status: 200,
      headers: { 'content-type': 'application/json', 'x-user-email': CANARIES.responseHeaderEmail },
      body: '{}',
    });
    const r = await get(`/fn/profile`);
    expect(r.status).toBe(200);
    expect(r.headers['x-user-email']).toBe('[REDACTED:internal:email]');
  });

  it('a header over limits.max_header_bytes: 431 header_too_large, nothing forwarded', async () => {
    const before = stack.upstream.received.length;
    await refused(
      get(`/fn/whoever`, { ...anon, 'x-user-email': 'a'.repeat(300) }),
      431,
      'header_too_large',
      before,
    );
  });
});

describe('every number and key example of the issue, in every place', () => {
  /** The examples: what is sent, and what must arrive instead. */
  const EXAMPLES: [string, (got: Record<string, unknown>) => void][] = [
    [`{"acct": ${CARD}}`, (g) => expect(g).toEqual({ acct: '************1111' })],
    [
      `{"metadata": {"acct": ${CARD}}}`,
      (g) => expect(g).toEqual({ metadata: { acct: '************1111' } }),
    ],
    [`{"ssn": ${SSN}}`, (g) => expect(g).toEqual({ ssn: '[REDACTED:restricted:ssn]' })],
    [
      `{"phone": ${PHONE}}`,
      (g) => expect(tokenizer.detokenize(g.phone as string).value).toBe(PHONE),
    ],
    [
      '{"by_contact": {"ada@example.com": {"visits": 3}}}',
      (g) => expect(g).toEqual({ by_contact: { '[REDACTED:internal:email]': { visits: 3 } } }),
    ],
  ];
  const chat = (messages: unknown[]) => JSON.stringify({ model: 'm', messages });
  const call = (args: string) => ({
    role: 'assistant',
    tool_calls: [{ id: 'c1', type: 'function', function: { name: 'f', arguments: args } }],
  });
  type Msgs = {
    messages: { tool_calls?: { function: { arguments: string } }[]; content?: string }[];
  };

  it.each(EXAMPLES)('%s', async (example, check) => {
    // A request body.
    let before = stack.upstream.received.length;
    await post('/fn/call', example);
    check(JSON.parse(forwarded(before).body.toString()) as Record<string, unknown>);
    // Tool-call arguments (JSON in a string) and a tool result, in one chat request.
    stack.upstream.respond('/chat', {
      status: 200,
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ choices: [{ index: 0, message: call(example) }] }),
    });
    before = stack.upstream.received.length;
    const r = await post(
      '/chat',
      chat([call(example), { role: 'tool', tool_call_id: 'c1', content: example }]),
    );
    const sent = JSON.parse(forwarded(before).body.toString()) as Msgs;
    check(
      JSON.parse(sent.messages[0]!.tool_calls![0]!.function.arguments) as Record<string, unknown>,
    );
    check(JSON.parse(sent.messages[1]!.content!) as Record<string, unknown>);
    // The model's answer: tool-call arguments in a response.
    const answer = r.json<{ choices: { message: Msgs['messages'][number] }[] }>();
    check(
      JSON.parse(answer.choices[0]!.message.tool_calls![0]!.function.arguments) as Record<
        string,
        unknown
      >,
    );
    // A function's result (a response body).
    stack.upstream.respond('/fn/result', {
      status: 200,
      headers: { 'content-type': 'application/json' },
      body: example,
    });
    check((await get('/fn/result')).json());
  });
});

describe('numbers and keys through Envoy', () => {
  it('request bodies: every number and key example of the issue', async () => {
    const before = stack.upstream.received.length;
    const body = `{"acct": ${CANARIES.numberCard}, "metadata": {"acct": ${CARD}}, "ssn": ${SSN}, "phone": ${PHONE}, "by_contact": {"${CANARIES.keyEmail}": {"visits": 3}}}`;
    const r = await post(`/fn/call`, body, anon);
    expect(r.status).toBe(404);
    const got = JSON.parse(forwarded(before).body.toString()) as Record<string, unknown>;
    expect(got.acct).toBe(`************${CANARIES.numberCard.slice(-4)}`);
    expect(got.metadata).toEqual({ acct: '************1111' });
    expect(got.ssn).toBe('[REDACTED:restricted:ssn]');
    expect(tokenizer.detokenize(got.phone as string).value).toBe(PHONE);
    expect(got.by_contact).toEqual({ '[REDACTED:internal:email]': { visits: 3 } });
  });

  it('tool-call arguments (JSON in a string) and tool results', async () => {
    const before = stack.upstream.received.length;
    const args = `{"acct": ${CARD}, "by": {"${CANARIES.keyCard}": 1}}`;
    const body = JSON.stringify({
      model: 'm',
      messages: [
        {
          role: 'assistant',
          tool_calls: [{ id: 'c1', type: 'function', function: { name: 'f', arguments: args } }],
        },
        { role: 'tool', tool_call_id: 'c1', content: `{"ssn": ${SSN}}` },
      ],
    });
    stack.upstream.respond('/chat', {
      status: 200,
      headers: { 'content-type': 'application/json' },
      body: '{"choices":[]}',
    });
    const r = await post(`/chat`, body, anon);
    expect(r.status).toBe(200);
    const got = JSON.parse(forwarded(before).body.toString()) as {
      messages: { tool_calls?: { function: { arguments: string } }[]; content?: string }[];
    };
    expect(JSON.parse(got.messages[0]!.tool_calls![0]!.function.arguments)).toEqual({
      acct: '************1111',
      by: { [`************${CANARIES.keyCard.slice(-4)}`]: 1 },
    });
    expect(JSON.parse(got.messages[1]!.content!)).toEqual({ ssn: '[REDACTED:restricted:ssn]' });
  });

  it('responses: numbers and keys in what a function returns', async () => {
    stack.upstream.respond('/fn/result', {
      status: 200,
      headers: { 'content-type': 'application/json' },
      body: `{"acct": ${CANARIES.responseNumber}, "by": {"${CANARIES.responseKey}": 2, "${CANARIES.responseKey.replace('canary', 'other')}": 3}}`,
    });
    const r = await get(`/fn/result`);
    expect(r.status).toBe(200);
    expect(r.json()).toEqual({
      acct: `************${CANARIES.responseNumber.slice(-4)}`,
      by: { '[REDACTED:internal:email]': 2, '[REDACTED:internal:email]#2': 3 },
    });
  });

  it('streamed answers: numbers in events, bare numbers in argument deltas become strings', async () => {
    const args = `{"acct": ${CANARIES.streamNumber}, "by": {"${CANARIES.streamKey}": 1}}`;
    const event = (o: unknown) => ({ data: `data: ${JSON.stringify(o)}\n\n`, delayMs: 5 });
    stack.upstream.respond('/chat', {
      status: 200,
      headers: { 'content-type': 'text/event-stream' },
      body: '',
      chunks: [
        event({
          choices: [{ index: 0, delta: { role: 'assistant' } }],
          usage: { n: Number(CARD) },
        }),
        ...(args.match(/.{1,9}/g) ?? []).map((a) =>
          event({
            choices: [
              { index: 0, delta: { tool_calls: [{ index: 0, function: { arguments: a } }] } },
            ],
          }),
        ),
        event({ choices: [{ index: 0, delta: {}, finish_reason: 'tool_calls' }] }),
        { data: 'data: [DONE]\n\n', delayMs: 5 },
      ],
    });
    const r = await post(`/chat`, '{"model":"m","messages":[]}', anon);
    expect(r.status).toBe(200);
    expect(r.text).not.toContain(CANARIES.streamNumber);
    expect(r.text).not.toContain(CARD);
    const datas = r.text
      .split('\n\n')
      .filter((e) => e.startsWith('data: {'))
      .map((e) => JSON.parse(e.slice(6)) as Record<string, unknown>);
    expect((datas[0] as { usage: unknown }).usage).toEqual({ n: '************1111' });
    const joined = datas
      .map(
        (d) =>
          (d as { choices: { delta: { tool_calls?: { function: { arguments: string } }[] } }[] })
            .choices[0]?.delta.tool_calls?.[0]?.function.arguments ?? '',
      )
      .join('');
    expect(JSON.parse(joined)).toEqual({
      acct: `************${CANARIES.streamNumber.slice(-4)}`,
      by: { '[REDACTED:internal:email]': 1 },
    });
  });

  it('a duplicate key that is a value: 400, and the key is in no error body', async () => {
    const before = stack.upstream.received.length;
    const k = CANARIES.duplicateKey;
    await refused(
      post(`/fn/call`, `{"m": {"${k}": 1, "${k}": 2}}`, anon),
      400,
      'duplicate_key',
      before,
    );
  });
});

describe('canaries', () => {
  it('appear in no log line, metric label, error body or stored audit document', async () => {
    const values = Object.values(CANARIES);
    // Every call above has its record in Elasticsearch.
    const docs = await waitForDocs(es, prefix, (d) => {
      const have = new Set(d.map((x) => (x.source.callguard as { session_id: string }).session_id));
      return [...sessions].every((s) => have.has(s));
    });
    expect(docs.length).toBeGreaterThanOrEqual(sessions.size);
    await es.indices.refresh({ index: approvalsIndex });
    const tickets = await es.search({ index: approvalsIndex, size: 100 });
    expect(tickets.hits.hits.length).toBeGreaterThan(0);
    const stored = JSON.stringify([docs, tickets.hits.hits]);
    const metrics = (await http(`${stack.callguardAdmin}/metrics`)).text;
    const logs = stack.callguardOutput();
    expect(logs.length).toBeGreaterThan(0);
    for (const v of values) {
      const forms = [v, encodeURIComponent(v), v.slice(0, 12)];
      for (const form of forms) {
        expect(logs, `log: ${form}`).not.toContain(form);
        expect(metrics, `metrics: ${form}`).not.toContain(form);
        expect(errorBodies.join('\n'), `error body: ${form}`).not.toContain(form);
        expect(stored, `audit: ${form}`).not.toContain(form);
      }
    }
  });
});
