// The session record: one per exchange, built in one place at stream end whatever path
// the stream took (SessionRecord), and its ECS-aligned Elasticsearch document
// (SessionDocument, see docs/audit.md). A record never holds a confidential-or-above value
// in clear: findings carry paths, levels, actions and keyed fingerprints; bodies are the
// bytes as forwarded (masked), with any value a rule let through in clear redacted again
// for the record (audit/body.ts).

import type { AnalyzerUse } from '../analyze/index.js';
import type { ApprovalSummary } from '../approval/ticket.js';
import type { Logger } from '../log.js';
import type {
  ActionType,
  Decision,
  Direction,
  FindingDecision,
  Principal,
  RecordMode,
} from '../policy/types.js';

export type Outcome =
  | 'allowed' // forwarded unchanged
  | 'modified' // forwarded with masked/redacted values
  | 'public' // public route: bodies not inspected
  | 'denied' // refused by callguard (bad input, identity, prohibited field, block)
  | 'error' // callguard failed; the call was refused (fail closed)
  | 'aborted' // Envoy ended the stream before a decision
  | 'envoy_reply'; // Envoy answered the request itself before callguard saw it (e.g. jwt_authn)

/** A body as the record keeps it: the text as forwarded (masked), capped, or why not. */
export interface AuditBody {
  text?: string;
  /** Size of the forwarded body (decoded), before any cap. */
  bytes: number;
  truncated: boolean;
  /** Why the text is not kept (e.g. it could not be re-checked for values in clear). */
  withheld?: string;
}

/** What one external analyzer did for one side of a session (streams: summed). */
export interface AnalyzerRecord extends AnalyzerUse {
  direction: Direction;
  /** On failure, what came of it: refused (block), forwarded unanalyzed, or monitor mode. */
  on_error?: 'block' | 'allow_with_record' | 'monitor';
}

export interface SessionRecord {
  session_id: string;
  started_at: string;
  duration_ms: number;
  method?: string;
  path?: string;
  /** `:authority` as Envoy saw it (for replay). */
  authority?: string;
  /** The caller's address as Envoy saw it (`source.address` attribute). */
  source_ip?: string;
  /** The W3C `traceparent`'s trace-id, when the request carried a valid one (audit/trace.ts). */
  trace_id?: string;
  /** The same header's parent-id: the caller's span. */
  span_id?: string;
  /** Envoy's `x-request-id`. */
  request_id?: string;
  route?: string;
  route_via?: 'metadata' | 'path';
  function?: string;
  /** The route's payload format (json, openai-chat, …). */
  format?: string;
  /** A held call's approval: its id, state, who approved and when, when it was used. */
  approval?: ApprovalSummary;
  principal: Pick<Principal, 'subject' | 'groups' | 'authMethod' | 'email' | 'name' | 'issuer'>;
  outcome: Outcome;
  /** Status callguard answered with itself, when it refused the call. */
  error?: { code: string; status: number; paths: string[]; rule: string | null };
  upstream_status?: number;
  approval_id?: string;
  /** Highest classification level among all findings. */
  max_level?: string;
  request?: Decision;
  response?: Decision;
  /** The external analyzers the session's bodies went to, and how each did. */
  analyzers?: AnalyzerRecord[];
  /** Non-secret request headers (an allow-list, see audit/replay.ts). */
  request_headers?: Record<string, string>;
  request_body?: AuditBody;
  response_body?: AuditBody;
}

export interface SessionSink {
  submit(record: SessionRecord): void;
  /** False while the sink cannot take records (spool full with `on_full: refuse`). */
  accepting?(): boolean;
}

/** Writes each record's metadata as one log line (decisions without spans, no bodies). */
export class LogSink implements SessionSink {
  constructor(private readonly log: Logger) {}

  submit(r: SessionRecord): void {
    // Bodies, headers and fingerprints never go to the log.
    // eslint-disable-next-line @typescript-eslint/no-unused-vars
    const { request_body, response_body, request_headers, ...meta } = r;
    this.log.info(
      {
        session: {
          ...meta,
          request: r.request && summarize(r.request),
          response: r.response && summarize(r.response),
        },
      },
      'session',
    );
  }
}

