// The audit benchmark, against the real Elasticsearch and Envoy (not part of npm test):
//   1. sustained records/s through the Elasticsearch sink (spool → bulk → acknowledged);
//   2. latency of calls through Envoy with the sink on (Elasticsearch) and off (log sink),
//      in the same run, sequential and with 16 concurrent callers.
// Run: npm run bench (with the others) or npm run bench:audit (this one alone); prints a
// table and writes bench/results/audit.json; figures go to docs/audit.md

import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { inject, it } from 'vitest';
import { ElasticsearchSink } from '../src/audit/es-sink.js';
import type { SessionRecord } from '../src/audit/record.js';
import { DEFAULT_CONFIG } from '../src/config/config.js';
import { createLogger } from '../src/log.js';
import { PROJECT_ROOT } from '../src/cli/envoy.js';
import { postJson, startStack } from '../test/integration/stack.js';
import type { Stack } from '../test/integration/stack.js';

const RECORDS = Number(process.env.BENCH_RECORDS ?? 20_000);
const CALLS = Number(process.env.BENCH_CALLS ?? 2_000);
const CONCURRENCY = Number(process.env.BENCH_CONCURRENCY ?? 16);
const rows: [string, string][] = [];

function sampleRecord(i: number): SessionRecord {
  const finding = (path: string, level: string, action: 'mask' | 'redact') => ({
    direction: 'request' as const,
    path,
    level,
    source: 'contract' as const,
    detector: 'card',
    span: { start: 0, end: 0 },
    action,
    rule: 'bench',
    record: 'masked' as const,
    fingerprint: `k1:${'A'.repeat(43)}`,
  });
  return {
    session_id: `bench-${i}-${Math.random().toString(36).slice(2)}`,
    started_at: new Date().toISOString(),
    duration_ms: 2,
    method: 'POST',
    path: '/functions/charge_card',
    route: 'charge_card',
    function: 'charge_card',
    format: 'json',
    principal: { subject: 'bench', groups: ['agents'], authMethod: 'oidc' },
    outcome: 'modified',
    max_level: 'restricted',
    request: {
      action: 'redact',
      findings: [
        finding('/card/number', 'confidential', 'mask'),
        finding('/customer/ssn', 'restricted', 'redact'),
      ],
      trace: ['caller bench via oidc', 'rule bench'],
    },
    request_body: {
      text: '{"amount": 12.50, "currency": "EUR", "card": {"number": "**** **** **** 4242", "holder": "Ada Lovelace"}, "customer": {"ssn": "[REDACTED:restricted:ssn]"}}',
      bytes: 160,
      truncated: false,
    },
    request_headers: { 'content-type': 'application/json' },
  };
}

const silent = createLogger('silent', new Writable({ write: (_c, _e, cb) => cb() }));

async function sinkThroughput(esUrl: string): Promise<void> {
  const sink = new ElasticsearchSink(
    {
      ...DEFAULT_CONFIG.audit,
      elasticsearch: {
        url: esUrl,
        index_prefix: `bench-sink-${Date.now()}`,
        request_timeout_ms: 30_000,
      },
      spool: { ...DEFAULT_CONFIG.audit.spool, dir: mkdtempSync(join(tmpdir(), 'bench-spool-')) },
      dead_letter_file: join(tmpdir(), 'bench-dlq.ndjson'),
    },
    silent,
  );
  const t0 = performance.now();
  for (let i = 0; i < RECORDS; i++) sink.submit(sampleRecord(i));
  const spooled = performance.now() - t0;
  while (sink.status().indexed + sink.status().dead_lettered < RECORDS) {
    await new Promise((r) => setTimeout(r, 20));
  }
  const total = performance.now() - t0;
  rows.push(['sink: submit (spool append), records/s', fmt((RECORDS / spooled) * 1000)]);
  rows.push(['sink: submit, µs per record', ((spooled * 1000) / RECORDS).toFixed(1)]);
  rows.push([
    `sink: ${RECORDS} records acknowledged by Elasticsearch, records/s`,
    fmt((RECORDS / total) * 1000),
  ]);
  await sink.close(0);
}

