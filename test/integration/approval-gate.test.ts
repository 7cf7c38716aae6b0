// The approval gate behind the Exchange, in process (no Envoy), with the real ticket store
// on the run's Elasticsearch: a held call gets a ticket and `approval_required`; its retry
// with the approved ticket goes on once; a retry with another payload, a store that does not
// answer, and the wait in line (timed with the exchange's injectable clock).

import { join } from 'node:path';
import { Client } from '@elastic/elasticsearch';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { ApprovalService } from '../../src/approval/service.js';
import { TicketStore } from '../../src/approval/store.js';
import type { Ticket } from '../../src/approval/ticket.js';
import type { SessionRecord } from '../../src/audit/record.js';
import { PROJECT_ROOT } from '../../src/cli/envoy.js';
import { loadConfig } from '../../src/config/config.js';
import { Exchange } from '../../src/extproc/exchange.js';
import type { ProcessingRequest, ProcessingResponse } from '../../src/extproc/protos.js';
import { Identifier } from '../../src/identity/identify.js';
import { createLogger } from '../../src/log.js';
import { loadPolicy } from '../../src/policy/load.js';
import type { Principal } from '../../src/policy/types.js';
import { freePort } from './stack.js';
import { uniquePrefix } from '../support/es.js';

const IBAN = 'DE89370400440532013000';
const policy = loadPolicy([join(PROJECT_ROOT, 'test/fixtures/approvals/policy.yaml')]);
const config = loadConfig('/nonexistent/callguard.yaml', [], { optional: true });
config.dev.groups_header = 'x-dev-groups';
const manager = (subject: string): Principal => ({
  subject,
  groups: ['managers'],
  authMethod: 'dev-header',
});

let client: Client;
let store: TicketStore;

beforeAll(() => {
  client = new Client({ node: inject('esUrl') });
  store = new TicketStore(client, `${uniquePrefix('gate')}-approvals`);
});
afterAll(async () => {
  await client?.close();
});

/** A service over the real store that counts the waits in line it is asked for. */
class Approvals extends ApprovalService {
  waits = 0;
  override waitForDecision(id: string, ms: number, signal?: AbortSignal) {
    this.waits++;
    return super.waitForDecision(id, ms, signal);
  }
}

function service(s = store) {
  return new Approvals({
    store: s,
    log: createLogger('silent'),
    publicUrl: 'http://admin.example',
    pollMs: 50,
  });
}

const payload = (memo = 'rent') =>
  JSON.stringify({ from_account: 'acc_1', to_iban: IBAN, amount: 12, currency: 'EUR', memo });

function headers(path: string, extra: Record<string, string> = {}): ProcessingRequest {
  const h = {
    ':method': 'POST',
    ':path': path,
    'content-type': 'application/json',
    'x-dev-groups': 'agents',
    'x-dev-groups-user': 'ada',
    ...extra,
  };
  return {
    request_headers: {
      headers: {
        headers: Object.entries(h).map(([key, v]) => ({ key, raw_value: Buffer.from(v) })),
      },
    },
  };
}

/** One call through a fresh exchange: its answers, the interim messages and its record. */
async function call(
  approvals: ApprovalService,
  o: { path?: string; body?: string; approval?: string; now?: () => number } = {},
) {
  const records: SessionRecord[] = [];
  const ex = new Exchange({
    policy: () => policy,
    config,
    log: createLogger('silent'),
    sink: { submit: (r) => records.push(r) },
    identifier: new Identifier(config.identity, config.dev.groups_header),
    approvals,
    ...(o.now ? { now: o.now } : {}),
  });
  const interims: ProcessingResponse[] = [];
  const first = await ex.handle(
    headers(
      o.path ?? '/functions/transfer_funds',
      o.approval ? { 'x-callguard-approval': o.approval } : {},
    ),
  );
  expect(first.immediate_response).toBeUndefined();
  const answer = await ex.handle(
    { request_body: { body: Buffer.from(o.body ?? payload()), end_of_stream: true } },
    (r) => interims.push(r),
  );
  ex.finish(false);
  const immediate = answer.immediate_response;
  const error = immediate
    ? (
        JSON.parse(Buffer.from(immediate.body ?? []).toString('utf8')) as {
          error: Record<string, string>;
        }
      ).error
    : undefined;
  return { answer, error, status: immediate?.status?.code, interims, record: records[0]! };
}

