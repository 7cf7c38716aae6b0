// External analyzers: what the Presidio analyzer adds to a protected chat call, and what it
// costs per KB beside the engine. Real Presidio (src/cli/presidio.ts: presidio-analyzer in
// .cache/, presidio/server.py, blank spaCy pipeline with a deny-list recognizer for names).
//
// 1. Through the real Envoy, one stack, one callguard: the same ~2 KB chat call on a route
//    without analyzers and on a route with Presidio, sequential, interleaved call by call
//    (so drift hits every variant alike), in three cache situations: every text new (cold),
//    only the last turn new (a chat resending its history: the rest from the cache), and the
//    same body again (everything from the cache: no request to Presidio).
// 2. In process: the analyzer's own time for a chat body's texts (one request, cache off)
//    against inspect() of the same body, per KB of body, at ~2 KB, 16 KB and 64 KB.
// Results: bench/results/analyzers.json. Run: npm run bench (or
// npx vitest run --config bench/vitest.config.ts bench/analyzers.measure.ts).
// CALLGUARD_BENCH_CALLS sets the calls per variant (default 300), CALLGUARD_BENCH_MS the time
// per engine figure (default 1000 ms).

import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { Agent, request } from 'node:http';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { Analyzers } from '../src/analyze/index.js';
import { startPresidio } from '../src/cli/presidio.js';
import type { PresidioProcess } from '../src/cli/presidio.js';
import { inspect, planInspection } from '../src/engine/index.js';
import type { InspectInput } from '../src/engine/index.js';
import { Tokenizer } from '../src/enforce/tokenize.js';
import type { CompiledPolicy } from '../src/policy/compile.js';
import { loadPolicy } from '../src/policy/load.js';
import { freePort, startStack } from '../test/integration/stack.js';
import type { Stack } from '../test/integration/stack.js';
import { payload } from './payloads.js';

const CALLS = Number(process.env.CALLGUARD_BENCH_CALLS ?? 300);
/** Time per engine figure (ms), as in engine.measure.ts. */
const MS = Number(process.env.CALLGUARD_BENCH_MS ?? 1000);
const WARMUP = 30;
const AGENTS = { 'x-callguard-dev-groups': 'agents', 'content-type': 'application/json' };
const NAMES = ['Ada Lovelace', 'Grace Hopper'];

let presidio: PresidioProcess;
let stack: Stack;
let dir: string;

function policyYaml(url: string, analyzerExtra = ''): string {
  const route = (name: string, prefix: string, analyzers: string) => `  - name: ${name}
    match: { path: ${prefix}/v1/chat/completions, methods: [POST] }
    format: openai-chat
    access: { require_groups: [agents] }
${analyzers}`;
  return `analyzers:
  presidio:
    kind: presidio
    url: ${url}
    entities:
      PERSON: { detector: person_name, level: confidential }
${analyzerExtra}
routes:
${route('plain', '/plain', '')}
${route('analyzed', '/analyzed', '    analyzers: [presidio]')}
defaults:
  action: { type: mask, keep_last: 4 }
rules:
  - name: names-masked
    match: { detectors: [person_name] }
    action: { type: mask, keep_first: 1, keep_last: 0 }
`;
}

beforeAll(async () => {
  presidio = await startPresidio({
    port: await freePort(),
    denyLists: { PERSON: NAMES },
    log: (l) => process.stderr.write(`${l}\n`),
  });
  dir = mkdtempSync(join(tmpdir(), 'cg-bench-analyzers-'));
  writeFileSync(join(dir, 'policy.yaml'), policyYaml(presidio.url));
  stack = await startStack({ policies: [dir], config: { log: { level: 'info' } } });
  const answer = JSON.stringify({
    id: 'chatcmpl-1',
    object: 'chat.completion',
    choices: [
      { index: 0, finish_reason: 'stop', message: { role: 'assistant', content: 'Done.' } },
    ],
  });
  for (const prefix of ['/plain', '/analyzed'])
    stack.upstream.respond(`${prefix}/v1/chat/completions`, {
      status: 200,
      headers: { 'content-type': 'application/json' },
      body: answer,
    });
}, 300_000);
afterAll(async () => {
  await Promise.all([stack?.stop(), presidio?.stop()]);
});

