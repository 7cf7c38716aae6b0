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

export type Action =
  | { type: 'allow' }
  | MaskSpec
  | { type: 'redact' }
  | { type: 'block' }
  // tokenize and hold are planned (later issues); a policy naming them is refused today.
  | { type: 'tokenize' }
  | { type: 'hold' };

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
}) as Principal;

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
}

/** One finding with the action chosen for it and the rule that chose it. */
export interface FindingDecision extends Finding {
  action: ActionType;
  rule: string;
  record: RecordMode;
  /** Keyed fingerprint of the original value (audit), when the caller asked for one. */
  fingerprint?: string;
}

export interface Decision {
  /** The strictest action among the findings (allow when there are none). */
  action: ActionType;
  findings: FindingDecision[];
  /** Human-readable reasons, in order: which rule matched which finding, and why. */
  trace: string[];
}