describe('the approval gate', () => {
  let ticketId = '';

  it('holds the call: a ticket is made, the caller gets approval_required and the timer is extended first', async () => {
    const s = service();
    const r = await call(s);
    expect(r.status).toBe(403);
    expect(r.error).toMatchObject({
      code: 'approval_required',
      paths: ['/to_iban'],
      rule: 'held-for-managers',
      session_id: r.record.session_id,
    });
    ticketId = r.error!.approval_id!;
    expect(r.error!.status_url).toBe(`http://admin.example/api/approvals/${ticketId}`);
    // No wait on this route: Envoy's timer gets the store's margin (8 s) before the ticket.
    expect(r.interims).toEqual([{ override_message_timeout: { seconds: 8, nanos: 0 } }]);
    expect(r.record).toMatchObject({
      outcome: 'denied',
      error: { code: 'approval_required', status: 403 },
      approval: { id: ticketId, state: 'pending', held_session_id: r.record.session_id },
    });
    const t = (await s.get(ticketId)) as Ticket;
    expect(t.summary.findings).toEqual([
      expect.objectContaining({ path: '/to_iban', masked: `${'*'.repeat(IBAN.length - 2)}00` }),
    ]);
    expect(JSON.stringify(t)).not.toContain(IBAN);
  });

  it('a retry with another payload is refused and does not spend the approval', async () => {
    const s = service();
    await s.approve(ticketId, manager('m1'));
    await s.approve(ticketId, manager('m2'));
    const r = await call(s, { body: payload('other'), approval: ticketId });
    expect(r.status).toBe(403);
    expect(r.error).toMatchObject({ code: 'approval_mismatch', approval_id: ticketId });
    expect(r.record.approval).toBeUndefined();
    expect((await s.get(ticketId))?.state).toBe('approved');
  });

  it('the retry with the approved ticket goes on once; a second retry is refused', async () => {
    const s = service();
    const r = await call(s, { approval: ticketId });
    expect(r.answer.immediate_response).toBeUndefined();
    expect(r.answer.request_body).toBeDefined();
    expect(r.record).toMatchObject({
      outcome: 'allowed',
      approval: { id: ticketId, state: 'used' },
    });
    expect(r.record.approval?.approved_by.map((a) => a.reviewer)).toEqual(['m1', 'm2']);
    const again = await call(s, { approval: ticketId });
    expect(again.error).toMatchObject({ code: 'approval_used', approval_id: ticketId });
  });

  it('a call waiting in line goes on when the ticket is approved meanwhile', async () => {
    const s = service();
    const pending = call(s, { path: '/functions/transfer_funds_wait' });
    let t: Ticket | undefined;
    for (let i = 0; i < 100 && !t; i++) {
      await new Promise((r) => setTimeout(r, 50));
      t = (await s.list({ state: 'pending', route: 'transfer_wait', size: 1 })).tickets[0];
    }
    await s.approve(t!.id, manager('m1'));
    const r = await pending;
    expect(r.answer.immediate_response).toBeUndefined();
    expect(r.record.approval).toMatchObject({ id: t!.id, state: 'used' });
    // The wait (3 s) plus the store's margin.
    expect(r.interims).toEqual([{ override_message_timeout: { seconds: 11, nanos: 0 } }]);
  });

  it("the wait is measured with the exchange's clock: a hold that used it all waits no more", async () => {
    const s = service();
    let t = 0;
    // Every reading of the clock is 4 s after the last: the wait (3 s) is over once the
    // ticket is made.
    const r = await call(s, { path: '/functions/transfer_funds_wait', now: () => (t += 4000) });
    expect(r.error).toMatchObject({ code: 'approval_required' });
    expect(s.waits).toBe(0);
    const waited = await call(s, { path: '/functions/transfer_funds_wait', now: () => 0 });
    expect(waited.error).toMatchObject({ code: 'approval_required' });
    expect(s.waits).toBe(1);
  });

  it('a store that does not answer refuses the held call with approval_unavailable (503)', async () => {
    const down = new TicketStore(
      new Client({ node: `http://127.0.0.1:${await freePort()}`, maxRetries: 0 }),
      'nowhere',
    );
    const r = await call(service(down));
    expect(r.status).toBe(503);
    expect(r.error).toMatchObject({ code: 'approval_unavailable', paths: ['/to_iban'] });
    expect(r.record.error).toMatchObject({ code: 'approval_unavailable', status: 503 });
    const retry = await call(service(down), { approval: 'apr_1' });
    expect(retry.error).toMatchObject({ code: 'approval_unavailable' });
  });
});