const PROSE =
  'The quarterly report shows revenue growth in three regions; the team asked for a summary for the board. ';

/** A ~2 KB chat: a history of six turns, then a last user turn. `nonce` makes texts new. */
function chatBody(historyNonce: string, turnNonce: string): Buffer {
  const messages = [{ role: 'system', content: 'You are a helpful assistant.' }];
  for (let i = 0; i < 6; i++)
    messages.push({
      role: i % 2 === 0 ? 'user' : 'assistant',
      content: `${historyNonce}${PROSE.repeat(2)}Ask ${NAMES[i % 2]} (ada${i}@example.com).`,
    });
  messages.push({ role: 'user', content: `Turn ${turnNonce}: summarise it for Ada Lovelace.` });
  return Buffer.from(JSON.stringify({ model: 'gpt-4o', messages }));
}

function post(agent: Agent, path: string, body: Buffer): Promise<{ ms: number; status: number }> {
  const t = performance.now();
  return new Promise((resolve) => {
    const req = request(
      stack.url + path,
      {
        method: 'POST',
        agent,
        headers: { ...AGENTS, 'content-length': String(body.length) },
      },
      (res) => {
        res.resume();
        res.on('end', () => resolve({ ms: performance.now() - t, status: res.statusCode ?? 0 }));
        res.on('error', () => resolve({ ms: performance.now() - t, status: 0 }));
      },
    );
    req.on('error', () => resolve({ ms: performance.now() - t, status: 0 }));
    req.end(body);
  });
}

function pct(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] ?? NaN;
}
const r3 = (x: number) => Math.round(x * 1000) / 1000;

const results: Record<string, unknown> = {};

it('added latency of a protected chat call with the Presidio analyzer, same run', async () => {
  // Both routes answer, and the analyzed one masks the names Presidio finds.
  const probe = chatBody('probe ', 'p');
  const agent0 = new Agent({ keepAlive: true, maxSockets: 1 });
  expect((await post(agent0, '/analyzed/v1/chat/completions', probe)).status).toBe(200);
  const sent = stack.upstream.received.at(-1)!.body.toString();
  expect(sent).not.toContain('Lovelace');
  expect(sent).not.toContain('Hopper');
  agent0.destroy();

  type Variant = { name: string; path: string; body: (i: number) => Buffer };
  const SAME = chatBody('same ', 'same');
  const variants: Variant[] = [
    { name: 'no analyzer (new last turn)', path: '/plain', body: (i) => chatBody('', `n${i}`) },
    {
      name: 'Presidio, every text new',
      path: '/analyzed',
      body: (i) => chatBody(`c${i} `, `c${i}`),
    },
    {
      name: 'Presidio, new last turn (history cached)',
      path: '/analyzed',
      body: (i) => chatBody('', `t${i}`),
    },
    { name: 'Presidio, same body (all cached)', path: '/analyzed', body: () => SAME },
  ];
  const agent = new Agent({ keepAlive: true, maxSockets: 1 });
  const times = variants.map(() => [] as number[]);
  const statuses = variants.map(() => new Map<number, number>());
  const loadBefore = loadavg();
  for (let i = -WARMUP; i < CALLS; i++) {
    for (const [k, v] of variants.entries()) {
      const r = await post(agent, `${v.path}/v1/chat/completions`, v.body(i));
      if (i < 0) continue;
      times[k]!.push(r.ms);
      statuses[k]!.set(r.status, (statuses[k]!.get(r.status) ?? 0) + 1);
    }
  }
  agent.destroy();
  stack.upstream.received.length = 0;
  const rows = variants.map((v, k) => {
    const t = times[k]!.sort((a, b) => a - b);
    return {
      variant: v.name,
      bytes: v.body(0).length,
      calls: t.length,
      p50: r3(pct(t, 50)),
      p90: r3(pct(t, 90)),
      p99: r3(pct(t, 99)),
      statuses: [...statuses[k]!].map(([s, n]) => `${n}×${s}`).join(' '),
    };
  });
  const base = rows[0]!;
  for (const row of rows.slice(1))
    rows.push({
      variant: `added: ${row.variant}`,
      bytes: row.bytes,
      calls: row.calls,
      p50: r3(row.p50 - base.p50),
      p90: r3(row.p90 - base.p90),
      p99: r3(row.p99 - base.p99),
      statuses: '',
    });
  console.table(rows);
  const loadAfter = loadavg();
  console.log(
    `load average (1/5/15 min): before ${loadBefore.join(' ')}, after ${loadAfter.join(' ')}`,
  );
  results.datapath = { rows, calls: CALLS, loadBefore, loadAfter };
  for (const k of [0, 1, 2, 3]) expect(statuses[k]!.get(200)).toBe(CALLS);
}, 900_000);