function summarize(d: Decision) {
  return {
    action: d.action,
    findings: d.findings.map((f) => ({
      path: f.path,
      level: f.level,
      action: f.action,
      rule: f.rule,
      detector: f.detector,
      ...(f.analyzer !== undefined ? { analyzer: f.analyzer } : {}),
      ...(f.monitor !== undefined ? { monitor: f.monitor } : {}),
    })),
  };
}

// --- the Elasticsearch document ------------------------------------------------------------

/** The decision an auditor filters on (`callguard.decision`), in the order the page lists them. */
export const SESSION_DECISIONS = [
  'allowed',
  'modified',
  'public',
  'blocked',
  'held',
  'overloaded',
  'denied',
  'error',
  'aborted',
  'envoy_reply',
] as const;
export type SessionDecision = (typeof SESSION_DECISIONS)[number];

export interface FindingDocument {
  direction: string;
  path: string;
  level: string;
  source: string;
  detector?: string;
  action: string;
  rule: string;
  record: RecordMode;
  /** `<key id>:<base64url HMAC-SHA-256>`; absent when the rule says `record: none`. */
  fingerprint?: string;
  /** The external analyzer that found it. */
  analyzer?: string;
  /** Monitor mode: the action the policy would have taken (the value went on unchanged). */
  monitor?: ActionType;
}

export interface SideDocument {
  action?: string;
  trace?: string[];
  body?: string;
  body_bytes?: number;
  body_truncated?: boolean;
  body_withheld?: string;
}

export interface SessionDocument {
  '@timestamp': string;
  event: {
    kind: 'event';
    category: string[];
    type: string[];
    action: 'callguard-session';
    outcome: 'success' | 'failure' | 'unknown';
    /** Nanoseconds (ECS). */
    duration: number;
    id: string;
  };
  user: { id: string; name: string; email?: string; roles: string[] };
  source?: { ip: string };
  http?: { request: { method?: string; id?: string }; response?: { status_code: number } };
  url?: { path: string; domain?: string };
  trace?: { id: string };
  span?: { id: string };
  callguard: {
    session_id: string;
    auth_method: string;
    issuer?: string;
    route?: string;
    route_via?: string;
    function?: string;
    format?: string;
    decision: SessionDecision;
    action?: string;
    outcome: Outcome;
    max_level?: string;
    record_mode: RecordMode;
    approval_id?: string;
    /** Who approved a held call and when; the state the ticket was in for this session. */
    approval?: ApprovalSummary;
    error?: { code: string; status: number; rule?: string; paths: string[] };
    upstream_status?: number;
    findings: FindingDocument[];
    analyzers?: AnalyzerRecord[];
    request: SideDocument & { headers?: Record<string, string> };
    response: SideDocument;
  };
}

const RECORD_STRICTNESS: RecordMode[] = ['none', 'metadata', 'masked'];

export function sessionDecision(r: SessionRecord): SessionDecision {
  if (r.outcome !== 'denied') return r.outcome;
  switch (r.error?.code) {
    case 'blocked':
    case 'prohibited_field':
      return 'blocked';
    case 'approval_required':
      return 'held';
    case 'overloaded':
      return 'overloaded';
    default:
      return 'denied';
  }
}

/** The strictest record mode among the findings (`masked` when there are none). */
export function recordMode(findings: readonly FindingDecision[]): RecordMode {
  let mode: RecordMode = 'masked';
  for (const f of findings) {
    if (RECORD_STRICTNESS.indexOf(f.record) < RECORD_STRICTNESS.indexOf(mode)) mode = f.record;
  }
  return mode;
}

