// The audit sink never loses a record: an Elasticsearch outage (a real TCP forwarder between
// callguard and the run's Elasticsearch, closed and reopened), callguard killed with SIGKILL
// while it ships its spool, and documents Elasticsearch rejects (dead-letter file).

import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, inject, it } from 'vitest';
import { PROJECT_ROOT } from '../../src/cli/envoy.js';
import { allDocs, esClient, startForwarder, uniquePrefix, waitForDocs } from '../support/es.js';
import type { Forwarder } from '../support/es.js';
import { http, postJson, startStack } from './stack.js';
import type { Stack } from './stack.js';

const POLICY = join(PROJECT_ROOT, 'test/fixtures/audit/policy.yaml');
const esUrl = inject('esUrl');
const es = esClient(esUrl);
const esPort = Number(new URL(esUrl).port);
const CALLER = {
  'x-callguard-dev-groups': 'agents',
  'x-callguard-dev-groups-user': 'durability',
};

let stack: Stack | undefined;
let forwarder: Forwarder | undefined;
afterEach(async () => {
  await stack?.stop();
  await forwarder?.close();
  stack = undefined;
  forwarder = undefined;
});

async function auditStack(
  prefix: string,
  esPortToUse: number,
  audit: Record<string, unknown> = {},
) {
  const dir = mkdtempSync(join(tmpdir(), 'callguard-durability-'));
  const s = await startStack({
    policies: [POLICY],
    config: {
      log: { level: 'info' },
      audit: {
        elasticsearch: { url: `http://127.0.0.1:${esPortToUse}`, index_prefix: prefix },
        fingerprint: { keys: [{ id: 'k1', secret: 'durability-secret-0123456789' }] },
        spool: { dir: join(dir, 'spool') },
        dead_letter_file: join(dir, 'dead-letter.ndjson'),
        flush_interval_ms: 100,
        ...audit,
      },
    },
  });
  s.upstream.respond('/functions/pay', {
    status: 200,
    headers: { 'content-type': 'application/json' },
    body: '{"ok":true}',
  });
  return { stack: s, dir };
}

