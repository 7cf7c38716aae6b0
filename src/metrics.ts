// Prometheus metrics (prom-client), served on the admin server's /metrics. One registry per
// process, built here; every other module records through the small typed API below and
// never touches prom-client itself.
//
// Label values come only from bounded, operator-defined sets: route and function names
// from the policy, levels, detector ids, actions, outcomes, phases. Never from request
// data: a request no policy route covers is counted as route="none", never by its path.

import { createHash } from 'node:crypto';
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { FailureKind } from './analyze/index.js';
import type { Outcome, SessionRecord, SessionSink } from './audit/record.js';
import type { Decision } from './policy/types.js';

/** The ext_proc phases timed per message, and the ext_authz Check (one per call). */
export type Phase =
  | 'request_headers'
  | 'request_body'
  | 'response_headers'
  | 'response_body'
  | 'request_trailers'
  | 'response_trailers'
  | 'authz_check';

/** Elasticsearch operations whose failures are counted (wired by the audit sink). */
export type EsOperation = 'bulk' | 'search' | 'template' | 'ticket';

/** Where admission control refused a call: an ext_proc stream or an ext_authz check. */
export type AdmissionService = 'ext_proc' | 'ext_authz';

/** Label value for "no route" / "no function" / "no detector". */
export const NONE = 'none';

/**
 * An external analyzer's figures, by its name in the policy (src/analyze): requests,
 * failures, latency, and texts answered from its cache or sent. No text, no path.
 */
export interface AnalyzerMeter {
  /** One request answered (or failed with `failure`) after `seconds`. */
  request(analyzer: string, seconds: number, failure?: FailureKind): void;
  /** A failure without a request (`saturated`: no free slot in time). */
  failed(analyzer: string, failure: FailureKind): void;
  /** The distinct texts of one body: answered from the cache, and left to send. */
  texts(analyzer: string, cached: number, sent: number): void;
}

export interface CallguardMetrics {
  /** The Prometheus text exposition of every metric. */
  exposition(): Promise<string>;
  readonly contentType: string;
  /** One finished exchange (called once, where the session record is built). */
  sessionEnded(record: SessionRecord): void;
  /** Time callguard took to answer one ext_proc message. */
  phase(phase: Phase, seconds: number): void;
  readonly openStreams: { inc(): void; dec(): void };
  /** A policy (re)load that succeeded: generation number, content hash, when. */
  policyLoaded(p: { version: number; hash: string; loadedAt: number }): void;
  /** A reload that failed (the previous policy stays in force). */
  policyReloadFailed(): void;
  /** Approval tickets currently held (wired by the approval engine). */
  readonly approvalsHeld: { set(n: number): void };
  /** Bytes of session records waiting in the on-disk spool (wired by the audit sink). */
  readonly spoolBacklog: { set(bytes: number): void };
  /** An Elasticsearch request that failed (wired by the audit sink and ticket store). */
  readonly esErrors: { inc(operation: EsOperation): void };
  /** Admission control (src/extproc/admission-control.ts): refusals, the admitted rate, the load. */
  readonly admission: {
    refused(service: AdmissionService): void;
    limit(callsPerSecond: number): void;
    utilization(share: number): void;
  };
  /** External analyzers (wired by src/analyze). */
  readonly analyzers: AnalyzerMeter;
}

/** Seconds; the ext_proc message_timeout is 2 s, so the buckets stop a little above. */
const PHASE_BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5];

/** The first 48 bits of a hex SHA-256, as a number a gauge can carry exactly. */
export function hashGaugeValue(hexHash: string): number {
  return parseInt(hexHash.slice(0, 12), 16);
}

