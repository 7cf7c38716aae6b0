// The approval state machine as pure functions of a ticket and the time, and the canonical
// payload hash a ticket is bound to.

import { describe, expect, it } from 'vitest';
import { canonicalJson, payloadHash } from '../../src/approval/canonical.js';
import {
  approve,
  ApprovalError,
  effectiveState,
  expire,
  newTicket,
  redeem,
  reject,
} from '../../src/approval/ticket.js';
import type { RedeemContext, Ticket } from '../../src/approval/ticket.js';
import { parseJson } from '../../src/payload/json.js';
import type { HoldSpec, Principal } from '../../src/policy/types.js';
import { combineHolds } from '../../src/policy/types.js';

const T0 = Date.parse('2026-11-28T10:00:00Z');
const alice: Principal = {
  subject: 'alice',
  issuer: 'https://idp',
  groups: ['agents'],
  authMethod: 'oidc',
};
const m1: Principal = {
  subject: 'm1',
  issuer: 'https://idp',
  groups: ['managers'],
  authMethod: 'oidc',
};
const m2: Principal = {
  subject: 'm2',
  issuer: 'https://idp',
  groups: ['managers'],
  authMethod: 'oidc',
};
const oncall: Principal = {
  subject: 'sec',
  issuer: 'https://idp',
  groups: ['security-oncall'],
  authMethod: 'oidc',
};
const outsider: Principal = {
  subject: 'bob',
  issuer: 'https://idp',
  groups: ['agents'],
  authMethod: 'oidc',
};
const hold: HoldSpec = {
  type: 'hold',
  approvers: ['managers'],
  min_approvals: 2,
  break_glass: ['security-oncall'],
  expires_ms: 30 * 60_000,
  wait_ms: 0,
};

function ticket(h: HoldSpec = hold, requester: Principal = alice): Ticket {
  return newTicket({
    id: 'apr_1',
    now: T0,
    requester,
    route: 'transfer_funds',
    fn: 'transfer_funds',
    payloadSha256: 'abc',
    sessionId: 's1',
    hold: h,
    method: 'POST',
    path: '/functions/transfer_funds',
    findings: [
      {
        path: '/to_iban',
        level: 'confidential',
        detector: 'iban',
        action: 'hold',
        rule: 'r',
        masked: '****************00',
      },
    ],
  });
}

const ctx: RedeemContext = {
  principal: alice,
  route: 'transfer_funds',
  fn: 'transfer_funds',
  payloadSha256: 'abc',
  sessionId: 's2',
};

function code(f: () => unknown): string {
  try {
    f();
  } catch (e) {
    if (e instanceof ApprovalError) return e.code;
    throw e;
  }
  return 'no error';
}

describe('ticket state machine', () => {
  it('two distinct managers approve; then exactly this call may use it, once', () => {
    const t1 = approve(ticket(), m1, T0 + 1000, 'ok');
    expect(t1.state).toBe('pending');
    expect(code(() => approve(t1, m1, T0 + 2000))).toBe('already_reviewed');
    const t2 = approve(t1, m2, T0 + 2000);
    expect(t2.state).toBe('approved');
    expect(t2.approvals.map((a) => a.reviewer)).toEqual(['m1', 'm2']);
    const used = redeem(t2, ctx, T0 + 3000);
    expect(used.state).toBe('used');
    expect(used.used).toEqual({ at: new Date(T0 + 3000).toISOString(), session_id: 's2' });
    expect(code(() => redeem(used, ctx, T0 + 4000))).toBe('approval_used');
    expect(used.events.map((e) => e.type)).toEqual([
      'held',
      'approved_by',
      'approved_by',
      'approved',
      'used',
    ]);
  });

  it('refuses self-approval and non-approvers', () => {
    expect(code(() => approve(ticket(), alice, T0))).toBe('self_approval');
    expect(code(() => reject(ticket(), alice, T0))).toBe('self_approval');
    expect(code(() => approve(ticket(), outsider, T0))).toBe('not_an_approver');
    // The same subject from another issuer is another person.
    const elsewhere = { ...alice, issuer: 'https://other', groups: ['managers'] };
    expect(approve(ticket(), elsewhere, T0).approvals).toHaveLength(1);
  });

  it('break-glass approves alone', () => {
    const t = approve(ticket(), oncall, T0);
    expect(t.state).toBe('approved');
    expect(t.approvals[0]?.break_glass).toBe(true);
  });

  it('one reject by an eligible reviewer ends the ticket', () => {
    const t = reject(approve(ticket(), m1, T0), m2, T0 + 1, 'no');
    expect(t.state).toBe('rejected');
    expect(t.rejection?.reviewer).toBe('m2');
    expect(code(() => approve(t, oncall, T0 + 2))).toBe('not_pending');
    expect(code(() => redeem(t, ctx, T0 + 2))).toBe('approval_rejected');
  });

  it('expiry applies on read to pending and approved-but-unused tickets', () => {
    const end = T0 + hold.expires_ms;
    expect(effectiveState(ticket(), end - 1)).toBe('pending');
    expect(effectiveState(ticket(), end)).toBe('expired');
    expect(code(() => approve(ticket(), m1, end))).toBe('not_pending');
    const approved = approve(ticket(), oncall, T0);
    expect(code(() => redeem(approved, ctx, end))).toBe('approval_expired');
    expect(expire(approved, end).events.at(-1)?.type).toBe('expired');
    // A used ticket stays used.
    const used = redeem(approved, ctx, T0 + 1);
    expect(effectiveState(used, end + 1)).toBe('used');
  });

  it('a pending ticket cannot be used; another caller, route or payload is a mismatch', () => {
    expect(code(() => redeem(ticket(), ctx, T0))).toBe('approval_pending');
    const ok = approve(ticket(), oncall, T0);
    expect(code(() => redeem(ok, { ...ctx, principal: outsider }, T0))).toBe('approval_mismatch');
    expect(code(() => redeem(ok, { ...ctx, payloadSha256: 'other' }, T0))).toBe(
      'approval_mismatch',
    );
    expect(code(() => redeem(ok, { ...ctx, route: 'charge_card' }, T0))).toBe('approval_mismatch');
  });
});

describe('combined holds', () => {
  it('intersects approvers, takes the most approvals and the shortest times', () => {
    const other: HoldSpec = {
      type: 'hold',
      approvers: ['managers', 'cfo'],
      min_approvals: 3,
      break_glass: [],
      expires_ms: 60_000,
      wait_ms: 5000,
    };
    expect(combineHolds([{ ...hold, wait_ms: 20_000 }, other])).toEqual({
      type: 'hold',
      approvers: ['managers'],
      min_approvals: 3,
      break_glass: [],
      expires_ms: 60_000,
      wait_ms: 5000,
    });
  });
});

describe('canonical payload hash', () => {
  const h = (s: string) => payloadHash(parseJson(Buffer.from(s), { maxDepth: 64 }));
  it('ignores whitespace, key order and escapes; keeps every value and number spelling', () => {
    expect(h('{"a": 1, "b": "x"}')).toBe(h('{"b":"\\u0078","a":1}'));
    expect(h('{"a": 1}')).not.toBe(h('{"a": 1.0}'));
    expect(h('{"a": "DE89"}')).not.toBe(h('{"a": "DE88"}'));
    expect(
      canonicalJson(
        parseJson(Buffer.from('{"z":[true,null],"a":12345678901234567890}'), { maxDepth: 8 }),
      ),
    ).toBe('{"a":12345678901234567890,"z":[true,null]}');
  });
});
