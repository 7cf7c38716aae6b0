// Who may read session records: a verified identity (the same verifiers as the data path:
// OIDC bearer JWT, SAML; the development header only where configured) in one of
// `admin.auditor_groups`. No credential → 401 with www-authenticate; a credential that does
// not verify → 401; verified but not an auditor → 403; identity provider down → 503.

import type { IncomingMessage } from 'node:http';
import { CallguardError } from '../errors.js';
import type { AdminConfig } from '../config/config.js';
import type { Identifier } from '../identity/identify.js';
import type { Principal } from '../policy/types.js';

/**
 * Principals of requests authenticated by the admin page's session cookie (admin/ui/pages.ts
 * sets them after its CSRF checks). Such a request is checked exactly like a Bearer one.
 */
export const sessionPrincipals = new WeakMap<IncomingMessage, Principal>();

/** The caller of an audit API request, if an auditor; a CallguardError (401, 403, 503) if not. */
export async function requireAuditor(
  req: IncomingMessage,
  identifier: Identifier,
  cfg: AdminConfig,
): Promise<Principal> {
  const headers = new Map<string, string>();
  for (const [k, v] of Object.entries(req.headers)) {
    if (typeof v === 'string') headers.set(k.toLowerCase(), v);
    else if (Array.isArray(v)) headers.set(k.toLowerCase(), v.join(','));
  }
  const p = sessionPrincipals.get(req) ?? (await identifier.identify({ headers }));
  if (p.authMethod === 'anonymous') {
    throw new CallguardError('unauthenticated', 'a bearer token is required');
  }
  if (!(cfg.auth_sources as string[]).includes(p.authMethod)) {
    throw new CallguardError(
      'unauthenticated',
      `the admin API does not accept ${p.authMethod} identities`,
    );
  }
  if (!cfg.auditor_groups.some((g) => p.groups.includes(g))) {
    throw new CallguardError('forbidden', 'caller is not in an auditor group');
  }
  return p;
}