export function createMetrics(opts: { defaultMetrics?: boolean } = {}): CallguardMetrics {
  const registry = new Registry();
  if (opts.defaultMetrics ?? true) collectDefaultMetrics({ register: registry });
  const registers = [registry];

  const calls = new Counter({
    name: 'callguard_calls_total',
    help: 'Exchanges finished, by policy route, function and outcome.',
    labelNames: ['route', 'function', 'outcome'] as const,
    registers,
  });
  const findings = new Counter({
    name: 'callguard_findings_total',
    help: 'Classified values found, by direction, level, detector (x-detector or detector id), source and action.',
    labelNames: ['direction', 'level', 'detector', 'source', 'action'] as const,
    registers,
  });
  const decisions = new Counter({
    name: 'callguard_decisions_total',
    help: 'Body decisions (the strictest action among the findings), by route and direction.',
    labelNames: ['route', 'direction', 'action'] as const,
    registers,
  });
  const phases = new Histogram({
    name: 'callguard_phase_duration_seconds',
    help: 'Time callguard took to answer one ext_proc message (by phase) or one ext_authz check (phase="authz_check").',
    labelNames: ['phase'] as const,
    buckets: PHASE_BUCKETS,
    registers,
  });
  const open = new Gauge({
    name: 'callguard_open_streams',
    help: 'ext_proc streams currently open.',
    registers,
  });
  const policyVersion = new Gauge({
    name: 'callguard_policy_version',
    help: 'Generation of the policy in force: 1 at start, +1 per reload that changed it.',
    registers,
  });
  const policyHash = new Gauge({
    name: 'callguard_policy_hash',
    help: 'First 48 bits of the SHA-256 of the policy in force (its files), as a number.',
    registers,
  });
  const lastSuccess = new Gauge({
    name: 'callguard_policy_last_reload_success_timestamp_seconds',
    help: 'When the policy in force was loaded (Unix seconds).',
    registers,
  });
  const lastOk = new Gauge({
    name: 'callguard_policy_last_reload_ok',
    help: '1 if the last policy load or reload succeeded, 0 if it failed (the previous policy stays in force).',
    registers,
  });
  const failures = new Counter({
    name: 'callguard_policy_reload_failures_total',
    help: 'Policy reloads refused (invalid policy); the previous policy stayed in force.',
    registers,
  });
  const held = new Gauge({
    name: 'callguard_approval_tickets_held',
    help: 'Approval tickets waiting for a decision.',
    registers,
  });
  const spool = new Gauge({
    name: 'callguard_audit_spool_backlog_bytes',
    help: 'Bytes of session records in the on-disk spool, not yet indexed.',
    registers,
  });
  const esErrors = new Counter({
    name: 'callguard_elasticsearch_errors_total',
    help: 'Elasticsearch requests that failed, by operation.',
    labelNames: ['operation'] as const,
    registers,
  });

  const refusals = new Counter({
    name: 'callguard_admission_refusals_total',
    help: 'Calls refused at their request headers because callguard was over capacity (503 overloaded), by service (ext_proc, ext_authz).',
    labelNames: ['service'] as const,
    registers,
  });
  const admissionLimit = new Gauge({
    name: 'callguard_admission_limit_calls_per_second',
    help: 'Rate new calls are admitted at while callguard is over capacity; +Inf while it is not limiting.',
    registers,
  });
  admissionLimit.set(Infinity);
  const loopUtilization = new Gauge({
    name: 'callguard_event_loop_utilization',
    help: 'Share of wall time the event loop spent working over the last admission interval (0..1).',
    registers,
  });
  const monitorFindings = new Counter({
    name: 'callguard_monitor_findings_total',
    help: 'Classified values found in monitor mode and left unchanged, by direction, level, detector and the action the policy would have taken.',
    labelNames: ['direction', 'level', 'detector', 'action'] as const,
    registers,
  });
  const analyzerCalls = new Counter({
    name: 'callguard_analyzer_calls_total',
    help: 'Requests made to an external analyzer, by analyzer (the policy name).',
    labelNames: ['analyzer'] as const,
    registers,
  });
  const analyzerErrors = new Counter({
    name: 'callguard_analyzer_errors_total',
    help: 'Analyses that failed, by analyzer and reason (saturated, timeout, unavailable, bad_status, bad_answer).',
    labelNames: ['analyzer', 'reason'] as const,
    registers,
  });
  const analyzerDuration = new Histogram({
    name: 'callguard_analyzer_request_duration_seconds',
    help: 'Time an external analyzer took to answer one request (failed ones included), by analyzer.',
    labelNames: ['analyzer'] as const,
    buckets: PHASE_BUCKETS,
    registers,
  });
  const analyzerTexts = new Counter({
    name: 'callguard_analyzer_texts_total',
    help: 'Distinct texts given to an external analyzer, by analyzer and source: cache (answered by the cache) or request (sent).',
    labelNames: ['analyzer', 'source'] as const,
    registers,
  });

  const callOf = children((v) => calls.labels(...v));
  const refusalOf = children((v) => refusals.labels(...v));
  const monitorOf = children((v) => monitorFindings.labels(...v));
  const analyzerCallOf = children((v) => analyzerCalls.labels(...v));
  const analyzerErrorOf = children((v) => analyzerErrors.labels(...v));
  const analyzerDurationOf = children((v) => analyzerDuration.labels(...v));
  const analyzerTextsOf = children((v) => analyzerTexts.labels(...v));
  const decisionOf = children((v) => decisions.labels(...v));
  const findingOf = children((v) => findings.labels(...v));
  const phaseOf = children((v) => phases.labels(...v));

  const countDecision = (route: string, direction: 'request' | 'response', d?: Decision) => {
    if (!d) return;
    decisionOf(route, direction, d.action).inc();
    for (const f of d.findings) {
      findingOf(f.direction, f.level, f.detector ?? NONE, f.source, f.action).inc();
      if (f.monitor !== undefined)
        monitorOf(f.direction, f.level, f.detector ?? NONE, f.monitor).inc();
    }
  };

  return {
    exposition: () => registry.metrics(),
    contentType: registry.contentType,
    sessionEnded(r: SessionRecord) {
      const route = r.route ?? NONE;
      const outcome: Outcome = r.outcome;
      callOf(route, r.function ?? NONE, outcome).inc();
      countDecision(route, 'request', r.request);
      countDecision(route, 'response', r.response);
    },
    phase: (phase, seconds) => phaseOf(phase).observe(seconds),
    openStreams: { inc: () => open.inc(), dec: () => open.dec() },
    policyLoaded(p) {
      policyVersion.set(p.version);
      policyHash.set(hashGaugeValue(p.hash));
      lastSuccess.set(Math.floor(p.loadedAt / 1000));
      lastOk.set(1);
    },
    policyReloadFailed() {
      failures.inc();
      lastOk.set(0);
    },
    approvalsHeld: { set: (n) => held.set(n) },
    spoolBacklog: { set: (n) => spool.set(n) },
    esErrors: { inc: (operation) => esErrors.inc({ operation }) },
    admission: {
      refused: (service) => refusalOf(service).inc(),
      limit: (n) => admissionLimit.set(n),
      utilization: (u) => loopUtilization.set(u),
    },
    analyzers: {
      request(analyzer, seconds, failure) {
        analyzerCallOf(analyzer).inc();
        analyzerDurationOf(analyzer).observe(seconds);
        if (failure) analyzerErrorOf(analyzer, failure).inc();
      },
      failed: (analyzer, failure) => analyzerErrorOf(analyzer, failure).inc(),
      texts(analyzer, cached, sent) {
        if (cached > 0) analyzerTextsOf(analyzer, 'cache').inc(cached);
        if (sent > 0) analyzerTextsOf(analyzer, 'request').inc(sent);
      },
    },
  };
}

