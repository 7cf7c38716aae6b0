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
import { admit, APPROVAL_HEADER, refusal } from './admission.js';
import { dynamicMetadata } from './identity.js';
import { headBinding, headInput, inspectHead, scrubRefused } from './channels.js';
import { approvalGate, approvalSummary } from '../approval/gate.js';
import type { ApprovalService } from '../approval/service.js';
import { DEFAULT_CONFIG } from '../config/config.js';
import type { Config } from '../config/config.js';
import type { HeadInput, HeadInspection } from '../engine/index.js';
import type { Tokenizer } from '../enforce/tokenize.js';
import type { CheckRequest, CheckResponse, HeaderValueOption, HttpStatusCode } from './protos.js';
import { structToPlain } from './struct.js';
import type { AdmissionControl } from './admission-control.js';

export interface AuthzDeps {
  policy(): CompiledPolicy;
  identifier: Identifier;
  log: Logger;
  sink: SessionSink;
  /** Limits and inspect_headers for the URL and headers (defaults when absent). */
  config?: Config;
  tokenizer?: Tokenizer | undefined;
  approvals?: ApprovalService | undefined;
  fingerprint?: (value: string) => string;
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
  f.target = http.path ?? headers.get(':path') ?? '';
  f.trace = traceFields(headers);
  const config = deps.config ?? DEFAULT_CONFIG;
  let policy: CompiledPolicy | undefined;
  try {
    policy = deps.policy();
    const admitted = await admit(f, {
      policy,
      method: f.method,
      path: f.target,
      hint: hintFrom(req),
      headers,
      metadata: dynamicMetadata(req.attributes ?? {}),
      identifier: deps.identifier,
      sink: deps.sink,
      control: deps.admission,
      service: 'ext_authz',
    });
    if (admitted.public) {
      f.path = f.target;
      return { status: { code: 0 }, ok_response: {} };
    }
    // The URL and the named headers, as on an ext_proc route: masked by setting `:path` and
    // the headers in the OK answer (Envoy keeps the route it chose for the original path).
    const route = f.route!;
    const input = headInput(
      {
        policy,
        route,
        fn: f.fn,
        principal: f.principal,
        direction: 'request',
        tokenizer: deps.tokenizer,
        fingerprint: deps.fingerprint,
      },
      config,
      headers,
      f.target,
    );
    const head = inspectHead(f, 'request', input);
    if (head.decision.findings.length > 0) f.request = head.decision;
    if (head.decision.action === 'hold') await approveHead(deps, f, input, head, headers);
    const set = [...admitted.set, ...head.headers];
    if (head.target !== undefined) set.push([':path', head.target]);
    return {
      status: { code: 0 },
      ok_response: {
        headers: set.map(([k, v]) => header(k, v)),
        headers_to_remove: [...admitted.remove, APPROVAL_HEADER],
      },
    };
  } catch (e) {
    if (!(e instanceof CallguardError))
      deps.log.error({ err: safeError(e), session_id: f.id }, 'check failed');
    scrubRefused(f, policy, config);
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

/**
 * A header-only call whose URL or headers hold a value for approval: it goes on only with
 * the approval its retry names. A Check cannot extend Envoy's timer, so it never waits in
 * line: the first call gets approval_required at once.
 */
async function approveHead(
  deps: AuthzDeps,
  f: SessionFacts,
  input: HeadInput,
  head: HeadInspection,
  headers: ReadonlyMap<string, string>,
): Promise<void> {
  const id = headers.get(APPROVAL_HEADER);
  if (id !== undefined && !/^[A-Za-z0-9_-]{1,80}$/.test(id))
    throw new CallguardError('approval_unknown', 'not an approval id', { rule: 'approvals' });
  const outcome = await approvalGate(
    {
      principal: f.principal,
      route: f.route?.name ?? '',
      fn: f.fn?.name,
      sessionId: f.id,
      method: f.method ?? '',
      path: (f.path ?? '').split('?')[0] as string,
      body: new Uint8Array(0),
      head: headBinding(input, head),
      maxDepth: (deps.config ?? DEFAULT_CONFIG).limits.max_depth,
      decision: head.decision,
      previews: head.previews,
      approvalId: id,
    },
    {
      approvals: deps.approvals,
      maxWaitMs: 0,
      now: deps.now ?? Date.now,
      log: deps.log,
      extendTimer: () => {},
    },
  );
  if (outcome.ticket) f.approval = approvalSummary(outcome.ticket);
  if (!outcome.pass) throw outcome.error;
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
