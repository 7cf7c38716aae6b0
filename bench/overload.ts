// `npm run bench:overload`: callguard past its capacity, through the real Envoy.
//
// For each workload, two stacks side by side (test/integration/stack.ts): callguard as
// shipped (admission control on) and the same with `admission.enabled: false`. The capacity
// is measured first, on the stack without admission: the highest open-loop rate it answers
// for 3 s with only 200s and a p90 under 100 ms (steps of a tenth of a closed loop's
// throughput; see capacity()). Then each stack takes an open-loop load (vegeta,
// bench/vegeta.ts: evenly spaced arrivals, a new worker whenever all are busy) at 0.5×, 1×,
// 2× and 4× that capacity for CALLGUARD_BENCH_SECONDS (default 6). From the end of that
// schedule, a light probe (a tenth of the capacity, for 3 s) measures how soon latency is
// back to what it was before the load.
//
// Per cell: answers by status; p50/p99 of the 200s and of the 503s; refusals by callguard
// (JSON code overloaded; its `callguard_admission_refusals_total` beside) and by Envoy (JSON
// code processor_unavailable: its own local reply when callguard cannot be asked, e.g. the
// circuit breaker to it full; its overflow counters beside); 5xx with an empty body and 503s
// that are not JSON (must be none); requests the upstream received against the 200s (a
// refused call never reaches it); callguard's CPU per call; streams still open a second
// after the probe.
//
// Workloads:
//   scan: an expensive call (test/support/overload.ts: an 8 KB body through 200 custom
//     detectors, several ms of callguard CPU): callguard is the bottleneck by far, Envoy
//     and vegeta stay cheap at 4×, so the table shows callguard's own overload behaviour;
//   charge_card: the README's call on the shipped policies (~0.5 ms of callguard CPU,
//     ~0.4 ms of Envoy CPU per call): at 2× and 4× the whole two-core machine is past its
//     capacity, Envoy and the load generator included.
// Then recording: the scan workload at 4× with `admission.record_refusals: true` (each
// refusal read by the exchange and recorded) beside the shipped `false` (refused as the
// stream opens), to say what a session record per refusal costs.
// Results: bench/results/overload.json and a table printed per workload.
// CALLGUARD_BENCH_WORKLOADS=scan (or charge_card) runs one workload only;
// CALLGUARD_BENCH_ADMISSION='{"max_busy_ms":25}' tries other admission settings.

import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { Agent, request } from 'node:http';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import autocannon from 'autocannon';
import { afterAll, expect, it } from 'vitest';
import { PROJECT_ROOT } from '../src/cli/envoy.js';
import { http, postJson, startStack } from '../test/integration/stack.js';
import type { Stack } from '../test/integration/stack.js';
import { metricValue, parseExposition } from '../test/support/prom.js';
import { scanBody, writeScanPolicy } from '../test/support/overload.js';
import { attack, ensureVegeta } from './vegeta.js';
import type { Hit } from './vegeta.js';

const SECONDS = Number(process.env.CALLGUARD_BENCH_SECONDS ?? 6);
/** Admission settings of the "on" stacks (JSON), to try other values; default: shipped. */
const ADMISSION = JSON.parse(process.env.CALLGUARD_BENCH_ADMISSION ?? '{}') as object;
const MULTIPLES = [0.5, 1, 2, 4];
const AGENTS = { 'x-callguard-dev-groups': 'agents', 'content-type': 'application/json' };
/** Marks the recovery probe's calls, which the upstream's count of the load leaves out. */
const PROBE = { 'x-bench-probe': '1' };
/** The README's charge_card call. */
const README_CALL = Buffer.from(
  '{"amount": 1, "currency": "EUR", "card": {"number": "4242 4242 4242 4242"}}',
);

interface Workload {
  name: string;
  path: string;
  body: Buffer;
  policies?: string[];
}

function workloads(): Workload[] {
  const dir = mkdtempSync(join(tmpdir(), 'callguard-overload-'));
  const all: Workload[] = [
    {
      name: 'scan',
      path: '/scan',
      body: scanBody(8000),
      policies: [writeScanPolicy(dir, 200)],
    },
    { name: 'charge_card', path: '/functions/charge_card', body: README_CALL },
  ];
  const only = process.env.CALLGUARD_BENCH_WORKLOADS?.split(',');
  return only ? all.filter((w) => only.includes(w.name)) : all;
}

function pct(sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;
}
const ms = (x: number) => Math.round(x * 100) / 100;

