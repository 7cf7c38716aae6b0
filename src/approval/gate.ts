// The approval gate: what happens to a call the policy holds. It goes on only with an
// approval for exactly it: the ticket its retry names, or one approved while the request
// waits in line. Otherwise a ticket is made and the caller is told to come back
// (403 approval_required). The gate returns an outcome; the exchange only sends what it says.

import { callHash } from './canonical.js';
import type { ApprovalService } from './service.js';
import { ApprovalError } from './ticket.js';
import type { ApprovalSummary, Ticket } from './ticket.js';
import { CallguardError } from '../errors.js';
import type { Logger } from '../log.js';
import { safeError } from '../log.js';
import { parseJson } from '../payload/json.js';
import type { Decision, FindingDecision, Principal } from '../policy/types.js';

/** Time allowed for the approval store beyond a hold's wait (Envoy's timer is extended by it). */
const STORE_MARGIN_MS = 8000;

/** A call the policy holds, as the exchange knows it. */
export interface HeldCall {
  principal: Principal;
  route: string;
  fn: string | undefined;
  sessionId: string;
  method: string;
  /** The path without its query. */
  path: string;
  /** The body as the caller sent it (decoded): the approval is for this payload. Empty: none. */
  body: Uint8Array;
  /**
   * The head as the caller sent it (target and inspected headers), when values are held
   * there: the approval is for exactly those values too.
   */
  head?: string | undefined;
  maxDepth: number;
  /** The engine's decision: action `hold`, with the combined hold spec. */
  decision: Decision;
  /** Each held value masked for reviewers. */
  previews: ReadonlyMap<FindingDecision, string>;
  /** The approval the caller's retry names (x-callguard-approval). */
  approvalId: string | undefined;
}

export interface GateDeps {
  approvals: ApprovalService | undefined;
  /** The longest a request waits in line (approvals.max_wait_ms). */
  maxWaitMs: number;
  now: () => number;
  log: Logger;
  /** Extends the proxy's timer by `ms` before the store is used and the call waits. */
  extendTimer: (ms: number) => void;
}

export type GateOutcome =
  /** The call goes on: its approval is used. */
  | { pass: true; ticket: Ticket }
  /** The call is refused with `error`; `ticket` is the approval it made or named, if any. */
  | { pass: false; error: CallguardError; ticket?: Ticket };

export async function approvalGate(call: HeldCall, deps: GateDeps): Promise<GateOutcome> {
  const held = call.decision.findings.filter((f) => f.action === 'hold');
  const paths = held.map((f) => f.path);
  const rule = [...new Set(held.map((f) => f.rule))].join(',');
  const refuse = (e: unknown, approvalId?: string): CallguardError => {
    if (e instanceof ApprovalError) {
      return new CallguardError(e.code, e.message, {
        paths,
        rule,
        extra: approvalId !== undefined ? { approval_id: approvalId } : undefined,
      });
    }
    // The store failed (Elasticsearch down or slow): the held call is refused, 503.
    deps.log.warn({ err: safeError(e) }, 'approval store unavailable');
    return new CallguardError(
      'approval_unavailable',
      'the approval store is unavailable; try again later',
      { paths, rule },
    );
  };

  const approvals = deps.approvals;
  const hold = call.decision.hold;
  if (!approvals || !hold) {
    return {
      pass: false,
      error: new CallguardError(
        'approval_unavailable',
        'the call needs an approval, and no approval store is configured',
        { paths, rule },
      ),
    };
  }
  const context = {
    principal: call.principal,
    route: call.route,
    fn: call.fn,
    payloadSha256: callHash(
      call.body.length > 0 ? parseJson(call.body, { maxDepth: call.maxDepth }) : undefined,
      call.head,
    ),
    sessionId: call.sessionId,
  };

  if (call.approvalId !== undefined) {
    try {
      return { pass: true, ticket: await approvals.redeem(call.approvalId, context) };
    } catch (e) {
      return { pass: false, error: refuse(e, call.approvalId) };
    }
  }

  // Making the ticket (and any wait) can outlast the proxy's message timeout: extend it
  // first, by the wait plus a margin for the store (Envoy caps it at max_message_timeout).
  const wait = Math.min(hold.wait_ms, deps.maxWaitMs);
  const started = deps.now();
  deps.extendTimer(wait + STORE_MARGIN_MS);
  let ticket: Ticket;
  try {
    ticket = await approvals.hold({
      ...context,
      hold,
      method: call.method,
      path: call.path,
      findings: held.map((f) => ({
        path: f.path,
        level: f.level,
        ...(f.detector ? { detector: f.detector } : {}),
        action: f.action,
        rule: f.rule,
        masked: call.previews.get(f) ?? '',
      })),
    });
  } catch (e) {
    return { pass: false, error: refuse(e) };
  }
  const left = wait - (deps.now() - started);
  if (left > 0) {
    try {
      const t = await approvals.waitForDecision(ticket.id, left);
      if (t?.state === 'approved') {
        return { pass: true, ticket: await approvals.redeem(ticket.id, context) };
      }
      if (t) ticket = t;
    } catch (e) {
      return { pass: false, error: refuse(e, ticket.id), ticket };
    }
  }
  const links = approvals.links(ticket.id);
  return {
    pass: false,
    ticket,
    error: new CallguardError(
      'approval_required',
      'the call is held for an approval; retry with x-callguard-approval once approved',
      {
        paths,
        rule,
        extra: { approval_id: ticket.id, status_url: links.status, expires_at: ticket.expires_at },
      },
    ),
  };
}

/** What a session record keeps of a ticket: who approved, when, and its state. */
export function approvalSummary(t: Ticket): ApprovalSummary {
  const a: ApprovalSummary = {
    id: t.id,
    state: t.state,
    held_session_id: t.session_id,
    held_at: t.created_at,
    approved_by: t.approvals.map((r) => ({
      reviewer: r.reviewer,
      at: r.at,
      break_glass: r.break_glass,
    })),
  };
  if (t.rejection) a.rejected_by = t.rejection.reviewer;
  if (t.used) a.used_at = t.used.at;
  return a;
}
