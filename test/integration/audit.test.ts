// The session audit end to end: calls through the real Envoy and callguard land in the run's
// real Elasticsearch as ECS documents with the caller, findings and masked bodies; no
// restricted (or confidential) value appears in any stored document; the admin API searches
// them (every filter, paging, fingerprint search, replay) for auditors only.

import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { PROJECT_ROOT } from '../../src/cli/envoy.js';
import { startTestIdp } from '../support/idp.js';
import type { TestIdp } from '../support/idp.js';
import { allDocs, esClient, uniquePrefix, waitForDocs } from '../support/es.js';
import { http, postJson, startStack } from './stack.js';
import type { HttpResult, Stack } from './stack.js';
import { matching } from '../support/matchers.js';

const AUD = 'callguard';
const POLICY = join(PROJECT_ROOT, 'test/fixtures/audit/policy.yaml');
const es = esClient(inject('esUrl'));
const prefix = uniquePrefix('audit');
// Canaries: a restricted value and a confidential one, unique to this run.
const SSN = `SSN-CANARY-${randomBytes(6).toString('hex')}`;
const CARD = `4000 ${String(randomBytes(2).readUInt16BE(0) % 10000).padStart(4, '0')} 0000 0002`;
const UPSTREAM_CARD = '5555 5555 5555 4444';

let idp: TestIdp;
let stack: Stack;
const tokens: Record<string, string> = {};

async function token(who: 'auditor' | 'agent'): Promise<string> {
  tokens[who] ??= await idp.clientCredentialsToken({
    clientId: `${who}-svc`,
    audience: AUD,
    groups: who === 'auditor' ? ['auditors'] : ['agents'],
  });
  return tokens[who];
}

const as = (user: string, groups: string) => ({
  'x-callguard-dev-groups': groups,
  'x-callguard-dev-groups-user': user,
  'user-agent': 'audit-test',
  cookie: 'session=secret-cookie-value',
});

async function api(path: string, who: 'auditor' | 'agent' | null = 'auditor', body?: unknown) {
  const headers: Record<string, string> = who
    ? { authorization: `Bearer ${await token(who)}` }
    : {};
  if (body === undefined) return http(`${stack.callguardAdmin}${path}`, { headers });
  return postJson(`${stack.callguardAdmin}${path}`, JSON.stringify(body), headers);
}

interface Doc {
  '@timestamp': string;
  user: { id: string; roles: string[] };
  callguard: {
    session_id: string;
    decision: string;
    record_mode: string;
    max_level?: string;
    findings: { path: string; level: string; action: string; fingerprint?: string }[];
    request: { body?: string; headers?: Record<string, string>; trace?: string[] };
    response: { body?: string };
  };
  [k: string]: unknown;
}

const sessions: Record<string, string> = {};
const sid = (r: HttpResult) => r.headers['x-callguard-session'] as string;

beforeAll(async () => {
  idp = await startTestIdp();
  const dir = mkdtempSync(join(tmpdir(), 'callguard-audit-'));
  stack = await startStack({
    policies: [POLICY],
    config: {
      identity: { oidc: [{ issuer: idp.issuer, audiences: [AUD] }] },
      audit: {
        elasticsearch: { url: inject('esUrl'), index_prefix: prefix },
        fingerprint: { keys: [{ id: 'k1', secret: 'audit-test-secret-0123456789' }] },
        spool: { dir: join(dir, 'spool') },
        flush_interval_ms: 100,
      },
      admin: { auditor_groups: ['auditors'], auth_sources: ['oidc'] },
    },
  });
  for (const route of ['pay', 'pay_metadata', 'pay_none']) {
    stack.upstream.respond(`/functions/${route}`, {
      status: 200,
      headers: { 'content-type': 'application/json' },
      body: `{"ok":true,"card":"${UPSTREAM_CARD}"}`,
    });
  }
  const pay = (route: string, body: string, h: Record<string, string>) =>
    postJson(`${stack.url}/functions/${route}`, body, h);
  // Sequential, so "newest first" has a known order.
  const calls: [string, () => Promise<HttpResult>, number][] = [
    [
      'alice1',
      () =>
        pay('pay', `{"amount":5,"note":"n1","card":{"number":"${CARD}"}}`, as('alice', 'agents')),
      200,
    ],
    ['bob', () => pay('pay', `{"amount":1,"ssn":"${SSN}"}`, as('bob', 'agents')), 403],
    ['carol', () => pay('pay', `{"amount":2,"ssn":"${SSN}"}`, as('carol', 'auditors')), 200],
    ['dave', () => pay('pay', `{"card":{"number":"${CARD}"}}`, as('dave', 'payments-admins')), 200],
    ['alice2', () => pay('pay', '{"amount":7}', as('alice', 'agents')), 200],
    [
      'meta',
      () => pay('pay_metadata', `{"card":{"number":"${CARD}"}}`, as('alice', 'agents')),
      200,
    ],
    ['none', () => pay('pay_none', `{"card":{"number":"${CARD}"}}`, as('alice', 'agents')), 200],
    ['alice3', () => pay('pay', '{"amount":9}', as('alice', 'agents')), 200],
  ];
  for (const [name, call, status] of calls) {
    const r = await call();
    expect(r.status, `${name}: ${r.text}`).toBe(status);
    sessions[name] = sid(r);
    await new Promise((res) => setTimeout(res, 5)); // distinct @timestamps
  }
  await waitForDocs(es, prefix, (d) => d.length >= calls.length);
}, 120_000);

