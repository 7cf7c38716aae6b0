// A webhook analyzer of ours for the tests: callguard's webhook contract (docs/analyzers.md)
// over a real HTTP server on loopback. It reports every occurrence of its words, in Unicode
// code points as the contract says, and can be made slow, failing, hanging or wrong.

import { createServer } from 'node:http';
import type { IncomingHttpHeaders, Server } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface WebhookRequest {
  headers: IncomingHttpHeaders;
  body: { texts: string[]; entities: string[]; score_threshold: number };
}

export interface TestAnalyzer {
  url: string;
  /** Every request it received, in order. */
  received: WebhookRequest[];
  /** What it does with the next requests. */
  mode: 'ok' | 'hang' | 'status500' | 'garbage' | 'outside';
  /** Delay before answering (ms). */
  delayMs: number;
  close(): Promise<void>;
}

/** Code point offsets of every occurrence of `word` in `text`. */
export function codePointSpans(text: string, word: string): [number, number][] {
  const out: [number, number][] = [];
  for (let i = text.indexOf(word); i >= 0; i = text.indexOf(word, i + 1)) {
    const start = [...text.slice(0, i)].length;
    out.push([start, start + [...word].length]);
  }
  return out;
}

export async function startTestAnalyzer(
  words: Record<string, string>,
  path = '/analyze',
): Promise<TestAnalyzer> {
  const held: (() => void)[] = [];
  const state: TestAnalyzer = {
    url: '',
    received: [],
    mode: 'ok',
    delayMs: 0,
    close: () =>
      new Promise<void>((resolve) => {
        for (const h of held.splice(0)) h();
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      if (req.method !== 'POST' || req.url !== path) {
        res.writeHead(404).end();
        return;
      }
      const body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as WebhookRequest['body'];
      state.received.push({ headers: req.headers, body });
      const answer = () => {
        if (state.mode === 'hang') {
          held.push(() => res.destroy());
          return;
        }
        if (state.mode === 'status500') {
          res.writeHead(500, { 'content-type': 'application/json' }).end('{"error":"boom"}');
          return;
        }
        if (state.mode === 'garbage') {
          res.writeHead(200, { 'content-type': 'application/json' }).end('{"results": [');
          return;
        }
        const results = body.texts.map((text) =>
          Object.entries(words).flatMap(([word, type]) =>
            codePointSpans(text, word).map(([start, end]) => ({
              type,
              start: state.mode === 'outside' ? start + 1000 : start,
              end: state.mode === 'outside' ? end + 1000 : end,
              score: 0.9,
            })),
          ),
        );
        res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ results }));
      };
      if (state.delayMs > 0) setTimeout(answer, state.delayMs);
      else answer();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  state.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}${path}`;
  return state;
}
