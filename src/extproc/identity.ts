// Identity at the transport edge, shared by ext_proc and ext_authz: Envoy's dynamic
// metadata → plain objects, route access checks, and the identity headers the upstream
// gets.

import { CallguardError } from '../errors.js';
import type { Identifier } from '../identity/identify.js';
import type { RoutePlan } from '../policy/compile.js';
import type { Principal } from '../policy/types.js';
import type { Metadata } from './protos.js';
import { structToPlain } from './struct.js';

/** Headers callguard sets for the upstream; a caller's own copies are always removed. */
export const IDENTITY_HEADERS = [
  'x-callguard-subject',
  'x-callguard-groups',
  'x-callguard-auth-method',
];

export function dynamicMetadata(m: {
  metadata_context?: Metadata;
}): Record<string, Record<string, unknown>> {
  const out: Record<string, Record<string, unknown>> = {};
  for (const [ns, st] of Object.entries(m.metadata_context?.filter_metadata ?? {}))
    out[ns] = structToPlain(st);
  return out;
}

export function authorize(route: RoutePlan, p: Principal): void {
  if (p.authMethod === 'anonymous') {
    if (!route.anonymous) {
      throw new CallguardError('unauthenticated', 'this route requires an identified caller', {
        rule: `routes.${route.name}.access`,
      });
    }
  } else if (route.sources && !route.sources.has(p.authMethod)) {
    throw new CallguardError(
      'unauthenticated',
      `this route does not accept ${p.authMethod} identities`,
      {
        rule: `routes.${route.name}.access.sources`,
      },
    );
  }
  if (route.requireGroups.length > 0 && !route.requireGroups.some((g) => p.groups.includes(g))) {
    throw new CallguardError('forbidden', 'caller is not in a group this route requires', {
      rule: `routes.${route.name}.access.require_groups`,
    });
  }
}

export function upstreamIdentityHeaders(
  route: RoutePlan,
  p: Principal,
  identifier: Identifier,
): { set: [name: string, value: string][]; remove: string[] } {
  const set: [string, string][] = [];
  if (route.identityHeaders && p.authMethod !== 'anonymous') {
    set.push(
      ['x-callguard-subject', p.subject],
      ['x-callguard-groups', p.groups.join(',')],
      ['x-callguard-auth-method', p.authMethod],
    );
  }
  // Identity headers we set overwrite the caller's; those we do not set are removed. (Not
  // both: ext_authz applies removals after additions.)
  const remove = [
    ...identifier.credentialHeaders,
    ...IDENTITY_HEADERS.filter((h) => !set.some(([k]) => k === h)),
  ];
  if (route.stripAuthorization) remove.push('authorization');
  return { set, remove };
}

export function describeCaller(p: Principal): string {
  return `${p.subject} via ${p.authMethod}, groups [${p.groups.join(', ')}]`;
}
