// Units of the audit: fingerprints and key rotation, the body the record keeps, the ECS
// document, the spool (segments, bound, replay), the sink's overflow alarm, and the
// translation of search filters to query DSL.

import { mkdtempSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { auditBody } from '../../src/audit/body.js';
import { ElasticsearchSink } from '../../src/audit/es-sink.js';
import { Fingerprinter, FingerprintKeyError } from '../../src/audit/fingerprint.js';
import { indexFor, toDocument } from '../../src/audit/record.js';
import type { SessionRecord } from '../../src/audit/record.js';
import { replayOf, shellQuote } from '../../src/audit/replay.js';
import { checkFilters, FilterError, parseFilters, toQuery } from '../../src/audit/search.js';
import { Spool } from '../../src/audit/spool.js';
import {
  approvalsElasticsearchUrl,
  ConfigError,
  DEFAULT_CONFIG,
  envOverrides,
  loadConfig,
} from '../../src/config/config.js';
import { createLogger } from '../../src/log.js';
import { Levels } from '../../src/policy/levels.js';
import type { Decision, FindingDecision } from '../../src/policy/types.js';
import { freePort } from '../integration/stack.js';

const tmp = () => mkdtempSync(join(tmpdir(), 'callguard-audit-unit-'));

describe('fingerprints', () => {
  const k1 = { id: 'k1', secret: 'first-secret-0123456789' };
  const k2 = { id: 'k2', secret: 'second-secret-0123456789' };

  it('are keyed, carry the key id, and never contain the value', () => {
    const fp = Fingerprinter.fromConfig({ keys: [k1] })!;
    const a = fp.of('078-05-1120');
    expect(a).toMatch(/^k1:[A-Za-z0-9_-]{43}$/);
    expect(fp.of('078-05-1120')).toBe(a);
    expect(fp.of('078-05-1121')).not.toBe(a);
    expect(a).not.toContain('078');
    const other = Fingerprinter.fromConfig({
      keys: [{ id: 'k1', secret: 'another-secret-012345' }],
    })!;
    expect(other.of('078-05-1120')).not.toBe(a);
  });

  it('rotate: new records use the current key, searches try every key', () => {
    const old = Fingerprinter.fromConfig({ keys: [k1] })!;
    const rotated = Fingerprinter.fromConfig({ current: 'k2', keys: [k1, k2] })!;
    expect(rotated.currentKeyId).toBe('k2');
    expect(rotated.of('v')).toMatch(/^k2:/);
    expect(rotated.all('v')).toContain(old.of('v'));
    expect(rotated.all('v')).toContain(rotated.of('v'));
  });

  it('secrets from the environment or a file; a short or missing one is refused', () => {
    const dir = tmp();
    writeFileSync(join(dir, 'key'), 'file-secret-0123456789\n');
    const f = Fingerprinter.fromConfig(
      {
        keys: [
          { id: 'f', secret_file: join(dir, 'key') },
          { id: 'e', secret_env: 'FP_KEY' },
        ],
      },
      { FP_KEY: 'env-secret-0123456789' },
    )!;
    expect(f.all('x')).toHaveLength(2);
    expect(() => Fingerprinter.fromConfig({ keys: [{ id: 'e', secret_env: 'NOPE' }] }, {})).toThrow(
      FingerprintKeyError,
    );
    expect(() =>
      Fingerprinter.fromConfig({ keys: [{ id: 'f', secret_file: join(dir, 'missing') }] }),
    ).toThrow(FingerprintKeyError);
  });
});

const levels = new Levels(['public', 'internal', 'confidential', 'restricted']);
function finding(path: string, level: string, action: FindingDecision['action']): FindingDecision {
  return {
    direction: 'request',
    path,
    level,
    source: 'contract',
    span: { start: 0, end: 0 },
    action,
    rule: 'r',
    record: 'masked',
  };
}
const decision = (...findings: FindingDecision[]): Decision => ({
  action: 'allow',
  findings,
  trace: [],
});
const enc = (s: string) => new TextEncoder().encode(s);

describe('the body a record keeps', () => {
  const opts = { maxBytes: 1024, maxDepth: 64 };

  it('is the forwarded body when nothing sensitive went out in clear', () => {
    const b = auditBody(
      enc('{"a":"****1234","n":"x"}'),
      decision(finding('/a', 'confidential', 'mask'), finding('/n', 'internal', 'allow')),
      levels,
      opts,
    );
    expect(b).toEqual({ text: '{"a":"****1234","n":"x"}', bytes: 24, truncated: false });
  });

  it('redacts again a confidential-or-above value a rule allowed, keeping every other byte', () => {
    const body = '{ "ssn" : "078-05-1120", "n": 1.0, "x": {"card": "4111"} }';
    const b = auditBody(
      enc(body),
      decision(finding('/ssn', 'restricted', 'allow'), finding('/x/card', 'confidential', 'allow')),
      levels,
      opts,
    );
    expect(b.text).toBe(
      '{ "ssn" : "[REDACTED:restricted:ssn]", "n": 1.0, "x": {"card": "[REDACTED:confidential:card]"} }',
    );
  });

  it('is withheld when such a value cannot be located; capped on a character boundary', () => {
    expect(
      auditBody(
        enc('{"a":"s"}'),
        decision(finding('/args#/ssn', 'restricted', 'allow')),
        levels,
        opts,
      ),
    ).toMatchObject({ withheld: 'unlocatable' });
    const capped = auditBody(enc('{"a":"ééééé"}'), decision(), levels, {
      maxBytes: 9,
      maxDepth: 64,
    });
    expect(capped).toEqual({ text: '{"a":"é', bytes: 18, truncated: true });
  });
});

describe('the session document', () => {
  const record: SessionRecord = {
    session_id: 's-1',
    started_at: '2026-11-28T05:00:00.000Z',
    duration_ms: 3,
    method: 'POST',
    path: '/functions/pay',
    principal: { subject: 'u', groups: ['g'], authMethod: 'oidc', email: 'u@example.com' },
    outcome: 'denied',
    error: { code: 'blocked', status: 403, paths: ['/ssn'], rule: 'r' },
    request: decision({
      ...finding('/ssn', 'restricted', 'block'),
      fingerprint: 'k1:abc',
      record: 'metadata',
    }),
    request_body: { text: '{}', bytes: 2, truncated: false },
  };

  it('is ECS-aligned; the strictest record mode drops bodies', () => {
    const d = toDocument(record);
    expect(d).toMatchObject({
      '@timestamp': '2026-11-28T05:00:00.000Z',
      event: { outcome: 'failure', duration: 3_000_000, type: ['denied'] },
      user: { id: 'u', name: 'u', email: 'u@example.com', roles: ['g'] },
      callguard: {
        decision: 'blocked',
        record_mode: 'metadata',
        findings: [{ fingerprint: 'k1:abc' }],
      },
    });
    expect(d.callguard.request.body).toBeUndefined();
    expect(indexFor('p', d['@timestamp'])).toBe('p-2026.11.28');
  });

  it('record: none drops the fingerprints', () => {
    const none = toDocument({
      ...record,
      request: decision({
        ...finding('/ssn', 'restricted', 'block'),
        fingerprint: 'k1:abc',
        record: 'none',
      }),
    });
    expect(none.callguard.findings[0]!.fingerprint).toBeUndefined();
  });

  it('replays as curl with safe quoting', () => {
    expect(shellQuote("it's")).toBe(`'it'\\''s'`);
    const r = replayOf({
      ...toDocument({
        ...record,
        outcome: 'allowed',
        error: undefined,
        request: decision(),
        request_headers: { 'content-type': 'application/json' },
      }),
      url: { path: '/p', domain: 'h:1' },
    });
    expect(r.curl).toBe(
      `curl -sS -X POST 'http://h:1/p' -H 'content-type: application/json' --data-binary '{}'`,
    );
  });
});

describe('the spool', () => {
  const opts = (dir: string, over: Partial<ConstructorParameters<typeof Spool>[0]> = {}) => ({
    dir,
    fsync: 'always' as const,
    fsyncIntervalMs: 100,
    segmentBytes: 64,
    maxBytes: 200,
    ...over,
  });

  it('appends to segments, rolls them by size, refuses past its bound, deletes when told', () => {
    const dir = tmp();
    const s = new Spool(opts(dir));
    const line = `${'x'.repeat(39)}\n`; // 40 bytes
    for (let i = 0; i < 5; i++) expect(s.append(line)).toBe(true);
    expect(s.append(line)).toBe(false);
    expect(s.full).toBe(true);
    expect(s.bytes).toBe(200);
    s.seal();
    expect(s.sealed()).toHaveLength(3); // 2 + 2 + 1 lines
    expect(s.read(s.sealed()[0]!)).toEqual([line.trim(), line.trim()]);
    s.remove(s.sealed()[0]!);
    expect(s.bytes).toBe(120);
    expect(s.full).toBe(false);
    s.close();
  });

  it('segments left by a crash are found again at start, oldest first', () => {
    const dir = tmp();
    const a = new Spool(opts(dir));
    a.append('{"n":1}\n');
    a.seal();
    a.append('{"n":2}\n'); // still active: the process "dies" here
    const b = new Spool(opts(dir));
    expect(b.sealed().map((p) => b.read(p))).toEqual([['{"n":1}'], ['{"n":2}']]);
    b.append('{"n":3}\n');
    b.seal();
    expect(b.sealed()).toHaveLength(3);
    expect(readdirSync(dir).sort()).toEqual(
      b
        .sealed()
        .map((p) => p.slice(dir.length + 1))
        .sort(),
    );
  });
});

describe('the sink when its spool is full', () => {
  function sink(onFull: 'refuse' | 'drop', port: number) {
    const lines: string[] = [];
    const log = createLogger(
      'info',
      new Writable({
        write(c: Buffer, _e, cb) {
          lines.push(c.toString());
          cb();
        },
      }),
    );
    const s = new ElasticsearchSink(
      {
        ...DEFAULT_CONFIG.audit,
        elasticsearch: {
          url: `http://127.0.0.1:${port}`,
          index_prefix: 'unit',
          request_timeout_ms: 500,
        },
        spool: { ...DEFAULT_CONFIG.audit.spool, dir: tmp(), max_bytes: 65536, on_full: onFull },
        dead_letter_file: join(tmp(), 'dlq'),
      },
      log,
    );
    return { s, lines };
  }
  const record = (i: number): SessionRecord => ({
    session_id: `s-${i}`,
    started_at: new Date().toISOString(),
    duration_ms: 1,
    principal: { subject: 'u', groups: [], authMethod: 'anonymous' },
    outcome: 'allowed',
    request_body: { text: 'x'.repeat(1000), bytes: 1000, truncated: false },
  });

  it('refuse: raises the alarm (log and status) and stops accepting new calls', async () => {
    const { s, lines } = sink('refuse', await freePort()); // nothing listens there
    let i = 0;
    while (s.accepting()) s.submit(record(i++));
    expect(s.status()).toMatchObject({ spool_full: true, dropped: 0 });
    expect(lines.join('')).toContain('audit: spool full');
    // In-flight records still go in, up to 10 % over the bound.
    s.submit(record(i++));
    expect(s.status().dropped).toBe(0);
    await s.close(0);
  });

  it('drop: calls go on; records that do not fit are dropped and counted', async () => {
    const { s, lines } = sink('drop', await freePort());
    for (let i = 0; i < 100; i++) s.submit(record(i));
    expect(s.accepting()).toBe(true);
    expect(s.status().dropped).toBeGreaterThan(0);
    expect(lines.join('')).toContain('record dropped');
    await s.close(0);
  });
});

describe('search filters', () => {
  it('become a bool query of terms, a range and one nested finding clause', () => {
    const f = parseFilters(
      new URLSearchParams(
        'user=alice&from=2026-01-01T00:00:00Z&level=restricted&path=/ssn&decision=blocked&function=pay&size=5',
      ),
    );
    expect(f.size).toBe(5);
    expect(toQuery(f)).toEqual({
      bool: {
        filter: [
          {
            bool: {
              should: [{ term: { 'user.id': 'alice' } }, { term: { 'user.name': 'alice' } }],
              minimum_should_match: 1,
            },
          },
          { range: { '@timestamp': { gte: '2026-01-01T00:00:00Z' } } },
          { term: { 'callguard.decision': 'blocked' } },
          { term: { 'callguard.function': 'pay' } },
          {
            nested: {
              path: 'callguard.findings',
              query: {
                bool: {
                  filter: [
                    { term: { 'callguard.findings.level': 'restricted' } },
                    { term: { 'callguard.findings.path': '/ssn' } },
                  ],
                },
              },
            },
          },
        ],
      },
    });
  });

  it('a value with query syntax stays a term value', () => {
    const q = toQuery(checkFilters({ user: 'a" OR *:*' }));
    expect(JSON.stringify(q)).toContain('"user.id":"a\\" OR *:*"');
  });

  it('bad filters are FilterErrors naming the field', () => {
    expect(() => checkFilters({ level: 'a b' })).toThrow(FilterError);
    // Every bad field is named at once; the test fails if nothing is thrown.
    const thrown = (() => {
      try {
        checkFilters({ size: 0, nope: 1 });
      } catch (e) {
        return e;
      }
      return undefined;
    })();
    expect(thrown).toBeInstanceOf(FilterError);
    expect((thrown as FilterError).problems.map((p) => p.field).sort()).toEqual(['nope', 'size']);
  });
});

describe('audit configuration', () => {
  const write = (yaml: string) => {
    const dir = tmp();
    writeFileSync(join(dir, 'callguard.yaml'), yaml);
    return join(dir, 'callguard.yaml');
  };

  it('CALLGUARD_ES_URL turns the Elasticsearch sink on; paths resolve against the file', () => {
    const file = write(
      'audit:\n  fingerprint:\n    keys: [{ id: k1, secret_env: FP }]\n  spool: { dir: sp }\n',
    );
    const c = loadConfig(file, [envOverrides({ CALLGUARD_ES_URL: 'http://127.0.0.1:9200' })]);
    expect(c.audit.elasticsearch).toEqual({
      url: 'http://127.0.0.1:9200',
      index_prefix: 'callguard-sessions',
      request_timeout_ms: 10_000,
    });
    expect(c.audit.spool.dir).toBe(join(file, '..', 'sp'));
    expect(c.audit.dead_letter_file).toBe(join(file, '..', 'sp', 'dead-letter.ndjson'));
    expect(c.audit.fingerprint.current).toBe('k1');
    expect(c.admin).toEqual({ auditor_groups: [], auth_sources: ['oidc', 'saml'] });
    // Approval tickets default to the same Elasticsearch; their own URL wins when set.
    expect(approvalsElasticsearchUrl(c)).toBe('http://127.0.0.1:9200');
    const own = { ...c, approvals: { ...c.approvals, elasticsearch_url: 'http://tickets:9200' } };
    expect(approvalsElasticsearchUrl(own)).toBe('http://tickets:9200');
    expect(approvalsElasticsearchUrl(loadConfig(file, []))).toBeUndefined();
  });

  it('refuses Elasticsearch without a fingerprint key, and ambiguous or unknown keys', () => {
    const es = 'audit:\n  elasticsearch: { url: "http://127.0.0.1:9200" }\n';
    expect(() => loadConfig(write(es), [])).toThrow(/needs a fingerprint key/);
    expect(() =>
      loadConfig(
        write(
          `${es}  fingerprint:\n    keys: [{ id: k, secret: 0123456789abcdef, secret_env: X }]\n`,
        ),
        [],
      ),
    ).toThrow(/exactly one of/);
    expect(() =>
      loadConfig(
        write(`${es}  fingerprint:\n    current: nope\n    keys: [{ id: k, secret_env: X }]\n`),
        [],
      ),
    ).toThrow(/names no configured key/);
    expect(() => loadConfig(write('audit:\n  spool: { on_full: maybe }\n'), [])).toThrow(
      ConfigError,
    );
  });
});
