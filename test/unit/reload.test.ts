// PolicyStore on the real file system: what a change to each kind of file does, what a
// no-op rewrite does, and what a refused reload leaves in force.

import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { createLogger } from '../../src/log.js';
import { createMetrics } from '../../src/metrics.js';
import { PolicyStore } from '../../src/policy/reload.js';
import { metricValue, parseExposition } from '../support/prom.js';

const POLICY = `functions:
  pay: { request: contracts/pay.json }
routes:
  - { name: pay, match: { path: /pay }, function: pay }
rules:
  - { name: conf, match: { level: confidential }, action: mask }
`;
const contract = (level: string) =>
  JSON.stringify({ type: 'object', properties: { card: { 'x-classification': level } } });

function setup() {
  const dir = mkdtempSync(join(tmpdir(), 'cg-store-'));
  mkdirSync(join(dir, 'contracts'));
  writeFileSync(join(dir, 'policy.yaml'), POLICY);
  writeFileSync(join(dir, 'contracts/pay.json'), contract('confidential'));
  const metrics = createMetrics({ defaultMetrics: false });
  let t = Date.parse('2026-01-01T00:00:00Z');
  const store = new PolicyStore({
    paths: [dir],
    cwd: dir,
    log: createLogger('silent'),
    metrics,
    now: () => (t += 1000),
  });
  stores.push(store);
  return { dir, store, metrics };
}

const stores: PolicyStore[] = [];
afterEach(() => {
  for (const s of stores.splice(0)) s.close();
});

async function until(what: string, ok: () => boolean): Promise<void> {
  const end = Date.now() + 5_000;
  while (!ok()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe('PolicyStore', () => {
  it('reloads a changed contract and keeps the old compiled policy for whoever holds it', () => {
    const { dir, store } = setup();
    const before = store.current();
    const s0 = store.status();
    expect(s0).toMatchObject({ version: 1, routes: 1, functions: 1, rules: 1 });
    expect(s0.loaded_at).toBe('2026-01-01T00:00:01.000Z');

    writeFileSync(join(dir, 'contracts/pay.json'), contract('restricted'));
    expect(store.reload('test')).toBe('reloaded');
    expect(store.current()).not.toBe(before);
    expect(store.status().version).toBe(2);
    expect(store.status().hash).not.toBe(s0.hash);
    // A stream that took `before` still has a complete, unchanged policy.
    expect(before.functions.get('pay')?.request).toBeDefined();
  });

  it('does nothing for a rewrite with the same contents', () => {
    const { dir, store } = setup();
    const before = store.current();
    writeFileSync(join(dir, 'policy.yaml'), POLICY);
    expect(store.reload('test')).toBe('unchanged');
    expect(store.current()).toBe(before);
    expect(store.status().version).toBe(1);
  });

  it('refuses an invalid policy, keeps the last good one, and recovers', () => {
    const { dir, store, metrics } = setup();
    const before = store.current();
    writeFileSync(join(dir, 'contracts/pay.json'), contract('secret'));
    expect(store.reload('test')).toBe('refused');
    expect(store.current()).toBe(before);
    const s = store.status();
    expect(s.version).toBe(1);
    expect(s.last_error?.message).toMatch(/^contracts\/pay\.json:1:\d+: .*unknown level "secret"/);
    writeFileSync(join(dir, 'contracts/pay.json'), contract('confidential'));
    expect(store.reload('test')).toBe('unchanged');
    expect(store.status().last_error).toBeUndefined();
    return metrics.exposition().then((text) => {
      const m = parseExposition(text);
      expect(metricValue(m, 'callguard_policy_reload_failures_total')).toBe(1);
      expect(metricValue(m, 'callguard_policy_last_reload_ok')).toBe(1);
      expect(metricValue(m, 'callguard_policy_version')).toBe(1);
    });
  });

  it('refuses a reload when the policy directory is gone', () => {
    const { dir, store } = setup();
    rmSync(dir, { recursive: true });
    expect(store.reload('test')).toBe('refused');
    expect(store.status().last_error?.message).toBe(`${dir}:0:0: cannot read: ENOENT`);
    expect(store.current().routes).toHaveLength(1);
  });

  it('watches the policy directory and the contracts directory, debounced', async () => {
    const { dir, store } = setup();
    store.watch(50);
    writeFileSync(join(dir, 'contracts/pay.json'), contract('restricted'));
    await until('a reload after the contract change', () => store.status().version === 2);
    // A new policy file in the watched directory.
    writeFileSync(
      join(dir, 'more.yaml'),
      'rules:\n  - { name: r2, match: { level: restricted }, action: redact }\n',
    );
    await until('a reload after the new file', () => store.status().version === 3);
    expect(store.status().rules).toBe(2);
    // Several writes in a row end in one new version.
    for (const level of ['internal', 'confidential', 'restricted', 'internal']) {
      writeFileSync(join(dir, 'contracts/pay.json'), contract(level));
    }
    await until('the burst to settle', () => store.status().version === 4);
    await new Promise((r) => setTimeout(r, 200));
    expect(store.status().version).toBe(4);
  });
});
