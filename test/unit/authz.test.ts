// ext_authz Check in process, without Envoy: CheckRequest objects as Envoy sends them for
// header-only routes, the shipped example policies and the dev-header identity. The same
// route selection, public fast path, identity, refusal and session record as ext_proc.

import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { SessionRecord } from '../../src/audit/record.js';
import { loadConfig } from '../../src/config/config.js';
import { check } from '../../src/extproc/authz.js';
import type { AuthzDeps } from '../../src/extproc/authz.js';
import type { CheckRequest, CheckResponse } from '../../src/extproc/protos.js';
import { Identifier } from '../../src/identity/identify.js';
import { createLogger } from '../../src/log.js';
import { loadPolicy } from '../../src/policy/load.js';

const policy = loadPolicy([join(import.meta.dirname, '../../policies')]);
const config = loadConfig('/nonexistent/callguard.yaml', [], { optional: true });

function deps(o: Partial<AuthzDeps> = {}): { deps: AuthzDeps; records: SessionRecord[] } {
  const records: SessionRecord[] = [];
  let t = Date.parse('2026-11-28T10:00:00Z');
  return {
    records,
    deps: {
      policy: () => policy,
      identifier: new Identifier(config.identity, 'x-dev-groups'),
      log: createLogger('silent'),
      sink: { submit: (r) => records.push(r) },
      now: () => (t += 7),
      newId: () => 'authz-1',
      ...o,
    },
  };
}

function req(method: string, path: string, headers: Record<string, string> = {}): CheckRequest {
  return { attributes: { request: { http: { method, path, headers } } } };
}

const headerMap = (r: CheckResponse) =>
  Object.fromEntries(
    (r.ok_response?.headers ?? r.denied_response?.headers ?? []).map((h) => [
      String(h.header?.key),
      h.header?.value,
    ]),
  );

describe('ext_authz Check', () => {
  it('admits a caller the route allows, with identity headers for the upstream, and records it', async () => {
    const { deps: d, records } = deps();
    const r = await check(
      d,
      req('GET', '/whoami?x=1', { 'x-dev-groups': 'agents', 'x-dev-groups-user': 'ada' }),
    );
    expect(r.status?.code).toBe(0);
    expect(headerMap(r)).toEqual({
      'x-callguard-subject': 'ada',
      'x-callguard-groups': 'agents',
      'x-callguard-auth-method': 'dev-header',
    });
    expect(r.ok_response?.headers_to_remove).toContain('x-dev-groups');
    expect(records).toEqual([
      {
        session_id: 'authz-1',
        started_at: '2026-11-28T10:00:00.007Z',
        duration_ms: 7,
        method: 'GET',
        path: '/whoami',
        route: 'whoami',
        route_via: 'path',
        format: 'json',
        principal: { subject: 'ada', groups: ['agents'], authMethod: 'dev-header' },
        outcome: 'allowed',
      },
    ]);
  });

  it('lets a public route through without an identity', async () => {
    const { deps: d, records } = deps();
    const r = await check(d, req('GET', '/public/logo.png'));
    expect(r).toEqual({ status: { code: 0 }, ok_response: {} });
    expect(records[0]).toMatchObject({ route: 'public', outcome: 'public' });
    expect(records[0]!.principal.authMethod).toBe('anonymous');
  });

  it('refuses an anonymous caller with the JSON error, the session header and a Bearer challenge', async () => {
    const { deps: d, records } = deps();
    const r = await check(d, req('GET', '/whoami'));
    expect(r.status).toEqual({ code: 16, message: 'unauthenticated' });
    expect(r.denied_response?.status?.code).toBe(401);
    expect(headerMap(r)).toEqual({
      'content-type': 'application/json',
      'x-callguard-session': 'authz-1',
      'www-authenticate': 'Bearer realm="callguard"',
    });
    expect(JSON.parse(r.denied_response!.body!)).toMatchObject({
      error: { code: 'unauthenticated', rule: 'routes.whoami.access', session_id: 'authz-1' },
    });
    expect(records[0]).toMatchObject({
      outcome: 'denied',
      route: 'whoami',
      error: { code: 'unauthenticated', status: 401, rule: 'routes.whoami.access' },
    });
  });

  it('refuses a call no route covers (no_policy), and a caller outside the groups (forbidden)', async () => {
    const none = deps();
    const r = await check(none.deps, req('GET', '/nowhere'));
    expect([r.status?.code, r.denied_response?.status?.code]).toEqual([7, 403]);
    expect(none.records[0]).toMatchObject({ outcome: 'denied', error: { code: 'no_policy' } });
    expect(none.records[0]!.route).toBeUndefined();

    const outsider = deps();
    const f = await check(outsider.deps, req('GET', '/whoami', { 'x-dev-groups': 'guests' }));
    expect(JSON.parse(f.denied_response!.body!)).toMatchObject({ error: { code: 'forbidden' } });
    expect(headerMap(f)['www-authenticate']).toBeUndefined();
  });

  it('refuses new calls while the audit spool is full and refuses to take records', async () => {
    const { deps: d } = deps({ sink: { submit: () => {}, accepting: () => false } });
    const r = await check(d, req('GET', '/whoami', { 'x-dev-groups': 'agents' }));
    expect(r.denied_response?.status?.code).toBe(503);
    expect(JSON.parse(r.denied_response!.body!)).toMatchObject({
      error: { code: 'audit_unavailable', rule: 'audit.spool.on_full' },
    });
  });

  it('an unexpected failure is an internal refusal that carries no detail', async () => {
    const { deps: d, records } = deps({
      policy: () => {
        throw new Error('CANARY-secret-detail');
      },
    });
    const r = await check(d, req('GET', '/whoami'));
    expect(r.denied_response?.status?.code).toBe(500);
    expect(JSON.stringify(r)).not.toContain('CANARY');
    expect(records[0]).toMatchObject({ outcome: 'error', error: { code: 'internal' } });
  });
});
