// Identity through the real Envoy: OIDC bearer tokens from a real issuer, group-based
// actions checked at the upstream, Envoy's jwt_authn payload, ext_authz, and an
// unreachable issuer.

import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PROJECT_ROOT } from '../../src/cli/envoy.js';
import { startTestIdp } from '../support/idp.js';
import type { TestIdp } from '../support/idp.js';
import { http, postJson, sessionRecord, startStack } from './stack.js';
import type { EnvoyConfig, Stack } from './stack.js';
import { hcmOf } from '../support/envoy-config.js';

const AUD = 'callguard';
const POLICY = join(PROJECT_ROOT, 'test/fixtures/identity/policy.yaml');
const CARD = '4111 1111 1111 1111';
const SSN = '078-05-1120';

let idp: TestIdp;
const tokens: Record<string, string> = {};

async function tokenFor(who: 'admin' | 'agent' | 'auditor'): Promise<string> {
  const groups = { admin: ['payments-admins'], agent: ['agents'], auditor: ['auditors'] }[who];
  tokens[who] ??= await idp.clientCredentialsToken({
    clientId: `${who}-svc`,
    audience: AUD,
    groups,
  });
  return tokens[who];
}

const bearer = (t: string) => ({ authorization: `Bearer ${t}` });

beforeAll(async () => {
  idp = await startTestIdp({ groupsClaim: 'groups' });
});
afterAll(async () => {
  await idp?.stop();
});

describe('OIDC bearer tokens through Envoy (ext_proc)', () => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await startStack({
      policies: [POLICY],
      config: {
        dev: { groups_header: '' },
        identity: { oidc: [{ issuer: idp.issuer, audiences: [AUD] }] },
      },
    });
  });
  afterAll(async () => {
    await stack?.stop();
  });
  beforeAll(() => {
    stack.upstream.respond('/functions/pay', {
      status: 200,
      headers: { 'content-type': 'application/json' },
      body: '{"ok":true}',
    });
  });
  const pay = (body: string, headers: Record<string, string>) =>
    postJson(`${stack.url}/functions/pay`, body, headers);

  it('payments-admins get the confidential card masked; the upstream gets identity, not the token', async () => {
    const t = await tokenFor('admin');
    const r = await pay(`{"amount":5,"card":"${CARD}"}`, bearer(t));
    expect(r.status).toBe(200);
    const got = stack.upstream.received.at(-1)!;
    expect(got.body.toString()).toBe('{"amount":5,"card":"**** **** **** 1111"}');
    expect(got.headers.authorization).toBeUndefined();
    expect(got.headers['x-callguard-subject']).toBe('admin-svc');
    expect(got.headers['x-callguard-groups']).toBe('payments-admins');
    expect(got.headers['x-callguard-auth-method']).toBe('oidc');
    const rec = await sessionRecord(stack, r.headers['x-callguard-session'] as string);
    expect(rec).toMatchObject({
      principal: { subject: 'admin-svc', groups: ['payments-admins'], authMethod: 'oidc' },
    });
  });

  it('other callers get the confidential card redacted', async () => {
    const r = await pay(`{"amount":5,"card":"${CARD}"}`, bearer(await tokenFor('agent')));
    expect(r.status).toBe(200);
    expect(stack.upstream.received.at(-1)!.body.toString()).toBe(
      '{"amount":5,"card":"[REDACTED:confidential:card]"}',
    );
  });

  it('a restricted value is blocked for everyone but auditors', async () => {
    const before = stack.upstream.received.length;
    for (const who of ['admin', 'agent'] as const) {
      const r = await pay(`{"ssn":"${SSN}"}`, bearer(await tokenFor(who)));
      expect(r.status).toBe(403);
      expect(r.json()).toMatchObject({
        error: { code: 'blocked', paths: ['/ssn'], rule: 'restricted-blocked' },
      });
    }
    expect(stack.upstream.received.length).toBe(before);
    const r = await pay(`{"ssn":"${SSN}"}`, bearer(await tokenFor('auditor')));
    expect(r.status).toBe(200);
    expect(stack.upstream.received.at(-1)!.body.toString()).toBe(`{"ssn":"${SSN}"}`);
  });

  it('no token → 401 with www-authenticate; a bad token → 401; nothing forwarded; no token in any log', async () => {
    const before = stack.upstream.received.length;
    const none = await pay('{"amount":1}', {});
    expect(none.status).toBe(401);
    expect(none.headers['www-authenticate']).toMatch(/^Bearer/);
    const t = await tokenFor('agent');
    const tampered = `${t.slice(0, -6)}AAAAAA`;
    const bad = await pay('{"amount":1}', bearer(tampered));
    expect(bad.status).toBe(401);
    expect(bad.json()).toMatchObject({
      error: { code: 'unauthenticated', rule: 'identity.oidc.signature' },
    });
    expect(bad.text).not.toContain(tampered.split('.')[2]!);
    expect(stack.upstream.received.length).toBe(before);
    const logs = stack.callguardOutput() + stack.envoyOutput();
    for (const tok of Object.values(tokens)) {
      for (const part of tok.split('.')) expect(logs).not.toContain(part);
    }
  });

  it('a route can restrict which identity sources it accepts', async () => {
    const r = await postJson(
      `${stack.url}/functions/oidc_only`,
      '{}',
      bearer(await tokenFor('agent')),
    );
    // oidc is accepted; the demo upstream has no such function (404) but the call got through.
    expect(r.status).toBe(404);
  });

  it('ext_authz: header-only route checked with one Check, identity headers added', async () => {
    const ok = await http(`${stack.url}/whoami`, { headers: bearer(await tokenFor('agent')) });
    expect(ok.status).toBe(200);
    expect(ok.json()).toEqual({ subject: 'agent-svc', groups: 'agents', auth_method: 'oidc' });
    const got = stack.upstream.received.at(-1)!;
    expect(got.headers.authorization).toBeUndefined();

    const before = stack.upstream.received.length;
    const anon = await http(`${stack.url}/whoami`);
    expect(anon.status).toBe(401);
    expect(anon.headers['content-type']).toBe('application/json');
    expect(anon.headers['www-authenticate']).toMatch(/^Bearer/);
    expect(anon.json()).toMatchObject({ error: { code: 'unauthenticated' } });
    // A forged identity header from the caller is removed, never trusted.
    const forged = await http(`${stack.url}/whoami`, {
      headers: { ...bearer(await tokenFor('admin')), 'x-callguard-subject': 'root' },
    });
    expect(forged.status).toBe(200);
    expect(forged.json()).toMatchObject({ subject: 'admin-svc' });
    expect(stack.upstream.received.length).toBe(before + 1);
  });
});

