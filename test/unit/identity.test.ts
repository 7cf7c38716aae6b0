// The identity source order and claim mapping (no network: jwt_authn payloads and the
// development header; OIDC and SAML have their own tests against real issuers/signatures).

import { describe, expect, it } from 'vitest';
import { claimAt, groupsFrom, principalFromClaims } from '../../src/identity/claims.js';
import { Identifier } from '../../src/identity/identify.js';
import type { IdentityConfig } from '../../src/config/config.js';
import { CallguardError } from '../../src/errors.js';

const base: IdentityConfig = {
  oidc: [],
  fetch_timeout_ms: 100,
  jwks_min_refresh_ms: 0,
  jwks_max_age_ms: 60_000,
};
const map = { groups_claim: 'groups', email_claim: 'email', name_claim: 'name' };

describe('claims', () => {
  it('reads dotted claim paths, and whole keys that contain dots', () => {
    const c = {
      realm_access: { roles: ['a'] },
      'https://acme/groups': ['x'],
      resource_access: { 'my-client': { roles: ['r'] } },
    };
    expect(claimAt(c, 'realm_access.roles')).toEqual(['a']);
    expect(claimAt(c, 'resource_access.my-client.roles')).toEqual(['r']);
    expect(claimAt(c, 'https://acme/groups')).toEqual(['x']);
    expect(claimAt(c, 'realm_access.missing.deeper')).toBeUndefined();
  });

  it('takes groups from an array or a space-separated string, ignoring non-strings', () => {
    expect(groupsFrom(['a', 3, '', 'b'])).toEqual(['a', 'b']);
    expect(groupsFrom('a  b')).toEqual(['a', 'b']);
    expect(groupsFrom({ a: 1 })).toEqual([]);
  });

  it('needs a subject', () => {
    expect(principalFromClaims({ groups: ['a'] }, map, 'oidc')).toBeUndefined();
    expect(
      principalFromClaims({ sub: 'u', iss: 'i', email: 'e', groups: ['g'] }, map, 'oidc'),
    ).toEqual({
      subject: 'u',
      issuer: 'i',
      email: 'e',
      groups: ['g'],
      authMethod: 'oidc',
    });
  });
});

describe('source order', () => {
  const id = new Identifier(
    { ...base, envoy_jwt_authn: { metadata_key: 'jwt_payload', issuers: ['https://idp'], ...map } },
    'x-dev-groups',
  );
  const headers = (h: Record<string, string>) => new Map(Object.entries(h));

  it('prefers the jwt_authn payload Envoy verified over the development header', async () => {
    const p = await id.identify({
      headers: headers({ 'x-dev-groups': 'root' }),
      metadata: {
        'envoy.filters.http.jwt_authn': {
          jwt_payload: { sub: 'u', iss: 'https://idp', groups: ['g'] },
        },
      },
    });
    expect(p).toMatchObject({ subject: 'u', groups: ['g'], authMethod: 'jwt_authn' });
  });

  it('refuses a jwt_authn payload from an issuer not on the allow-list, rather than falling through', async () => {
    await expect(
      id.identify({
        headers: headers({ 'x-dev-groups': 'root' }),
        metadata: {
          'envoy.filters.http.jwt_authn': { jwt_payload: { sub: 'u', iss: 'https://other' } },
        },
      }),
    ).rejects.toMatchObject({ code: 'unauthenticated', rule: 'identity.envoy_jwt_authn.iss' });
  });

  it('uses the development header only when configured, and is anonymous without any credential', async () => {
    expect(
      await id.identify({
        headers: headers({ 'x-dev-groups': 'a, b', 'x-dev-groups-user': 'ada' }),
      }),
    ).toEqual({
      subject: 'ada',
      groups: ['a', 'b'],
      authMethod: 'dev-header',
    });
    expect((await id.identify({ headers: headers({}) })).authMethod).toBe('anonymous');
    const off = new Identifier(base, '');
    expect((await off.identify({ headers: headers({ 'x-dev-groups': 'root' }) })).authMethod).toBe(
      'anonymous',
    );
  });

  it('a bearer token with no OIDC issuer configured is not a credential callguard reads', async () => {
    expect(
      (
        await new Identifier(base, '').identify({
          headers: headers({ authorization: 'Bearer x.y.z' }),
        })
      ).authMethod,
    ).toBe('anonymous');
  });

  it('a malformed bearer token with OIDC configured is refused, not ignored', async () => {
    const withOidc = new Identifier(
      {
        ...base,
        oidc: [
          {
            issuer: 'https://idp',
            audiences: ['a'],
            algorithms: ['RS256'],
            clock_skew_s: 0,
            ...map,
          },
        ],
      },
      '',
    );
    const e = await withOidc
      .identify({ headers: headers({ authorization: 'Bearer not-a-jwt' }) })
      .catch((x: unknown) => x);
    expect(e).toBeInstanceOf(CallguardError);
    expect((e as CallguardError).status).toBe(401);
  });
});
