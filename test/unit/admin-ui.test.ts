// admin.ui configuration: defaults, the derived redirect URI, refusals. And the admin
// page's server side without an identity provider: the page and its headers, sign-in not
// configured, and a cookie that names no session acting as no credential at all.

import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConfigError, DEFAULT_CONFIG, loadConfig } from '../../src/config/config.js';
import { startAdmin } from '../../src/admin/server.js';
import type { AdminHandle } from '../../src/admin/server.js';
import { AdminUi } from '../../src/admin/ui/pages.js';
import { Identifier } from '../../src/identity/identify.js';
import { createLogger } from '../../src/log.js';

const dir = mkdtempSync(join(tmpdir(), 'callguard-ui-config-'));
let n = 0;
function load(yaml: string) {
  const file = join(dir, `c${n++}.yaml`);
  writeFileSync(file, yaml);
  return loadConfig(file, []);
}

describe('admin.ui configuration', () => {
  it('fills defaults and derives the redirect URI from admin_addr', () => {
    const c = load(
      'admin_addr: 127.0.0.1:9191\nadmin:\n  ui:\n    oidc: { issuer: "https://idp.example", client_id: cg }\n',
    );
    expect(c.admin.ui).toEqual({
      oidc: {
        issuer: 'https://idp.example',
        client_id: 'cg',
        redirect_uri: 'http://127.0.0.1:9191/ui/callback',
        scopes: ['openid', 'email', 'profile', 'groups'],
        algorithms: ['RS256', 'ES256'],
        clock_skew_s: 30,
        groups_claim: 'groups',
        email_claim: 'email',
        name_claim: 'name',
      },
      session_ttl_s: 3600,
    });
    expect(load('{}').admin.ui).toBeUndefined();
  });

  it.each([
    ['no client_id', 'oidc: { issuer: "https://idp.example" }', /client_id/],
    ['a non-http issuer', 'oidc: { issuer: "idp.example", client_id: cg }', /issuer/],
    [
      'a redirect URI not ending in /ui/callback',
      'oidc: { issuer: "https://i.example", client_id: cg, redirect_uri: "https://a.example/cb" }',
      /redirect_uri/,
    ],
    [
      'scopes without openid',
      'oidc: { issuer: "https://i.example", client_id: cg, scopes: [email] }',
      /openid/,
    ],
    [
      'both secret forms',
      'oidc: { issuer: "https://i.example", client_id: cg, client_secret: s, client_secret_env: S }',
      /at most one/,
    ],
    [
      'a tiny session lifetime',
      'oidc: { issuer: "https://i.example", client_id: cg }\n    session_ttl_s: 5',
      /session_ttl_s/,
    ],
    [
      'an unknown key',
      'oidc: { issuer: "https://i.example", client_id: cg, tenant: x }',
      /must NOT have additional/,
    ],
  ])('refuses %s', (_name, ui, message) => {
    expect(() => load(`admin:\n  ui:\n    ${ui}\n`)).toThrow(ConfigError);
    expect(() => load(`admin:\n  ui:\n    ${ui}\n`)).toThrow(message);
  });

  it('refuses a client_secret_env that is not set', () => {
    const c = load(
      'admin:\n  ui:\n    oidc: { issuer: "https://i.example", client_id: cg, client_secret_env: CG_UNSET_UI_SECRET }\n',
    );
    expect(() => new AdminUi({ admin: c.admin, log: createLogger('silent') })).toThrow(
      /CG_UNSET_UI_SECRET is not set/,
    );
  });
});

describe('the page without sign-in configured', () => {
  let admin: AdminHandle;
  let base: string;
  beforeAll(async () => {
    const log = createLogger('silent');
    const identifier = new Identifier(DEFAULT_CONFIG.identity, '');
    const cfg = { auditor_groups: ['auditors'], auth_sources: ['oidc' as const] };
    admin = await startAdmin({
      addr: '127.0.0.1:0',
      policy: () => ({}) as never,
      draining: () => false,
      metrics: { exposition: () => Promise.resolve(''), contentType: 'text/plain' },
      ui: new AdminUi({ admin: cfg, log }),
      sessions: { store: undefined, fingerprinter: undefined, identifier, admin: cfg, log },
    });
    base = `http://127.0.0.1:${admin.port}`;
  });
  afterAll(() => admin?.close());

  it('serves the page with the security headers on every response', async () => {
    for (const path of ['/', '/ui/style.css', '/api/sessions', '/nope']) {
      const r = await fetch(`${base}${path}`);
      expect(r.headers.get('content-security-policy'), path).toMatch(/frame-ancestors 'none'/);
      expect(r.headers.get('x-content-type-options'), path).toBe('nosniff');
    }
  });

  it('offers no sign-in', async () => {
    const me = await fetch(`${base}/ui/me`);
    expect([me.status, ((await me.json()) as { sign_in: boolean }).sign_in]).toEqual([401, false]);
    const login = await fetch(`${base}/ui/login`, { redirect: 'manual' });
    expect(login.status).toBe(404);
  });

  it('treats a cookie naming no session as no credential', async () => {
    const cookie = `cg_session=${'A'.repeat(43)}`;
    expect((await fetch(`${base}/api/sessions`, { headers: { cookie } })).status).toBe(401);
    const post = await fetch(`${base}/api/sessions/search-by-value`, {
      method: 'POST',
      headers: { cookie, origin: 'http://evil.example' },
      body: '{"value":"x"}',
    });
    expect(post.status).toBe(401);
  });
});
