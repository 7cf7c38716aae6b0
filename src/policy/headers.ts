// Which headers may be named in `inspect_headers` (a route's, or the configuration's): never
// a header that carries credentials or callguard's own facts. Their values are never
// scanned, logged or recorded, so naming one is refused when the policy or the
// configuration loads, rather than silently ignored.

/** Credentials in every deployment: a call's token, cookies, a proxy's credentials. */
export const CREDENTIAL_HEADERS = [
  'authorization',
  'proxy-authorization',
  'cookie',
  'set-cookie',
] as const;

/** callguard's own headers (identity for the upstream, approvals, sessions): `x-callguard-*`. */
const OWN_PREFIX = 'x-callguard-';

/**
 * Why `name` may not be inspected, or undefined if it may. `identity` are the headers the
 * configuration reads identities from (the SAML header, the development groups header).
 */
export function refusedHeader(name: string, identity: readonly string[] = []): string | undefined {
  const n = name.toLowerCase();
  if ((CREDENTIAL_HEADERS as readonly string[]).includes(n))
    return `${n} carries credentials: it is never scanned, logged or recorded`;
  if (identity.includes(n))
    return `${n} carries the caller's identity: it is never scanned, logged or recorded`;
  if (n.startsWith(OWN_PREFIX)) return `${n} is callguard's own header`;
  if (n.startsWith(':'))
    return `${n} is a pseudo-header (the URL is read on every protected route)`;
  return undefined;
}
