// Test helpers over the run's one Elasticsearch (started in test/global-setup.ts): raw
// reads of whole index patterns, and a TCP forwarder to cut and restore the connection
// between callguard and Elasticsearch (an outage, for real, on loopback).

import { randomBytes } from 'node:crypto';
import { createServer } from 'node:net';
import type { Server, Socket } from 'node:net';
import { connect } from 'node:net';
import { Client } from '@elastic/elasticsearch';

export function esClient(url: string): Client {
  return new Client({ node: url });
}

/** An index prefix no other test file uses. */
export function uniquePrefix(name: string): string {
  return `cg-test-${name}-${randomBytes(4).toString('hex')}`;
}

/** Every document under `<prefix>-*`, after a refresh (raw _source, ids). */
export async function allDocs(
  es: Client,
  prefix: string,
): Promise<{ id: string; source: Record<string, unknown> }[]> {
  await es.indices.refresh({
    index: `${prefix}-*`,
    ignore_unavailable: true,
    allow_no_indices: true,
  });
  const out: { id: string; source: Record<string, unknown> }[] = [];
  let after: unknown[] | undefined;
  for (;;) {
    const res = await es.search<Record<string, unknown>>({
      index: `${prefix}-*`,
      ignore_unavailable: true,
      allow_no_indices: true,
      size: 1000,
      sort: [{ 'callguard.session_id': { order: 'asc', unmapped_type: 'keyword' } }],
      ...(after ? { search_after: after as (string | number)[] } : {}),
      query: { match_all: {} },
    });
    for (const h of res.hits.hits) out.push({ id: h._id!, source: h._source! });
    if (res.hits.hits.length < 1000) return out;
    after = res.hits.hits.at(-1)!.sort;
  }
}

/** Waits until `predicate(docs)` holds, polling. */
export async function waitForDocs(
  es: Client,
  prefix: string,
  predicate: (docs: { id: string; source: Record<string, unknown> }[]) => boolean,
  timeoutMs = 20_000,
): Promise<{ id: string; source: Record<string, unknown> }[]> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    let docs: { id: string; source: Record<string, unknown> }[];
    try {
      docs = await allDocs(es, prefix);
    } catch (e) {
      // A just-created index answers searches with no_shard_available until its primary
      // shard has started (more likely while the machine is busy): poll again.
      if (!/no_shard_available/.test(String(e)) || Date.now() > until) throw e;
      await new Promise((r) => setTimeout(r, 250));
      continue;
    }
    if (predicate(docs)) return docs;
    if (Date.now() > until) {
      throw new Error(
        `documents under ${prefix}-* never satisfied the condition (${docs.length} seen)`,
      );
    }
    await new Promise((r) => setTimeout(r, 250));
  }
}

export interface Forwarder {
  port: number;
  /** Closes the listener and every open connection: connections are refused. */
  close(): Promise<void>;
  /** Listens again on the same port. */
  open(): Promise<void>;
}

/** A TCP forwarder on 127.0.0.1 to `target` (host:port); `delayMs` slows each request chunk. */
export async function startForwarder(
  targetHost: string,
  targetPort: number,
  opts: { delayMs?: number } = {},
): Promise<Forwarder> {
  const sockets = new Set<Socket>();
  let server: Server | undefined;
  let port = 0;
  const listen = () =>
    new Promise<void>((resolve, reject) => {
      const s = createServer((client) => {
        const upstream = connect(targetPort, targetHost);
        sockets.add(client);
        sockets.add(upstream);
        const drop = () => {
          client.destroy();
          upstream.destroy();
          sockets.delete(client);
          sockets.delete(upstream);
        };
        client.on('error', drop).on('close', drop);
        upstream.on('error', drop).on('close', drop);
        const delay = opts.delayMs ?? 0;
        if (delay > 0) {
          client.on('data', (c: Buffer) => {
            client.pause();
            setTimeout(() => {
              if (!upstream.destroyed) upstream.write(c);
              client.resume();
            }, delay);
          });
        } else {
          client.pipe(upstream);
        }
        upstream.pipe(client);
      });
      s.once('error', reject);
      s.listen(port, '127.0.0.1', () => {
        port = (s.address() as { port: number }).port;
        server = s;
        resolve();
      });
    });
  await listen();
  return {
    get port() {
      return port;
    },
    open: () => (server ? Promise.resolve() : listen()),
    close: () =>
      new Promise<void>((resolve) => {
        const s = server;
        server = undefined;
        for (const sock of sockets) sock.destroy();
        sockets.clear();
        if (!s) return resolve();
        s.close(() => resolve());
      }),
  };
}