export function toDocument(r: SessionRecord): SessionDocument {
  const findings = [...(r.request?.findings ?? []), ...(r.response?.findings ?? [])];
  const mode = recordMode(findings);
  const decision = sessionDecision(r);
  const strictest = [r.request?.action, r.response?.action].filter((a) => a !== undefined);
  const doc: SessionDocument = {
    '@timestamp': r.started_at,
    event: {
      kind: 'event',
      category: ['web'],
      type: [
        decision === 'blocked' || decision === 'denied' || decision === 'overloaded'
          ? 'denied'
          : 'access',
      ],
      action: 'callguard-session',
      outcome:
        decision === 'aborted'
          ? 'unknown'
          : decision === 'allowed' || decision === 'modified' || decision === 'public'
            ? 'success'
            : 'failure',
      duration: Math.max(0, Math.round(r.duration_ms * 1e6)),
      id: r.session_id,
    },
    user: {
      id: r.principal.subject,
      name: r.principal.name ?? r.principal.subject,
      roles: [...r.principal.groups],
    },
    callguard: {
      session_id: r.session_id,
      auth_method: r.principal.authMethod,
      decision,
      outcome: r.outcome,
      record_mode: mode,
      findings: findings.map((f) => findingDocument(f)),
      request: {},
      response: {},
    },
  };
  const cg = doc.callguard;
  if (r.principal.email) doc.user.email = r.principal.email;
  if (r.principal.issuer) cg.issuer = r.principal.issuer;
  if (r.source_ip) doc.source = { ip: r.source_ip };
  if (r.method) {
    doc.http = { request: { method: r.method } };
    if (r.upstream_status !== undefined) doc.http.response = { status_code: r.upstream_status };
    else if (r.error) doc.http.response = { status_code: r.error.status };
  }
  if (r.request_id) (doc.http ??= { request: {} }).request.id = r.request_id;
  if (r.path) doc.url = { path: r.path, ...(r.authority ? { domain: r.authority } : {}) };
  if (r.trace_id) doc.trace = { id: r.trace_id };
  if (r.span_id) doc.span = { id: r.span_id };
  if (r.route) cg.route = r.route;
  if (r.route_via) cg.route_via = r.route_via;
  if (r.function) cg.function = r.function;
  if (r.format) cg.format = r.format;
  if (strictest.length > 0) cg.action = strictest.sort(byStrictness)[0];
  if (r.max_level) cg.max_level = r.max_level;
  if (r.approval_id) cg.approval_id = r.approval_id;
  if (r.approval) {
    cg.approval_id = r.approval.id;
    cg.approval = r.approval;
  }
  if (r.error) {
    cg.error = { code: r.error.code, status: r.error.status, paths: r.error.paths };
    if (r.error.rule) cg.error.rule = r.error.rule;
  }
  if (r.upstream_status !== undefined) cg.upstream_status = r.upstream_status;
  if (r.analyzers?.length) cg.analyzers = r.analyzers;
  if (r.request) cg.request = { action: r.request.action, trace: r.request.trace };
  if (r.response) cg.response = { action: r.response.action, trace: r.response.trace };
  if (r.request_headers) cg.request.headers = r.request_headers;
  // Bodies only when every finding's rule keeps them (`record: masked`).
  if (mode === 'masked') {
    if (r.request_body) Object.assign(cg.request, sideBody(r.request_body));
    if (r.response_body) Object.assign(cg.response, sideBody(r.response_body));
  }
  return doc;
}

const ACTION_ORDER = ['block', 'hold', 'redact', 'tokenize', 'mask', 'allow'];
function byStrictness(a: string, b: string): number {
  return ACTION_ORDER.indexOf(a) - ACTION_ORDER.indexOf(b);
}

function findingDocument(f: FindingDecision): FindingDocument {
  const d: FindingDocument = {
    direction: f.direction,
    path: f.path,
    level: f.level,
    source: f.source,
    action: f.action,
    rule: f.rule,
    record: f.record,
  };
  if (f.detector) d.detector = f.detector;
  if (f.analyzer !== undefined) d.analyzer = f.analyzer;
  if (f.monitor !== undefined) d.monitor = f.monitor;
  if (f.fingerprint && f.record !== 'none') d.fingerprint = f.fingerprint;
  return d;
}

function sideBody(b: AuditBody): SideDocument {
  const s: SideDocument = { body_bytes: b.bytes, body_truncated: b.truncated };
  if (b.text !== undefined) s.body = b.text;
  if (b.withheld) s.body_withheld = b.withheld;
  return s;
}

/** `<prefix>-YYYY.MM.DD` of the record's time (UTC). */
export function indexFor(prefix: string, timestamp: string): string {
  return `${prefix}-${timestamp.slice(0, 10).replaceAll('-', '.')}`;
}
