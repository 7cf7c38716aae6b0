// Admission control (src/extproc/admission-control.ts) with a fake clock and a fake event loop: the
// controller's decisions from the load it is shown, never from a timing of this test.
// Then what a refusal looks like: the stream-open ImmediateResponse, the recorded path
// through a real Exchange (policies/), and the record's decision `overloaded`.

import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  AdmissionControl,
  checkAdmission,
  streamRefusal,
  withoutRefusals,
} from '../../src/extproc/admission-control.js';
import type { LoopProbe } from '../../src/extproc/admission-control.js';
import { DEFAULT_CONFIG, loadConfig } from '../../src/config/config.js';
import type { AdmissionConfig } from '../../src/config/config.js';
import { CallguardError } from '../../src/errors.js';
import { Exchange } from '../../src/extproc/exchange.js';
import type { ProcessingRequest } from '../../src/extproc/protos.js';
import { Identifier } from '../../src/identity/identify.js';
import { createLogger } from '../../src/log.js';
import { loadPolicy } from '../../src/policy/load.js';
import { SESSION_DECISIONS, toDocument } from '../../src/audit/record.js';
import type { SessionRecord } from '../../src/audit/record.js';
import { createMetrics } from '../../src/metrics.js';
import type { AdmissionService } from '../../src/metrics.js';
import { metricValue, parseExposition } from '../support/prom.js';

const ROOT = join(import.meta.dirname, '../..');

/** A loop the test drives: its clock, whether it paused, and its utilization per step. */
class FakeLoop implements LoopProbe {
  now = 0;
  idle = 0;
  u = 0;
  utilization = () => this.u;
  idleTime = () => this.idle;
  /** Time passes with a pause in it (the loop waited for I/O at least once). */
  pass(ms: number): void {
    this.now += ms;
    this.idle += ms / 10;
  }
  /** Time passes without a pause (one long run of work). */
  work(ms: number): void {
    this.now += ms;
  }
}

function admission(over: Partial<AdmissionConfig> = {}) {
  const loop = new FakeLoop();
  const refusedBy: AdmissionService[] = [];
  const limits: number[] = [];
  const a = new AdmissionControl(
    { ...DEFAULT_CONFIG.admission, ...over },
    {
      probe: loop,
      now: () => loop.now,
      metrics: {
        refused: (s) => refusedBy.push(s),
        limit: (n) => limits.push(n),
        utilization: () => {},
      },
    },
  );
  return { a, loop, refusedBy, limits };
}

/** `calls` arrivals evenly over `ms` (with pauses between), then one control step at `u`. */
function interval(
  t: ReturnType<typeof admission>,
  calls: number,
  u: number,
  ms = 100,
): { admitted: number; refused: number } {
  let admitted = 0;
  for (let i = 0; i < calls; i++) {
    t.loop.pass(ms / calls);
    if (t.a.admit('ext_proc')) admitted++;
  }
  t.a.update(u, ms / 1000);
  return { admitted, refused: calls - admitted };
}

