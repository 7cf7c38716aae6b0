// OIDC verification against a real issuer (oidc-provider on loopback): tokens from its
// real client_credentials flow, keys through discovery and JWKS, rotation without a
// restart, and every kind of bad token refused.

import { SignJWT, importJWK, UnsecuredJWT } from 'jose';
import type { JWK } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CallguardError } from '../../src/errors.js';
import { OidcVerifier } from '../../src/identity/oidc.js';
import type { OidcIssuerConfig } from '../../src/identity/oidc.js';
import { startTestIdp } from '../support/idp.js';
import type { TestIdp } from '../support/idp.js';

const AUD = 'callguard';
let idp: TestIdp;

const issuerConfig = (over: Partial<OidcIssuerConfig> = {}): OidcIssuerConfig => ({
  issuer: idp.issuer,
  audiences: [AUD],
  algorithms: ['RS256', 'ES256'],
  clock_skew_s: 5,
  groups_claim: 'realm_access.roles',
  email_claim: 'email',
  name_claim: 'name',
  ...over,
});

const verifier = (minRefreshMs = 0) =>
  new OidcVerifier([issuerConfig()], { timeoutMs: 1000, minRefreshMs, maxAgeMs: 600_000 });

async function refusal(p: Promise<unknown>): Promise<CallguardError> {
  try {
    await p;
  } catch (e) {
    if (e instanceof CallguardError) return e;
    throw e;
  }
  throw new Error('token was accepted');
}

/** A token signed with the IdP's own current key, with claims of our choosing. */
async function craft(claims: Record<string, unknown>, key: JWK = idp.keys[0]!): Promise<string> {
  const now = Math.floor(Date.now() / 1000);
  return new SignJWT({ sub: 'svc', realm_access: { roles: ['agents'] }, ...claims })
    .setProtectedHeader({ alg: key.alg!, kid: key.kid! })
    .setIssuer((claims.iss as string | undefined) ?? idp.issuer)
    .setAudience((claims.aud as string | undefined) ?? AUD)
    .setIssuedAt(now)
    .setExpirationTime((claims.exp as number | undefined) ?? now + 300)
    .sign(await importJWK(key, key.alg));
}

beforeAll(async () => {
  idp = await startTestIdp({ groupsClaim: 'realm_access.roles' });
});
afterAll(async () => {
  await idp?.stop();
});

describe('tokens from the real issuer', () => {
  it('verifies a client_credentials token through discovery and JWKS, with groups from a nested claim', async () => {
    const token = await idp.clientCredentialsToken({
      clientId: 'payments-agent',
      audience: AUD,
      groups: ['agents', 'payments-admins'],
      email: 'agent@example.com',
    });
    const p = await verifier().verify(token);
    expect(p).toMatchObject({
      subject: 'payments-agent',
      groups: ['agents', 'payments-admins'],
      email: 'agent@example.com',
      issuer: idp.issuer,
      authMethod: 'oidc',
    });
  });

  it('refuses a token for another audience', async () => {
    const token = await idp.clientCredentialsToken({
      clientId: 'c',
      audience: 'someone-else',
      groups: [],
    });
    expect((await refusal(verifier().verify(token))).rule).toBe('identity.oidc.aud');
  });

  it.each([
    [
      'expired',
      async () => craft({ exp: Math.floor(Date.now() / 1000) - 60 }),
      'identity.oidc.exp',
    ],
    [
      'not yet valid',
      async () => craft({ nbf: Math.floor(Date.now() / 1000) + 120 }),
      'identity.oidc.nbf',
    ],
    [
      'from an issuer not configured',
      async () => craft({ iss: 'https://evil.example' }),
      'identity.oidc.iss',
    ],
    [
      'tampered after signing',
      async () => {
        const [h, , s] = (await craft({})).split('.');
        const forged = Buffer.from(
          JSON.stringify({
            sub: 'svc',
            iss: idp.issuer,
            aud: AUD,
            exp: 9e9,
            realm_access: { roles: ['auditors'] },
          }),
        ).toString('base64url');
        return `${h}.${forged}.${s}`;
      },
      'identity.oidc.signature',
    ],
    [
      'alg: none',
      () =>
        Promise.resolve(
          new UnsecuredJWT({ sub: 'svc' })
            .setIssuer(idp.issuer)
            .setAudience(AUD)
            .setExpirationTime('5m')
            .encode(),
        ),
      'identity.oidc.alg',
    ],
    [
      'HS256 keyed with the public key (algorithm confusion)',
      async () => {
        const pub = { ...idp.keys[0]! };
        delete pub.d;
        const secret = new TextEncoder().encode(JSON.stringify(pub));
        return new SignJWT({ sub: 'svc' })
          .setProtectedHeader({ alg: 'HS256', kid: idp.keys[0]!.kid! })
          .setIssuer(idp.issuer)
          .setAudience(AUD)
          .setExpirationTime('5m')
          .sign(secret);
      },
      'identity.oidc.alg',
    ],
  ])('refuses a token %s', async (_name, make, rule) => {
    const e = await refusal(verifier().verify(await make()));
    expect(e.code).toBe('unauthenticated');
    expect(e.status).toBe(401);
    expect(e.rule).toBe(rule);
  });

  it('refuses an opaque (non-JWT) token with a clear error', async () => {
    const e = await refusal(verifier().verify('2YotnFZFEjr1zCsicMWpAA'));
    expect(e.rule).toBe('identity.oidc.format');
    expect(e.message).not.toContain('2YotnFZFEjr1zCsicMWpAA');
  });

  it('accepts a token within the clock skew', async () => {
    const p = await verifier().verify(await craft({ exp: Math.floor(Date.now() / 1000) - 2 }));
    expect(p.subject).toBe('svc');
  });
});