/** n calls, `concurrency` at a time; every one must be answered 200. Their session ids. */
async function calls(s: Stack, n: number, concurrency = 20): Promise<string[]> {
  const ids: string[] = [];
  let next = 0;
  const worker = async () => {
    while (next < n) {
      const i = next++;
      const r = await postJson(
        `${s.url}/functions/pay`,
        `{"amount":${i},"card":{"number":"4111 1111 1111 1111"}}`,
        CALLER,
      );
      if (r.status !== 200) throw new Error(`call ${i}: ${r.status} ${r.text}`);
      ids.push(r.headers['x-callguard-session'] as string);
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  return ids;
}

interface Health {
  audit: {
    elasticsearch: string;
    spool_bytes: number;
    indexed: number;
    dead_lettered: number;
    dropped: number;
  };
}
const health = async (s: Stack) => (await http(`${s.callguardAdmin}/healthz`)).json<Health>();

function expectExactlyOnce(docs: { id: string }[], ids: string[]): void {
  expect(docs).toHaveLength(ids.length);
  expect(new Set(docs.map((d) => d.id))).toEqual(new Set(ids));
}

describe('Elasticsearch outage', () => {
  it('1,000 calls go on while Elasticsearch is unreachable; every record arrives exactly once when it returns', async () => {
    const prefix = uniquePrefix('outage');
    forwarder = await startForwarder('127.0.0.1', esPort);
    await forwarder.close(); // Elasticsearch unreachable from the start
    ({ stack } = await auditStack(prefix, forwarder.port));
    const started = Date.now();
    const ids = await calls(stack, 1000);
    const elapsed = Date.now() - started;
    expect(new Set(ids).size).toBe(1000);
    const down = await health(stack);
    expect(down.audit.elasticsearch).toBe('down');
    expect(down.audit.spool_bytes).toBeGreaterThan(0);
    expect(down.audit.dropped).toBe(0);
    expect((await allDocs(es, prefix)).length).toBe(0);

    await forwarder.open();
    const docs = await waitForDocs(es, prefix, (d) => d.length >= 1000, 60_000);
    expectExactlyOnce(docs, ids);
    // Settled: spool empty, nothing more arrives.
    const until = Date.now() + 10_000;
    while ((await health(stack)).audit.spool_bytes > 0 && Date.now() < until)
      await new Promise((r) => setTimeout(r, 100));
    expect((await health(stack)).audit).toMatchObject({ spool_bytes: 0, elasticsearch: 'up' });
    expectExactlyOnce(await allDocs(es, prefix), ids);
    expect(elapsed).toBeLessThan(60_000);
  }, 150_000);
});

describe('callguard killed while shipping', () => {
  it('SIGKILL mid-stream: unacknowledged records are replayed from the spool, none twice', async () => {
    const prefix = uniquePrefix('sigkill');
    // Each request chunk to Elasticsearch is delayed, so shipping takes a while.
    forwarder = await startForwarder('127.0.0.1', esPort, { delayMs: 40 });
    await forwarder.close();
    ({ stack } = await auditStack(prefix, forwarder.port, { bulk_max_docs: 20 }));
    const s = stack;
    const first = await calls(s, 600);
    await forwarder.open();
    // Kill as soon as some, not all, records are acknowledged.
    const until = Date.now() + 30_000;
    let indexed = 0;
    while (indexed === 0 && Date.now() < until) {
      indexed = (await health(s)).audit.indexed;
      if (indexed === 0) await new Promise((r) => setTimeout(r, 10));
    }
    await s.killCallguard('SIGKILL');
    expect(indexed).toBeGreaterThan(0);
    expect(indexed).toBeLessThan(600);
    const partial = (await allDocs(es, prefix)).length;
    expect(partial).toBeLessThan(600);

    await s.restartCallguard();
    const second = await calls(s, 50);
    const all = [...first, ...second];
    const docs = await waitForDocs(es, prefix, (d) => d.length >= all.length, 60_000);
    expectExactlyOnce(docs, all);
    await new Promise((r) => setTimeout(r, 1500));
    expectExactlyOnce(await allDocs(es, prefix), all);
  }, 150_000);
});

describe('callguard killed with calls in flight', () => {
  it('every call whose response reached the client has exactly one record', async () => {
    const prefix = uniquePrefix('inflight');
    ({ stack } = await auditStack(prefix, esPort));
    const s = stack;
    const answered: string[] = [];
    let refused = 0;
    let killed: Promise<void> | undefined;
    let next = 0;
    const worker = async () => {
      while (next < 400) {
        const i = next++;
        const r = await postJson(
          `${s.url}/functions/pay`,
          `{"amount":${i},"card":{"number":"4111 1111 1111 1111"}}`,
          CALLER,
        );
        if (r.status === 200) answered.push(r.headers['x-callguard-session'] as string);
        else refused++; // callguard is gone: Envoy fails closed
        if (answered.length === 150) killed ??= s.killCallguard('SIGKILL');
      }
    };
    await Promise.all(Array.from({ length: 10 }, worker));
    await killed;
    expect(refused).toBeGreaterThan(0);
    await s.restartCallguard();
    const docs = await waitForDocs(es, prefix, (d) => {
      const ids = new Set(d.map((x) => x.id));
      return answered.every((id) => ids.has(id));
    });
    expect(new Set(docs.map((d) => d.id)).size).toBe(docs.length);
    // Records of calls answered 200 are all there; a call refused by the kill may have one
    // too (its request was judged), but nothing else.
    expect(docs.length).toBeGreaterThanOrEqual(answered.length);
    expect(docs.length).toBeLessThanOrEqual(answered.length + 10);
  }, 120_000);
});

describe('documents Elasticsearch rejects', () => {
  it('go to the dead-letter file with the reason; nothing else is lost', async () => {
    const prefix = uniquePrefix('dlq');
    const day = new Date().toISOString().slice(0, 10).replaceAll('-', '.');
    // Today's index exists already, created by someone else with an incompatible mapping:
    // callguard.route is a number there, so every record with a route is refused.
    await es.indices.create({
      index: `${prefix}-${day}`,
      mappings: {
        dynamic: false,
        properties: { callguard: { properties: { route: { type: 'long' } } } },
      },
    });
    let dir: string;
    ({ stack, dir } = await auditStack(prefix, esPort));
    const s = stack;
    const rejected = await calls(s, 3, 1);
    // No policy route: no callguard.route in the record, so these are accepted.
    const accepted: string[] = [];
    for (let i = 0; i < 2; i++) {
      const r = await postJson(`${s.url}/nowhere`, '{}', CALLER);
      expect(r.status).toBe(403);
      accepted.push(r.headers['x-callguard-session'] as string);
    }
    const docs = await waitForDocs(es, prefix, (d) => d.length >= 2);
    const file = join(dir, 'dead-letter.ndjson');
    const until = Date.now() + 20_000;
    while (
      (!existsSync(file) || readFileSync(file, 'utf8').split('\n').length < 4) &&
      Date.now() < until
    )
      await new Promise((r) => setTimeout(r, 100));
    const lines = readFileSync(file, 'utf8')
      .split('\n')
      .filter((l) => l !== '')
      .map(
        (l) =>
          JSON.parse(l) as {
            id: string;
            status: number;
            reason: { type: string; reason: string };
            doc: unknown;
          },
      );
    expect(lines.map((l) => l.id).sort()).toEqual([...rejected].sort());
    for (const l of lines) {
      expect(l.status).toBe(400);
      expect(l.reason.type).toMatch(/parsing_exception/);
      expect(l.reason.reason).toContain('callguard.route');
      expect(l.doc).toMatchObject({ callguard: { route: 'pay' } });
    }
    expect(new Set(docs.map((d) => d.id))).toEqual(new Set(accepted));
    const h = await health(s);
    expect(h.audit).toMatchObject({ dead_lettered: 3, dropped: 0 });
    // The log names the session and the reason type, never the reason's text.
    expect(s.callguardOutput()).toContain('dead-letter');
    expect(s.callguardOutput()).not.toContain('4111 1111 1111 1111');
    // Adding the current fields to that index was refused: said once at start, and the
    // other records still shipped (above).
    expect(s.callguardOutput()).toContain('cannot take the current mapping');
  }, 60_000);
});