const fmt = (n: number) => Math.round(n).toLocaleString('en-US');
const pct = (xs: number[], p: number) =>
  xs[Math.min(xs.length - 1, Math.floor((p / 100) * xs.length))]!;

const BODY =
  '{"amount": 12.50, "currency": "EUR", "card": {"number": "4242 4242 4242 4242", "holder": "Ada Lovelace", "expiry": "12/29"}, "customer": {"email": "ada@example.com", "ssn": "078-05-1120"}, "metadata": {"order": 12345678901234567890}}';
const CALLER = { 'x-callguard-dev-groups': 'agents' };

async function latency(stack: Stack, label: string): Promise<void> {
  const call = async () => {
    const t = performance.now();
    const r = await postJson(`${stack.url}/functions/charge_card`, BODY, CALLER);
    if (r.status !== 200) {
      failures++;
      return undefined;
    }
    return performance.now() - t;
  };
  let failures = 0;
  for (let i = 0; i < 200; i++) await call(); // warm-up
  const seq: number[] = [];
  for (let i = 0; i < CALLS; i++) {
    const ms = await call();
    if (ms !== undefined) seq.push(ms);
  }
  seq.sort((a, b) => a - b);
  rows.push([
    `${label}: sequential p50 / p95 / p99 ms`,
    [50, 95, 99].map((p) => pct(seq, p).toFixed(2)).join(' / '),
  ]);
  const conc: number[] = [];
  let next = 0;
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async () => {
      while (next++ < CALLS) {
        const ms = await call();
        if (ms !== undefined) conc.push(ms);
      }
    }),
  );
  const wall = performance.now() - t0;
  conc.sort((a, b) => a - b);
  rows.push([
    `${label}: ${CONCURRENCY} concurrent p50 / p99 ms`,
    [50, 99].map((p) => pct(conc, p).toFixed(2)).join(' / '),
  ]);
  rows.push([`${label}: ${CONCURRENCY} concurrent calls/s`, fmt((conc.length / wall) * 1000)]);
  rows.push([`${label}: calls not answered 200 (of ${CALLS * 2 + 200})`, String(failures)]);
}

it('audit benchmark', async () => {
  const esUrl = inject('esUrl');
  await sinkThroughput(esUrl);
  const common = { policies: [join(PROJECT_ROOT, 'policies')] };
  const off = await startStack({ ...common, config: { log: { level: 'info' } } });
  try {
    await latency(off, 'sink off (log sink)');
  } finally {
    await off.stop();
  }
  const on = await startStack({
    ...common,
    config: {
      log: { level: 'info' },
      audit: {
        elasticsearch: { url: esUrl, index_prefix: `bench-calls-${Date.now()}` },
        fingerprint: { keys: [{ id: 'k1', secret: 'bench-secret-0123456789' }] },
        spool: { dir: join(mkdtempSync(join(tmpdir(), 'bench-')), 'spool') },
      },
    },
  });
  try {
    await latency(on, 'sink on (Elasticsearch)');
  } finally {
    await on.stop();
  }
  const w = Math.max(...rows.map(([k]) => k.length));
  const table = [
    `| ${'measure'.padEnd(w)} | value |`,
    `| ${'-'.repeat(w)} | ----- |`,
    ...rows.map(([k, v]) => `| ${k.padEnd(w)} | ${v} |`),
  ].join('\n');
  process.stdout.write(
    `\naudit benchmark (${RECORDS} records, ${CALLS} calls per mode)\n${table}\n`,
  );
  const dir = join(PROJECT_ROOT, 'bench/results');
  mkdirSync(dir, { recursive: true });
  writeFileSync(
    join(dir, 'audit.json'),
    JSON.stringify(
      {
        at: new Date().toISOString(),
        records: RECORDS,
        calls: CALLS,
        rows: Object.fromEntries(rows),
      },
      null,
      2,
    ),
  );
});
