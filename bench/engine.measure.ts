// Engine throughput: classify + enforce (inspect) on OpenAI-style chat payloads of ~2 KB,
// ~64 KB and ~1 MB, with and without findings, beside JSON.parse + JSON.stringify of the
// same bytes (what a masker that re-serialises would pay at the least), in the same run.
// Run: npm run bench (or npx vitest run --config bench/vitest.config.ts bench/engine.measure.ts)

import { writeFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { expect, it } from 'vitest';
import { inspect } from '../src/engine.js';
import { Tokenizer } from '../src/enforce/tokenize.js';
import { loadPolicy } from '../src/policy/load.js';
import type { Principal } from '../src/policy/types.js';

const policy = loadPolicy([join(import.meta.dirname, '../policies')]);
const route = policy.routesByName.get('openai_chat')!;
const tokenizer = new Tokenizer([{ id: 'b1', secret: Buffer.alloc(32, 9) }]);
const principal: Principal = { subject: 'bench', groups: ['agents'], authMethod: 'dev-header' };

const PROSE =
  'The quarterly report shows revenue growth in three regions, and the team asked the assistant to summarise the numbers for the board meeting next Tuesday. ';

/** A chat request of about `size` bytes; with findings, one card and one e-mail per ~2 KB. */
function chat(size: number, findings: boolean): Buffer {
  const messages: unknown[] = [{ role: 'system', content: 'You are a helpful assistant.' }];
  let bytes = 100;
  let i = 0;
  while (bytes < size) {
    let content = PROSE.repeat(12);
    if (findings) content += ` Pay with 4242 4242 4242 4242 and mail ada${i}@example.com.`;
    const m =
      i % 3 === 2
        ? {
            role: 'assistant',
            tool_calls: [
              {
                id: `call_${i}`,
                type: 'function',
                function: {
                  name: findings ? 'pay_invoice' : 'summarise',
                  arguments: JSON.stringify(
                    findings
                      ? { invoice_id: `inv_${i}`, card_number: '4242 4242 4242 4242' }
                      : { topic: `report ${i}` },
                  ),
                },
              },
            ],
          }
        : { role: i % 3 === 0 ? 'user' : 'assistant', content };
    messages.push(m);
    bytes += JSON.stringify(m).length;
    i++;
  }
  return Buffer.from(JSON.stringify({ model: 'gpt-4o', messages, temperature: 0.2 }));
}

/** Runs `fn` until at least `ms` have passed (after a warm-up); returns MB/s. */
function mbps(bytes: number, fn: () => void, ms = 1500): number {
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

it('engine throughput beside JSON.parse + JSON.stringify', () => {
  const rows: Record<string, string | number>[] = [];
  for (const [label, size] of [
    ['2 KB', 2 * 1024],
    ['64 KB', 64 * 1024],
    ['1 MB', 1024 * 1024],
  ] as const) {
    for (const findings of [false, true]) {
      const body = chat(size, findings);
      const run = () =>
        inspect({
          policy,
          route,
          fn: undefined,
          principal,
          direction: 'request',
          body,
          maxDepth: 64,
          tokenizer,
        });
      const r = run();
      expect(r.changed).toBe(findings);
      const engine = mbps(body.length, run);
      const baseline = mbps(body.length, () => JSON.stringify(JSON.parse(body.toString('utf8'))));
      rows.push({
        payload: `chat ${label}`,
        findings: r.decision.findings.filter((f) => f.action !== 'allow').length,
        bytes: body.length,
        'engine MB/s': Number(engine.toFixed(1)),
        'parse+stringify MB/s': Number(baseline.toFixed(1)),
        'cost ratio': Number((baseline / engine).toFixed(2)),
      });
    }
  }
  console.table(rows);
  mkdirSync(join(import.meta.dirname, 'results'), { recursive: true });
  writeFileSync(
    join(import.meta.dirname, 'results/engine.json'),
    JSON.stringify({ date: new Date().toISOString(), rows }, null, 2),
  );
});