describe('Envoy jwt_authn in front of ext_proc', () => {
  let stack: Stack;
  beforeAll(async () => {
    const discovery = (await (
      await fetch(`${idp.issuer}/.well-known/openid-configuration`)
    ).json()) as {
      jwks_uri: string;
    };
    stack = await startStack({
      policies: [POLICY],
      // callguard trusts only the payload Envoy verified: no OIDC issuer of its own.
      config: {
        dev: { groups_header: '' },
        identity: { envoy_jwt_authn: { metadata_key: 'jwt_payload' } },
      },
      envoy: (cfg: EnvoyConfig) => {
        cfg.static_resources.clusters.push({
          name: 'idp',
          type: 'STATIC',
          connect_timeout: '1s',
          load_assignment: {
            cluster_name: 'idp',
            endpoints: [
              {
                lb_endpoints: [
                  {
                    endpoint: {
                      address: { socket_address: { address: '127.0.0.1', port_value: idp.port } },
                    },
                  },
                ],
              },
            ],
          },
        });
        const hcm = hcmOf(cfg);
        hcm.http_filters.unshift({
          name: 'envoy.filters.http.jwt_authn',
          typed_config: {
            '@type':
              'type.googleapis.com/envoy.extensions.filters.http.jwt_authn.v3.JwtAuthentication',
            providers: {
              idp: {
                issuer: idp.issuer,
                audiences: [AUD],
                remote_jwks: {
                  http_uri: { uri: discovery.jwks_uri, cluster: 'idp', timeout: '2s' },
                  cache_duration: '300s',
                },
                payload_in_metadata: 'jwt_payload',
                forward: false,
              },
            },
            rules: [{ match: { prefix: '/functions/' }, requires: { provider_name: 'idp' } }],
          },
        });
      },
    });
    stack.upstream.respond('/functions/pay', {
      status: 200,
      headers: { 'content-type': 'application/json' },
      body: '{"ok":true}',
    });
  });
  afterAll(async () => {
    await stack?.stop();
  });

  it('callguard reads the groups from the payload Envoy verified', async () => {
    const admin = await postJson(
      `${stack.url}/functions/pay`,
      `{"card":"${CARD}"}`,
      bearer(await tokenFor('admin')),
    );
    expect(admin.status).toBe(200);
    expect(stack.upstream.received.at(-1)!.body.toString()).toBe('{"card":"**** **** **** 1111"}');
    const agent = await postJson(
      `${stack.url}/functions/pay`,
      `{"card":"${CARD}"}`,
      bearer(await tokenFor('agent')),
    );
    expect(agent.status).toBe(200);
    expect(stack.upstream.received.at(-1)!.body.toString()).toBe(
      '{"card":"[REDACTED:confidential:card]"}',
    );
    const rec = await sessionRecord(stack, agent.headers['x-callguard-session'] as string);
    expect(rec).toMatchObject({ principal: { subject: 'agent-svc', authMethod: 'jwt_authn' } });
  });

  it('Envoy itself refuses a missing token; the upstream gets nothing', async () => {
    const before = stack.upstream.received.length;
    const r = await postJson(`${stack.url}/functions/pay`, '{"amount":1}', {});
    expect(r.status).toBe(401);
    // jwt_authn's own answer reaches the client unchanged, not a callguard error.
    expect(r.body.toString()).toBe('Jwt is missing');
    expect(stack.upstream.received.length).toBe(before);
    // Since Envoy 1.38 the reply also passes ext_proc's response path: callguard passes it
    // on and records it (Envoy 1.36 never showed it to callguard).
    const rec = await sessionRecord(stack, r.headers['x-callguard-session'] as string);
    expect(rec).toMatchObject({ outcome: 'envoy_reply', upstream_status: 401 });
  });
});

