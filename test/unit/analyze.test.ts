// src/analyze: the analyzers' wire protocols (checked answers, code points made UTF-16),
// the keyed-hash cache, the concurrency limit, and the client against a real HTTP server of
// ours speaking the webhook contract: one request per body, the cache sparing a second,
// every failure named (timeout, saturated, unavailable, bad_status, bad_answer), metrics
// without text.

import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { Analyzers } from '../../src/analyze/index.js';
import { HitCache } from '../../src/analyze/cache.js';
import { Limiter, Saturated } from '../../src/analyze/limiter.js';
import { codePointOffsets } from '../../src/analyze/offsets.js';
import { BadAnswer, hitsOf, requestFor } from '../../src/analyze/protocol.js';
import { createMetrics } from '../../src/metrics.js';
import type { AnalyzerPlan } from '../../src/policy/compile.js';
import { loadPolicy } from '../../src/policy/load.js';
import { startTestAnalyzer } from '../support/analyzer-server.js';
import type { TestAnalyzer } from '../support/analyzer-server.js';
import { metricValue, parseExposition } from '../support/prom.js';

const NAME = 'Ada Lovelace';

function plan(kind: 'presidio' | 'webhook', url: string, extra = ''): AnalyzerPlan {
  const dir = mkdtempSync(join(tmpdir(), 'cg-analyze-'));
  writeFileSync(
    join(dir, 'p.yaml'),
    `analyzers:
  a:
    kind: ${kind}
    url: ${url}
    entities:
      PERSON: { detector: person_name, level: confidential }
      LOCATION: { detector: location, level: internal, min_score: 0.8 }
${extra}`,
  );
  return loadPolicy([dir]).analyzers.get('a')!;
}

describe('code point offsets', () => {
  it('are the same as UTF-16 offsets in a text without surrogates', () => {
    const m = codePointOffsets('héllo');
    expect([0, 2, 5].map((i) => m.utf16(i))).toEqual([0, 2, 5]);
    expect(m.utf16(6)).toBeUndefined();
    expect(m.utf16(-1)).toBeUndefined();
    expect(m.utf16(1.5)).toBeUndefined();
  });

  it('count a character outside the BMP once where UTF-16 counts it twice', () => {
    const text = `🙂𝔄 ${NAME}`;
    const m = codePointOffsets(text);
    // Code points: 🙂=0, 𝔄=1, space=2, A=3 … e=14; end 15.
    expect(m.utf16(3)).toBe(text.indexOf('A'));
    expect(text.slice(m.utf16(3), m.utf16(15))).toBe(NAME);
    expect(m.utf16(16)).toBeUndefined();
  });
});

