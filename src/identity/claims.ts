// Reading a Principal out of verified claims (an OIDC token's payload, or the payload
// Envoy's jwt_authn filter verified). Claim paths are dotted: `groups`, `roles`,
// `realm_access.roles`, `resource_access.my-client.roles`.

import type { Principal } from '../policy/types.js';

export interface ClaimMapping {
  groups_claim: string;
  email_claim: string;
  name_claim: string;
}

export function claimAt(claims: Record<string, unknown>, path: string): unknown {
  // A key that itself contains dots (some IdPs use URLs as claim names) is tried whole first.
  if (path in claims) return claims[path];
  let cur: unknown = claims;
  for (const seg of path.split('.')) {
    if (typeof cur !== 'object' || cur === null || Array.isArray(cur)) return undefined;
    cur = (cur as Record<string, unknown>)[seg];
  }
  return cur;
}

/** Groups: an array of strings, or one string (space-separated, as OAuth `scope` is). */
export function groupsFrom(value: unknown): string[] {
  if (Array.isArray(value))
    return value.filter((g): g is string => typeof g === 'string' && g !== '');
  if (typeof value === 'string') return value.split(/\s+/).filter((g) => g !== '');
  return [];
}

export function principalFromClaims(
  claims: Record<string, unknown>,
  map: ClaimMapping,
  authMethod: Principal['authMethod'],
): Principal | undefined {
  const sub = claims.sub;
  if (typeof sub !== 'string' || sub === '') return undefined;
  const p: Principal = {
    subject: sub,
    groups: groupsFrom(claimAt(claims, map.groups_claim)),
    authMethod,
  };
  const email = claimAt(claims, map.email_claim);
  const name = claimAt(claims, map.name_claim);
  if (typeof email === 'string') p.email = email;
  if (typeof name === 'string') p.name = name;
  if (typeof claims.iss === 'string') p.issuer = claims.iss;
  return p;
}
