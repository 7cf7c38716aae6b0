// The one session-record builder: an ext_proc exchange and an ext_authz check each fill in
// the facts of their session as they learn them (SessionFacts), whatever path the call
// takes, and sessionRecord() makes the record from them once, at the end.

import type { ApprovalSummary } from '../approval/ticket.js';
import type { FunctionPlan, RoutePlan } from '../policy/compile.js';
import type { Levels } from '../policy/levels.js';
import type { Decision, Principal } from '../policy/types.js';
import type { AnalyzerRecord, AuditBody, Outcome, SessionRecord } from './record.js';
import type { TraceFields } from './trace.js';

/** What is known of one session so far. */
export interface SessionFacts {
  readonly id: string;
  /** When the session began (ms since the epoch). */
  readonly started: number;
  method?: string;
  /**
   * The path as the record may keep it (without its query): as forwarded, every value a
   * detector found masked or redacted (extproc/channels.ts).
   */
  path?: string;
  /** The request target as received: read, never recorded (the record keeps `path`). */
  target?: string;
  /** The head's inspected headers were read (the record keeps them as it may). */
  headRead?: boolean;
  authority?: string;
  /** W3C trace context and the request id (audit/trace.ts). */
  trace?: TraceFields;
  sourceIp?: string;
  /** Non-secret request headers (audit/replay.ts). */
  requestHeaders?: Record<string, string>;
  route?: RoutePlan;
  routeVia?: 'metadata' | 'path';
  fn?: FunctionPlan;
  /** The policy's levels, for the record's highest level. */
  levels?: Levels;
  principal: Principal;
  /** How the session ended, once something decided it (a refusal, the public fast path). */
  outcome?: Outcome;
  error?: SessionRecord['error'];
  upstreamStatus?: number;
  approval?: ApprovalSummary;
  request?: Decision;
  response?: Decision;
  /** What the external analyzers did, per analyzer and side. */
  analyzers?: AnalyzerRecord[];
  requestBody?: AuditBody;
  responseBody?: AuditBody;
}

/** The session record of `f`, ended at `endedAt` with `outcome`. */
export function sessionRecord(f: SessionFacts, endedAt: number, outcome: Outcome): SessionRecord {
  const p = f.principal;
  const record: SessionRecord = {
    session_id: f.id,
    started_at: new Date(f.started).toISOString(),
    duration_ms: endedAt - f.started,
    principal: { subject: p.subject, groups: p.groups, authMethod: p.authMethod },
    outcome,
  };
  if (p.email) record.principal.email = p.email;
  if (p.name) record.principal.name = p.name;
  if (p.issuer) record.principal.issuer = p.issuer;
  if (f.method !== undefined) record.method = f.method;
  if (f.path !== undefined) record.path = f.path.split('?')[0];
  if (f.authority !== undefined) record.authority = f.authority;
  if (f.trace) Object.assign(record, f.trace);
  if (f.sourceIp !== undefined) record.source_ip = f.sourceIp;
  if (f.requestHeaders) record.request_headers = f.requestHeaders;
  if (f.route) {
    record.route = f.route.name;
    record.format = f.route.format;
  }
  if (f.routeVia) record.route_via = f.routeVia;
  if (f.fn) record.function = f.fn.name;
  if (f.requestBody) record.request_body = f.requestBody;
  if (f.responseBody) record.response_body = f.responseBody;
  const levels = f.levels;
  for (const d of [f.request, f.response])
    for (const finding of d?.findings ?? [])
      if (levels?.has(finding.level))
        record.max_level = record.max_level
          ? levels.max(record.max_level, finding.level)
          : finding.level;
  if (f.approval) record.approval = f.approval;
  if (f.error) record.error = f.error;
  if (f.upstreamStatus !== undefined) record.upstream_status = f.upstreamStatus;
  if (f.request) record.request = f.request;
  if (f.response) record.response = f.response;
  if (f.analyzers?.length) record.analyzers = f.analyzers;
  return record;
}