describe('wire protocols', () => {
  it('presidio: one POST /analyze with the texts as a list, language, entities, threshold', () => {
    const r = requestFor(plan('presidio', 'http://p:5002/', '    language: de'), ['a', 'b']);
    expect(r.url).toBe('http://p:5002/analyze');
    expect(JSON.parse(r.body)).toEqual({
      text: ['a', 'b'],
      language: 'de',
      entities: ['PERSON', 'LOCATION'],
      score_threshold: 0.5,
    });
  });

  it('webhook: the texts, the entity types and the threshold, to the URL as given', () => {
    const r = requestFor(plan('webhook', 'http://w/x/y'), ['a']);
    expect(r.url).toBe('http://w/x/y');
    expect(JSON.parse(r.body)).toEqual({
      texts: ['a'],
      entities: ['PERSON', 'LOCATION'],
      score_threshold: 0.5,
    });
  });

  it('maps entity types to detector hits, in UTF-16 offsets, dropping unmapped and low-scoring spans', () => {
    const texts = ['nobody', `🙂 ${NAME} in Paris`];
    const p = plan('presidio', 'http://p');
    const hits = hitsOf(p, texts, [
      [],
      [
        { entity_type: 'PERSON', start: 2, end: 14, score: 0.85, analysis_explanation: null },
        { entity_type: 'LOCATION', start: 18, end: 23, score: 0.7 }, // below its min_score 0.8
        { entity_type: 'DATE_TIME', start: 0, end: 1, score: 1 }, // not mapped
      ],
    ]);
    expect(hits[0]).toEqual([]);
    expect(hits[1]).toEqual([
      {
        detector: 'person_name',
        level: 'confidential',
        start: 3,
        end: 15,
        score: 0.85,
        analyzer: 'a',
      },
    ]);
    expect(texts[1]!.slice(3, 15)).toBe(NAME);
  });

  it.each([
    ['a list per text', [[]], /expected 2 result lists/],
    ['a list', [[], {}], /results 1: not a list/],
    [
      'integer offsets',
      [[], [{ entity_type: 'PERSON', start: 0.5, end: 2, score: 1 }]],
      /not integers/,
    ],
    [
      'offsets inside the text',
      [[], [{ entity_type: 'PERSON', start: 0, end: 99, score: 1 }]],
      /outside/,
    ],
    ['start before end', [[], [{ entity_type: 'PERSON', start: 2, end: 2, score: 1 }]], /outside/],
    ['a score in [0, 1]', [[], [{ entity_type: 'PERSON', start: 0, end: 1, score: 2 }]], /score/],
    ['a type', [[], [{ start: 0, end: 1, score: 1 }]], /no type/],
  ])('refuses an answer without %s (bad_answer), naming no text', (_what, answer, why) => {
    const p = plan('presidio', 'http://p');
    let err: unknown;
    try {
      hitsOf(p, ['x', 'secret text'], answer);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(BadAnswer);
    expect((err as Error).message).toMatch(why);
    expect((err as Error).message).not.toContain('secret');
  });

  it('a surrogate pair is never split: an offset between its halves is outside the text', () => {
    // Two code points (🙂 and x); offset 1 is after the emoji, never inside it.
    const hits = hitsOf(plan('webhook', 'http://w'), ['🙂x'], {
      results: [[{ type: 'PERSON', start: 1, end: 2, score: 1 }]],
    });
    expect(hits[0]![0]).toMatchObject({ start: 2, end: 3 });
    expect(() =>
      hitsOf(plan('webhook', 'http://w'), ['🙂x'], {
        results: [[{ type: 'PERSON', start: 1, end: 3, score: 1 }]],
      }),
    ).toThrow(BadAnswer);
  });
});

describe('the cache', () => {
  it('is keyed by a keyed hash, never the text; entries expire and the oldest go first', () => {
    let now = 1000;
    const c = new HitCache(100, 2, () => now);
    const k = c.keyOf(NAME);
    expect(k).not.toContain('Ada');
    expect(k).toMatch(/^[A-Za-z0-9_-]{43}$/);
    // Another process (another key) hashes the same text differently.
    expect(new HitCache(100, 2, () => now).keyOf(NAME)).not.toBe(k);
    c.set(k, []);
    c.set(c.keyOf('b'), []);
    expect(c.get(k)).toEqual([]); // now the most recent
    c.set(c.keyOf('c'), []); // evicts b, the oldest
    expect(c.get(c.keyOf('b'))).toBeUndefined();
    expect(c.get(k)).toEqual([]);
    now += 100;
    expect(c.get(k)).toBeUndefined();
    expect(new HitCache(0, 10, () => now).enabled).toBe(false);
  });
});

describe('the concurrency limit', () => {
  it('a request waits for a free slot within its time, and fails Saturated when none comes', async () => {
    const l = new Limiter(1);
    const release = await l.acquire(10);
    const waiting = l.acquire(1_000);
    const late = new Limiter(1);
    const held = await late.acquire(10);
    await expect(late.acquire(1)).rejects.toBeInstanceOf(Saturated);
    held();
    release();
    const second = await waiting; // the slot passed on
    expect(l.inFlight).toBe(1);
    second();
    second(); // a second call of the same release does nothing
    expect(l.inFlight).toBe(0);
  });

  it('behind as many waiting bodies as slots, fails Saturated at once', async () => {
    const l = new Limiter(1);
    const release = await l.acquire(10);
    const waiting = l.acquire(60_000);
    await expect(l.acquire(60_000)).rejects.toBeInstanceOf(Saturated);
    release();
    (await waiting)();
    expect(l.inFlight).toBe(0);
  });
});

describe('Analyzers against a webhook server of ours', () => {
  let server: TestAnalyzer;
  let pool: Analyzers;
  afterEach(async () => {
    pool?.close();
    await server?.close();
  });

  async function setup(extra = '') {
    server = await startTestAnalyzer({ [NAME]: 'PERSON' });
    const metrics = createMetrics({ defaultMetrics: false });
    pool = new Analyzers({ meter: metrics.analyzers });
    return { p: plan('webhook', server.url, extra), metrics };
  }

  it('one request per body with its distinct texts; the cache spares the second', async () => {
    const { p, metrics } = await setup();
    const items = [{ text: `I am ${NAME}` }, { text: 'user' }, { text: 'user' }, { text: '' }];
    const a = await pool.run([p], items);
    expect(server.received).toHaveLength(1);
    expect(server.received[0]!.body.texts).toEqual([`I am ${NAME}`, 'user']);
    expect([...a.hits.keys()]).toEqual([items[0]]);
    expect(a.hits.get(items[0]!)).toEqual([
      expect.objectContaining({ detector: 'person_name', start: 5, end: 17, analyzer: 'a' }),
    ]);
    expect(a.uses[0]!.use).toMatchObject({ outcome: 'ok', texts: 2, cached: 0, requests: 1 });

    // The same texts again (a chat resends its history): no request at all.
    const b = await pool.run([p], [{ text: `I am ${NAME}` }, { text: 'user' }]);
    expect(server.received).toHaveLength(1);
    expect(b.uses[0]!.use).toMatchObject({ outcome: 'ok', cached: 2, requests: 0 });
    expect([...b.hits.values()][0]).toEqual(a.hits.get(items[0]!));

    // One new text: only it is sent.
    await pool.run([p], [{ text: `I am ${NAME}` }, { text: 'new turn' }]);
    expect(server.received.map((r) => r.body.texts)).toEqual([
      [`I am ${NAME}`, 'user'],
      ['new turn'],
    ]);

    const exposition = await metrics.exposition();
    const m = parseExposition(exposition);
    expect(metricValue(m, 'callguard_analyzer_calls_total', { analyzer: 'a' })).toBe(2);
    expect(
      metricValue(m, 'callguard_analyzer_texts_total', { analyzer: 'a', source: 'cache' }),
    ).toBe(3);
    expect(
      metricValue(m, 'callguard_analyzer_texts_total', { analyzer: 'a', source: 'request' }),
    ).toBe(3);
    expect(
      metricValue(m, 'callguard_analyzer_request_duration_seconds_count', { analyzer: 'a' }),
    ).toBe(2);
    expect(exposition).not.toContain('Ada');
  });

  it("sends only its own headers: never anything of the caller's", async () => {
    const { p } = await setup();
    await pool.run([p], [{ text: NAME }]);
    const h = server.received[0]!.headers;
    expect(h['content-type']).toBe('application/json');
    expect(h.authorization).toBeUndefined();
    expect(h.cookie).toBeUndefined();
  });

  it.each([
    ['hang', 'timeout', '    timeout: 50ms'],
    ['status500', 'bad_status', ''],
    ['garbage', 'bad_answer', ''],
    ['outside', 'bad_answer', ''],
  ] as const)(
    'a server that answers %s fails as %s; nothing is cached',
    async (mode, error, extra) => {
      const { p, metrics } = await setup(extra);
      server.mode = mode;
      const a = await pool.run([p], [{ text: NAME }]);
      expect(a.hits.size).toBe(0);
      expect(a.uses[0]!.use).toMatchObject({ outcome: 'failed', error, requests: 1 });
      if (error === 'bad_status') expect(a.uses[0]!.use.status).toBe(500);
      const m = parseExposition(await metrics.exposition());
      expect(
        metricValue(m, 'callguard_analyzer_errors_total', { analyzer: 'a', reason: error }),
      ).toBe(1);
      server.mode = 'ok';
      const b = await pool.run([p], [{ text: NAME }]);
      expect(b.uses[0]!.use).toMatchObject({ outcome: 'ok', cached: 0, requests: 1 });
    },
  );

  it('an analyzer that is not listening fails as unavailable', async () => {
    const { p } = await setup();
    await server.close();
    const a = await pool.run([p], [{ text: NAME }]);
    expect(a.uses[0]!.use).toMatchObject({ outcome: 'failed', error: 'unavailable' });
  });

  it('beyond max_concurrency and as many waiting, a body fails as saturated without a request', async () => {
    const { p, metrics } = await setup('    max_concurrency: 1\n    timeout: 5s');
    server.mode = 'hang';
    const first = pool.run([p], [{ text: 'one' }]); // holds the slot
    const second = pool.run([p], [{ text: 'two' }]); // waits for it
    const third = await pool.run([p], [{ text: 'three' }]);
    expect(third.uses[0]!.use).toMatchObject({
      outcome: 'failed',
      error: 'saturated',
      requests: 0,
    });
    const m = parseExposition(await metrics.exposition());
    expect(
      metricValue(m, 'callguard_analyzer_errors_total', { analyzer: 'a', reason: 'saturated' }),
    ).toBe(1);
    while (server.received.length === 0) await new Promise((r) => setTimeout(r, 5));
    await server.close(); // the held request fails; the waiting one gets the slot and fails too
    expect((await first).uses[0]!.use.outcome).toBe('failed');
    expect((await second).uses[0]!.use.outcome).toBe('failed');
    expect(server.received.map((r) => r.body.texts)).toEqual([['one']]);
  });

  it('a reload that keeps the settings keeps the client and its cache; new settings make a new one', async () => {
    const { p } = await setup();
    await pool.run([p], [{ text: NAME }]);
    const same = plan('webhook', server.url);
    expect((await pool.run([same], [{ text: NAME }])).uses[0]!.use.cached).toBe(1);
    const changed = plan('webhook', server.url, '    score_threshold: 0.6');
    expect((await pool.run([changed], [{ text: NAME }])).uses[0]!.use.cached).toBe(0);
  });
});
