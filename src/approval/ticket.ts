// Approval tickets and their state machine, as pure functions of a ticket and the time:
//
//   pending ──approve (min_approvals reached, or break-glass)──► approved ──redeem──► used
//      │                                                           │
//      ├──reject──► rejected                                       │
//      └──────────── expires_at passed ──► expired ◄───────────────┘
//
// Expiry is enforced on every read (effectiveState), and swept in the background by the
// service. A transition returns a new ticket; the store writes it with optimistic
// concurrency, so two replicas or two reviewers racing cannot both win.

import type { ApprovalErrorCode } from '../errors.js';
import type { HoldSpec, Principal } from '../policy/types.js';

export type TicketState = 'pending' | 'approved' | 'rejected' | 'expired' | 'used';

export interface TicketFinding {
  path: string;
  level: string;
  detector?: string;
  action: string;
  rule: string;
  /** The value masked for reviewers (never in clear). */
  masked: string;
}

export interface Review {
  reviewer: string;
  at: string;
  reason?: string;
  break_glass: boolean;
}

export interface TicketEvent {
  at: string;
  type: 'held' | 'approved_by' | 'approved' | 'rejected' | 'expired' | 'used';
  by?: string;
  reason?: string;
  session_id?: string;
}

export interface Ticket {
  id: string;
  state: TicketState;
  created_at: string;
  expires_at: string;
  requester: {
    subject: string;
    issuer?: string;
    email?: string;
    name?: string;
    groups: string[];
    auth_method: string;
  };
  route: string;
  function?: string;
  /** SHA-256 of the canonical payload: the call the approval is for, and no other. */
  payload_sha256: string;
  session_id: string;
  hold: { approvers: string[]; min_approvals: number; break_glass: string[] };
  summary: { method: string; path: string; findings: TicketFinding[] };
  approvals: Review[];
  rejection?: Review;
  used?: { at: string; session_id: string };
  events: TicketEvent[];
}

/** What a session record keeps of an approval: who approved, when, and its state. */
export interface ApprovalSummary {
  id: string;
  state: string;
  /** The held call: its session (whose record shows the hold) and when it was held. */
  held_session_id: string;
  held_at: string;
  approved_by: { reviewer: string; at: string; break_glass: boolean }[];
  rejected_by?: string;
  used_at?: string;
}

/** Why a reviewer action or a redemption is refused; `code` is stable and documented. */
export class ApprovalError extends Error {
  constructor(
    readonly code: ApprovalErrorCode,
    message: string,
  ) {
    super(message);
    this.name = 'ApprovalError';
  }
}

export interface NewTicket {
  id: string;
  now: number;
  requester: Principal;
  route: string;
  fn: string | undefined;
  payloadSha256: string;
  sessionId: string;
  hold: HoldSpec;
  method: string;
  path: string;
  findings: TicketFinding[];
}

export function newTicket(t: NewTicket): Ticket {
  const at = new Date(t.now).toISOString();
  const requester: Ticket['requester'] = {
    subject: t.requester.subject,
    groups: [...t.requester.groups],
    auth_method: t.requester.authMethod,
  };
  if (t.requester.issuer !== undefined) requester.issuer = t.requester.issuer;
  if (t.requester.email !== undefined) requester.email = t.requester.email;
  if (t.requester.name !== undefined) requester.name = t.requester.name;
  const ticket: Ticket = {
    id: t.id,
    state: 'pending',
    created_at: at,
    expires_at: new Date(t.now + t.hold.expires_ms).toISOString(),
    requester,
    route: t.route,
    payload_sha256: t.payloadSha256,
    session_id: t.sessionId,
    hold: {
      approvers: [...t.hold.approvers],
      min_approvals: t.hold.min_approvals,
      break_glass: [...t.hold.break_glass],
    },
    summary: { method: t.method, path: t.path, findings: t.findings },
    approvals: [],
    events: [{ at, type: 'held', by: t.requester.subject, session_id: t.sessionId }],
  };
  if (t.fn !== undefined) ticket.function = t.fn;
  return ticket;
}

/** The state as of `now`: a pending or approved-but-unused ticket past its expiry is expired. */
export function effectiveState(t: Ticket, now: number): TicketState {
  if ((t.state === 'pending' || t.state === 'approved') && now >= Date.parse(t.expires_at))
    return 'expired';
  return t.state;
}

