// The Presidio analyzer callguard's analyzer tests and quality benchmark run against:
// presidio-analyzer from PyPI in .cache/ (a venv), served by presidio/server.py with
// Presidio's documented REST API. Real Presidio, blank spaCy pipeline.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startPresidio } from '../../src/cli/presidio.js';
import type { PresidioProcess } from '../../src/cli/presidio.js';
import { freePort } from './stack.js';

interface Span {
  entity_type: string;
  start: number;
  end: number;
  score: number;
}

let presidio: PresidioProcess;
beforeAll(async () => {
  presidio = await startPresidio({
    port: await freePort(),
    denyLists: { PERSON: ['Ada Lovelace', 'Grace Hopper'] },
    log: (l) => process.stderr.write(`${l}\n`),
  });
}, 300_000);
afterAll(async () => {
  await presidio?.stop();
});

async function analyze(body: unknown): Promise<{ status: number; json: unknown }> {
  const r = await fetch(`${presidio.url}/analyze`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  return { status: r.status, json: await r.json() };
}

describe('presidio/server.py', () => {
  it('answers /health and lists its entities', async () => {
    expect(await (await fetch(`${presidio.url}/health`)).text()).toBe(
      'Presidio Analyzer service is up',
    );
    const entities = (await (
      await fetch(`${presidio.url}/supportedentities?language=en`)
    ).json()) as string[];
    expect(entities).toEqual(expect.arrayContaining(['CREDIT_CARD', 'EMAIL_ADDRESS', 'PERSON']));
  });

  it('finds spans in one text: a card by its pattern, a name by the deny list', async () => {
    const text = 'Grace Hopper paid with 4111 1111 1111 1111 today';
    const r = await analyze({ text, language: 'en' });
    expect(r.status).toBe(200);
    const spans = (r.json as Span[]).map((s) => [s.entity_type, text.slice(s.start, s.end)]);
    expect(spans).toEqual(
      expect.arrayContaining([
        ['PERSON', 'Grace Hopper'],
        ['CREDIT_CARD', '4111 1111 1111 1111'],
      ]),
    );
  });

  it('takes a list of texts (one request per body) and answers a list, text for text', async () => {
    const r = await analyze({
      text: ['nothing here', 'mail ada@example.com', 'Ada Lovelace'],
      language: 'en',
      entities: ['EMAIL_ADDRESS', 'PERSON'],
      score_threshold: 0.5,
    });
    const lists = r.json as Span[][];
    expect(lists).toHaveLength(3);
    expect(lists[0]).toEqual([]);
    expect(lists[1]!.map((s) => [s.entity_type, s.start, s.end])).toEqual([
      ['EMAIL_ADDRESS', 5, 20],
    ]);
    expect(lists[2]!.map((s) => s.entity_type)).toEqual(['PERSON']);
  });

  it('applies an ad-hoc recognizer sent with the request', async () => {
    const r = await analyze({
      text: 'ticket ZX-12345 is open',
      language: 'en',
      ad_hoc_recognizers: [
        {
          name: 'tickets',
          supported_language: 'en',
          supported_entity: 'TICKET',
          patterns: [{ name: 'zx', regex: 'ZX-\\d{5}', score: 0.9 }],
        },
      ],
    });
    expect((r.json as Span[]).map((s) => [s.entity_type, s.start, s.end])).toEqual([
      ['TICKET', 7, 15],
    ]);
  });

  it('refuses a request without text with 400, naming no text', async () => {
    const r = await analyze({ language: 'en' });
    expect(r.status).toBe(400);
    expect(r.json).toEqual({ error: 'ValueError' });
  });
});
