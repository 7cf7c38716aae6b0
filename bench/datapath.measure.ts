// Data path: what callguard adds to a request through the real Envoy. Stacks run side by
// side (test/integration/stack.ts): (a) Envoy → upstream with the ext_proc and ext_authz
// filters removed from the rendered config, (b) Envoy → callguard → upstream as shipped, and
// for the sequential and fixed-rate loads (c) the shipped config with a no-op ext_proc server
// (bench/noop-extproc.mjs: same Node, grpc-js and protos) in callguard's place: c − a is what
// the ext_proc protocol itself costs, b − c what callguard's work adds.
// Each is measured on a public route (the mode_override fast path) and on a protected 2 KB
// charge_card call with findings (request and response both inspected and masked), under:
// - sequential: one call at a time on one keep-alive connection (Node's http client, timed
//   with performance.now()), 2,000 calls after 300 warm-up: the added cost of one call;
// - fixed rates, 200 and 1,000 req/s: vegeta (bench/vegeta.ts, pinned, installed into
//   .cache/bin), open loop, arrivals evenly spaced, a new worker whenever all are busy, so a
//   slow answer does not delay the requests after it (no coordinated omission); per-request
//   latencies from its results. (autocannon's overallRate sends each connection's quota for
//   the second back to back: bursts, whose queueing it then reported as latency.);
// - saturation: autocannon (pinned), closed loop, N connections each sending its next request
//   when the previous answer is in. A closed loop is what saturation means, and autocannon's
//   has no flaw (only its overallRate does). vegeta -rate=0 -max-workers=N would measure the
//   same thing; autocannon is kept so these cells and the scaling ones stay comparable with
//   earlier runs. Latencies per response from its 'response' event (its histogram keeps
//   whole milliseconds only).
// Then callguard's RSS with 1,000 64 KB requests in flight against an upstream that holds
// its answers. Results: bench/results/datapath.json. Run: npm run bench.
// CALLGUARD_BENCH_SECONDS sets each load run's duration (default 5).

import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { Agent, request } from 'node:http';
import { cpus, loadavg } from 'node:os';
import { join } from 'node:path';
import autocannon from 'autocannon';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { logLines, postJson, startStack, rssBytes } from '../test/integration/stack.js';
import type { EnvoyConfig, LoggedSession, Stack } from '../test/integration/stack.js';
import { payload } from './payloads.js';
import { attack, ensureVegeta } from './vegeta.js';

const SECONDS = Number(process.env.CALLGUARD_BENCH_SECONDS ?? 5);
const AGENTS = { 'x-callguard-dev-groups': 'agents' };

const CALLGUARD_FILTERS = ['envoy.filters.http.ext_proc', 'envoy.filters.http.ext_authz'];

/**
 * The rendered Envoy config without callguard: no ext_proc, no ext_authz, and none of their
 * per-virtual-host or per-route config.
 */
function withoutCallguard(cfg: EnvoyConfig): void {
  const strip = (o: { typed_per_filter_config?: Record<string, unknown> }) => {
    for (const name of CALLGUARD_FILTERS) delete o.typed_per_filter_config?.[name];
  };
  for (const l of cfg.static_resources.listeners) {
    for (const f of l.filter_chains[0]!.filters) {
      const hcm = f.typed_config;
      hcm.http_filters = hcm.http_filters.filter((h) => !CALLGUARD_FILTERS.includes(h.name));
      for (const vh of hcm.route_config.virtual_hosts) {
        strip(vh);
        for (const r of vh.routes) strip(r);
      }
    }
  }
}

let direct: Stack;
let guarded: Stack;
/** (c): the shipped Envoy config, a no-op ext_proc server in callguard's place. */
let floor: Stack;
let noop: ChildProcess | undefined;
/** (b) with a second callguard process behind Envoy's callguard cluster. */
let scaled: Stack;

