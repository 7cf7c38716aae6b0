// Hot reload of the policy under a real Envoy: a valid edit takes effect on the next call
// while a call in flight finishes under the policy it started with; an invalid edit is
// refused, shown in /healthz and the metrics, and the last good policy keeps serving.

import { cpSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEMO_RESPONSES } from '../../src/cli/demo-upstream.js';
import { PROJECT_ROOT } from '../../src/cli/envoy.js';
import { http, postJson, startStack } from './stack.js';
import type { Stack } from './stack.js';
import { metricValue, parseExposition } from '../support/prom.js';

const agents = { 'x-callguard-dev-groups': 'agents' };
const MASK_RULE = 'action: { type: mask, keep_last: 4 }';

interface Health {
  status: string;
  policy: {
    version: number;
    hash: string;
    loaded_at: string;
    rules: number;
    last_error?: { at: string; message: string };
  };
}

function policyCopy(): { dir: string; file: string; original: string } {
  const dir = mkdtempSync(join(tmpdir(), 'cg-reload-'));
  cpSync(join(PROJECT_ROOT, 'policies'), dir, { recursive: true });
  const file = join(dir, 'payments.yaml');
  const original = readFileSync(file, 'utf8');
  expect(original).toContain(MASK_RULE);
  return { dir, file, original };
}

async function health(stack: Stack): Promise<Health> {
  return (await http(`${stack.callguardAdmin}/healthz`)).json<Health>();
}

async function until<T>(what: string, probe: () => Promise<T | undefined>): Promise<T> {
  const end = Date.now() + 5_000;
  for (;;) {
    const v = await probe();
    if (v !== undefined) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

async function lookup(stack: Stack) {
  const r = await postJson(
    `${stack.url}/functions/lookup_customer`,
    '{"customer_id":"cus_42"}',
    agents,
  );
  expect(r.status).toBe(200);
  return r.json<{ cards: { number: string }[]; ssn: string }>();
}

async function metrics(stack: Stack) {
  return parseExposition((await http(`${stack.callguardAdmin}/metrics`)).text);
}

describe('policy reload on file change', () => {
  let stack: Stack;
  const p = policyCopy();
  beforeAll(async () => {
    stack = await startStack({
      policies: [p.dir],
      config: { policy_reload: { watch: true, debounce_ms: 100 } },
    });
  });
  afterAll(async () => {
    await stack?.stop();
  });

  it('applies a valid edit to the next call, not to the call in flight', async () => {
    const h0 = await health(stack);
    expect(h0.status).toBe('ok');
    expect(h0.policy.version).toBe(1);
    expect(h0.policy.hash).toMatch(/^[0-9a-f]{64}$/);
    expect(h0.policy.last_error).toBeUndefined();

    // Hold a call at the upstream: its stream took policy 1 at its request headers.
    const canned = DEMO_RESPONSES['/functions/lookup_customer']!;
    stack.upstream.respond('/functions/lookup_customer', { ...canned, delayMs: 2_500 });
    let settled = false;
    const pending = postJson(
      `${stack.url}/functions/lookup_customer`,
      '{"customer_id":"cus_42"}',
      agents,
    ).finally(() => (settled = true));
    await until('the upstream to hold the call', () =>
      Promise.resolve(stack.upstream.received.length === 1 ? true : undefined),
    );

    // Confidential values: masked → redacted.
    writeFileSync(p.file, p.original.replace(MASK_RULE, 'action: redact'));
    const h1 = await until('version 2', async () => {
      const h = await health(stack);
      return h.policy.version === 2 ? h : undefined;
    });
    expect(h1.policy.hash).not.toBe(h0.policy.hash);
    expect(Date.parse(h1.policy.loaded_at)).toBeGreaterThanOrEqual(Date.parse(h0.policy.loaded_at));
    expect(settled).toBe(false); // the reload happened while the call was in flight

    const held = await pending;
    expect(held.status).toBe(200);
    expect(held.json<{ cards: { number: string }[] }>().cards[0]?.number).toBe(
      '**** **** **** 4444',
    );

    stack.upstream.respond('/functions/lookup_customer', canned);
    const next = await lookup(stack);
    expect(next.cards[0]?.number).toBe('[REDACTED:confidential:card]');
    expect(stack.callguardOutput()).toContain('"msg":"policy reloaded"');

    const m = await metrics(stack);
    expect(metricValue(m, 'callguard_policy_version')).toBe(2);
    expect(metricValue(m, 'callguard_policy_last_reload_ok')).toBe(1);
    expect(metricValue(m, 'callguard_policy_reload_failures_total')).toBe(0);
  });

  it('refuses an invalid edit, reports it, and keeps serving the last good policy', async () => {
    const good = readFileSync(p.file, 'utf8');
    writeFileSync(p.file, good.replace('match: { level: internal }', 'match: { level: secret }'));
    const h = await until('the refusal', async () => {
      const x = await health(stack);
      return x.policy.last_error ? x : undefined;
    });
    expect(h.status).toBe('ok');
    expect(h.policy.version).toBe(2);
    expect(h.policy.last_error?.message).toMatch(
      /payments\.yaml:\d+:\d+: \/rules\/0\/match\/level: unknown level "secret"$/,
    );
    const m = await metrics(stack);
    expect(metricValue(m, 'callguard_policy_reload_failures_total')).toBeGreaterThanOrEqual(1);
    expect(metricValue(m, 'callguard_policy_last_reload_ok')).toBe(0);
    expect(metricValue(m, 'callguard_policy_version')).toBe(2);
    expect(stack.callguardOutput()).toContain('policy reload refused');

    // Policy 2 still in force.
    expect((await lookup(stack)).cards[0]?.number).toBe('[REDACTED:confidential:card]');

    // Reverting the edit clears the error without a new version.
    writeFileSync(p.file, good);
    const back = await until('the error to clear', async () => {
      const x = await health(stack);
      return x.policy.last_error ? undefined : x;
    });
    expect(back.policy.version).toBe(2);
    expect(metricValue(await metrics(stack), 'callguard_policy_last_reload_ok')).toBe(1);
  });
});

describe('policy reload on SIGHUP', () => {
  let stack: Stack;
  const p = policyCopy();
  beforeAll(async () => {
    stack = await startStack({ policies: [p.dir], config: { policy_reload: { watch: false } } });
  });
  afterAll(async () => {
    await stack?.stop();
  });

  it('does not watch when told not to, and reloads on SIGHUP', async () => {
    writeFileSync(p.file, p.original.replace(MASK_RULE, 'action: redact'));
    await new Promise((r) => setTimeout(r, 400));
    expect((await health(stack)).policy.version).toBe(1);
    expect((await lookup(stack)).cards[0]?.number).toBe('**** **** **** 4444');

    stack.signalCallguard('SIGHUP');
    await until('version 2', async () =>
      (await health(stack)).policy.version === 2 ? true : undefined,
    );
    expect((await lookup(stack)).cards[0]?.number).toBe('[REDACTED:confidential:card]');
  });
});
