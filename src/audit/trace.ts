// Trace context for the session record: the W3C `traceparent` a request carries names the
// caller's trace and span (trace.id, span.id), so an auditor can join a session to the mesh's
// traces; Envoy's `x-request-id` is the request's id (http.request.id). A traceparent that
// does not follow the spec (https://www.w3.org/TR/trace-context/#traceparent-header) is
// ignored whole, never half used.

import type { SessionRecord } from './record.js';

export interface TraceParent {
  /** 32 lowercase hex digits, not all zero. */
  traceId: string;
  /** The caller's span (the header's parent-id): 16 lowercase hex digits, not all zero. */
  spanId: string;
}

// version "-" trace-id "-" parent-id "-" trace-flags, lowercase hex only (HEXDIGLC). A
// version above 00 may append fields after a dash; version 00 may not (checked below).
const TRACEPARENT = /^([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-[0-9a-f]{2}(?:-|$)/;
const VERSION_00_LENGTH = 55;

/** The trace and span of a `traceparent` value, or undefined when it is not valid. */
export function parseTraceparent(value: string | undefined): TraceParent | undefined {
  if (value === undefined) return undefined;
  const m = TRACEPARENT.exec(value);
  if (!m) return undefined;
  const [, version, traceId, spanId] = m as unknown as [string, string, string, string];
  // ff is forbidden; 00 is exactly 55 characters (two headers joined with a comma are not).
  if (version === 'ff') return undefined;
  if (version === '00' && value.length !== VERSION_00_LENGTH) return undefined;
  if (/^0+$/.test(traceId) || /^0+$/.test(spanId)) return undefined;
  return { traceId, spanId };
}

export type TraceFields = Pick<SessionRecord, 'trace_id' | 'span_id' | 'request_id'>;

/** The record's trace fields from the request headers (lower-case names). */
export function traceFields(headers: ReadonlyMap<string, string>): TraceFields {
  const out: TraceFields = {};
  const tp = parseTraceparent(headers.get('traceparent'));
  if (tp) {
    out.trace_id = tp.traceId;
    out.span_id = tp.spanId;
  }
  const requestId = headers.get('x-request-id');
  if (requestId) out.request_id = requestId;
  return out;
}