describe('the issuer goes away', () => {
  it('with no keys cached, callguard answers 503 through Envoy, never a pass', async () => {
    const token = await tokenFor('agent');
    const stack = await startStack({
      policies: [POLICY],
      config: {
        dev: { groups_header: '' },
        identity: { oidc: [{ issuer: idp.issuer, audiences: [AUD] }] },
      },
    });
    await idp.stop();
    try {
      const r = await postJson(`${stack.url}/functions/pay`, `{"card":"${CARD}"}`, bearer(token));
      expect(r.status).toBe(503);
      expect(r.json()).toMatchObject({ error: { code: 'identity_unavailable' } });
      expect(stack.upstream.received.length).toBe(0);
    } finally {
      await idp.start();
      await stack.stop();
    }
  });
});

describe('opaque tokens through Envoy (introspection)', () => {
  let stack: Stack;
  beforeAll(async () => {
    await idp.registerIntrospectionClient('callguard-gw', 'gw-secret-abcdef0123456789');
    stack = await startStack({
      policies: [POLICY],
      env: { CG_INTROSPECTION_SECRET: 'gw-secret-abcdef0123456789' },
      config: {
        dev: { groups_header: '' },
        identity: {
          oidc: [
            {
              issuer: idp.issuer,
              audiences: [AUD],
              introspection: {
                client_id: 'callguard-gw',
                client_secret_env: 'CG_INTROSPECTION_SECRET',
              },
            },
          ],
        },
      },
    });
    stack.upstream.respond('/functions/pay', {
      status: 200,
      headers: { 'content-type': 'application/json' },
      body: '{"ok":true}',
    });
  });
  afterAll(async () => {
    await stack?.stop();
  });

  it('an opaque token is verified by the issuer and its groups decide; a bad one is 401', async () => {
    const token = await idp.clientCredentialsToken({
      clientId: 'opaque-admin',
      audience: `opaque:${AUD}`,
      groups: ['payments-admins'],
    });
    const r = await postJson(
      `${stack.url}/functions/pay`,
      `{"amount":5,"card":"${CARD}"}`,
      bearer(token),
    );
    expect(r.status).toBe(200);
    const got = stack.upstream.received.at(-1)!;
    expect(got.body.toString()).toBe('{"amount":5,"card":"**** **** **** 1111"}');
    expect(got.headers['x-callguard-subject']).toBe('opaque-admin');
    const bad = await postJson(
      `${stack.url}/functions/pay`,
      '{"amount":5}',
      bearer('made-up-opaque-token'),
    );
    expect(bad.status).toBe(401);
    expect(bad.headers['www-authenticate']).toBe('Bearer realm="callguard"');
    expect(stack.callguardOutput()).not.toContain(token);
  });
});
