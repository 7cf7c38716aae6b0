// Trace context end to end: calls through the real Envoy (ext_proc and ext_authz) carrying a
// W3C traceparent land in the run's real Elasticsearch with the trace and span ids they
// carried (trace.id, span.id) and Envoy's x-request-id as http.request.id; an invalid
// traceparent leaves no trace fields; the audit API finds a trace's sessions.
// Today's index is made first with the mapping of the version before these fields, as an
// upgrade finds it: callguard adds the new fields to it, so no record is refused.

import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { SESSION_MAPPINGS } from '../../src/audit/template.js';
import { esClient, uniquePrefix, waitForDocs } from '../support/es.js';
import { http, postJson, startStack } from './stack.js';
import type { HttpResult, Stack } from './stack.js';

const es = esClient(inject('esUrl'));
const prefix = uniquePrefix('trace');
const TRACE = '0af7651916cd43dd8448eb211c80319c';
const SPAN = 'b7ad6b7169203331';
const TRACEPARENT = `00-${TRACE}-${SPAN}-01`;
const agent = { 'x-callguard-dev-groups': 'agents', 'x-callguard-dev-groups-user': 'ada' };

let stack: Stack;
let today: string;
const sessions: Record<string, string> = {};
/** The x-request-id Envoy sent upstream with each call. */
const upstreamRequestIds: Record<string, string> = {};

interface Doc {
  trace?: { id: string };
  span?: { id: string };
  http?: { request: { method?: string; id?: string } };
  callguard: { session_id: string; route?: string };
}

/** The session mapping as callguard made it before trace context: no span, no request id. */
function mappingBeforeTraceContext(): Record<string, unknown> {
  const m = structuredClone(SESSION_MAPPINGS) as unknown as {
    properties: Record<string, { properties: Record<string, { properties: object }> }>;
  };
  delete m.properties.span;
  m.properties.http!.properties.request = { properties: { method: { type: 'keyword' } } };
  return m;
}

beforeAll(async () => {
  today = `${prefix}-${new Date().toISOString().slice(0, 10).replaceAll('-', '.')}`;
  await es.indices.create({ index: today, mappings: mappingBeforeTraceContext() });
  const dir = mkdtempSync(join(tmpdir(), 'callguard-trace-'));
  stack = await startStack({
    config: {
      audit: {
        elasticsearch: { url: inject('esUrl'), index_prefix: prefix },
        fingerprint: { keys: [{ id: 'k1', secret: 'trace-test-secret-0123456789' }] },
        spool: { dir: join(dir, 'spool') },
        flush_interval_ms: 100,
      },
      admin: { auditor_groups: ['auditors'], auth_sources: ['dev-header'] },
    },
  });
  const charge = (headers: Record<string, string>) =>
    postJson(
      `${stack.url}/functions/charge_card`,
      '{"amount":1,"currency":"EUR","card":{"number":"4242 4242 4242 4242"}}',
      { ...agent, ...headers },
    );
  const calls: [string, () => Promise<HttpResult>, number][] = [
    ['traced', () => charge({ traceparent: TRACEPARENT, 'x-request-id': 'client-req-1' }), 200],
    ['invalid', () => charge({ traceparent: TRACEPARENT.toUpperCase() }), 200],
    ['untraced', () => charge({}), 200],
    // ext_authz (header-only route)
    [
      'whoami',
      () => http(`${stack.url}/whoami`, { headers: { ...agent, traceparent: TRACEPARENT } }),
      200,
    ],
  ];
  for (const [name, call, status] of calls) {
    const before = stack.upstream.received.length;
    const r = await call();
    expect(r.status, `${name}: ${r.text}`).toBe(status);
    sessions[name] = r.headers['x-callguard-session'] as string;
    const got = stack.upstream.received.slice(before);
    expect(got).toHaveLength(1);
    upstreamRequestIds[name] = got[0]!.headers['x-request-id'] as string;
  }
  const docs = await waitForDocs(es, prefix, (d) => d.length >= calls.length);
  // ext_authz allows without a session header: its record is the one of its route.
  sessions.whoami = docs.find((d) => (d.source as unknown as Doc).callguard.route === 'whoami')
    ?.id as string;
}, 120_000);

afterAll(async () => {
  await stack?.stop();
});

async function doc(name: string): Promise<Doc & { _index: string }> {
  const res = await es.search<Doc>({
    index: `${prefix}-*`,
    query: { ids: { values: [sessions[name]!] } },
  });
  const hit = res.hits.hits[0];
  if (!hit) throw new Error(`no document for ${name}`);
  return { ...hit._source!, _index: hit._index };
}

describe('trace context in the stored session record', () => {
  it('ext_proc: trace.id and span.id are the traceparent sent; http.request.id is Envoy’s', async () => {
    const d = await doc('traced');
    expect(d.trace).toEqual({ id: TRACE });
    expect(d.span).toEqual({ id: SPAN });
    expect(upstreamRequestIds.traced).toBeTruthy();
    expect(d.http?.request).toEqual({ method: 'POST', id: upstreamRequestIds.traced });
    // In the index made before these fields existed: they were added to its mapping.
    expect(d._index).toBe(today);
    const mapping = await es.indices.getMapping({ index: today });
    expect(mapping[today]?.mappings.properties?.span).toBeDefined();
  });

  it('an invalid traceparent, or none, leaves no trace fields; the request id stays', async () => {
    for (const name of ['invalid', 'untraced']) {
      const d = await doc(name);
      expect(d.trace, name).toBeUndefined();
      expect(d.span, name).toBeUndefined();
      expect(d.http?.request.id, name).toBe(upstreamRequestIds[name]);
    }
  });

  it('ext_authz: the header-only route records the same trace context', async () => {
    const d = await doc('whoami');
    expect(d.callguard.route).toBe('whoami');
    expect(d.trace).toEqual({ id: TRACE });
    expect(d.span).toEqual({ id: SPAN });
    expect(d.http?.request.id).toBe(upstreamRequestIds.whoami);
  });

  it('the audit API finds a trace’s sessions, and a request by its id', async () => {
    const auditor = { headers: { 'x-callguard-dev-groups': 'auditors' } };
    const byTrace = await http(`${stack.callguardAdmin}/api/sessions?trace=${TRACE}`, auditor);
    expect(byTrace.status, byTrace.text).toBe(200);
    const ids = byTrace.json<{ sessions: Doc[] }>().sessions.map((s) => s.callguard.session_id);
    expect(ids.sort()).toEqual([sessions.traced, sessions.whoami].sort());
    const byRequest = await http(
      `${stack.callguardAdmin}/api/sessions?request_id=${encodeURIComponent(upstreamRequestIds.untraced!)}`,
      auditor,
    );
    expect(
      byRequest.json<{ sessions: Doc[] }>().sessions.map((s) => s.callguard.session_id),
    ).toEqual([sessions.untraced]);
    const bad = await http(`${stack.callguardAdmin}/api/sessions?trace=${TRACEPARENT}`, auditor);
    expect(bad.status).toBe(400);
  });
});
