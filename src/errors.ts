// Every error a client can see has a stable code, listed once here. The JSON error body's
// `code` is this code; anything that is not a CallguardError becomes a generic `internal`
// error, so an unexpected exception's message (which might carry a payload value) never
// reaches a client.

import type { Decision } from './policy/types.js';

export const ERROR_STATUS = {
  malformed_json: 400,
  invalid_utf8: 400,
  duplicate_key: 400,
  too_deep: 400,
  contract_violation: 400,
  unsupported_media_type: 415,
  unsupported_encoding: 415,
  body_too_large: 413,
  prohibited_field: 403,
  blocked: 403,
  unauthenticated: 401,
  forbidden: 403,
  identity_unavailable: 503,
  no_policy: 403,
  internal: 500,
} as const;

export type ErrorCode = keyof typeof ERROR_STATUS;

export interface ErrorDetails {
  /** JSON Pointers of the offending values; never the values themselves. */
  paths?: string[];
  /** Name of the policy rule (or parser rule) that produced the error. */
  rule?: string | undefined;
  /** A status other than the code's own (a response-side refusal is a 502). */
  status?: number | undefined;
  /** The decision behind a `blocked` refusal, for the session record and metrics. */
  decision?: Decision | undefined;
}

export class CallguardError extends Error {
  readonly code: ErrorCode;
  readonly status: number;
  readonly paths: string[];
  readonly rule: string | undefined;
  readonly decision: Decision | undefined;

  constructor(code: ErrorCode, message: string, details: ErrorDetails = {}) {
    super(message);
    this.name = 'CallguardError';
    this.code = code;
    this.status = details.status ?? ERROR_STATUS[code];
    this.paths = details.paths ?? [];
    this.rule = details.rule;
    this.decision = details.decision;
  }
}

/** The JSON body a client receives for an error. */
export interface ErrorBody {
  error: {
    code: ErrorCode;
    message: string;
    paths: string[];
    rule: string | null;
    session_id: string;
  };
}

export function errorBody(err: unknown, sessionId: string): { status: number; body: ErrorBody } {
  const e =
    err instanceof CallguardError
      ? err
      : new CallguardError('internal', 'internal error in callguard; the call was not forwarded');
  return {
    status: e.status,
    body: {
      error: {
        code: e.code,
        message: e.message,
        paths: e.paths,
        rule: e.rule ?? null,
        session_id: sessionId,
      },
    },
  };
}