async function metrics(stack: Stack): Promise<ReturnType<typeof parseExposition>> {
  return parseExposition((await http(`${stack.callguardAdmin}/metrics`)).text);
}

async function envoyStat(stack: Stack, name: string): Promise<number> {
  const r = await http(`${stack.envoyAdmin}/stats?filter=^${name.replaceAll('.', '\\.')}$`);
  const m = /: (\d+)/.exec(r.text);
  return Number(m?.[1] ?? 0);
}

/** Calls refused by the callguard cluster's breaker (1.36: pending; newer: also active). */
async function overflows(stack: Stack): Promise<number> {
  return (
    (await envoyStat(stack, 'cluster.callguard.upstream_rq_pending_overflow')) +
    (await envoyStat(stack, 'cluster.callguard.upstream_rq_active_overflow'))
  );
}

/** utime + stime of a process, in µs (from /proc/<pid>/stat, in clock ticks of 10 ms). */
function cpuMicros(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) * 10_000;
}

/** The 200s per second of a closed loop of `connections`. */
async function closedLoop(stack: Stack, w: Workload, connections = 32): Promise<number> {
  let ok = 0;
  const seconds = 3;
  await new Promise<autocannon.Result>((resolve, reject) => {
    const instance = autocannon(
      {
        url: stack.url + w.path,
        method: 'POST',
        headers: AGENTS,
        body: w.body,
        connections,
        duration: seconds,
      },
      (err, r) => (err ? reject(err as Error) : resolve(r)),
    );
    instance.on('response', (_c, status) => {
      if (status === 200) ok++;
    });
  });
  stack.upstream.received.length = 0;
  return ok / seconds;
}

/**
 * The measured capacity: the highest open-loop rate (steps of a tenth of a closed loop's
 * throughput) that the stack without admission control answers for 3 s with nothing but
 * 200s and a p90 under 100 ms. Above it a queue grows for as long as the load lasts, so
 * from under to over the step is sharp (latencies in seconds); a single noisy step does not
 * end the search, two failing steps in a row do.
 */
async function capacity(stack: Stack, w: Workload): Promise<{ rate: number; closed: number }> {
  const closed = await closedLoop(stack, w);
  let rate = Math.round(closed * 0.1);
  let failed = 0;
  for (let f = 0.2; f <= 1.001 && failed < 2; f += 0.1) {
    const r = Math.round(closed * f);
    const { hits } = await attack(
      { method: 'POST', url: stack.url + w.path, headers: AGENTS, body: w.body },
      { rate: r, seconds: 3, maxWorkers: 10_000 },
    );
    stack.upstream.received.length = 0;
    const lat = hits.map((h) => h.latencyNs / 1e6).sort((a, b) => a - b);
    const ok = hits.every((h) => h.code === 200) && pct(lat, 90) < 100;
    console.log(`${w.name}: ${r}/s for 3 s: p90 ${ms(pct(lat, 90))} ms${ok ? '' : ' (over)'}`);
    failed = ok ? 0 : failed + 1;
    if (ok) rate = r;
    // Whatever queue the step left drains before the next.
    await new Promise((res) => setTimeout(res, ok ? 1000 : 5000));
  }
  return { rate, closed };
}

/**
 * A light load: one call every `everyMs` for `seconds`, one at a time on one keep-alive
 * connection: [ms since start, latency ms, status][].
 */
async function probe(
  stack: Stack,
  w: Workload,
  seconds: number,
  everyMs: number,
): Promise<number[][]> {
  const agent = new Agent({ keepAlive: true, maxSockets: 1 });
  const out: number[][] = [];
  const began = performance.now();
  for (let i = 0; performance.now() - began < seconds * 1000; i++) {
    const wait = began + i * everyMs - performance.now();
    if (wait > 0) await new Promise((r) => setTimeout(r, wait));
    const t = performance.now();
    const status = await new Promise<number>((resolve) => {
      const req = request(
        stack.url + w.path,
        {
          method: 'POST',
          agent,
          headers: { ...AGENTS, ...PROBE, 'content-length': String(w.body.length) },
        },
        (res) => {
          res.resume();
          res.on('end', () => resolve(res.statusCode ?? 0));
        },
      );
      req.on('error', () => resolve(0));
      req.end(w.body);
    });
    out.push([t - began, performance.now() - t, status]);
  }
  agent.destroy();
  return out;
}

/**
 * When latency was back to normal after a load, in ms after its end: the start of the first
 * 500 ms of probe calls from which on every call is a 200 and each 500 ms has a median
 * within twice the idle median (+2 ms, for sub-millisecond calls). NaN: not within the probe.
 */
