// ext_authz: envoy.service.auth.v3.Authorization/Check on the same gRPC server. For
// header-only routes (no bodies to inspect) it is cheaper than ext_proc: one unary call.
// It applies the same route selection, identity and access rules, answers a refusal with
// the same JSON error, and on success can add identity headers for the upstream.

import { randomUUID } from 'node:crypto';
import { CallguardError, errorBody } from '../errors.js';
import type { SessionRecord, SessionSink } from '../audit/record.js';
import type { Identifier } from '../identity/identify.js';
import type { Logger } from '../log.js';
import { safeError } from '../log.js';
import type { CompiledPolicy } from '../policy/compile.js';
import { selectRoute } from '../policy/routes.js';
import type { RouteHint } from '../policy/routes.js';
import { ANONYMOUS } from '../policy/types.js';
import type { Principal } from '../policy/types.js';
import { SESSION_HEADER } from './exchange.js';
import { authorize, dynamicMetadata, upstreamIdentityHeaders } from './identity.js';
import type { CheckRequest, CheckResponse, HeaderValueOption, HttpStatusCode } from './protos.js';
import { structToPlain } from './struct.js';
import { checkAdmission } from './admission.js';
import type { Admission } from './admission.js';

export interface AuthzDeps {
  policy(): CompiledPolicy;
  identifier: Identifier;
  log: Logger;
  sink: SessionSink;
  admission?: Admission | undefined;
}

/** google.rpc.Code for each HTTP refusal status. */
function rpcCode(status: number): number {
  switch (status) {
    case 401:
      return 16; // UNAUTHENTICATED
    case 503:
      return 14; // UNAVAILABLE
    case 500:
      return 13; // INTERNAL
    default:
      return 7; // PERMISSION_DENIED
  }
}

// ext_authz reads header values from `value` (a string); ext_proc reads raw_value.
const header = (key: string, value: string): HeaderValueOption => ({
  header: { key, value },
  append_action: 'OVERWRITE_IF_EXISTS_OR_ADD',
});

export async function check(deps: AuthzDeps, req: CheckRequest): Promise<CheckResponse> {
  const id = randomUUID();
  const started = Date.now();
  const http = req.attributes?.request?.http ?? {};
  const headers = new Map(Object.entries(http.headers ?? {}).map(([k, v]) => [k.toLowerCase(), v]));
  const method = http.method ?? headers.get(':method') ?? '';
  const path = http.path ?? headers.get(':path') ?? '';
  let principal: Principal = ANONYMOUS;
  const record: SessionRecord = {
    session_id: id,
    started_at: new Date(started).toISOString(),
    duration_ms: 0,
    method,
    path: path.split('?')[0] as string,
    principal: {
      subject: principal.subject,
      groups: principal.groups,
      authMethod: principal.authMethod,
    },
    outcome: 'allowed',
  };
  try {
    const sel = selectRoute(deps.policy(), method, path, hintFrom(req));
    if (!sel.ok) throw new CallguardError('no_policy', sel.reason, { rule: 'routes' });
    record.route = sel.route.name;
    record.route_via = sel.via;
    if (sel.fn) record.function = sel.fn.name;
    if (sel.route.public) {
      record.outcome = 'public';
      return { status: { code: 0 }, ok_response: {} };
    }
    checkAdmission(deps.admission, 'ext_authz');
    principal = await deps.identifier.identify({
      headers,
      metadata: dynamicMetadata(req.attributes ?? {}),
    });
    record.principal = {
      subject: principal.subject,
      groups: principal.groups,
      authMethod: principal.authMethod,
    };
    authorize(sel.route, principal);
    const { set, remove } = upstreamIdentityHeaders(sel.route, principal, deps.identifier);
    return {
      status: { code: 0 },
      ok_response: {
        headers: set.map(([k, v]) => header(k, v)),
        headers_to_remove: remove,
      },
    };
  } catch (e) {
    if (!(e instanceof CallguardError))
      deps.log.error({ err: safeError(e), session_id: id }, 'check failed');
    const { status, body } = errorBody(e, id);
    record.outcome = e instanceof CallguardError ? 'denied' : 'error';
    record.error = {
      code: body.error.code,
      status,
      paths: body.error.paths,
      rule: body.error.rule,
    };
    const hs = [header('content-type', 'application/json'), header(SESSION_HEADER, id)];
    if (body.error.code === 'unauthenticated')
      hs.push(header('www-authenticate', 'Bearer realm="callguard"'));
    if (e instanceof CallguardError && e.retryAfterS !== undefined)
      hs.push(header('retry-after', String(e.retryAfterS)));
    return {
      status: { code: rpcCode(status), message: body.error.code },
      denied_response: {
        // protobufjs takes an enum's number as well as its name; our codes are HTTP numbers.
        status: { code: status as unknown as HttpStatusCode },
        headers: hs,
        body: JSON.stringify(body),
      },
    };
  } finally {
    record.duration_ms = Date.now() - started;
    deps.sink.submit(record);
  }
}

function hintFrom(req: CheckRequest): RouteHint {
  const st = req.attributes?.route_metadata_context?.filter_metadata?.callguard;
  if (!st) return {};
  const ns = structToPlain(st);
  const hint: RouteHint = {};
  if (typeof ns.policy === 'string') hint.policy = ns.policy;
  if (typeof ns.function === 'string') hint.function = ns.function;
  return hint;
}
