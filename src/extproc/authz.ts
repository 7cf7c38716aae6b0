// ext_authz: envoy.service.auth.v3.Authorization/Check on the same gRPC server. For
// header-only routes (no bodies to inspect) it is cheaper than ext_proc: one unary call.
// It applies the same route selection, identity and access rules, answers a refusal with
// the same JSON error, and on success can add identity headers for the upstream.

import { randomUUID } from 'node:crypto';
import { CallguardError } from '../errors.js';
import type { SessionSink } from '../audit/record.js';
import { sessionRecord } from '../audit/session.js';
import type { SessionFacts } from '../audit/session.js';
import { traceFields } from '../audit/trace.js';
import type { Identifier } from '../identity/identify.js';
import type { Logger } from '../log.js';
import { safeError } from '../log.js';
import type { CompiledPolicy } from '../policy/compile.js';
import type { RouteHint } from '../policy/routes.js';
import { ANONYMOUS } from '../policy/types.js';
import { admit, refusal } from './admission.js';
import { dynamicMetadata } from './identity.js';
import type { CheckRequest, CheckResponse, HeaderValueOption, HttpStatusCode } from './protos.js';
import { structToPlain } from './struct.js';
import type { AdmissionControl } from './admission-control.js';

export interface AuthzDeps {
  policy(): CompiledPolicy;
  identifier: Identifier;
  log: Logger;
  sink: SessionSink;
  now?: () => number;
  newId?: () => string;
  admission?: AdmissionControl | undefined;
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
  const now = deps.now ?? Date.now;
  const f: SessionFacts = {
    id: (deps.newId ?? randomUUID)(),
    started: now(),
    principal: ANONYMOUS,
  };
  const http = req.attributes?.request?.http ?? {};
  const headers = new Map(Object.entries(http.headers ?? {}).map(([k, v]) => [k.toLowerCase(), v]));
  f.method = http.method ?? headers.get(':method') ?? '';
  f.path = http.path ?? headers.get(':path') ?? '';
  f.trace = traceFields(headers);
  try {
    const admitted = await admit(f, {
      policy: deps.policy(),
      method: f.method,
      path: f.path,
      hint: hintFrom(req),
      headers,
      metadata: dynamicMetadata(req.attributes ?? {}),
      identifier: deps.identifier,
      sink: deps.sink,
      control: deps.admission,
      service: 'ext_authz',
    });
    if (admitted.public) return { status: { code: 0 }, ok_response: {} };
    return {
      status: { code: 0 },
      ok_response: {
        headers: admitted.set.map(([k, v]) => header(k, v)),
        headers_to_remove: admitted.remove,
      },
    };
  } catch (e) {
    if (!(e instanceof CallguardError))
      deps.log.error({ err: safeError(e), session_id: f.id }, 'check failed');
    const r = refusal(f, e);
    return {
      status: { code: rpcCode(r.status), message: r.body.error.code },
      denied_response: {
        // protobufjs takes an enum's number as well as its name; our codes are HTTP numbers.
        status: { code: r.status as unknown as HttpStatusCode },
        headers: r.headers.map(([k, v]) => header(k, v)),
        body: JSON.stringify(r.body),
      },
    };
  } finally {
    deps.sink.submit(sessionRecord(f, now(), f.outcome ?? 'allowed'));
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
