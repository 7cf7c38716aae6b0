// /metrics after known traffic through a real Envoy: calls by route and outcome, findings
// by level/detector/action, one latency observation per ext_proc message and phase, no
// open stream left, and no request data in any metric line.

import { cpSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PROJECT_ROOT } from '../../src/cli/envoy.js';
import { http, postJson, sessionRecord, startStack } from './stack.js';
import type { Stack } from './stack.js';
import { metricValue, parseExposition } from '../support/prom.js';
import type { Sample } from '../support/prom.js';

let stack: Stack;
const CANARY = 'cnry7Q2xZ9wV';
const agents = { 'x-callguard-dev-groups': 'agents' };

beforeAll(async () => {
  // The shipped policy, plus a rule that blocks confidential values for interns.
  const dir = mkdtempSync(join(tmpdir(), 'cg-metrics-'));
  cpSync(join(PROJECT_ROOT, 'policies'), dir, { recursive: true });
  writeFileSync(
    join(dir, 'interns.yaml'),
    'rules:\n  - name: interns-blocked\n    match: { min_level: confidential, groups: [interns] }\n    action: block\n',
  );
  stack = await startStack({ policies: [dir] });
});
afterAll(async () => {
  await stack?.stop();
});

async function scrape(): Promise<{ text: string; samples: Sample[] }> {
  const r = await http(`${stack.callguardAdmin}/metrics`);
  expect(r.status).toBe(200);
  expect(r.headers['content-type']).toContain('text/plain');
  return { text: r.text, samples: parseExposition(r.text) };
}

/** Sessions are counted at stream end, which can trail the HTTP answer slightly. */
async function scrapeWhen(
  done: (s: Sample[]) => boolean,
): Promise<{ text: string; samples: Sample[] }> {
  const until = Date.now() + 5_000;
  for (;;) {
    const m = await scrape();
    if (done(m.samples) || Date.now() > until) return m;
    await new Promise((r) => setTimeout(r, 25));
  }
}