afterAll(async () => {
  await stack?.stop();
  await idp?.stop();
});

const doc = async (name: string): Promise<Doc> => {
  const all = await allDocs(es, prefix);
  const d = all.find((x) => x.id === sessions[name]);
  if (!d) throw new Error(`no document for ${name}`);
  return d.source as unknown as Doc;
};

describe('session records in Elasticsearch', () => {
  it('the node is the Elasticsearch this run names (8.x, or 9.x in the elasticsearch-9 project)', async () => {
    const info = await es.nodes.info({ node_id: '_local' });
    const versions = Object.values(info.nodes).map((n) => n.version);
    expect(versions).toEqual([inject('esVersion')]);
  });

  it('one ECS document per call, with principal, route, findings and masked bodies', async () => {
    const all = await allDocs(es, prefix);
    expect(all.map((d) => d.id).sort()).toEqual(Object.values(sessions).sort());
    const d = await doc('alice1');
    expect(d).toMatchObject({
      event: { action: 'callguard-session', outcome: 'success', id: sessions.alice1 },
      user: { id: 'alice', roles: ['agents'] },
      source: { ip: '127.0.0.1' },
      http: { request: { method: 'POST' }, response: { status_code: 200 } },
      url: { path: '/functions/pay' },
      callguard: {
        route: 'pay',
        function: 'pay',
        format: 'json',
        decision: 'modified',
        action: 'mask',
        max_level: 'confidential',
        record_mode: 'masked',
        auth_method: 'dev-header',
      },
    });
    // Envoy's x-request-id; no traceparent was sent, so no trace (test/integration/trace-context.test.ts).
    expect((d.http as { request: { id: string } }).request.id).toMatch(/^[0-9a-f-]{36}$/);
    expect(d.trace).toBeUndefined();
    expect(d.callguard.findings).toEqual([
      expect.objectContaining({
        direction: 'request',
        path: '/note',
        level: 'internal',
        action: 'allow',
        rule: 'internal-allowed',
        fingerprint: matching(/^k1:[A-Za-z0-9_-]{43}$/),
      }),
      expect.objectContaining({
        direction: 'request',
        path: '/card/number',
        level: 'confidential',
        detector: 'card',
        action: 'mask',
        rule: 'confidential-masked',
      }),
      expect.objectContaining({ direction: 'response', path: '/card', action: 'mask' }),
    ]);
    // The bodies as forwarded: masked, every other byte as sent.
    expect(d.callguard.request.body).toBe(
      `{"amount":5,"note":"n1","card":{"number":"**** **** **** ${CARD.slice(-4)}"}}`,
    );
    expect(d.callguard.response.body).toBe('{"ok":true,"card":"**** **** **** 4444"}');
    // Replay headers: an allow-list; credentials never.
    expect(d.callguard.request.headers).toMatchObject({
      'content-type': 'application/json',
      'user-agent': 'audit-test',
    });
    expect(JSON.stringify(d)).not.toMatch(/cookie|secret-cookie|x-callguard-dev/i);
  });

  it('a blocked call keeps its findings and fingerprints but no body', async () => {
    const d = await doc('bob');
    expect(d.callguard).toMatchObject({
      decision: 'blocked',
      max_level: 'restricted',
      error: { code: 'blocked', status: 403, rule: 'restricted-blocked', paths: ['/ssn'] },
    });
    expect(d.callguard.findings).toEqual([
      expect.objectContaining({ path: '/ssn', level: 'restricted', action: 'block' }),
    ]);
    expect(d.callguard.findings[0]!.fingerprint).toMatch(/^k1:/);
    expect(d.callguard.request.body).toBeUndefined();
  });

  it('a value a rule let through in clear is redacted again in the record', async () => {
    // carol (auditors) had the SSN forwarded in clear; dave (payments-admins) the card.
    expect(stack.upstream.received.some((r) => r.body.toString().includes(SSN))).toBe(true);
    expect((await doc('carol')).callguard.request.body).toBe(
      '{"amount":2,"ssn":"[REDACTED:restricted:ssn]"}',
    );
    expect((await doc('dave')).callguard.request.body).toBe(
      '{"card":{"number":"[REDACTED:confidential:card]"}}',
    );
  });

  it('record: metadata keeps no bodies; record: none keeps no fingerprints either', async () => {
    const meta = await doc('meta');
    expect(meta.callguard.record_mode).toBe('metadata');
    expect(meta.callguard.request.body).toBeUndefined();
    expect(meta.callguard.response.body).toBeUndefined();
    expect(meta.callguard.findings[0]!.fingerprint).toMatch(/^k1:/);
    const none = await doc('none');
    expect(none.callguard.record_mode).toBe('none');
    expect(none.callguard.request.body).toBeUndefined();
    expect(none.callguard.findings.length).toBeGreaterThan(0);
    expect(none.callguard.findings.every((f) => f.fingerprint === undefined)).toBe(true);
  });

  it('the canaries appear in no stored document and in no log line', async () => {
    const res = await es.search({
      index: `${prefix}-*`,
      size: 1000,
      query: { match_all: {} },
    });
    expect(res.hits.hits.length).toBe(Object.keys(sessions).length);
    const raw = JSON.stringify(res.hits.hits.map((h) => h._source));
    expect(raw).not.toContain(SSN);
    expect(raw).not.toContain(CARD);
    expect(raw).not.toContain(CARD.replaceAll(' ', ''));
    expect(raw).not.toContain(UPSTREAM_CARD);
    expect(stack.callguardOutput()).not.toContain(SSN);
    expect(stack.callguardOutput()).not.toContain(CARD);
  });

  it('the index template: daily indices behind the alias, strict mappings', async () => {
    const t = await es.indices.getIndexTemplate({ name: prefix });
    const tpl = t.index_templates[0]!.index_template;
    expect(tpl.index_patterns).toEqual([`${prefix}-*`]);
    expect(tpl.template?.mappings?.dynamic).toBe('strict');
    const day = new Date().toISOString().slice(0, 10).replaceAll('-', '.');
    const alias = await es.indices.getAlias({ name: prefix });
    expect(Object.keys(alias)).toContain(`${prefix}-${day}`);
  });
});

