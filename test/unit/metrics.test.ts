// The typed metrics API: label values from the record's policy names (or "none"), never
// from its request data, and the gauges other engines will set.

import { describe, expect, it } from 'vitest';
import { contentHash, createMetrics, hashGaugeValue, meteredSink } from '../../src/metrics.js';
import type { SessionRecord } from '../../src/audit/record.js';
import { metricValue, parseExposition } from '../support/prom.js';

const record = (over: Partial<SessionRecord> = {}): SessionRecord => ({
  session_id: 's1',
  started_at: '2026-01-01T00:00:00.000Z',
  duration_ms: 3,
  method: 'POST',
  path: '/secret/4242424242424242',
  principal: { subject: 'user-canary', groups: ['group-canary'], authMethod: 'dev-header' },
  outcome: 'denied',
  ...over,
});

describe('metrics', () => {
  it('labels a session by route, function and outcome, "none" when absent; never by request data', async () => {
    const m = createMetrics({ defaultMetrics: false });
    const sunk: SessionRecord[] = [];
    const sink = meteredSink(m, { submit: (r) => sunk.push(r) });
    sink.submit(record());
    sink.submit(
      record({
        route: 'pay',
        function: 'charge',
        outcome: 'modified',
        request: {
          action: 'mask',
          trace: [],
          findings: [
            {
              direction: 'request',
              path: '/card',
              level: 'confidential',
              source: 'contract',
              detector: 'card',
              span: { start: 1, end: 2 },
              action: 'mask',
              rule: 'r',
              record: 'masked',
            },
            {
              direction: 'request',
              path: '/note',
              level: 'internal',
              source: 'contract',
              span: { start: 3, end: 4 },
              action: 'allow',
              rule: 'r2',
              record: 'masked',
            },
          ],
        },
      }),
    );
    expect(sunk).toHaveLength(2);
    const text = await m.exposition();
    const s = parseExposition(text);
    expect(
      metricValue(s, 'callguard_calls_total', {
        route: 'none',
        function: 'none',
        outcome: 'denied',
      }),
    ).toBe(1);
    expect(
      metricValue(s, 'callguard_calls_total', {
        route: 'pay',
        function: 'charge',
        outcome: 'modified',
      }),
    ).toBe(1);
    expect(
      metricValue(s, 'callguard_decisions_total', {
        route: 'pay',
        direction: 'request',
        action: 'mask',
      }),
    ).toBe(1);
    expect(
      metricValue(s, 'callguard_findings_total', {
        level: 'confidential',
        detector: 'card',
        action: 'mask',
      }),
    ).toBe(1);
    expect(
      metricValue(s, 'callguard_findings_total', {
        level: 'internal',
        detector: 'none',
        action: 'allow',
      }),
    ).toBe(1);
    for (const leak of [
      '4242424242424242',
      'secret',
      'user-canary',
      'group-canary',
      's1',
      '/card',
      '/note',
    ]) {
      expect(text).not.toContain(leak);
    }
  });

  it('a failing metric never fails the sink', () => {
    const sunk: SessionRecord[] = [];
    const sink = meteredSink(
      {
        sessionEnded() {
          throw new Error('boom');
        },
      },
      { submit: (r) => sunk.push(r) },
    );
    expect(() => sink.submit(record())).not.toThrow();
    expect(sunk).toHaveLength(1);
  });

  it('exposes the gauges and counter the audit and approval engines set', async () => {
    const m = createMetrics({ defaultMetrics: false });
    m.approvalsHeld.set(3);
    m.spoolBacklog.set(4096);
    m.esErrors.inc('bulk');
    m.esErrors.inc('bulk');
    m.esErrors.inc('search');
    m.openStreams.inc();
    m.openStreams.inc();
    m.openStreams.dec();
    m.phase('request_body', 0.003);
    const s = parseExposition(await m.exposition());
    expect(metricValue(s, 'callguard_approval_tickets_held')).toBe(3);
    expect(metricValue(s, 'callguard_audit_spool_backlog_bytes')).toBe(4096);
    expect(metricValue(s, 'callguard_elasticsearch_errors_total', { operation: 'bulk' })).toBe(2);
    expect(metricValue(s, 'callguard_elasticsearch_errors_total', { operation: 'search' })).toBe(1);
    expect(metricValue(s, 'callguard_open_streams')).toBe(1);
    expect(
      metricValue(s, 'callguard_phase_duration_seconds_count', { phase: 'request_body' }),
    ).toBe(1);
    expect(
      metricValue(s, 'callguard_phase_duration_seconds_bucket', {
        phase: 'request_body',
        le: '0.005',
      }),
    ).toBe(1);
    expect(
      metricValue(s, 'callguard_phase_duration_seconds_bucket', {
        phase: 'request_body',
        le: '0.0025',
      }),
    ).toBe(0);
  });

  it('carries the policy version, hash and reload state as numbers', async () => {
    const m = createMetrics({ defaultMetrics: false });
    const hash = contentHash(new Map([['policy.yaml', 'rules: []\n']]));
    expect(hash).toMatch(/^[0-9a-f]{64}$/);
    m.policyLoaded({ version: 7, hash, loadedAt: 1_700_000_000_500 });
    m.policyReloadFailed();
    const s = parseExposition(await m.exposition());
    expect(metricValue(s, 'callguard_policy_version')).toBe(7);
    expect(metricValue(s, 'callguard_policy_hash')).toBe(hashGaugeValue(hash));
    expect(hashGaugeValue(hash)).toBe(parseInt(hash.slice(0, 12), 16));
    expect(hashGaugeValue(hash)).toBeLessThan(2 ** 53);
    expect(metricValue(s, 'callguard_policy_last_reload_success_timestamp_seconds')).toBe(
      1_700_000_000,
    );
    expect(metricValue(s, 'callguard_policy_last_reload_ok')).toBe(0);
    expect(metricValue(s, 'callguard_policy_reload_failures_total')).toBe(1);
  });
});