describe('metrics', () => {
  it('count calls, findings and phases of known traffic, with no request data in labels', async () => {
    const before = await scrape();
    expect(metricValue(before.samples, 'callguard_calls_total')).toBe(0);
    expect(metricValue(before.samples, 'callguard_policy_version')).toBe(1);
    expect(metricValue(before.samples, 'callguard_policy_last_reload_ok')).toBe(1);
    expect(metricValue(before.samples, 'callguard_policy_reload_failures_total')).toBe(0);

    // 1. Masked and redacted on the way in, masked on the way back: 4 messages.
    const ok = await postJson(
      `${stack.url}/functions/charge_card?note=${CANARY}`,
      `{"amount":1,"currency":"EUR","card":{"number":"4242424242424242","holder":"${CANARY}"},"customer":{"ssn":"078-05-1120"}}`,
      { ...agents, 'x-canary': CANARY },
    );
    expect(ok.status).toBe(200);
    // 2. A prohibited field: refused at the request body (2 messages).
    const bad = await postJson(
      `${stack.url}/functions/charge_card`,
      `{"amount":1,"currency":"EUR","card":{"number":"4242424242424242","cvv":"${CANARY}"}}`,
      agents,
    );
    expect(bad.status).toBe(403);
    // 3. No policy route: refused at the request headers (1 message); route="none".
    const none = await postJson(`${stack.url}/nowhere/${CANARY}`, `{"x":"${CANARY}"}`, agents);
    expect(none.status).toBe(403);
    expect(none.json<{ error: { code: string } }>().error.code).toBe('no_policy');
    // 4. Public: request headers only, bodies and response headers skipped (1 message).
    const pub = await http(`${stack.url}/public/${CANARY}`, { headers: { 'x-canary': CANARY } });
    expect(pub.status).toBe(404); // the demo endpoint has no such page; callguard let it through

    // 5. Blocked by policy at the request body (2 messages); its findings still count.
    const blocked = await postJson(
      `${stack.url}/functions/charge_card`,
      `{"amount":1,"currency":"EUR","card":{"number":"4242424242424242","holder":"${CANARY}"},"customer":{"ssn":"078-05-1120"}}`,
      { 'x-callguard-dev-groups': 'agents,interns' },
    );
    expect(blocked.status).toBe(403);
    expect(blocked.json<{ error: { code: string } }>().error.code).toBe('blocked');
    // The session record keeps the blocked decision (findings, rules), like any other.
    const record = await sessionRecord(stack, blocked.headers['x-callguard-session'] as string);
    expect(record.request?.action).toBe('block');
    expect(record.request?.findings.map((f) => `${f.path}:${f.action}:${f.rule}`)).toEqual([
      '/card/number:block:interns-blocked',
      '/card/holder:allow:internal-allowed',
      '/customer/ssn:block:interns-blocked',
    ]);

    // 6. Header-only route served by ext_authz: one Check, counted like a stream.
    const who = await http(`${stack.url}/whoami`, { headers: agents });
    expect(who.status).toBe(200);

    const { text, samples } = await scrapeWhen((s) => metricValue(s, 'callguard_calls_total') >= 6);
    const calls = (labels: Record<string, string>) =>
      metricValue(samples, 'callguard_calls_total', labels);
    expect(calls({})).toBe(6);
    expect(calls({ route: 'whoami', function: 'none', outcome: 'allowed' })).toBe(1);
    expect(calls({ route: 'charge_card', function: 'charge_card', outcome: 'modified' })).toBe(1);
    expect(calls({ route: 'charge_card', function: 'charge_card', outcome: 'denied' })).toBe(2);
    expect(calls({ route: 'none', function: 'none', outcome: 'denied' })).toBe(1);
    expect(calls({ route: 'public', function: 'none', outcome: 'public' })).toBe(1);

    const findings = (labels: Record<string, string>) =>
      metricValue(samples, 'callguard_findings_total', labels);
    const req = { direction: 'request', source: 'contract' };
    expect(findings({ ...req, level: 'confidential', detector: 'card', action: 'mask' })).toBe(1);
    expect(findings({ ...req, level: 'internal', detector: 'none', action: 'allow' })).toBe(2);
    expect(findings({ ...req, level: 'confidential', detector: 'card', action: 'block' })).toBe(1);
    expect(findings({ ...req, level: 'restricted', detector: 'ssn', action: 'block' })).toBe(1);
    expect(findings({ ...req, level: 'restricted', detector: 'ssn', action: 'redact' })).toBe(1);
    expect(
      findings({ direction: 'response', level: 'confidential', detector: 'card', action: 'mask' }),
    ).toBe(1);
    expect(findings({})).toBe(7);
    const decisions = (labels: Record<string, string>) =>
      metricValue(samples, 'callguard_decisions_total', labels);
    expect(decisions({ route: 'charge_card', direction: 'request', action: 'redact' })).toBe(1);
    expect(decisions({ route: 'charge_card', direction: 'request', action: 'block' })).toBe(1);
    expect(decisions({ route: 'charge_card', direction: 'response', action: 'mask' })).toBe(1);

    const phase = (p: string) =>
      metricValue(samples, 'callguard_phase_duration_seconds_count', { phase: p });
    expect(phase('request_headers')).toBe(5);
    expect(phase('request_body')).toBe(3);
    expect(phase('response_headers')).toBe(1);
    expect(phase('response_body')).toBe(1);
    expect(phase('authz_check')).toBe(1);
    expect(metricValue(samples, 'callguard_phase_duration_seconds_sum')).toBeGreaterThan(0);
    expect(metricValue(samples, 'callguard_open_streams')).toBe(0);

    // Registered for the audit and approval engines, at zero until they are wired.
    for (const name of ['callguard_approval_tickets_held', 'callguard_audit_spool_backlog_bytes']) {
      expect(text).toContain(`# TYPE ${name} gauge`);
    }
    expect(text).toContain('# TYPE callguard_elasticsearch_errors_total counter');

    // The canary went in a path, a query, a header and bodies: it is in no metric line,
    // and neither are the card number and the SSN.
    expect(text).not.toContain(CANARY);
    expect(text).not.toContain('4242424242424242');
    expect(text).not.toContain('078-05-1120');
    expect(text).not.toContain('nowhere');
  });
});