function recoveredAt(calls: number[][], idleP50: number): number {
  const bound = 2 * idleP50 + 2;
  const buckets: number[][][] = [];
  for (const c of calls) (buckets[Math.floor(c[0]! / 500)] ??= []).push(c);
  let at = NaN;
  buckets.forEach((b, i) => {
    const lat = b.map((c) => c[1]!).sort((x, y) => x - y);
    const ok = b.every((c) => c[2] === 200) && pct(lat, 50) <= bound;
    if (!ok) at = NaN;
    else if (Number.isNaN(at)) at = i * 500;
  });
  return at;
}

interface Cell {
  workload: string;
  admission: string;
  load: string;
  rate: number;
  sent: number;
  '200': number;
  '503 callguard': number;
  '503 Envoy': number;
  other: string;
  'no answer': number;
  'empty 5xx': number;
  'non-JSON 503': number;
  '200 p50': number;
  '200 p99': number;
  '503 p50': number;
  '503 p99': number;
  'refused (callguard metric)': number;
  'Envoy overflow': number;
  'upstream got': number;
  'callguard µs/call': number;
  'recovered in ms': number;
  'open streams after': number;
}

async function run(
  stack: Stack,
  w: Workload,
  label: string,
  multiple: number,
  cap: number,
  idleP50: number,
): Promise<Cell> {
  const rate = Math.max(1, Math.round(multiple * cap));
  const before = await metrics(stack);
  const overflow0 = await overflows(stack);
  const cpu0 = cpuMicros(stack.callguardPid());
  let cpu = 0;
  stack.upstream.received.length = 0;
  // From the end of the load's schedule: how soon a light load is back to idle latency.
  // A tenth of the capacity (at most 50 calls/s): light enough not to be a load itself.
  const every = Math.max(20, 10_000 / cap);
  const probing = new Promise((r) => setTimeout(r, SECONDS * 1000)).then(() =>
    probe(stack, w, 3, every),
  );
  const { hits } = await attack(
    { method: 'POST', url: stack.url + w.path, headers: AGENTS, body: w.body },
    {
      rate,
      seconds: SECONDS,
      maxWorkers: 10_000,
      onDone: () => (cpu = cpuMicros(stack.callguardPid()) - cpu0),
      maxBody: 1024,
    },
  );
  const calls = await probing;
  const upstreamGot = stack.upstream.received.filter((r) => !r.headers['x-bench-probe']).length;
  stack.upstream.received.length = 0;
  // A stream still open a second after the last answer would be one left hanging.
  await new Promise((r) => setTimeout(r, 1000));
  const after = await metrics(stack);
  const overflow = (await overflows(stack)) - overflow0;
  const by = (f: (h: Hit) => boolean) => hits.filter(f);
  const ok = by((h) => h.code === 200);
  // callguard's refusal says overloaded; Envoy's own (callguard not asked) says
  // processor_unavailable (envoy/envoy.yaml, local_reply_config).
  const code = (h: Hit) => {
    try {
      return (JSON.parse(h.body.toString()) as { error?: { code?: string } }).error?.code;
    } catch {
      return undefined;
    }
  };
  const refusedCg = by((h) => h.code === 503 && code(h) === 'overloaded');
  const refusedEnvoy = by((h) => h.code === 503 && code(h) === 'processor_unavailable');
  const others = new Map<number, number>();
  for (const h of hits)
    if (h.code !== 200 && h.code !== 503 && h.code !== 0)
      others.set(h.code, (others.get(h.code) ?? 0) + 1);
  const lat = (hs: Hit[]) => hs.map((h) => h.latencyNs / 1e6).sort((a, b) => a - b);
  const l200 = lat(ok);
  const l503 = lat([...refusedCg, ...refusedEnvoy]);
  const metric = (s: typeof before, name: string) => metricValue(s, name);
  return {
    workload: w.name,
    admission: label,
    load: `${multiple}×`,
    rate,
    sent: hits.length,
    '200': ok.length,
    '503 callguard': refusedCg.length,
    '503 Envoy': refusedEnvoy.length,
    other: [...others].map(([k, v]) => `${v}×${k}`).join(' '),
    'no answer': by((h) => h.code === 0).length,
    'empty 5xx': by((h) => h.code >= 500 && h.body.length === 0).length,
    'non-JSON 503': by((h) => h.code === 503 && code(h) === undefined).length,
    '200 p50': ms(pct(l200, 50)),
    '200 p99': ms(pct(l200, 99)),
    '503 p50': ms(pct(l503, 50)),
    '503 p99': ms(pct(l503, 99)),
    'refused (callguard metric)':
      metric(after, 'callguard_admission_refusals_total') -
      metric(before, 'callguard_admission_refusals_total'),
    'Envoy overflow': overflow,
    'upstream got': upstreamGot,
    'callguard µs/call': Math.round(cpu / Math.max(1, hits.length)),
    'recovered in ms': Math.round(recoveredAt(calls, idleP50)),
    'open streams after': metric(after, 'callguard_open_streams'),
  };
}