beforeAll(async () => {
  // Installs the pinned vegeta into .cache/bin on a fresh clone (a minute), before any timing.
  ensureVegeta((line) => process.stderr.write(`${line}\n`));
  let floorStack: Stack;
  [direct, guarded, scaled, floorStack] = await Promise.all([
    startStack({ envoy: withoutCallguard, config: { log: { level: 'info' } } }),
    startStack({ config: { log: { level: 'info' } } }),
    startStack({ config: { log: { level: 'info' } }, replicas: 1 }),
    startStack({ config: { log: { level: 'info' } } }),
  ]);
  // callguard out, the no-op processor in, on the same port (Envoy reconnects by itself).
  await floorStack.stopCallguard();
  const port = floorStack.grpcAddr.split(':').at(-1) ?? '';
  const child = spawn('node', [join(import.meta.dirname, 'noop-extproc.mjs'), port], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  noop = child;
  await new Promise<void>((resolve, reject) => {
    child.stdout.on('data', (d: Buffer) => {
      if (d.toString().includes('listening')) resolve();
    });
    child.on('exit', (code) => reject(new Error(`no-op ext_proc exited (${String(code)})`)));
  });
  floor = { ...floorStack, callguardPid: () => child.pid ?? 0 };
  const r = await postJson(floor.url + '/functions/charge_card', CALL, AGENTS);
  expect(r.status).toBe(200); // the no-op passes it through, card and all
}, 240_000);
afterAll(async () => {
  noop?.kill();
  await Promise.all([direct?.stop(), guarded?.stop(), scaled?.stop(), floor?.stop()]);
});

type Load =
  /** One call at a time on one keep-alive connection: `calls` after `warmup`. */
  | { kind: 'sequential'; name: string; calls: number; warmup: number }
  /** Open loop (vegeta): `rate` requests per second, evenly spaced, whatever the answers do. */
  | { kind: 'rate'; name: string; rate: number }
  /** Closed loop (autocannon): `connections`, each sending as soon as its answer is in. */
  | { kind: 'saturation'; name: string; connections: number };

const LOADS: Load[] = [
  { kind: 'sequential', name: 'sequential', calls: 2000, warmup: 300 },
  { kind: 'rate', name: '200 req/s', rate: 200 },
  { kind: 'rate', name: '1,000 req/s', rate: 1000 },
  { kind: 'saturation', name: 'saturation', connections: 32 },
];

interface Route {
  name: string;
  method: string;
  path: string;
  headers: Record<string, string>;
  body?: Buffer;
}

const CALL = payload('json', 2 * 1024, true);
const ROUTES: Route[] = [
  { name: 'public GET /public/status', method: 'GET', path: '/public/status', headers: {} },
  {
    name: `protected POST /functions/charge_card (${CALL.length} B, findings)`,
    method: 'POST',
    path: '/functions/charge_card',
    headers: { ...AGENTS, 'content-type': 'application/json' },
    body: CALL,
  },
];

interface Figures {
  requests: number;
  rps: number;
  p50: number;
  p90: number;
  p99: number;
  max: number;
  errors: number;
  /** Answers other than 2xx, by status. */
  non2xx: string;
  /** CPU time (user + system) per request of the callguard process and of Envoy, in µs. */
  'callguard µs/req': number;
  'envoy µs/req': number;
  /**
   * Fixed rates: how late vegeta sent its requests against the even schedule (p99 and max,
   * ms). Near 0 means the arrivals were evenly spaced and none waited on an earlier answer.
   */
  'send lag p99/max'?: string;
}

function pct(sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;
}

const round = (x: number) => Math.round(x * 1000) / 1000;

/** What one run recorded: latencies in ms, and what was not a 2xx answer. */
interface Run {
  latencies: number[];
  /** Answers other than 2xx: status → count. */
  statuses: Map<number, number>;
  /** Requests that got no answer (connection errors, timeouts). */
  errors: number;
  /** The run's length, for req/s. */
  seconds: number;
  lag?: string;
}

/** Run `l` against `stack`; warm-up: a short run of the same load, not measured. */
async function load(stack: Stack, route: Route, l: Load, warmup = false): Promise<Figures> {
  const cg0 = cpuMicros(stack.callguardPid());
  const envoy0 = cpuMicros(stack.envoyPid());
  let cg = 0;
  let envoy = 0;
  const cpuDone = () => {
    cg = cpuMicros(stack.callguardPid()) - cg0;
    envoy = cpuMicros(stack.envoyPid()) - envoy0;
  };
  const seconds = warmup ? 1 : SECONDS;
  const r =
    l.kind === 'sequential'
      ? await sequential(stack, route, warmup ? l.warmup : l.calls)
      : l.kind === 'rate'
        ? await openLoop(stack, route, l.rate, seconds, cpuDone)
        : await closedLoop(stack, route, l.connections, seconds);
  if (l.kind !== 'rate') cpuDone();
  // The upstream keeps what it received (tests read it): not needed here.
  stack.upstream.received.length = 0;
  const latencies = r.latencies.sort((a, b) => a - b);
  return {
    requests: latencies.length,
    rps: Math.round(latencies.length / r.seconds),
    p50: round(pct(latencies, 50)),
    p90: round(pct(latencies, 90)),
    p99: round(pct(latencies, 99)),
    max: round(latencies.at(-1) ?? NaN),
    errors: r.errors,
    non2xx: [...r.statuses].map(([k, v]) => `${v}×${k}`).join(' '),
    'callguard µs/req': Math.round(cg / Math.max(1, latencies.length)),
    'envoy µs/req': Math.round(envoy / Math.max(1, latencies.length)),
    ...(r.lag !== undefined ? { 'send lag p99/max': r.lag } : {}),
  };
}

/** One call at a time on one keep-alive connection, timed in this process. */
async function sequential(stack: Stack, route: Route, calls: number): Promise<Run> {
  const agent = new Agent({ keepAlive: true, maxSockets: 1 });
  const latencies: number[] = [];
  const statuses = new Map<number, number>();
  let errors = 0;
  const headers = {
    ...route.headers,
    ...(route.body ? { 'content-length': String(route.body.length) } : {}),
  };
  const began = performance.now();
  for (let i = 0; i < calls; i++) {
    const t = performance.now();
    const status = await new Promise<number>((resolve) => {
      const req = request(
        stack.url + route.path,
        { method: route.method, agent, headers },
        (res) => {
          res.resume();
          res.on('end', () => resolve(res.statusCode ?? 0));
          res.on('error', () => resolve(0));
        },
      );
      req.on('error', () => resolve(0));
      req.end(route.body);
    });
    if (status === 0) errors++;
    else latencies.push(performance.now() - t);
    if (status !== 0 && (status < 200 || status > 299))
      statuses.set(status, (statuses.get(status) ?? 0) + 1);
  }
  const seconds = (performance.now() - began) / 1000;
  agent.destroy();
  return { latencies, statuses, errors, seconds };
}

/** vegeta at `rate` req/s, evenly spaced, open loop (bench/vegeta.ts). */
async function openLoop(
  stack: Stack,
  route: Route,
  rate: number,
  seconds: number,
  onDone: () => void,
): Promise<Run> {
  const { hits, beganNs } = await attack(
    { method: route.method, url: stack.url + route.path, headers: route.headers, body: route.body },
    // Up to 2,000 requests in flight before vegeta stops adding workers: far beyond what
    // either stack holds at these rates, so no request waits for an earlier one's answer.
    { rate, seconds, maxWorkers: 2000, onDone },
  );
  const latencies: number[] = [];
  const statuses = new Map<number, number>();
  let errors = 0;
  const lags: number[] = [];
  for (const h of hits) {
    const due = beganNs + BigInt(Math.round((h.seq * 1e9) / rate));
    lags.push(Number(h.sentNs - due) / 1e6);
    // vegeta records an answer's status (and "error" for 4xx/5xx); code 0: no answer.
    if (h.code === 0) {
      errors++;
      continue;
    }
    latencies.push(h.latencyNs / 1e6);
    if (h.code < 200 || h.code > 299) statuses.set(h.code, (statuses.get(h.code) ?? 0) + 1);
  }
  lags.sort((a, b) => a - b);
  const lag = `${round(pct(lags, 99))} / ${round(lags.at(-1) ?? NaN)}`;
  return { latencies, statuses, errors, seconds, lag };
}

/** autocannon: `connections`, each sending its next request when its answer is in. */
async function closedLoop(
  stack: Stack,
  route: Route,
  connections: number,
  seconds: number,
): Promise<Run> {
  const latencies: number[] = [];
  const statuses = new Map<number, number>();
  const result = await new Promise<autocannon.Result>((resolve, reject) => {
    const instance = autocannon(
      {
        url: stack.url + route.path,
        method: route.method as 'GET' | 'POST',
        headers: route.headers,
        ...(route.body ? { body: route.body } : {}),
        connections,
        duration: seconds,
      },
      (err, r) => (err ? reject(err as Error) : resolve(r)),
    );
    instance.on('response', (_client, status, _bytes, ms) => {
      latencies.push(ms);
      if (status < 200 || status > 299) statuses.set(status, (statuses.get(status) ?? 0) + 1);
    });
  });
  return { latencies, statuses, errors: result.errors + result.timeouts, seconds };
}

/** utime + stime of a process, in µs (from /proc/<pid>/stat, in clock ticks of 10 ms). */
function cpuMicros(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) * 10_000;
}

