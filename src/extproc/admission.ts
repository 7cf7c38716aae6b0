// What the ext_proc exchange and the ext_authz check both do with a call's request headers,
// and how both refuse: the route is selected, a full audit spool refuses new calls, a public
// route takes the fast path, admission control may refuse a call over capacity, otherwise the caller is identified and checked against the
// route's access rules. The session's facts are noted as they are learnt, so a refusal at
// any step is recorded with what was known.

import type { SessionFacts } from '../audit/session.js';
import type { SessionSink } from '../audit/record.js';
import { CallguardError, errorBody } from '../errors.js';
import type { ErrorBody } from '../errors.js';
import type { Identifier } from '../identity/identify.js';
import type { CompiledPolicy } from '../policy/compile.js';
import { selectRoute } from '../policy/routes.js';
import type { RouteHint } from '../policy/routes.js';
import type { AdmissionService } from '../metrics.js';
import { checkAdmission } from './admission-control.js';
import type { AdmissionControl } from './admission-control.js';
import { authorize, upstreamIdentityHeaders } from './identity.js';

/** The header that names a call's session, on every refusal and answer. */
export const SESSION_HEADER = 'x-callguard-session';
/** A caller's retry of a held call names its approval here. */
export const APPROVAL_HEADER = 'x-callguard-approval';

export interface AdmissionInput {
  policy: CompiledPolicy;
  method: string;
  path: string;
  hint: RouteHint;
  /** Request headers, lower-case names. */
  headers: ReadonlyMap<string, string>;
  /** Envoy's dynamic metadata, by namespace (a trusted jwt_authn payload). */
  metadata: Record<string, Record<string, unknown>>;
  identifier: Identifier;
  sink: SessionSink;
  /** Admission control, when this service refuses calls over capacity here (admission-control.ts). */
  control?: AdmissionControl | undefined;
  service: AdmissionService;
}

export type Admission =
  /** A public route: no identity, no bodies (the fast path). */
  | { public: true }
  /** An identified caller the route admits, and the headers its upstream gets. */
  | { public: false; set: [name: string, value: string][]; remove: string[] };

/** Admits a call or throws the CallguardError that refuses it; notes what it learns in `f`. */
export async function admit(f: SessionFacts, a: AdmissionInput): Promise<Admission> {
  f.levels = a.policy.levels;
  const sel = selectRoute(a.policy, a.method, a.path, a.hint);
  if (!sel.ok) throw new CallguardError('no_policy', sel.reason, { rule: 'routes' });
  f.route = sel.route;
  f.fn = sel.fn;
  f.routeVia = sel.via;
  if (a.sink.accepting?.() === false) {
    // The audit spool is full and configured to refuse: no call goes unrecorded.
    throw new CallguardError('audit_unavailable', 'the audit record cannot be stored', {
      rule: 'audit.spool.on_full',
    });
  }
  if (sel.route.public) {
    f.outcome = 'public';
    return { public: true };
  }
  // Before identity and any body: a refusal over capacity costs as little as it can.
  checkAdmission(a.control, a.service);
  f.principal = await a.identifier.identify({ headers: a.headers, metadata: a.metadata });
  authorize(sel.route, f.principal);
  return { public: false, ...upstreamIdentityHeaders(sel.route, f.principal, a.identifier) };
}

export interface Refusal {
  status: number;
  body: ErrorBody;
  /** The refusal's headers: JSON, the session, and the auth challenge of a 401. */
  headers: [name: string, value: string][];
}

/**
 * The answer that refuses a call for `e` (fail closed: anything but a CallguardError is an
 * `internal` error without detail), noted in the session's facts.
 */
export function refusal(f: SessionFacts, e: unknown): Refusal {
  const { status, body } = errorBody(e, f.id);
  f.outcome = e instanceof CallguardError ? 'denied' : 'error';
  f.error = { code: body.error.code, status, paths: body.error.paths, rule: body.error.rule };
  const headers: [string, string][] = [
    ['content-type', 'application/json'],
    [SESSION_HEADER, f.id],
  ];
  if (body.error.code === 'unauthenticated')
    headers.push(['www-authenticate', 'Bearer realm="callguard"']);
  if (e instanceof CallguardError && e.retryAfterS !== undefined)
    headers.push(['retry-after', String(e.retryAfterS)]);
  return { status, body, headers };
}
