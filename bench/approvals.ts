// How many calls can wait in line for an approval at once, and what their waiting costs
// the other calls: W held calls wait (20 s, policy bench/fixtures/approvals.yaml) while
// 16 callers send ordinary charge_card calls; p50/p99 of those calls for each W, in the
// same run, against the real Envoy and Elasticsearch.
// Run: npm run bench:approvals

import { join } from 'node:path';
import { inject, it } from 'vitest';
import { PROJECT_ROOT } from '../src/cli/envoy.js';
import { postJson, startStack } from '../test/integration/stack.js';

const CALLS = Number(process.env.BENCH_CALLS ?? 1_600);
const WAITING = (process.env.BENCH_WAITING ?? '0,100,400,800').split(',').map(Number);

function pct(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? NaN;
}

it('calls through Envoy while W held calls wait in line', async () => {
  const stack = await startStack({
    policies: [
      join(PROJECT_ROOT, 'policies/payments.yaml'),
      join(PROJECT_ROOT, 'bench/fixtures/approvals.yaml'),
    ],
    config: {
      log: { level: 'warn' },
      approvals: { elasticsearch_url: inject('esUrl'), index: `bench-approvals-${Date.now()}` },
    },
  });
  const agent = { 'x-callguard-dev-groups': 'agents' };
  const charge = '{"amount": 1, "currency": "EUR", "card": {"number": "4242 4242 4242 4242"}}';
  const held = JSON.stringify({
    from_account: 'a',
    to_iban: 'DE89370400440532013000',
    amount: 5,
    currency: 'EUR',
  });
  const rows: Record<string, string | number>[] = [];
  try {
    // Warm-up (JIT, connections, the tickets index), not measured.
    for (let i = 0; i < 400; i++)
      await postJson(`${stack.url}/functions/charge_card`, charge, agent);
    for (const w of WAITING) {
      const waiting = Array.from({ length: w }, () =>
        postJson(`${stack.url}/functions/transfer_funds`, held, agent).then((r) => r.status),
      );
      await new Promise((r) => setTimeout(r, w > 0 ? 3000 : 0)); // all of them in line
      const lat: number[] = [];
      const statuses: Record<number, number> = {};
      const started = performance.now();
      await Promise.all(
        Array.from({ length: 16 }, async () => {
          for (let i = 0; i < CALLS / 16; i++) {
            const t0 = performance.now();
            const r = await postJson(`${stack.url}/functions/charge_card`, charge, agent);
            lat.push(performance.now() - t0);
            statuses[r.status] = (statuses[r.status] ?? 0) + 1;
          }
        }),
      );
      const seconds = (performance.now() - started) / 1000;
      const heldStatuses: Record<number, number> = {};
      for (const s of await Promise.all(waiting)) heldStatuses[s] = (heldStatuses[s] ?? 0) + 1;
      lat.sort((a, b) => a - b);
      rows.push({
        'waiting in line': w,
        'calls/s': Math.round(CALLS / seconds),
        'p50 ms': Number(pct(lat, 50).toFixed(2)),
        'p99 ms': Number(pct(lat, 99).toFixed(2)),
        'call statuses': JSON.stringify(statuses),
        'held answered': JSON.stringify(heldStatuses),
      });
    }
  } finally {
    await stack.stop();
  }
  console.table(rows);
});