/** SHA-256 over named contents (sorted by name), hex. */
export function contentHash(files: ReadonlyMap<string, string>): string {
  const h = createHash('sha256');
  for (const name of [...files.keys()].sort()) {
    h.update(name)
      .update('\0')
      .update(files.get(name) ?? '')
      .update('\0');
  }
  return h.digest('hex');
}

/**
 * A session sink that counts each record, then hands it on. Sessions end in one place
 * (the ext_proc exchange's finish, the ext_authz check), and both submit their record to
 * the sink: counting here covers both without touching them.
 */
export function meteredSink(metrics: Pick<CallguardMetrics, 'sessionEnded'>, inner: SessionSink) {
  return {
    submit(record: SessionRecord): void {
      inner.submit(record);
      try {
        metrics.sessionEnded(record);
      } catch {
        // Metrics never fail a session.
      }
    },
  } satisfies SessionSink;
}

/**
 * A labelled metric's children by their label values (in labelNames order), made once:
 * prom-client otherwise validates and hashes the label object on every increment, several
 * times per call. Label values come from the policy and fixed sets, so the map stays small.
 */
function children<T>(make: (values: string[]) => T): (...values: string[]) => T {
  const made = new Map<string, T>();
  return (...values) => {
    const key = values.join('\u0000');
    let child = made.get(key);
    if (child === undefined) {
      child = make(values);
      made.set(key, child);
    }
    return child;
  };
}
