// The test OIDC issuer (test/support/idp.ts) does what integration tests rely on, checked
// with jose alone: discovery and JWKS on loopback, real client_credentials JWTs with the
// groups where asked, key rotation, and an issuer that goes away and comes back.

import {
  createRemoteJWKSet,
  decodeJwt,
  decodeProtectedHeader,
  errors,
  exportJWK,
  generateKeyPair,
  jwtVerify,
} from 'jose';
import type { JWK, JWTPayload } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestIdp } from '../support/idp.js';
import type { TestIdp } from '../support/idp.js';

const AUD = 'callguard';

interface Discovery {
  issuer: string;
  jwks_uri: string;
  token_endpoint: string;
  grant_types_supported: string[];
}

async function discover(idp: TestIdp): Promise<Discovery> {
  const res = await fetch(`${idp.issuer}/.well-known/openid-configuration`);
  expect(res.status).toBe(200);
  return (await res.json()) as Discovery;
}

/** Verifies as a relying party would: discovery, then a fresh remote JWKS. */
async function verify(idp: TestIdp, token: string, audience = AUD) {
  const d = await discover(idp);
  return jwtVerify(token, createRemoteJWKSet(new URL(d.jwks_uri)), {
    issuer: d.issuer,
    audience,
    typ: 'at+jwt',
  });
}

async function rejection(p: Promise<unknown>): Promise<unknown> {
  return p.then(
    () => {
      throw new Error('expected a rejection');
    },
    (e: unknown) => e,
  );
}

async function privateJwk(alg: 'RS256' | 'ES256', kid: string): Promise<JWK> {
  const { privateKey } = await generateKeyPair(alg, { extractable: true });
  return { ...(await exportJWK(privateKey)), kid, alg };
}

describe('discovery and tokens', () => {
  let idp: TestIdp;
  beforeAll(async () => {
    idp = await startTestIdp();
  });
  afterAll(async () => {
    await idp?.stop();
  });

  it('serves discovery on 127.0.0.1 with its issuer and a JWKS of public keys only', async () => {
    expect(idp.port).toBeGreaterThan(0);
    expect(idp.issuer).toBe(`http://127.0.0.1:${idp.port}`);
    const d = await discover(idp);
    expect(d.issuer).toBe(idp.issuer);
    expect(d.jwks_uri).toBe(`${idp.issuer}/jwks`);
    expect(d.token_endpoint).toBe(`${idp.issuer}/token`);
    expect(d.grant_types_supported).toContain('client_credentials');
    const jwks = (await (await fetch(d.jwks_uri)).json()) as { keys: JWK[] };
    expect(jwks.keys.map((k) => k.kid)).toEqual([idp.keys[0]!.kid]);
    expect(jwks.keys[0]).toMatchObject({ kty: 'RSA', alg: 'RS256', use: 'sig' });
    expect(jwks.keys[0]!.d).toBeUndefined();
    expect(idp.keys[0]!.d).toBeTypeOf('string');
  });

  it('issues a client_credentials JWT that verifies through discovery and JWKS', async () => {
    const token = await idp.clientCredentialsToken({
      clientId: 'payments-agent',
      audience: AUD,
      groups: ['agents', 'payments-admins'],
      email: 'agent@example.com',
    });
    const { payload, protectedHeader } = await verify(idp, token);
    expect(protectedHeader).toEqual({ alg: 'RS256', typ: 'at+jwt', kid: idp.keys[0]!.kid });
    expect(payload).toMatchObject({
      iss: idp.issuer,
      aud: AUD,
      sub: 'payments-agent',
      client_id: 'payments-agent',
      groups: ['agents', 'payments-admins'],
      email: 'agent@example.com',
    });
    expect(payload.exp! - payload.iat!).toBe(600);
    // The audience is enforced by the verifier, not only present.
    const e = await rejection(verify(idp, token, 'someone-else'));
    expect(e).toBeInstanceOf(errors.JWTClaimValidationFailed);
    expect((e as errors.JWTClaimValidationFailed).claim).toBe('aud');
  });

  it('takes URL audiences and scopes as they are; leaves claims out when not asked', async () => {
    const token = await idp.clientCredentialsToken({
      clientId: 'reader',
      audience: 'https://api.example.com/v1',
      scope: 'read write',
    });
    const { payload } = await verify(idp, token, 'https://api.example.com/v1');
    expect(payload).toMatchObject({ sub: 'reader', scope: 'read write' });
    expect(payload.groups).toBeUndefined();
    expect(payload.email).toBeUndefined();
    const empty = await idp.clientCredentialsToken({
      clientId: 'nobody',
      audience: AUD,
      groups: [],
    });
    expect(decodeJwt(empty).groups).toEqual([]);
  });

  it('gives each call its own groups, even for one client asked concurrently', async () => {
    const [a, b] = await Promise.all([
      idp.clientCredentialsToken({ clientId: 'same', audience: AUD, groups: ['one'] }),
      idp.clientCredentialsToken({ clientId: 'same', audience: AUD, groups: ['two'] }),
    ]);
    expect(decodeJwt(a).groups).toEqual(['one']);
    expect(decodeJwt(b).groups).toEqual(['two']);
  });
});