describe('admission control', () => {
  it('never limits while the loop is under its target share, however many calls come', () => {
    const t = admission();
    // 100,000 calls a second, each cheap (a slow upstream's calls cost nothing here): the
    // loop is 30% busy, so nothing is refused and no limit is set.
    for (let i = 0; i < 20; i++) expect(interval(t, 10_000, 0.3).refused).toBe(0);
    expect(t.a.rate).toBe(Infinity);
    expect(t.refusedBy).toEqual([]);
  });

  it('over its target share, admits what got in scaled down to the target, and refuses the rest', () => {
    const t = admission({ target_utilization: 0.8 });
    // 100 calls in 100 ms (1,000/s) filled the loop: the limit becomes 1,000 × 0.8 / 1.
    expect(interval(t, 100, 1).refused).toBe(0);
    expect(t.a.rate).toBeCloseTo(800, 5);
    // At the same arrivals, about 80 in 100 get in (after the bucket's first 16, 20 ms of
    // the rate, are spent).
    interval(t, 100, 0.8);
    const next = interval(t, 100, 0.8);
    expect(next.admitted).toBeGreaterThanOrEqual(78);
    expect(next.admitted).toBeLessThanOrEqual(82);
    expect(t.refusedBy.length).toBeGreaterThanOrEqual(next.refused);
    expect(new Set(t.refusedBy)).toEqual(new Set(['ext_proc']));
    expect(t.limits.at(-1)).toBeCloseTo(800, 5);
  });

  it('keeps lowering the limit while the loop stays over its share (refusals cost too)', () => {
    const t = admission({ target_utilization: 0.8 });
    interval(t, 100, 1);
    const first = t.a.rate;
    interval(t, 400, 1);
    expect(t.a.rate).toBeLessThan(first);
    interval(t, 400, 1);
    interval(t, 400, 1);
    interval(t, 400, 1);
    expect(t.a.rate).toBeLessThan(first / 2);
    expect(t.a.rate).toBeGreaterThanOrEqual(1); // a trickle still gets in and measures
  });

  it('raises the limit again when the loop has room, and lifts it once it no longer binds', () => {
    const t = admission({ target_utilization: 0.8 });
    interval(t, 100, 1);
    interval(t, 400, 1);
    const low = t.a.rate;
    // The burst is over: arrivals drop, the loop is 20% busy; the limit doubles per step.
    interval(t, 20, 0.2);
    expect(t.a.rate === Infinity || t.a.rate >= 2 * low).toBe(true);
    for (let i = 0; i < 10 && t.a.rate !== Infinity; i++) interval(t, 20, 0.2);
    expect(t.a.rate).toBe(Infinity);
    // Lifted: every call gets in.
    expect(interval(t, 500, 0.3).refused).toBe(0);
  });

  it('refuses every new call while the loop has worked without a pause for longer than max_busy_ms', () => {
    const t = admission({ max_busy_ms: 50 });
    t.loop.pass(10);
    expect(t.a.admit('ext_proc')).toBe(true); // the pause is seen here
    // A burst: calls keep coming in while the loop works through them without a pause.
    for (let i = 0; i < 7; i++) {
      t.loop.work(5);
      expect(t.a.admit('ext_proc')).toBe(true); // up to 35 ms without a pause: fine
    }
    t.loop.work(25);
    expect(t.a.admit('ext_proc')).toBe(false); // 60 ms: the calls read now have waited
    expect(t.a.admit('ext_authz')).toBe(false);
    expect(t.refusedBy).toEqual(['ext_proc', 'ext_authz']);
    t.loop.pass(1); // the loop paused: calls get in again
    expect(t.a.admit('ext_proc')).toBe(true);
    expect(t.a.rate).toBe(Infinity); // no limit was set by the brake alone
  });

  it('a lone stall at low load (a long GC, the process descheduled) refuses nothing', () => {
    const t = admission({ max_busy_ms: 50 });
    t.a.update(0.1, 1); // the last interval: the loop 10% busy
    t.loop.pass(10);
    expect(t.a.admit('ext_proc')).toBe(true);
    t.loop.work(200); // one call waited 200 ms behind a stall
    expect(t.a.admit('ext_proc')).toBe(true);
    expect(t.refusedBy).toEqual([]);
    // The same stall with load behind it (the loop over half its target share) refuses.
    t.a.update(0.6, 1); // under the target share: no limit is set
    expect(t.a.rate).toBe(Infinity);
    t.loop.pass(1);
    t.a.admit('ext_proc');
    t.loop.work(200);
    expect(t.a.admit('ext_proc')).toBe(false);
  });

  it('admits everything when disabled, whatever the loop does', () => {
    const t = admission({ enabled: false });
    t.loop.work(10_000);
    for (let i = 0; i < 1000; i++) expect(t.a.admit('ext_proc')).toBe(true);
    t.a.update(1, 0.1);
    expect(t.a.admit('ext_proc')).toBe(true);
    expect(t.refusedBy).toEqual([]);
  });

  it('checkAdmission throws 503 overloaded with retry-after; none without admission', () => {
    expect(() => checkAdmission(undefined, 'ext_proc')).not.toThrow();
    const t = admission({ max_busy_ms: 5, retry_after_s: 7 });
    t.loop.pass(1);
    for (let i = 0; i < 8; i++) t.a.admit('ext_proc'); // a burst
    t.loop.work(10);
    let err: unknown;
    try {
      checkAdmission(t.a, 'ext_proc');
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(CallguardError);
    expect((err as CallguardError).code).toBe('overloaded');
    expect((err as CallguardError).status).toBe(503);
    expect((err as CallguardError).retryAfterS).toBe(7);
  });
});

describe('the refusals', () => {
  it('at stream open: a 503 JSON error, retry-after, no session, details callguard_overloaded', () => {
    const r = streamRefusal(2).immediate_response!;
    expect(Number(r.status?.code)).toBe(503);
    expect(r.details).toBe('callguard_overloaded');
    const headers = Object.fromEntries(
      (r.headers?.set_headers ?? []).map((h) => [
        String(h.header?.key),
        Buffer.from(h.header?.raw_value ?? []).toString(),
      ]),
    );
    expect(headers).toEqual({ 'content-type': 'application/json', 'retry-after': '2' });
    const body = JSON.parse(Buffer.from(r.body ?? []).toString()) as { error: unknown };
    expect(body.error).toEqual({
      code: 'overloaded',
      message: 'callguard is over capacity; the call was refused, retry later',
      paths: [],
      rule: 'admission',
      session_id: null,
    });
  });

  const policy = loadPolicy([join(ROOT, 'policies')]);
  const config = loadConfig('/nonexistent/callguard.yaml', [], { optional: true });
  config.dev.groups_header = 'x-dev-groups';
  const busy = () => {
    const t = admission({ max_busy_ms: 5 });
    t.loop.pass(1);
    for (let i = 0; i < 8; i++) t.a.admit('ext_proc'); // a burst
    t.loop.work(10); // from now on every call is refused
    return t.a;
  };
  const exchange = (records: SessionRecord[], a: AdmissionControl) =>
    new Exchange({
      policy: () => policy,
      config,
      log: createLogger('silent'),
      sink: { submit: (r) => records.push(r) },
      identifier: new Identifier(config.identity, config.dev.groups_header),
      admission: a,
    });
  const headers = (path: string, method = 'POST'): ProcessingRequest => ({
    request_headers: {
      headers: {
        headers: Object.entries({
          ':method': method,
          ':path': path,
          'content-type': 'application/json',
          'x-dev-groups': 'agents',
        }).map(([key, v]) => ({ key, raw_value: Buffer.from(v) })),
      },
      end_of_stream: false,
    },
  });

  it('recorded (record_refusals): the exchange refuses at request headers and records decision overloaded', async () => {
    const records: SessionRecord[] = [];
    const x = exchange(records, busy());
    const answer = await x.handle(headers('/functions/charge_card'));
    const r = answer.immediate_response!;
    expect(Number(r.status?.code)).toBe(503);
    const set = r.headers?.set_headers ?? [];
    const retry = set.find((h) => h.header?.key === 'retry-after');
    expect(Buffer.from(retry?.header?.raw_value ?? []).toString()).toBe('1');
    const body = JSON.parse(Buffer.from(r.body ?? []).toString()) as {
      error: { code: string; session_id: string };
    };
    expect(body.error.code).toBe('overloaded');
    expect(body.error.session_id).toBe(x.id);
    expect(x.complete).toBe(true);
    const rec = x.finish(false)!;
    expect(rec.route).toBe('charge_card');
    expect(rec.error?.code).toBe('overloaded');
    expect(records).toHaveLength(1);
    const doc = toDocument(rec);
    expect(doc.callguard.decision).toBe('overloaded');
    expect(doc.event.type).toEqual(['denied']);
    expect(doc.http?.response?.status_code).toBe(503);
  });

  it('recorded: a public route is never refused (it costs no more than the refusal)', async () => {
    const x = exchange([], busy());
    const answer = await x.handle(headers('/public/status', 'GET'));
    expect(answer.immediate_response).toBeUndefined();
    expect(answer.mode_override).toBeDefined();
  });

  it('not recorded: the sink drops refusals and nothing else', () => {
    const got: SessionRecord[] = [];
    const base: SessionRecord = {
      session_id: 's',
      started_at: '2026-01-01T00:00:00.000Z',
      duration_ms: 0,
      principal: { subject: 'anonymous', groups: [], authMethod: 'anonymous' },
      outcome: 'denied',
    };
    const sink = withoutRefusals({ submit: (r) => got.push(r), accepting: () => false });
    sink.submit({ ...base, error: { code: 'overloaded', status: 503, paths: [], rule: null } });
    sink.submit({ ...base, error: { code: 'forbidden', status: 403, paths: [], rule: null } });
    sink.submit({ ...base, outcome: 'allowed' });
    expect(got.map((r) => r.error?.code ?? r.outcome)).toEqual(['forbidden', 'allowed']);
    expect(sink.accepting?.()).toBe(false);
  });

  it('the admin page lists the same decisions as the audit search', () => {
    const app = readFileSync(join(ROOT, 'src/admin/ui/web/app.ts'), 'utf8');
    const list = /const DECISIONS = \[([^\]]*)\]/.exec(app)?.[1] ?? '';
    const names = [...list.matchAll(/'([a-z_]+)'/g)].map((m) => m[1]);
    expect(names).toEqual([...SESSION_DECISIONS]);
  });

  it('the metrics: refusals by service, the admitted rate (+Inf while not limiting), the loop', async () => {
    const m = createMetrics({ defaultMetrics: false });
    expect(await m.exposition()).toContain('\ncallguard_admission_limit_calls_per_second +Inf\n');
    m.admission.refused('ext_proc');
    m.admission.refused('ext_proc');
    m.admission.refused('ext_authz');
    m.admission.limit(120);
    m.admission.utilization(0.9);
    const s = parseExposition(await m.exposition());
    expect(metricValue(s, 'callguard_admission_refusals_total', { service: 'ext_proc' })).toBe(2);
    expect(metricValue(s, 'callguard_admission_refusals_total', { service: 'ext_authz' })).toBe(1);
    expect(metricValue(s, 'callguard_admission_limit_calls_per_second')).toBe(120);
    expect(metricValue(s, 'callguard_event_loop_utilization')).toBe(0.9);
  });

  it('configuration: on by default, bounded', () => {
    const c = loadConfig('/nonexistent/callguard.yaml', [], { optional: true });
    expect(c.admission).toEqual({
      enabled: true,
      target_utilization: 0.85,
      max_busy_ms: 50,
      interval_ms: 100,
      retry_after_s: 1,
      record_refusals: false,
    });
    const dir = mkdtempSync(join(tmpdir(), 'cg-admission-'));
    for (const bad of [
      { target_utilization: 1.5 },
      { max_busy_ms: 0 },
      { interval_ms: 1 },
      { retry_after_s: -1 },
      { record: true },
    ]) {
      const file = join(dir, 'callguard.yaml');
      writeFileSync(file, JSON.stringify({ admission: bad }));
      expect(() => loadConfig(file, []), JSON.stringify(bad)).toThrow(/admission/);
    }
    writeFileSync(join(dir, 'ok.yaml'), JSON.stringify({ admission: { enabled: false } }));
    expect(loadConfig(join(dir, 'ok.yaml'), []).admission.enabled).toBe(false);
  });
});
