// Just-in-time approvals end to end: real Envoy, real Elasticsearch (tickets), real OIDC
// provider (requester and reviewers with their own tokens), a webhook receiver on loopback.

import { createHmac, randomUUID } from 'node:crypto';
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { PROJECT_ROOT } from '../../src/cli/envoy.js';
import { startTestIdp } from '../support/idp.js';
import type { TestIdp } from '../support/idp.js';
import { freePort, http, postJson, sessionRecord, startStack } from './stack.js';
import type { Stack } from './stack.js';
import { anyOf } from '../support/matchers.js';

const AUD = 'callguard';
const IBAN = 'DE89370400440532013000';
const WEBHOOK_SECRET = 'whsec-test-0123456789';
const body = (memo = 'rent', iban = IBAN) =>
  JSON.stringify({ from_account: 'acc_1', to_iban: iban, amount: 1200.5, currency: 'EUR', memo });

let idp: TestIdp;
let stack: Stack;
let adminB: string;
let replicaB: ChildProcess;
const hooks: { headers: Record<string, string | string[] | undefined>; body: string }[] = [];
let hookFails = false;
const tokens = new Map<string, string>();

async function token(who: string, groups: string[]): Promise<Record<string, string>> {
  let t = tokens.get(who);
  if (!t) {
    t = await idp.clientCredentialsToken({ clientId: who, audience: AUD, groups });
    tokens.set(who, t);
  }
  return { authorization: `Bearer ${t}` };
}
const agent = () => token('agent-svc', ['agents']);
const agent2 = () => token('agent2-svc', ['agents']);
const m1 = () => token('manager-1', ['managers']);
const m2 = () => token('manager-2', ['managers']);
const oncall = () => token('oncall-1', ['security-oncall']);

const api = async (base: string, path: string, who: Record<string, string>, post?: object) => {
  const r = post
    ? await postJson(`${base}${path}`, JSON.stringify(post), who)
    : await http(`${base}${path}`, { headers: who });
  return { status: r.status, json: r.json<Record<string, unknown>>(), text: r.text };
};

interface ErrorJson {
  error: {
    code: string;
    approval_id: string;
    status_url: string;
    expires_at: string;
    paths: string[];
    session_id: string;
  };
}

beforeAll(async () => {
  idp = await startTestIdp({ groupsClaim: 'groups' });
  const receiver = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      hooks.push({ headers: req.headers, body: Buffer.concat(chunks).toString('utf8') });
      res.writeHead(hookFails ? 500 : 200).end();
    });
  });
  await new Promise<void>((r) => receiver.listen(0, '127.0.0.1', r));
  const hookPort = (receiver.address() as AddressInfo).port;
  process.env.CG_TEST_WEBHOOK_SECRET = WEBHOOK_SECRET;
  stack = await startStack({
    policies: [join(PROJECT_ROOT, 'test/fixtures/approvals/policy.yaml')],
    config: {
      dev: { groups_header: '' },
      identity: { oidc: [{ issuer: idp.issuer, audiences: [AUD] }] },
      approvals: {
        elasticsearch_url: inject('esUrl'),
        index: `cg-approvals-${randomUUID().slice(0, 8)}`,
        public_url: 'http://callguard-admin.test',
        sweep_ms: 500,
        webhook: {
          url: `http://127.0.0.1:${hookPort}/hook`,
          secret_env: 'CG_TEST_WEBHOOK_SECRET',
          timeout_ms: 2000,
          retries: 2,
        },
      },
    },
  });
  // A second replica on the same Elasticsearch: any replica serves any step.
  const adminPort = await freePort();
  adminB = `http://127.0.0.1:${adminPort}`;
  replicaB = spawn(
    process.execPath,
    [
      join(PROJECT_ROOT, 'dist/cli/main.js'),
      'serve',
      '--config',
      stack.configFile,
      '--grpc-addr',
      `127.0.0.1:${await freePort()}`,
      '--admin-addr',
      `127.0.0.1:${adminPort}`,
    ],
    { stdio: 'ignore', env: process.env },
  );
  for (let i = 0; i < 200; i++) {
    try {
      if ((await http(`${adminB}/healthz`)).status === 200) break;
    } catch {
      // not up yet
    }
    await new Promise((r) => setTimeout(r, 50));
  }
});
afterAll(async () => {
  replicaB?.kill('SIGKILL');
  await stack?.stop();
  await idp?.stop();
});

async function hold(path = '/functions/transfer_funds', b = body()): Promise<ErrorJson['error']> {
  const before = stack.upstream.received.length;
  const r = await postJson(`${stack.url}${path}`, b, await agent());
  expect(r.status).toBe(403);
  expect(stack.upstream.received.length).toBe(before);
  const e = r.json<ErrorJson>().error;
  expect(e.code).toBe('approval_required');
  return e;
}

const retry = async (
  id: string,
  who: Record<string, string>,
  b = body(),
  path = '/functions/transfer_funds',
) => postJson(`${stack.url}${path}`, b, { ...who, 'x-callguard-approval': id });

