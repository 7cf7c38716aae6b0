// Trace context in the session record: a valid W3C traceparent gives trace.id and span.id,
// an invalid one is ignored whole; x-request-id is http.request.id. Checked on the parser
// (the spec's cases), on the document, and on the two places records are made (ext_proc's
// Exchange and ext_authz's check) with the shipped policies.

import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { toDocument } from '../../src/audit/record.js';
import type { SessionRecord } from '../../src/audit/record.js';
import { parseTraceparent, traceFields } from '../../src/audit/trace.js';
import { checkFilters, FilterError, toQuery } from '../../src/audit/search.js';
import { SESSION_MAPPINGS } from '../../src/audit/template.js';
import { loadConfig } from '../../src/config/config.js';
import { check } from '../../src/extproc/authz.js';
import { Exchange } from '../../src/extproc/exchange.js';
import { Identifier } from '../../src/identity/identify.js';
import { createLogger } from '../../src/log.js';
import { loadPolicy } from '../../src/policy/load.js';

// The spec's example (W3C Trace Context, "Examples of HTTP traceparent Headers").
const TRACE = '4bf92f3577b34da6a3ce929d0e0e4736';
const SPAN = '00f067aa0ba902b7';
const VALID = `00-${TRACE}-${SPAN}-01`;

describe('parseTraceparent', () => {
  it.each([
    ['version 00, sampled', VALID],
    ['version 00, not sampled', `00-${TRACE}-${SPAN}-00`],
    ['other flag bits', `00-${TRACE}-${SPAN}-09`],
    ['a higher version, exactly 55 characters', `01-${TRACE}-${SPAN}-01`],
    ['a higher version with more fields after a dash', `cc-${TRACE}-${SPAN}-01-what-comes-next`],
  ])('valid: %s', (_name, value) => {
    expect(parseTraceparent(value)).toEqual({ traceId: TRACE, spanId: SPAN });
  });

  it.each([
    ['absent', undefined],
    ['empty', ''],
    ['version ff (forbidden)', `ff-${TRACE}-${SPAN}-01`],
    ['version 00 with more after the flags', `00-${TRACE}-${SPAN}-01-extra`],
    ['version 00 with a trailing character', `${VALID}x`],
    ['two headers joined by a comma', `${VALID},${VALID}`],
    ['a higher version followed by a non-dash', `01-${TRACE}-${SPAN}-01x`],
    ['upper-case hex in the trace id', `00-${TRACE.toUpperCase()}-${SPAN}-01`],
    ['upper-case hex in the span id', `00-${TRACE}-00F067AA0BA902B7-01`],
    ['upper-case version', `0A-${TRACE}-${SPAN}-01`],
    ['all-zero trace id', `00-${'0'.repeat(32)}-${SPAN}-01`],
    ['all-zero span id', `00-${TRACE}-${'0'.repeat(16)}-01`],
    ['a short trace id', `00-${TRACE.slice(1)}-${SPAN}-01`],
    ['a long span id', `00-${TRACE}-${SPAN}0-01`],
    ['one-digit flags', `00-${TRACE}-${SPAN}-1`],
    ['non-hex flags', `00-${TRACE}-${SPAN}-0g`],
    ['leading space', ` ${VALID}`],
    ['underscores for dashes', VALID.replaceAll('-', '_')],
    ['a UUID (an x-request-id)', 'a5f3c2d8-1b4e-4c7a-9f00-1234567890ab'],
  ])('ignored: %s', (_name, value) => {
    expect(parseTraceparent(value)).toBeUndefined();
  });
});

describe('traceFields', () => {
  it('takes trace and span from traceparent and the request id from x-request-id', () => {
    expect(
      traceFields(
        new Map([
          ['traceparent', VALID],
          ['x-request-id', 'req-1'],
        ]),
      ),
    ).toEqual({
      trace_id: TRACE,
      span_id: SPAN,
      request_id: 'req-1',
    });
  });

  it('an invalid traceparent gives no trace fields; x-request-id is never a trace id', () => {
    expect(traceFields(new Map([['traceparent', `ff-${TRACE}-${SPAN}-01`]]))).toEqual({});
    expect(traceFields(new Map([['x-request-id', 'req-2']]))).toEqual({ request_id: 'req-2' });
  });
});