describe('key rotation and an unreachable issuer', () => {
  it('accepts tokens signed with a rotated key without a restart, and rate-limits refetches', async () => {
    const v = verifier(0);
    const slow = verifier(60_000);
    await v.verify(await idp.clientCredentialsToken({ clientId: 'a', audience: AUD, groups: [] }));
    await slow.verify(
      await idp.clientCredentialsToken({ clientId: 'a', audience: AUD, groups: [] }),
    );
    await idp.rotate({ alg: 'ES256' });
    const fresh = await idp.clientCredentialsToken({
      clientId: 'a',
      audience: AUD,
      groups: ['agents'],
    });
    expect((await v.verify(fresh)).groups).toEqual(['agents']);
    // The same unknown kid within the refresh interval is not fetched again: refused.
    expect((await refusal(slow.verify(fresh))).rule).toBe('identity.oidc.kid');
  });

  it('keeps verifying with cached keys when the issuer goes away; without cached keys it is 503', async () => {
    const warm = verifier(0);
    await warm.verify(await craft({}));
    await idp.stop();
    try {
      expect((await warm.verify(await craft({ sub: 'later' }))).subject).toBe('later');
      const cold = verifier(0);
      const e = await refusal(cold.verify(await craft({})));
      expect(e.code).toBe('identity_unavailable');
      expect(e.status).toBe(503);
    } finally {
      await idp.start();
    }
  });
});

describe('opaque tokens, by introspection at the real issuer (RFC 7662)', () => {
  const SECRET_ENV = 'CG_TEST_INTROSPECTION_SECRET';
  const introspecting = () =>
    new OidcVerifier(
      [
        issuerConfig({
          introspection: {
            client_id: 'callguard-gw',
            client_secret_env: SECRET_ENV,
            cache_ms: 60_000,
          },
        }),
      ],
      { timeoutMs: 1000, minRefreshMs: 0, maxAgeMs: 600_000 },
    );

  beforeAll(async () => {
    process.env[SECRET_ENV] = 'gw-secret-0123456789abcdef';
    await idp.registerIntrospectionClient('callguard-gw', 'gw-secret-0123456789abcdef');
  });

  it('an active opaque token for our audience gives its client and groups', async () => {
    const token = await idp.clientCredentialsToken({
      clientId: 'opaque-agent',
      audience: 'opaque:callguard',
      groups: ['agents'],
      email: 'agent@example.com',
    });
    expect(token.split('.')).toHaveLength(1);
    const p = await introspecting().verify(token);
    expect(p).toMatchObject({
      subject: 'opaque-agent',
      groups: ['agents'],
      email: 'agent@example.com',
      issuer: idp.issuer,
      authMethod: 'oidc',
    });
  });

  it('refuses another audience, an unknown token, and opaque tokens where introspection is off', async () => {
    const other = await idp.clientCredentialsToken({
      clientId: 'opaque-other',
      audience: 'opaque:other-api',
    });
    expect((await refusal(introspecting().verify(other))).rule).toBe('identity.oidc.aud');
    const made = await refusal(introspecting().verify('not-a-token-the-issuer-made'));
    expect([made.status, made.rule]).toEqual([401, 'identity.oidc.introspection']);
    const own = await idp.clientCredentialsToken({
      clientId: 'opaque-agent',
      audience: 'opaque:callguard',
    });
    expect((await refusal(verifier().verify(own))).rule).toBe('identity.oidc.format');
  });

  it('a wrong client secret is a misconfiguration: 503, never a pass', async () => {
    const token = await idp.clientCredentialsToken({
      clientId: 'opaque-agent',
      audience: 'opaque:callguard',
    });
    process.env[SECRET_ENV] = 'wrong-secret-000000000000';
    try {
      const e = await refusal(introspecting().verify(token));
      expect([e.status, e.code]).toEqual([503, 'identity_unavailable']);
    } finally {
      process.env[SECRET_ENV] = 'gw-secret-0123456789abcdef';
    }
  });

  it('issuer gone: a cached answer still verifies; an uncached token gets 503', async () => {
    const v = introspecting();
    const seen = await idp.clientCredentialsToken({
      clientId: 'opaque-agent',
      audience: 'opaque:callguard',
    });
    const unseen = await idp.clientCredentialsToken({
      clientId: 'opaque-agent2',
      audience: 'opaque:callguard',
    });
    await v.verify(seen);
    await idp.stop();
    try {
      expect((await v.verify(seen)).subject).toBe('opaque-agent');
      const e = await refusal(v.verify(unseen));
      expect([e.status, e.code]).toEqual([503, 'identity_unavailable']);
    } finally {
      await idp.start();
    }
  });
});