describe('the full story: hold, notify, two managers, exactly one retry', () => {
  it('goes through once, for exactly the approved payload and caller', async () => {
    const e = await hold();
    const heldSession = e.session_id;
    expect(e.approval_id).toMatch(/^apr_/);
    expect(e.status_url).toBe(`http://callguard-admin.test/api/approvals/${e.approval_id}`);
    expect(Date.parse(e.expires_at)).toBeGreaterThan(Date.now() + 29 * 60_000);
    expect(e.paths).toEqual(['/to_iban']);

    // The webhook: signed, Slack-shaped, and without the value.
    await expect
      .poll(() => hooks.some((h) => h.body.includes(e.approval_id)), { timeout: 5000 })
      .toBe(true);
    const hook = hooks.find((h) => h.body.includes(e.approval_id))!;
    const ts = hook.headers['x-callguard-timestamp'] as string;
    const expected = `sha256=${createHmac('sha256', WEBHOOK_SECRET).update(`${ts}.${hook.body}`).digest('hex')}`;
    expect(hook.headers['x-callguard-signature']).toBe(expected);
    expect(hook.body).not.toContain(IBAN);
    expect(hook.body).not.toContain(IBAN.slice(-6));
    expect(JSON.parse(hook.body)).toMatchObject({
      text: anyOf(String),
      blocks: anyOf(Array),
      callguard: { approval_id: e.approval_id, route: 'transfer' },
    });

    // The requester reads their own ticket; a reviewer lists it with masked values.
    expect(
      (await api(stack.callguardAdmin, `/api/approvals/${e.approval_id}`, await agent())).json
        .state,
    ).toBe('pending');
    expect(
      (await api(stack.callguardAdmin, `/api/approvals/${e.approval_id}`, await agent2())).status,
    ).toBe(403);
    const list = await api(stack.callguardAdmin, '/api/approvals?state=pending', await m1());
    expect(list.status).toBe(200);
    const listed = (
      list.json.approvals as { id: string; summary: { findings: { masked: string }[] } }[]
    ).find((t) => t.id === e.approval_id);
    expect(listed?.summary.findings[0]?.masked).toBe('********************00');
    expect(list.text).not.toContain(IBAN);

    // Self-approval and non-approvers are refused.
    const self = await api(
      stack.callguardAdmin,
      `/api/approvals/${e.approval_id}/approve`,
      await agent(),
      {},
    );
    expect([self.status, (self.json.error as { code: string }).code]).toEqual([
      403,
      'self_approval',
    ]);
    const other = await api(
      stack.callguardAdmin,
      `/api/approvals/${e.approval_id}/approve`,
      await agent2(),
      {},
    );
    expect([other.status, (other.json.error as { code: string }).code]).toEqual([
      403,
      'not_an_approver',
    ]);

    // One approval of two: still pending, a retry is refused.
    expect(
      (
        await api(stack.callguardAdmin, `/api/approvals/${e.approval_id}/approve`, await m1(), {
          reason: 'known landlord',
        })
      ).json.state,
    ).toBe('pending');
    expect((await retry(e.approval_id, await agent())).json<ErrorJson>().error.code).toBe(
      'approval_pending',
    );
    // The second approval through the other replica.
    expect(
      (await api(adminB, `/api/approvals/${e.approval_id}/approve`, await m2(), {})).json.state,
    ).toBe('approved');

    // Another payload, another caller: refused, and the approval is not spent.
    expect(
      (await retry(e.approval_id, await agent(), body('other memo'))).json<ErrorJson>().error.code,
    ).toBe('approval_mismatch');
    expect((await retry(e.approval_id, await agent2())).json<ErrorJson>().error.code).toBe(
      'approval_mismatch',
    );

    // Exactly that payload (other whitespace is the same call) goes through, once.
    const before = stack.upstream.received.length;
    const ok = await retry(e.approval_id, await agent(), body().replace(/,/g, ', '));
    expect(ok.status).toBe(200);
    expect(stack.upstream.received.length).toBe(before + 1);
    expect(stack.upstream.received.at(-1)?.body.toString()).toContain(IBAN);
    expect(stack.upstream.received.at(-1)?.headers['x-callguard-approval']).toBeUndefined();
    expect((await retry(e.approval_id, await agent())).json<ErrorJson>().error.code).toBe(
      'approval_used',
    );

    // The session record answers "was this value approved, by whom, when".
    const rec = (await sessionRecord(
      stack,
      ok.headers['x-callguard-session'] as string,
    )) as unknown as {
      approval: { id: string; state: string; approved_by: { reviewer: string }[]; used_at: string };
    };
    expect(rec.approval).toMatchObject({
      id: e.approval_id,
      state: 'used',
      held_session_id: heldSession,
      approved_by: [{ reviewer: 'manager-1' }, { reviewer: 'manager-2' }],
    });
    expect(stack.callguardOutput()).not.toContain(IBAN);
  });

  it('a reject ends the ticket; unknown and expired tickets are refused with their codes', async () => {
    const e = await hold();
    expect(
      (
        await api(stack.callguardAdmin, `/api/approvals/${e.approval_id}/reject`, await m1(), {
          reason: 'no',
        })
      ).json.state,
    ).toBe('rejected');
    expect((await retry(e.approval_id, await agent())).json<ErrorJson>().error.code).toBe(
      'approval_rejected',
    );
    expect((await retry('apr_does-not-exist', await agent())).json<ErrorJson>().error.code).toBe(
      'approval_unknown',
    );

    const short = await hold('/functions/transfer_funds_short');
    expect(
      (
        await api(
          stack.callguardAdmin,
          `/api/approvals/${short.approval_id}/approve`,
          await m1(),
          {},
        )
      ).json.state,
    ).toBe('approved');
    await new Promise((r) => setTimeout(r, 2200));
    const late = await retry(
      short.approval_id,
      await agent(),
      body(),
      '/functions/transfer_funds_short',
    );
    expect(late.json<ErrorJson>().error.code).toBe('approval_expired');
    // The sweeper records the expiry.
    await expect
      .poll(
        async () =>
          (await api(stack.callguardAdmin, `/api/approvals/${short.approval_id}`, await m1())).json
            .state,
        { timeout: 5000 },
      )
      .toBe('expired');
  });
});