describe('claim paths, keys and lifetimes', () => {
  const started: TestIdp[] = [];
  const start = async (...args: Parameters<typeof startTestIdp>) => {
    const idp = await startTestIdp(...args);
    started.push(idp);
    return idp;
  };
  afterAll(async () => {
    await Promise.all(started.map((i) => i.stop()));
  });

  it.each([
    ['realm_access.roles', (p: JWTPayload) => (p.realm_access as { roles: unknown }).roles],
    [
      'resource_access.callguard.roles',
      (p: JWTPayload) => (p.resource_access as Record<string, { roles: unknown }>).callguard!.roles,
    ],
    ['roles', (p: JWTPayload) => p.roles],
  ])('puts the groups at %s', async (groupsClaim, at) => {
    const idp = await start({ groupsClaim });
    const token = await idp.clientCredentialsToken({
      clientId: 'svc',
      audience: AUD,
      groups: ['agents'],
    });
    const { payload } = await verify(idp, token);
    expect(at(payload)).toEqual(['agents']);
    expect(payload.groups).toBeUndefined();
  });

  it('signs with the first of the keys given, serves them all, and honours the TTL', async () => {
    const keys = [await privateJwk('ES256', 'ec-1'), await privateJwk('RS256', 'rsa-1')];
    const idp = await start({ keys, accessTokenTtlSeconds: 60 });
    expect(idp.keys.map((k) => k.kid)).toEqual(['ec-1', 'rsa-1']);
    const jwks = (await (await fetch((await discover(idp)).jwks_uri)).json()) as { keys: JWK[] };
    expect(jwks.keys.map((k) => [k.kid, k.alg])).toEqual([
      ['ec-1', 'ES256'],
      ['rsa-1', 'RS256'],
    ]);
    const token = await idp.clientCredentialsToken({ clientId: 'svc', audience: AUD });
    const { payload, protectedHeader } = await verify(idp, token);
    expect(protectedHeader).toMatchObject({ alg: 'ES256', kid: 'ec-1' });
    expect(payload.exp! - payload.iat!).toBe(60);
  });
});

describe('rotation, and an issuer that goes away', () => {
  let idp: TestIdp;
  beforeAll(async () => {
    idp = await startTestIdp();
  });
  afterAll(async () => {
    await idp?.stop();
  });
  const token = () => idp.clientCredentialsToken({ clientId: 'svc', audience: AUD });

  it('rotates to a new current key, keeping or dropping the old ones', async () => {
    const port = idp.port;
    const first = await token();
    const firstKid = decodeProtectedHeader(first).kid;

    await idp.rotate();
    const second = await token();
    const secondKid = decodeProtectedHeader(second).kid;
    expect(secondKid).not.toBe(firstKid);
    expect(idp.keys.map((k) => k.kid)).toEqual([secondKid, firstKid]);
    expect((await verify(idp, second)).protectedHeader.kid).toBe(secondKid);
    expect((await verify(idp, first)).protectedHeader.kid).toBe(firstKid);

    await idp.rotate({ dropOld: true, alg: 'ES256' });
    expect(idp.port).toBe(port);
    const third = await token();
    expect((await verify(idp, third)).protectedHeader).toMatchObject({
      alg: 'ES256',
      kid: idp.keys[0]!.kid,
    });
    expect(idp.keys).toHaveLength(1);
    expect(await rejection(verify(idp, first))).toBeInstanceOf(errors.JWKSNoMatchingKey);
    expect(await rejection(verify(idp, second))).toBeInstanceOf(errors.JWKSNoMatchingKey);
  });

  it('refuses connections after stop(), and comes back on the same port after start()', async () => {
    const before = await token();
    const { port, issuer } = idp;
    await idp.stop();
    const e = await rejection(fetch(`${issuer}/.well-known/openid-configuration`));
    expect(e).toBeInstanceOf(TypeError);
    expect((e as { cause?: { code?: string } }).cause?.code).toBe('ECONNREFUSED');
    await expect(token()).rejects.toThrow();

    await idp.start();
    expect(idp.port).toBe(port);
    expect((await discover(idp)).issuer).toBe(issuer);
    await verify(idp, before);
    await verify(idp, await token());
  });
});