const base: SessionRecord = {
  session_id: 's-1',
  started_at: '2026-12-01T00:00:00.000Z',
  duration_ms: 1,
  method: 'GET',
  path: '/x',
  principal: { subject: 'u', groups: [], authMethod: 'anonymous' },
  outcome: 'public',
};

describe('the session document', () => {
  it('carries trace.id, span.id and http.request.id, all mapped by the template', () => {
    const d = toDocument({ ...base, trace_id: TRACE, span_id: SPAN, request_id: 'req-1' });
    expect(d.trace).toEqual({ id: TRACE });
    expect(d.span).toEqual({ id: SPAN });
    expect(d.http).toEqual({ request: { method: 'GET', id: 'req-1' } });
    const props = SESSION_MAPPINGS.properties;
    expect(props.trace.properties.id.type).toBe('keyword');
    expect(props.span.properties.id.type).toBe('keyword');
    expect(props.http.properties.request.properties.id.type).toBe('keyword');
  });

  it('has no trace or span without them', () => {
    const d = toDocument({ ...base, request_id: 'req-1' });
    expect(d.trace).toBeUndefined();
    expect(d.span).toBeUndefined();
    expect(d.http?.request.id).toBe('req-1');
  });
});

describe('the audit search', () => {
  it('filters by trace id and request id (terms)', () => {
    expect(toQuery(checkFilters({ trace: TRACE, request_id: 'req-1' }))).toEqual({
      bool: { filter: [{ term: { 'trace.id': TRACE } }, { term: { 'http.request.id': 'req-1' } }] },
    });
  });

  it('a trace filter that is not 32 lowercase hex digits is refused', () => {
    for (const bad of [TRACE.toUpperCase(), TRACE.slice(1), VALID])
      expect(() => checkFilters({ trace: bad })).toThrow(FilterError);
  });
});

describe('where records are made', () => {
  const ROOT = join(import.meta.dirname, '../..');
  const policy = loadPolicy([join(ROOT, 'policies')]);
  const config = loadConfig('/nonexistent/callguard.yaml', [], { optional: true });
  config.dev.groups_header = 'x-dev-groups';
  const identifier = new Identifier(config.identity, config.dev.groups_header);
  const log = createLogger('silent');

  it.each([
    ['a valid traceparent', VALID, { trace_id: TRACE, span_id: SPAN }],
    ['an invalid traceparent', `00-${TRACE}-${SPAN}-01-x`, {}],
  ])('ext_proc (Exchange): %s', async (_name, traceparent, expected) => {
    const records: SessionRecord[] = [];
    const exchange = new Exchange({
      policy: () => policy,
      config,
      log,
      sink: { submit: (r) => records.push(r) },
      identifier,
    });
    const headers = {
      ':method': 'GET',
      ':path': '/public/status',
      traceparent,
      'x-request-id': 'req-ext-proc',
    };
    await exchange.handle({
      request_headers: {
        headers: {
          headers: Object.entries(headers).map(([key, v]) => ({ key, raw_value: Buffer.from(v) })),
        },
        end_of_stream: true,
      },
    });
    expect(exchange.complete).toBe(true);
    exchange.finish(false);
    expect(records).toHaveLength(1);
    const r = records[0]!;
    expect({ trace_id: r.trace_id, span_id: r.span_id }).toEqual({
      trace_id: undefined,
      span_id: undefined,
      ...expected,
    });
    expect(r.request_id).toBe('req-ext-proc');
  });

  it.each([
    ['a valid traceparent', VALID, { trace_id: TRACE, span_id: SPAN }],
    ['an invalid traceparent', VALID.toUpperCase(), {}],
  ])('ext_authz (check): %s', async (_name, traceparent, expected) => {
    const records: SessionRecord[] = [];
    await check(
      { policy: () => policy, identifier, log, sink: { submit: (r) => records.push(r) } },
      {
        attributes: {
          request: {
            http: {
              method: 'GET',
              path: '/whoami',
              headers: { traceparent, 'x-request-id': 'req-authz', 'x-dev-groups': 'agents' },
            },
          },
        },
      },
    );
    expect(records).toHaveLength(1);
    const r = records[0]!;
    expect({ trace_id: r.trace_id, span_id: r.span_id }).toEqual({
      trace_id: undefined,
      span_id: undefined,
      ...expected,
    });
    expect(r.request_id).toBe('req-authz');
  });
});