/** The ticket with its expiry applied (and recorded), or the same ticket. */
export function expire(t: Ticket, now: number): Ticket {
  if (effectiveState(t, now) !== 'expired' || t.state === 'expired') return t;
  return {
    ...t,
    state: 'expired',
    events: [...t.events, { at: new Date(now).toISOString(), type: 'expired' }],
  };
}

/** Same subject from the same issuer: the same person. */
function samePerson(t: Ticket, p: Principal): boolean {
  return t.requester.subject === p.subject && (t.requester.issuer ?? '') === (p.issuer ?? '');
}

function eligibility(t: Ticket, reviewer: Principal): { breakGlass: boolean } {
  if (samePerson(t, reviewer))
    throw new ApprovalError('self_approval', 'a requester cannot review their own call');
  const breakGlass = reviewer.groups.some((g) => t.hold.break_glass.includes(g));
  const approver = reviewer.groups.some((g) => t.hold.approvers.includes(g));
  if (!breakGlass && !approver) {
    throw new ApprovalError(
      'not_an_approver',
      "the reviewer is in none of the rule's approver groups",
    );
  }
  return { breakGlass };
}

function requirePending(t: Ticket, now: number): void {
  const s = effectiveState(t, now);
  if (s !== 'pending') throw new ApprovalError('not_pending', `the ticket is ${s}`);
}

export function approve(t: Ticket, reviewer: Principal, now: number, reason?: string): Ticket {
  requirePending(t, now);
  const { breakGlass } = eligibility(t, reviewer);
  if (t.approvals.some((a) => a.reviewer === reviewer.subject)) {
    throw new ApprovalError('already_reviewed', 'this reviewer already approved the ticket');
  }
  const at = new Date(now).toISOString();
  const review: Review = { reviewer: reviewer.subject, at, break_glass: breakGlass };
  if (reason !== undefined) review.reason = reason;
  const approvals = [...t.approvals, review];
  const events: TicketEvent[] = [
    ...t.events,
    { at, type: 'approved_by', by: reviewer.subject, ...(reason ? { reason } : {}) },
  ];
  const done = breakGlass || approvals.length >= t.hold.min_approvals;
  if (done) events.push({ at, type: 'approved' });
  return { ...t, approvals, events, state: done ? 'approved' : 'pending' };
}

export function reject(t: Ticket, reviewer: Principal, now: number, reason?: string): Ticket {
  requirePending(t, now);
  const { breakGlass } = eligibility(t, reviewer);
  const at = new Date(now).toISOString();
  const rejection: Review = { reviewer: reviewer.subject, at, break_glass: breakGlass };
  if (reason !== undefined) rejection.reason = reason;
  return {
    ...t,
    state: 'rejected',
    rejection,
    events: [
      ...t.events,
      { at, type: 'rejected', by: reviewer.subject, ...(reason ? { reason } : {}) },
    ],
  };
}

export interface RedeemContext {
  principal: Principal;
  route: string;
  fn: string | undefined;
  payloadSha256: string;
  sessionId: string;
}

/** The approved ticket, used by exactly this call; ApprovalError for anything else. */
export function redeem(t: Ticket, c: RedeemContext, now: number): Ticket {
  const s = effectiveState(t, now);
  switch (s) {
    case 'pending':
      throw new ApprovalError('approval_pending', 'the approval is still pending');
    case 'rejected':
      throw new ApprovalError('approval_rejected', 'the approval was rejected');
    case 'expired':
      throw new ApprovalError('approval_expired', 'the approval has expired');
    case 'used':
      throw new ApprovalError('approval_used', 'the approval was already used');
    case 'approved':
      break;
  }
  if (!samePerson(t, c.principal))
    throw new ApprovalError('approval_mismatch', 'the approval is for another caller');
  if (t.route !== c.route || (t.function ?? '') !== (c.fn ?? '')) {
    throw new ApprovalError('approval_mismatch', 'the approval is for another route or function');
  }
  if (t.payload_sha256 !== c.payloadSha256) {
    throw new ApprovalError('approval_mismatch', 'the approval is for another payload');
  }
  const at = new Date(now).toISOString();
  return {
    ...t,
    state: 'used',
    used: { at, session_id: c.sessionId },
    events: [...t.events, { at, type: 'used', by: c.principal.subject, session_id: c.sessionId }],
  };
}
