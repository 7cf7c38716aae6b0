// Every error a client can see has a stable code, listed once here with its status: the
// data path's refusals, the approval codes, and the admin API's answers. The JSON error body
// is made here only (errorBody on the data path, apiErrorBody on the admin API); anything
// that is not a CallguardError becomes a generic `internal` error, so an unexpected
// exception's message (which might carry a payload value) never reaches a client.

import type { Decision } from './policy/types.js';

export const ERROR_STATUS = {
  // The data path (README "Errors").
  malformed_json: 400,
  invalid_utf8: 400,
  duplicate_key: 400,
  too_deep: 400,
  contract_violation: 400,
  malformed_url: 400,
  header_too_large: 431,
  unsupported_media_type: 415,
  unsupported_encoding: 415,
  body_too_large: 413,
  prohibited_field: 403,
  blocked: 403,
  unauthenticated: 401,
  forbidden: 403,
  identity_unavailable: 503,
  no_policy: 403,
  audit_unavailable: 503,
  analyzer_unavailable: 503,
  internal: 500,
  // A held call and its retry (docs/approvals.md).
  approval_required: 403,
  approval_pending: 403,
  approval_rejected: 403,
  approval_expired: 403,
  approval_used: 403,
  approval_unknown: 403,
  approval_mismatch: 403,
  approval_unavailable: 503,
  // A reviewer's approve or reject refused (docs/approvals.md).
  self_approval: 403,
  not_an_approver: 403,
  already_reviewed: 409,
  not_pending: 409,
  // The admin server's APIs and page (docs/audit.md, docs/approvals.md, docs/ui.md).
  bad_request: 400,
  bad_filter: 400,
  bad_state: 400,
  csrf: 403,
  not_found: 404,
  busy: 503,
  approvals_not_configured: 503,
  audit_not_configured: 503,
  ui_not_configured: 404,
  elasticsearch_unavailable: 502,
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
} as const;

export type ErrorCode = keyof typeof ERROR_STATUS;

/**
 * The approvals API's status for the approval codes: there they answer a reviewer or a
 * requester about a ticket (absent, or in another state), not a refused call.
 */
const API_STATUS: Partial<Record<ErrorCode, number>> = {
  approval_pending: 409,
  approval_rejected: 409,
  approval_expired: 409,
  approval_used: 409,
  approval_unknown: 404,
  approval_mismatch: 409,
};

/** Why a reviewer action or a redemption is refused (approval/ticket.ts ApprovalError). */
export const APPROVAL_ERROR_CODES = [
  'approval_pending',
  'approval_rejected',
  'approval_expired',
  'approval_used',
  'approval_unknown',
  'approval_mismatch',
  'self_approval',
  'not_an_approver',
  'already_reviewed',
  'not_pending',
] as const satisfies readonly ErrorCode[];

export type ApprovalErrorCode = (typeof APPROVAL_ERROR_CODES)[number];

/** A JSON value an error body may carry besides its code and message: never a payload value. */
export type ErrorExtra = string | readonly ErrorExtra[] | { readonly [k: string]: ErrorExtra };

export interface ErrorDetails {
  /** JSON Pointers of the offending values; never the values themselves. */
  paths?: string[];
  /** Name of the policy rule (or parser rule) that produced the error. */
  rule?: string | undefined;
  /** A status other than the code's own (a response-side refusal is a 502). */
  status?: number | undefined;
  /** Extra fields of the error body (an approval's id, status URL, expiry): never values. */
  extra?: Record<string, ErrorExtra> | undefined;
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
  readonly extra: Record<string, ErrorExtra>;
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

  /** The same error answered with another status (a refused response is a bad gateway). */
  withStatus(status: number): CallguardError {
    if (status === this.status) return this;
    return new CallguardError(this.code, this.message, {
      paths: this.paths,
      rule: this.rule,
      status,
      extra: this.extra,
      decision: this.decision,
    });
  }
}

/** An admin API error: the code's status there (API_STATUS), else its own. */
export function apiError(
  code: ErrorCode,
  message: string,
  extra?: Record<string, ErrorExtra>,
): CallguardError {
  return new CallguardError(code, message, { status: API_STATUS[code], extra });
}

/** The JSON body a client of the data path receives for an error. */
export interface ErrorBody {
  error: {
    code: ErrorCode;
    message: string;
    paths: string[];
    rule: string | null;
    /** null when no session was recorded (a refusal before the call was read). */
    session_id: string | null;
    [extra: string]: ErrorExtra | null;
  };
}

/** The JSON body of an admin API error: the code, the message and the error's extra fields. */
export interface ApiErrorBody {
  error: { code: ErrorCode; message: string; [extra: string]: ErrorExtra };
}

/** What a client may see of `err`: itself if it is a CallguardError, else `internal`. */
function visible(err: unknown): CallguardError {
  return err instanceof CallguardError
    ? err
    : new CallguardError('internal', 'internal error in callguard; the call was not forwarded');
}

/** The data path's error body for `err`, naming the session it ended. */
export function errorBody(
  err: unknown,
  sessionId: string | null,
): { status: number; body: ErrorBody } {
  const e = visible(err);
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

/** The admin API's error body for `err`. */
export function apiErrorBody(err: unknown): { status: number; body: ApiErrorBody } {
  const e =
    err instanceof CallguardError ? err : new CallguardError('internal', 'admin server error');
  return { status: e.status, body: { error: { code: e.code, message: e.message, ...e.extra } } };
}
