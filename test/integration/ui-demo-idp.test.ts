// The local stack's sign-in: `callguard serve` configured like callguard.yaml's admin.ui
// against the DEMO ONLY identity provider (authorization code + PKCE, public client),
// followed hop by hop over HTTP: the login redirect, the provider's user picker, the
// callback, and the session it yields. PKCE, state and one-time codes are enforced.

import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PROJECT_ROOT } from '../../src/cli/envoy.js';
import { startDemoIdp } from '../../src/cli/demo-idp.js';
import type { DemoIdp } from '../../src/cli/demo-idp.js';
import { freePort, startStack } from './stack.js';
import type { Stack } from './stack.js';

let idp: DemoIdp;
let stack: Stack;
let admin: string;

const cookieFrom = (res: Response, name: string) =>
  res.headers
    .getSetCookie()
    .map((c) => c.split(';')[0] as string)
    .find((c) => c.startsWith(`${name}=`) && c.length > name.length + 1);

/** Up to the provider's redirect back: the callback URL and the login cookie. */
async function authorize(user: string): Promise<{ callback: string; loginCookie: string }> {
  const login = await fetch(`${admin}/ui/login`, { redirect: 'manual' });
  expect(login.status).toBe(302);
  const loginCookie = cookieFrom(login, 'cg_login') as string;
  expect(loginCookie).toBeDefined();
  const auth = new URL(login.headers.get('location') as string);
  expect(auth.origin).toBe(idp.issuer);
  expect(auth.searchParams.get('code_challenge_method')).toBe('S256');
  const picker = await fetch(auth, { redirect: 'manual' });
  expect(picker.status).toBe(200);
  const html = await picker.text();
  expect(html).toContain('Audrey Auditor');
  const request = /name="request" value="([^"]+)"/.exec(html)?.[1] as string;
  const chosen = await fetch(`${idp.issuer}/authorize`, {
    method: 'POST',
    redirect: 'manual',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ request, user }),
  });
  expect(chosen.status).toBe(302);
  const callback = chosen.headers.get('location') as string;
  expect(callback.startsWith(`${admin}/ui/callback?code=`)).toBe(true);
  return { callback, loginCookie };
}

beforeAll(async () => {
  const port = await freePort();
  admin = `http://127.0.0.1:${port}`;
  idp = await startDemoIdp({
    port: 0,
    client: { id: 'callguard-admin', redirectUris: [`${admin}/ui/callback`] },
  });
  stack = await startStack({
    policies: [join(PROJECT_ROOT, 'test/fixtures/ui/policy.yaml')],
    config: {
      admin_addr: `127.0.0.1:${port}`,
      admin: {
        auditor_groups: ['auditors'],
        auth_sources: ['oidc'],
        ui: { oidc: { issuer: idp.issuer, client_id: 'callguard-admin' } },
      },
    },
  });
});
afterAll(async () => {
  await stack?.stop();
  await idp?.close();
});

describe('sign-in through the demo identity provider', () => {
  it('gives an auditor a session the audit API accepts', async () => {
    const { callback, loginCookie } = await authorize('audrey');
    const done = await fetch(callback, { redirect: 'manual', headers: { cookie: loginCookie } });
    expect(done.status).toBe(303);
    expect(done.headers.get('location')).toBe('/');
    const session = cookieFrom(done, 'cg_session') as string;
    const raw = done.headers.getSetCookie().find((c) => c.startsWith('cg_session=')) as string;
    expect(raw).toMatch(/; HttpOnly/);
    expect(raw).toMatch(/; SameSite=Lax/);
    expect(raw).not.toMatch(/; Secure/); // loopback, plain http
    const me = await fetch(`${admin}/ui/me`, { headers: { cookie: session } });
    expect(me.status).toBe(200);
    expect(await me.json()).toMatchObject({
      subject: 'audrey',
      name: 'Audrey Auditor',
      groups: ['auditors'],
      auditor: true,
    });
    // Past the auditor check: this stack has no Elasticsearch.
    const api = await fetch(`${admin}/api/sessions`, { headers: { cookie: session } });
    expect([api.status, ((await api.json()) as { error: { code: string } }).error.code]).toEqual([
      503,
      'audit_not_configured',
    ]);
    // The callback is one-time: the same state again is refused.
    const again = await fetch(callback, { redirect: 'manual', headers: { cookie: loginCookie } });
    expect(again.status).toBe(400);
  });

  it('gives a manager no access to sessions', async () => {
    const { callback, loginCookie } = await authorize('mark');
    const done = await fetch(callback, { redirect: 'manual', headers: { cookie: loginCookie } });
    const session = cookieFrom(done, 'cg_session') as string;
    const api = await fetch(`${admin}/api/sessions`, { headers: { cookie: session } });
    expect(api.status).toBe(403);
  });

  it('refuses a callback from another browser (no login cookie)', async () => {
    const { callback } = await authorize('audrey');
    const done = await fetch(callback, { redirect: 'manual' });
    expect(done.status).toBe(400);
    expect(cookieFrom(done, 'cg_session')).toBeUndefined();
  });

  it('refuses a code redeemed without the PKCE verifier, and the code is then spent', async () => {
    const { callback, loginCookie } = await authorize('audrey');
    const code = new URL(callback).searchParams.get('code') as string;
    const stolen = await fetch(`${idp.issuer}/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({
        grant_type: 'authorization_code',
        code,
        client_id: 'callguard-admin',
        redirect_uri: `${admin}/ui/callback`,
        code_verifier: 'a'.repeat(64),
      }),
    });
    expect([stolen.status, await stolen.json()]).toEqual([400, { error: 'invalid_grant' }]);
    const done = await fetch(callback, { redirect: 'manual', headers: { cookie: loginCookie } });
    expect(done.status).toBe(401);
    expect(cookieFrom(done, 'cg_session')).toBeUndefined();
  });
});