describe('races between replicas', () => {
  it('two approvals at once from two replicas: both kept, never a lost update', async () => {
    const e = await hold();
    const [a, b] = await Promise.all([
      api(stack.callguardAdmin, `/api/approvals/${e.approval_id}/approve`, await m1(), {}),
      api(adminB, `/api/approvals/${e.approval_id}/approve`, await m2(), {}),
    ]);
    expect([a.status, b.status]).toEqual([200, 200]);
    const t = (await api(stack.callguardAdmin, `/api/approvals/${e.approval_id}`, await m1()))
      .json as {
      state: string;
      approvals: { reviewer: string }[];
    };
    expect(t.state).toBe('approved');
    expect(t.approvals.map((x) => x.reviewer).sort()).toEqual(['manager-1', 'manager-2']);
    // Two retries at once: exactly one goes through.
    const before = stack.upstream.received.length;
    const results = await Promise.all([
      retry(e.approval_id, await agent()),
      retry(e.approval_id, await agent()),
    ]);
    expect(results.map((r) => r.status).sort()).toEqual([200, 403]);
    expect(stack.upstream.received.length).toBe(before + 1);
  });
});

describe('waiting in line', () => {
  it('an approval during the wait lets the original request through', async () => {
    const pending = postJson(
      `${stack.url}/functions/transfer_funds_wait`,
      body('waiting'),
      await agent(),
    );
    let id: string | undefined;
    await expect
      .poll(
        async () => {
          const l = await api(
            stack.callguardAdmin,
            '/api/approvals?state=pending&route=transfer_wait',
            await oncall(),
          );
          id = (l.json.approvals as { id: string }[])[0]?.id;
          return id;
        },
        { timeout: 3000, interval: 100 },
      )
      .toBeDefined();
    expect(
      (await api(stack.callguardAdmin, `/api/approvals/${id}/approve`, await oncall(), {})).json
        .state,
    ).toBe('approved');
    const r = await pending;
    expect(r.status).toBe(404); // forwarded: the demo endpoint has no answer for this path
    expect(stack.upstream.received.at(-1)?.body.toString()).toContain('waiting');
  });

  it('no decision: 403 approval_required when the wait ends, well before Envoy gives up', async () => {
    const started = Date.now();
    const r = await postJson(
      `${stack.url}/functions/transfer_funds_wait`,
      body('nobody'),
      await agent(),
    );
    const took = Date.now() - started;
    expect(r.status).toBe(403);
    expect(r.json<ErrorJson>().error.code).toBe('approval_required');
    // Waited past Envoy's 2 s message_timeout (extended), ended at the policy's 3 s.
    expect(took).toBeGreaterThanOrEqual(2900);
  });
});

describe('durability and notifications', () => {
  it('callguard restarted between hold and retry: the ticket still works', async () => {
    const e = await hold();
    await stack.killCallguard('SIGTERM');
    await stack.restartCallguard();
    await api(stack.callguardAdmin, `/api/approvals/${e.approval_id}/approve`, await oncall(), {});
    const r = await retry(e.approval_id, await agent());
    expect(r.status).toBe(200);
  });

  it('a failing webhook receiver does not block or fail the call', async () => {
    hookFails = true;
    try {
      const e = await hold();
      expect(e.code).toBe('approval_required');
    } finally {
      hookFails = false;
    }
  });
});

describe('approval store unreachable', () => {
  it('callguard starts anyway; a held call is refused with 503 and nothing is forwarded', async () => {
    const down = await startStack({
      policies: [join(PROJECT_ROOT, 'test/fixtures/approvals/policy.yaml')],
      config: { approvals: { elasticsearch_url: `http://127.0.0.1:${await freePort()}` } },
    });
    try {
      const before = down.upstream.received.length;
      const r = await postJson(`${down.url}/functions/transfer_funds`, body(), {
        'x-callguard-dev-groups': 'agents',
      });
      expect(r.status).toBe(503);
      expect(r.json<ErrorJson>().error.code).toBe('approval_unavailable');
      expect(down.upstream.received.length).toBe(before);
    } finally {
      await down.stop();
    }
  });
});