const results: Record<string, unknown> = {};
const cells: Cell[] = [];

for (const w of workloads()) {
  it(`overload: ${w.name}`, async () => {
    ensureVegeta((line) => process.stderr.write(`${line}\n`));
    const quiet = { log: { level: 'info' } };
    const policies = w.policies ? { policies: w.policies } : {};
    const [on, off] = await Promise.all([
      startStack({ ...policies, config: { ...quiet, admission: ADMISSION } }),
      startStack({ ...policies, config: { ...quiet, admission: { enabled: false } } }),
    ]);
    try {
      for (const s of [on, off]) {
        if (w.name === 'scan') s.upstream.respond('/scan', okJson());
        const r = await postJson(s.url + w.path, w.body, AGENTS);
        expect(r.status).toBe(200);
      }
      const loadBefore = loadavg();
      // Idle latency, one call at a time, on each stack.
      const idle = new Map<Stack, number>();
      for (const s of [on, off]) {
        const calls = await probe(s, w, 2, 100);
        idle.set(
          s,
          pct(
            calls.map((c) => c[1]!).sort((a, b) => a - b),
            50,
          ),
        );
      }
      await closedLoop(off, w); // warm-up
      const { rate: cap, closed } = await capacity(off, w);
      console.log(`${w.name}: capacity ${cap} calls/s (closed loop: ${closed.toFixed(0)})`);
      for (const m of MULTIPLES) {
        for (const [label, s] of [
          ['on', on],
          ['off', off],
        ] as const) {
          const cell = await run(s, w, label, m, cap, idle.get(s)!);
          console.log(JSON.stringify(cell));
          cells.push(cell);
        }
      }
      results[w.name] = {
        capacity: cap,
        closedLoop: closed,
        idleP50: Object.fromEntries([...idle].map(([s, v]) => [s === on ? 'on' : 'off', v])),
        loadavgBefore: loadBefore,
        loadavgAfter: loadavg(),
      };
      console.table(cells.filter((c) => c.workload === w.name));
    } finally {
      await Promise.all([on.stop(), off.stop()]);
    }
  }, 900_000);
}

it('recording refusals: what a session record per refusal costs, scan at 4×', async () => {
  const w = workloads().find((x) => x.name === 'scan');
  if (!w) return;
  const quiet = { log: { level: 'info' } };
  const [rec, norec] = await Promise.all([
    startStack({
      policies: w.policies,
      config: { ...quiet, admission: { record_refusals: true } },
    }),
    startStack({
      policies: w.policies,
      config: { ...quiet, admission: { record_refusals: false } },
    }),
  ]);
  try {
    const rows: Cell[] = [];
    const cap = (results.scan as { capacity: number } | undefined)?.capacity ?? 300;
    for (const s of [rec, norec]) {
      s.upstream.respond('/scan', okJson());
      expect((await postJson(s.url + w.path, w.body, AGENTS)).status).toBe(200);
    }
    for (let round = 0; round < 2; round++) {
      for (const [label, s] of [
        ['on, recorded', rec],
        ['on, not recorded', norec],
      ] as const) {
        rows.push(await run(s, w, label, 4, cap, 5));
      }
    }
    console.table(rows);
    results.recording = rows;
  } finally {
    await Promise.all([rec.stop(), norec.stop()]);
  }
}, 900_000);

function okJson() {
  return { status: 200, headers: { 'content-type': 'application/json' }, body: '{"ok":true}' };
}

afterAll(() => {
  mkdirSync(join(PROJECT_ROOT, 'bench', 'results'), { recursive: true });
  writeFileSync(
    join(PROJECT_ROOT, 'bench', 'results', 'overload.json'),
    JSON.stringify(
      {
        date: new Date().toISOString(),
        cpus: cpus().length,
        node: process.version,
        seconds: SECONDS,
        cells,
        ...results,
      },
      null,
      2,
    ),
  );
});