const results: Record<string, unknown> = {};

it('added latency through Envoy: without vs with callguard, same run', async () => {
  // Both stacks answer as they should before they are loaded.
  for (const s of [direct, guarded]) {
    const r = await postJson(s.url + '/functions/charge_card', CALL, AGENTS);
    expect(r.status).toBe(200);
  }
  const masked = guarded.upstream.received.at(-1)?.body.toString() ?? '';
  expect(masked).not.toContain('4242 4242 4242 4242');
  const rows: Record<string, string | number>[] = [];
  const uptimeBefore = loadavg();
  for (const route of ROUTES) {
    for (const l of LOADS) {
      // Warm-up, then the same load on (a) and (b), one after the other.
      await load(direct, route, l, true);
      await load(guarded, route, l, true);
      const a = await load(direct, route, l);
      const b = await load(guarded, route, l);
      // The floor at saturation would be the no-op's throughput: not the question here.
      const withFloor = l.kind !== 'saturation';
      if (withFloor) await load(floor, route, l, true);
      const c = withFloor ? await load(floor, route, l) : undefined;
      for (const [label, f] of [
        ['a: Envoy → upstream', a],
        ['b: Envoy → callguard → upstream', b],
        ['c: Envoy → no-op ext_proc → upstream', c],
      ] as const) {
        if (f) rows.push({ route: route.name, load: l.name, stack: label, ...f });
      }
      const diff = (label: string, x: Figures, y: Figures) =>
        rows.push({
          route: route.name,
          load: l.name,
          stack: label,
          p50: Math.round((x.p50 - y.p50) * 1000) / 1000,
          p90: Math.round((x.p90 - y.p90) * 1000) / 1000,
          p99: Math.round((x.p99 - y.p99) * 1000) / 1000,
        });
      diff('added (b − a)', b, a);
      if (c) {
        diff('ext_proc itself (c − a)', c, a);
        diff("callguard's work (b − c)", b, c);
      }
      console.log(
        `${route.name} @ ${l.name}: a p50 ${a.p50} p99 ${a.p99} | b p50 ${b.p50} p99 ${b.p99}` +
          (c ? ` | c p50 ${c.p50} p99 ${c.p99}` : ''),
      );
    }
  }
  console.table(rows);
  // What went wrong, if anything: callguard's warnings and errors, and session outcomes.
  const lines = logLines(guarded.callguardOutput());
  const count = (key: (l: Record<string, unknown>) => string | undefined) => {
    const m = new Map<string, number>();
    for (const l of lines) {
      const k = key(l);
      if (k !== undefined) m.set(k, (m.get(k) ?? 0) + 1);
    }
    return Object.fromEntries(m);
  };
  const problems = count((l) => (Number(l.level) >= 40 ? String(l.msg) : undefined));
  const outcomes = count((l) =>
    l.msg === 'session'
      ? `${(l.session as LoggedSession).outcome}${(l.session as LoggedSession).error ? ':' + (l.session as LoggedSession).error?.code : ''}`
      : undefined,
  );
  console.log('callguard warnings/errors:', problems, 'session outcomes:', outcomes);
  console.log(
    `load average (1/5/15 min): before ${uptimeBefore.join(' ')}, after ${loadavg().join(' ')}`,
  );
  results.latency = {
    rows,
    seconds: SECONDS,
    loadavgBefore: uptimeBefore,
    loadavgAfter: loadavg(),
  };
}, 600_000);

