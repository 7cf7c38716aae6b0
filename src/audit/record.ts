// The session record: one per exchange, built in one place at stream end whatever path
// the stream took. The Elasticsearch sink (a later issue) stores these; until then the
// log sink writes their metadata. A record never holds a value in clear: findings carry
// paths, levels and actions only.

import type { ApprovalSummary } from '../approval/ticket.js';
import type { Logger } from '../log.js';
import type { Decision, Principal } from '../policy/types.js';

export type Outcome =
  | 'allowed' // forwarded unchanged
  | 'modified' // forwarded with masked/redacted values
  | 'public' // public route: bodies not inspected
  | 'denied' // refused by callguard (bad input, identity, prohibited field, block)
  | 'error' // callguard failed; the call was refused (fail closed)
  | 'aborted'; // Envoy ended the stream before a decision

export interface SessionRecord {
  session_id: string;
  started_at: string;
  duration_ms: number;
  method?: string;
  path?: string;
  route?: string;
  route_via?: 'metadata' | 'path';
  function?: string;
  /** The route's payload format (json, openai-chat, …). */
  format?: string;
  /** A held call's approval: its id, state, who approved and when, when it was used. */
  approval?: ApprovalSummary;
  principal: Pick<Principal, 'subject' | 'groups' | 'authMethod'>;
  outcome: Outcome;
  /** Status callguard answered with itself, when it refused the call. */
  error?: { code: string; status: number; paths: string[]; rule: string | null };
  upstream_status?: number;
  request?: Decision;
  response?: Decision;
}

export interface SessionSink {
  submit(record: SessionRecord): void;
}

/** Writes each record's metadata as one log line (decisions without spans). */
export class LogSink implements SessionSink {
  constructor(private readonly log: Logger) {}

  submit(r: SessionRecord): void {
    this.log.info(
      {
        session: {
          ...r,
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
    })),
  };
}
