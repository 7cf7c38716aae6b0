// The vocabulary of the design (DESIGN.md "Core model"), as types. The engine (policy,
// payload, detect, enforce) speaks only these; transports translate into them.

export type Direction = 'request' | 'response';

/** Strictest first; the order is the order of precedence. */
export const ACTIONS = ['block', 'hold', 'redact', 'tokenize', 'mask', 'allow'] as const;
export type ActionType = (typeof ACTIONS)[number];

/** Lower rank = stricter. */
export function actionRank(a: ActionType): number {
  return ACTIONS.indexOf(a);
}

export function stricter(a: ActionType, b: ActionType): ActionType {
  return actionRank(a) <= actionRank(b) ? a : b;
}

export interface MaskSpec {
  type: 'mask';
  keep_first: number;
  keep_last: number;
  mask_char: string;
}

/** Hold the call for a just-in-time approval (src/approval). */
export interface HoldSpec {
  type: 'hold';
  /** Groups whose members may approve or reject. */
  approvers: string[];
  /** Approvals needed, from distinct reviewers. */
  min_approvals: number;
  /** A member of one of these groups approves alone. */
  break_glass: string[];
  /** How long a ticket stays valid (pending, or approved and unused). */
  expires_ms: number;
  /** How long the caller's request waits in line for a decision (0: answer at once). */
  wait_ms: number;
}

export type Action =
  | { type: 'allow' }
  | MaskSpec
  | { type: 'redact' }
  | { type: 'block' }
  | { type: 'tokenize' }
  | HoldSpec;

/** What the audit keeps of a finding's value. */
export type RecordMode = 'masked' | 'metadata' | 'none';

export interface Principal {
  subject: string;
  email?: string;
  name?: string;
  groups: string[];
  issuer?: string;
  authMethod: 'anonymous' | 'dev-header' | 'oidc' | 'jwt_authn' | 'saml';
}

export const ANONYMOUS: Principal = Object.freeze({
  subject: 'anonymous',
  groups: [],
  authMethod: 'anonymous',
});

export interface Span {
  start: number;
  end: number;
}

export interface Finding {
  direction: Direction;
  /** JSON Pointer of the value; never the value itself. */
  path: string;
  level: string;
  source: 'contract' | 'detector';
  /** x-detector of the contract field, or the detector that fired. */
  detector?: string;
  /** Byte span of the value in the body the finding was made in. */
  span: Span;
  /** The function whose call or result holds the value, when a format adapter names it. */
  function?: string;
  /** The external analyzer that found it (policy `analyzers:`), when one did. */
  analyzer?: string;
}

/** One finding with the action chosen for it and the rule that chose it. */
export interface FindingDecision extends Finding {
  action: ActionType;
  rule: string;
  record: RecordMode;
  /** Keyed fingerprint of the value (audit search by value); never the value. */
  fingerprint?: string;
  /**
   * Monitor mode (a route's or an analyzer's `mode: monitor`): the action the policy would
   * have taken. The value was left as it was (`action` is then `allow`).
   */
  monitor?: ActionType;
}

export interface Decision {
  /** The strictest action among the findings (allow when there are none). */
  action: ActionType;
  findings: FindingDecision[];
  /** Human-readable reasons, in order: which rule matched which finding, and why. */
  trace: string[];
  /** When the action is hold: what the approval needs (the holds of all findings combined). */
  hold?: HoldSpec;
}

/**
 * Several holds in one call: every approval must satisfy all of them, so the approver groups
 * are intersected (an empty intersection leaves only break-glass, or nobody: fail closed), the
 * approvals needed and the shortest times win.
 */
export function combineHolds(holds: readonly HoldSpec[]): HoldSpec | undefined {
  const [first, ...rest] = holds;
  if (!first) return undefined;
  return rest.reduce<HoldSpec>(
    (a, b) => ({
      type: 'hold',
      approvers: a.approvers.filter((g) => b.approvers.includes(g)),
      min_approvals: Math.max(a.min_approvals, b.min_approvals),
      break_glass: a.break_glass.filter((g) => b.break_glass.includes(g)),
      expires_ms: Math.min(a.expires_ms, b.expires_ms),
      wait_ms: Math.min(a.wait_ms, b.wait_ms),
    }),
    { ...first, approvers: [...first.approvers], break_glass: [...first.break_glass] },
  );
}
