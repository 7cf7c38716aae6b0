// Engine throughput: classify + enforce (inspect) on each payload format (a plain JSON
// function call under the payments contracts, OpenAI chat, Anthropic messages, MCP) of
// ~2 KB, ~64 KB and ~1 MB, with and without findings, beside JSON.parse + JSON.stringify of
// the same bytes (what a masker that re-serialises would pay at the least), in the same run.
// Run: npm run bench (or npx vitest run --config bench/vitest.config.ts bench/engine.measure.ts)
// CALLGUARD_BENCH_MS sets the time per measurement (default 1000 ms).

import { writeFileSync, mkdirSync } from 'node:fs';
import { loadavg } from 'node:os';
import { join } from 'node:path';
import { expect, it } from 'vitest';
import { inspect } from '../src/engine/index.js';
import type { InspectInput } from '../src/engine/index.js';
import { Tokenizer } from '../src/enforce/tokenize.js';
import { loadPolicy } from '../src/policy/load.js';
import type { Principal } from '../src/policy/types.js';
import { payload, ROUTE_OF, SIZES } from './payloads.js';
import type { BenchFormat } from './payloads.js';

const policy = loadPolicy([join(import.meta.dirname, '../policies')]);
const tokenizer = new Tokenizer([{ id: 'b1', secret: Buffer.alloc(32, 9) }]);
const principal: Principal = { subject: 'bench', groups: ['agents'], authMethod: 'dev-header' };
const MS = Number(process.env.CALLGUARD_BENCH_MS ?? 1000);

/** Runs `fn` until at least `ms` have passed (after a warm-up); returns MB/s. */
function mbps(bytes: number, fn: () => void, ms = MS): number {
  for (let i = 0; i < 3; i++) fn();
  let n = 0;
  const start = process.hrtime.bigint();
  let elapsed = 0;
  while (elapsed < ms) {
    fn();
    n++;
    elapsed = Number(process.hrtime.bigint() - start) / 1e6;
  }
  return (bytes * n) / (elapsed / 1000) / 1e6;
}

export function engineInput(format: BenchFormat, body: Buffer): InspectInput {
  const route = policy.routesByName.get(ROUTE_OF[format])!;
  return {
    policy,
    route,
    fn: route.fn,
    principal,
    direction: 'request',
    body,
    maxDepth: 64,
    tokenizer,
  };
}

it('engine throughput beside JSON.parse + JSON.stringify', () => {
  // Other work on the machine slows every figure: its load is printed and kept with them.
  const loadBefore = loadavg();
  const rows: Record<string, string | number>[] = [];
  const formats: BenchFormat[] = ['json', 'openai-chat', 'anthropic', 'mcp'];
  for (const format of formats) {
    for (const [label, size] of SIZES) {
      for (const findings of [false, true]) {
        const body = payload(format, size, findings);
        const input = engineInput(format, body);
        const run = () => inspect(input);
        const r = run();
        expect(r.changed).toBe(findings);
        const engine = mbps(body.length, run);
        const baseline = mbps(body.length, () => JSON.stringify(JSON.parse(body.toString('utf8'))));
        rows.push({
          format,
          size: label,
          findings: r.decision.findings.filter((f) => f.action !== 'allow').length,
          bytes: body.length,
          'engine MB/s': Number(engine.toFixed(1)),
          'parse+stringify MB/s': Number(baseline.toFixed(1)),
          'cost ratio': Number((baseline / engine).toFixed(2)),
        });
      }
    }
  }
  console.table(rows);
  const loadAfter = loadavg();
  console.log(
    `load average (1/5/15 min): before ${loadBefore.join(' ')}, after ${loadAfter.join(' ')}`,
  );
  mkdirSync(join(import.meta.dirname, 'results'), { recursive: true });
  writeFileSync(
    join(import.meta.dirname, 'results/engine.json'),
    JSON.stringify(
      { date: new Date().toISOString(), loadavgBefore: loadBefore, loadavgAfter: loadAfter, rows },
      null,
      2,
    ),
  );
});