describe('the audit API', () => {
  it('no token → 401 with www-authenticate; a non-auditor → 403; nothing disclosed', async () => {
    const none = await api('/api/sessions', null);
    expect(none.status).toBe(401);
    expect(none.headers['www-authenticate']).toMatch(/^Bearer/);
    expect(none.json()).toMatchObject({ error: { code: 'unauthenticated' } });
    const agent = await api(`/api/sessions/${sessions.alice1}`, 'agent');
    expect(agent.status).toBe(403);
    expect(agent.json()).toMatchObject({ error: { code: 'forbidden' } });
    expect(agent.text).not.toContain('alice');
    // The development header does not count for the admin API here.
    const dev = await http(`${stack.callguardAdmin}/api/sessions`, {
      headers: { 'x-callguard-dev-groups': 'auditors' },
    });
    expect(dev.status).toBe(401);
    const bad = await http(`${stack.callguardAdmin}/api/sessions`, {
      headers: { authorization: 'Bearer not.a.jwt' },
    });
    expect(bad.status).toBe(401);
  });

  const ids = (r: HttpResult) =>
    r.json<{ sessions: Doc[] }>().sessions.map((s) => s.callguard.session_id);

  it('filters by user, newest first, without bodies', async () => {
    const r = await api('/api/sessions?user=alice');
    expect(r.status).toBe(200);
    expect(ids(r)).toEqual(['alice3', 'none', 'meta', 'alice2', 'alice1'].map((n) => sessions[n]));
    expect(r.text).not.toContain('"body"');
  });

  it('filters by decision, level, path, function, route and time', async () => {
    expect(ids(await api('/api/sessions?decision=blocked'))).toEqual([sessions.bob]);
    expect(ids(await api('/api/sessions?level=restricted'))).toEqual([
      sessions.carol,
      sessions.bob,
    ]);
    // level and path must hold for the same finding.
    expect(ids(await api('/api/sessions?level=restricted&path=/card/number'))).toEqual([]);
    expect(ids(await api('/api/sessions?path=/card/number&user=dave'))).toEqual([sessions.dave]);
    expect(ids(await api('/api/sessions?function=pay&route=pay_none'))).toEqual([sessions.none]);
    const carol = await doc('carol');
    const after = await api(
      `/api/sessions?from=${encodeURIComponent(carol['@timestamp'])}&user=alice`,
    );
    expect(ids(after)).toEqual(['alice3', 'none', 'meta', 'alice2'].map((n) => sessions[n]));
    const before = await api(
      `/api/sessions?to=${encodeURIComponent(carol['@timestamp'])}&user=alice`,
    );
    expect(ids(before)).toEqual([sessions.alice1]);
  });

  it('pages with a cursor, newest first, each session once', async () => {
    const seen: string[] = [];
    let cursor: string | null = null;
    let pages = 0;
    do {
      const q: string = `/api/sessions?size=3${cursor ? `&cursor=${cursor}` : ''}`;
      const r = await api(q);
      expect(r.status).toBe(200);
      const page = r.json<{ sessions: Doc[]; next: string | null }>();
      seen.push(...page.sessions.map((s) => s.callguard.session_id));
      cursor = page.next;
      pages++;
    } while (cursor && pages < 10);
    expect(pages).toBe(3);
    expect(seen).toHaveLength(Object.keys(sessions).length);
    expect(new Set(seen).size).toBe(seen.length);
    expect(seen[0]).toBe(sessions.alice3);
    expect(seen.at(-1)).toBe(sessions.alice1);
  });

  it('bad filters are 400 with the problems named', async () => {
    for (const [q, field] of [
      ['decision=maybe', 'decision'],
      ['from=yesterday', 'from'],
      ['size=1000', 'size'],
      ['colour=red', 'colour'],
      ['cursor=!!', 'cursor'],
      ['cursor=abc', 'cursor'],
      ['path=card', 'path'],
      ['user=a&user=b', 'user'],
      ['from=2026-01-02T00:00:00Z&to=2026-01-01T00:00:00Z', 'from'],
    ] as const) {
      const r = await api(`/api/sessions?${q}`);
      expect(r.status, q).toBe(400);
      const body = r.json<{ error: { code: string; problems: { field: string }[] } }>();
      expect(body.error.code).toBe('bad_filter');
      expect(body.error.problems.map((p) => p.field)).toContain(field);
    }
  });

  it('GET /api/sessions/{id}: the whole record; unknown id → 404', async () => {
    const r = await api(`/api/sessions/${sessions.alice1}`);
    expect(r.status).toBe(200);
    const d = r.json<Doc>();
    expect(d.callguard.request.body).toContain('**** **** ****');
    expect(d.callguard.request.trace?.[0]).toMatch(/^caller alice via dev-header/);
    expect((await api('/api/sessions/00000000-0000-0000-0000-000000000000')).status).toBe(404);
    expect((await api('/api/sessions/bad$id')).status).toBe(400);
  });

  it('search by value: every session that carried the SSN, the value never stored or echoed', async () => {
    const r = await api('/api/sessions/search-by-value', 'auditor', { value: SSN });
    expect(r.status).toBe(200);
    expect(ids(r)).toEqual([sessions.carol, sessions.bob]);
    expect(r.text).not.toContain(SSN);
    const card = await api('/api/sessions/search-by-value', 'auditor', { value: CARD });
    expect(ids(card)).toEqual(['meta', 'dave', 'alice1'].map((n) => sessions[n]));
    const nothing = await api('/api/sessions/search-by-value', 'auditor', { value: 'x' });
    expect(ids(nothing)).toEqual([]);
    expect((await api('/api/sessions/search-by-value', 'auditor', { value: 5 })).status).toBe(400);
    expect(
      (await api('/api/sessions/search-by-value', 'auditor', { value: SSN, user: 'x' })).status,
    ).toBe(400);
    expect((await api('/api/sessions/search-by-value', 'agent', { value: SSN })).status).toBe(403);
    expect(stack.callguardOutput()).not.toContain(SSN);
  });

  it('replay: the call as forwarded, without credentials, and as curl', async () => {
    const r = await api(`/api/sessions/${sessions.alice1}/replay`);
    expect(r.status).toBe(200);
    const replay = r.json<{
      method: string;
      path: string;
      url: string;
      headers: Record<string, string>;
      body: string;
      curl: string;
    }>();
    expect(replay).toMatchObject({
      method: 'POST',
      path: '/functions/pay',
      headers: { 'content-type': 'application/json', 'user-agent': 'audit-test' },
    });
    expect(replay.body).toContain('**** **** ****');
    expect(Object.keys(replay.headers)).not.toContain('authorization');
    expect(replay.curl).toMatch(/^curl -sS -X POST 'http:\/\/127\.0\.0\.1:\d+\/functions\/pay'/);
    expect(replay.curl).not.toMatch(/cookie|x-callguard-dev/i);
    // Sending it again works and is recorded again.
    const again = await postJson(replay.url, replay.body, {
      ...replay.headers,
      ...as('alice', 'agents'),
    });
    expect(again.status).toBe(200);
    const meta = await api(`/api/sessions/${sessions.meta}/replay`);
    expect(meta.json<{ body_note: string }>().body_note).toMatch(/metadata/);
  });

  it('/healthz shows the audit sink', async () => {
    const h = await http(`${stack.callguardAdmin}/healthz`);
    expect(h.json()).toMatchObject({
      audit: { elasticsearch: 'up', template_installed: true, spool_full: false, dropped: 0 },
    });
  });
});
