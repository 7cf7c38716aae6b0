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
  approval_required: 403,
  approval_pending: 403,
  approval_rejected: 403,
  approval_expired: 403,
  approval_used: 403,
  approval_unknown: 403,
  approval_mismatch: 403,
  approval_unavailable: 503,
  audit_unavailable: 503,
  /** callguard's admission control refused the call at its headers (retry-after). */
  overloaded: 503,
  /**
   * Made by Envoy, not callguard (its local reply, turned into this JSON shape by the shipped
   * Envoy configurations' local_reply_config): callguard could not be reached or asked
   * (connection refused, too many streams open to it, a gRPC error), or it did not answer
   * within the message timeout.
   */
  processor_unavailable: 503,
  processor_timeout: 504,
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
  /** Extra fields of the error body (an approval's id, status URL, expiry): never values. */
  extra?: Record<string, string> | undefined;
  /** The engine's decision behind a `blocked` refusal (for the audit record; never sent). */
  decision?: Decision | undefined;
  /** Seconds after which the client may try again (the `retry-after` header). */
  retryAfterS?: number | undefined;
}

export class CallguardError extends Error {
  readonly code: ErrorCode;
  readonly status: number;
  readonly paths: string[];
  readonly rule: string | undefined;
  readonly extra: Record<string, string>;
  readonly decision: Decision | undefined;
  readonly retryAfterS: number | undefined;

  constructor(code: ErrorCode, message: string, details: ErrorDetails = {}) {
    super(message);
    this.name = 'CallguardError';
    this.code = code;
    this.status = details.status ?? ERROR_STATUS[code];
    this.paths = details.paths ?? [];
    this.rule = details.rule;
    this.extra = details.extra ?? {};
    this.decision = details.decision;
    this.retryAfterS = details.retryAfterS;
  }
}

/** The JSON body a client receives for an error. */
export interface ErrorBody {
  error: {
    code: ErrorCode;
    message: string;
    paths: string[];
    rule: string | null;
    /** null when no session was recorded (a refusal before the call was read). */
    session_id: string | null;
    [extra: string]: string | string[] | null;
  };
}

export function errorBody(
  err: unknown,
  sessionId: string | null,
): { status: number; body: ErrorBody } {
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
        ...e.extra,
        session_id: sessionId,
      },
    },
  };
}