it("the analyzer's own time per KB beside the engine's", async () => {
  // Cache off: every run sends every text. A generous timeout: this measures, never refuses.
  const cold = mkdtempSync(join(tmpdir(), 'cg-bench-analyzers-cold-'));
  writeFileSync(
    join(cold, 'policy.yaml'),
    policyYaml(presidio.url, '    timeout: 20s\n    cache: { max_entries: 0 }'),
  );
  const policy: CompiledPolicy = loadPolicy([cold]);
  const tokenizer = new Tokenizer([{ id: 'b1', secret: Buffer.alloc(32, 9) }]);
  const input = (route: string, body: Buffer): InspectInput => ({
    policy,
    route: policy.routesByName.get(route)!,
    fn: undefined,
    principal: { subject: 'bench', groups: ['agents'], authMethod: 'dev-header' },
    direction: 'request',
    body,
    maxDepth: 64,
    tokenizer,
  });
  const pool = new Analyzers();
  const plan = policy.analyzers.get('presidio')!;
  const rows: Record<string, string | number>[] = [];
  const loadBefore = loadavg();
  for (const [label, size] of [
    ['2 KB', 2 * 1024],
    ['16 KB', 16 * 1024],
    ['64 KB', 64 * 1024],
  ] as const) {
    const body = payload('openai-chat', size, true);
    const sites = planInspection(input('analyzed', body)).sites;
    const texts = [...new Set(sites.map((s) => s.text))];
    const textBytes = texts.reduce((n, t) => n + Buffer.byteLength(t), 0);
    // The engine: inspect() of the body on the route without analyzers.
    const engine = timeMs(() => void inspect(input('plain', body)), MS);
    // The analyzer: one request with the body's distinct texts (as the exchange sends it).
    const runs = size > 16 * 1024 ? 10 : 30;
    for (let i = 0; i < 3; i++) await pool.run([plan], sites);
    const took: number[] = [];
    for (let i = 0; i < runs; i++) {
      const t = performance.now();
      const a = await pool.run([plan], sites);
      took.push(performance.now() - t);
      expect(a.uses[0]!.use).toMatchObject({ outcome: 'ok', cached: 0, requests: 1 });
    }
    took.sort((a, b) => a - b);
    const analyzer = pct(took, 50);
    const kb = body.length / 1024;
    rows.push({
      size: label,
      'body KB': r3(kb),
      'texts KB': r3(textBytes / 1024),
      texts: texts.length,
      'engine ms': r3(engine),
      'engine ms/KB': r3(engine / kb),
      'Presidio ms (p50)': r3(analyzer),
      'Presidio ms/KB': r3(analyzer / kb),
      'Presidio / engine': r3(analyzer / engine),
    });
  }
  pool.close();
  console.table(rows);
  const loadAfter = loadavg();
  console.log(
    `load average (1/5/15 min): before ${loadBefore.join(' ')}, after ${loadAfter.join(' ')}`,
  );
  results.perKb = { rows, loadBefore, loadAfter };
}, 900_000);

/** Mean ms of `fn` over at least `ms` milliseconds (after a warm-up). */
function timeMs(fn: () => void, ms: number): number {
  for (let i = 0; i < 3; i++) fn();
  let n = 0;
  const start = performance.now();
  while (performance.now() - start < ms) {
    fn();
    n++;
  }
  return (performance.now() - start) / n;
}

afterAll(() => {
  mkdirSync(join(import.meta.dirname, 'results'), { recursive: true });
  writeFileSync(
    join(import.meta.dirname, 'results/analyzers.json'),
    JSON.stringify(
      { date: new Date().toISOString(), cpus: cpus().length, node: process.version, ...results },
      null,
      2,
    ),
  );
});