it('scaling: one callguard process against two behind the same Envoy, at saturation', async () => {
  const route = ROUTES[1]!;
  const rows: Record<string, string | number>[] = [];
  for (const connections of [32, 64]) {
    const l: Load = {
      kind: 'saturation',
      name: `saturation, ${connections} connections`,
      connections,
    };
    await load(guarded, route, l, true);
    await load(scaled, route, l, true);
    const pids = [scaled.callguardPid(), ...scaled.replicaPids()];
    const one = await load(guarded, route, l);
    const cpu0 = pids.map(cpuMicros);
    const two = await load(scaled, route, l);
    const cpu = pids.map((p, i) => cpuMicros(p) - cpu0[i]!);
    rows.push({ load: l.name, callguard: '1 process', ...one });
    rows.push({
      load: l.name,
      callguard: '2 processes',
      ...two,
      'callguard µs/req': Math.round(cpu.reduce((a, b) => a + b, 0) / Math.max(1, two.requests)),
      'CPU share per process': cpu
        .map((c) => `${Math.round((100 * c) / (SECONDS * 1e6))}%`)
        .join(' '),
    });
  }
  console.table(rows);
  results.scaling = rows;
}, 600_000);

it("callguard's RSS with 1,000 64 KB requests in flight", async () => {
  const body = payload('json', 64 * 1024, true);
  const held: (() => void)[] = [];
  guarded.upstream.handle('/functions/charge_card', (_req, res) => {
    held.push(() => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end('{"charge_id":"ch_1","status":"approved","card":{"number":""}}');
    });
  });
  const pid = guarded.callguardPid();
  const idle = rssBytes(pid);
  const agent = new Agent({ keepAlive: false, maxSockets: Infinity });
  const N = 1000;
  const statuses: Promise<number>[] = [];
  for (let i = 0; i < N; i++) {
    statuses.push(
      new Promise((resolve, reject) => {
        const req = request(
          guarded.url + '/functions/charge_card',
          {
            method: 'POST',
            agent,
            headers: { ...AGENTS, 'content-type': 'application/json' },
          },
          (res) => {
            res.resume();
            res.on('end', () => resolve(res.statusCode ?? 0));
          },
        );
        req.on('error', reject);
        req.end(body);
      }),
    );
  }
  const until = Date.now() + 60_000;
  while (held.length < N && Date.now() < until) await new Promise((r) => setTimeout(r, 50));
  const inFlight = held.length;
  let peak = rssBytes(pid);
  for (let i = 0; i < 10; i++) {
    await new Promise((r) => setTimeout(r, 100));
    peak = Math.max(peak, rssBytes(pid));
  }
  for (const release of held.splice(0)) release();
  const codes = await Promise.all(statuses);
  agent.destroy();
  const after = rssBytes(pid);
  const ok = codes.filter((c) => c === 200).length;
  const mb = (x: number) => Math.round((x / 1024 / 1024) * 10) / 10;
  const row = {
    'body bytes': body.length,
    'in flight at the upstream': inFlight,
    'RSS idle MB': mb(idle),
    'RSS with all in flight MB': mb(peak),
    'RSS after MB': mb(after),
    '200 answers': ok,
  };
  console.table([row]);
  results.memory = row;
  expect(ok).toBe(N);
}, 180_000);

afterAll(() => {
  mkdirSync(join(import.meta.dirname, 'results'), { recursive: true });
  writeFileSync(
    join(import.meta.dirname, 'results/datapath.json'),
    JSON.stringify(
      { date: new Date().toISOString(), cpus: cpus().length, node: process.version, ...results },
      null,
      2,
    ),
  );
});
