// The background indexer: installs the index template, then ships sealed spool segments to
// Elasticsearch in bulk requests, oldest first. Each record is a `create` with the session
// id as document id, so a replay after a crash is idempotent (409 = already indexed).
// 429 and 5xx (per item or for the whole request) and connection failures are retried with
// exponential backoff; any other rejection (a mapping error, say) moves the document to the
// dead-letter file with the reason. A segment is deleted only when every line is settled.

import { appendFileSync, mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import type { Client } from '@elastic/elasticsearch';
import type { Logger } from '../log.js';
import { safeError } from '../log.js';
import type { Spool } from './spool.js';
import { installTemplate } from './template.js';

/** One spool line. */
export interface SpoolEntry {
  id: string;
  index: string;
  doc: Record<string, unknown>;
}

export interface IndexerOptions {
  prefix: string;
  bulkMaxDocs: number;
  flushIntervalMs: number;
  segmentBytes: number;
  deadLetterFile: string;
  log: Logger;
  /** Backoff bounds (ms). */
  minBackoffMs?: number;
  maxBackoffMs?: number;
}

export interface IndexerStats {
  elasticsearch: 'unknown' | 'up' | 'down';
  template_installed: boolean;
  indexed: number;
  duplicates: number;
  dead_lettered: number;
  retries: number;
}

interface BulkItem {
  status: number;
  error?: { type?: string; reason?: string };
}

export class Indexer {
  readonly stats: IndexerStats = {
    elasticsearch: 'unknown',
    template_installed: false,
    indexed: 0,
    duplicates: 0,
    dead_lettered: 0,
    retries: 0,
  };
  private running = false;
  private loop: Promise<void> | undefined;
  private failures = 0;
  private wake: (() => void) | undefined;

  constructor(
    private readonly spool: Spool,
    private readonly es: Client,
    private readonly opts: IndexerOptions,
  ) {}

  start(): void {
    if (this.running) return;
    this.running = true;
    this.loop = this.run().catch((e: unknown) => {
      this.opts.log.error({ err: safeError(e) }, 'audit indexer stopped');
    });
  }

  /** Stops after the current request; whatever is not acknowledged stays in the spool. */
  async stop(): Promise<void> {
    this.running = false;
    this.wake?.();
    await this.loop;
  }

  /** Ships everything spooled so far, or gives up after timeoutMs. True if the spool is empty. */
  async drain(timeoutMs: number): Promise<boolean> {
    const until = Date.now() + timeoutMs;
    this.spool.seal();
    while (Date.now() < until) {
      if (this.spool.bytes === 0) return true;
      this.wake?.();
      await new Promise((r) => setTimeout(r, 20));
    }
    return this.spool.bytes === 0;
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const t = setTimeout(done, ms);
      function done() {
        clearTimeout(t);
        resolve();
      }
      this.wake = done;
    });
  }

  private backoffMs(): number {
    const min = this.opts.minBackoffMs ?? 100;
    const max = this.opts.maxBackoffMs ?? 5_000;
    const base = Math.min(max, min * 2 ** Math.min(this.failures, 16));
    return base / 2 + Math.random() * (base / 2);
  }

  private failed(e: unknown, what: string): void {
    this.failures++;
    this.stats.retries++;
    if (this.stats.elasticsearch !== 'down') {
      // The error's name and status only: a message could quote a document.
      const status = (e as { meta?: { statusCode?: number } }).meta?.statusCode;
      this.opts.log.warn(
        { err: { type: (e as Error).name ?? typeof e }, status, spool_bytes: this.spool.bytes },
        `audit: Elasticsearch unavailable (${what}); records wait in the spool`,
      );
    }
    this.stats.elasticsearch = 'down';
  }

  private ok(): void {
    if (this.stats.elasticsearch === 'down') {
      this.opts.log.info({ spool_bytes: this.spool.bytes }, 'audit: Elasticsearch is back');
    }
    this.stats.elasticsearch = 'up';
    this.failures = 0;
  }

  private async run(): Promise<void> {
    while (this.running) {
      if (!this.stats.template_installed) {
        try {
          await installTemplate(this.es, this.opts.prefix, (index, reason) =>
            this.opts.log.warn(
              { index, reason },
              'audit: an existing index cannot take the current mapping; records it refuses go to the dead-letter file',
            ),
          );
          this.stats.template_installed = true;
          this.ok();
        } catch (e) {
          this.failed(e, 'index template');
          await this.sleep(this.backoffMs());
          continue;
        }
      }
      if (
        this.spool.activeAge() >= this.opts.flushIntervalMs ||
        this.spool.bytes >= this.opts.segmentBytes
      ) {
        this.spool.seal();
      }
      const segment = this.spool.sealed()[0];
      if (segment === undefined) {
        await this.sleep(this.opts.flushIntervalMs);
        continue;
      }
      await this.ship(segment);
    }
  }

  /** Ships one segment until every line is acknowledged or dead-lettered, then deletes it. */
  private async ship(segment: string): Promise<void> {
    let pending: SpoolEntry[] = [];
    for (const line of this.spool.read(segment)) {
      try {
        pending.push(JSON.parse(line) as SpoolEntry);
      } catch {
        // A line torn by a crash mid-write: that record was never fully spooled.
        this.opts.log.warn({ segment }, 'audit: skipped a torn spool line');
      }
    }
    while (pending.length > 0) {
      if (!this.running) return;
      const batch = pending.slice(0, this.opts.bulkMaxDocs);
      const rest = pending.slice(batch.length);
      let items: BulkItem[];
      try {
        const res = await this.es.bulk({
          operations: batch.flatMap((e) => [{ create: { _index: e.index, _id: e.id } }, e.doc]),
        });
        items = res.items.map((i) => Object.values(i)[0] as BulkItem);
      } catch (e) {
        const status = (e as { meta?: { statusCode?: number } }).meta?.statusCode;
        if (status !== undefined && status >= 400 && status < 500 && status !== 429) {
          // The whole request refused (not a transient failure): dead-letter the batch.
          for (const entry of batch)
            this.deadLetter(entry, status, { type: 'bulk_request_rejected' });
          pending = rest;
          continue;
        }
        this.failed(e, 'bulk');
        await this.sleep(this.backoffMs());
        continue;
      }
      this.ok();
      const retry: SpoolEntry[] = [];
      batch.forEach((entry, i) => {
        const item = items[i] ?? { status: 500 };
        if (item.status >= 200 && item.status < 300) this.stats.indexed++;
        else if (item.status === 409) this.stats.duplicates++;
        else if (item.status === 429 || item.status >= 500) retry.push(entry);
        else this.deadLetter(entry, item.status, item.error ?? {});
      });
      pending = [...retry, ...rest];
      if (retry.length > 0) {
        this.failures++;
        this.stats.retries++;
        await this.sleep(this.backoffMs());
      }
    }
    this.spool.remove(segment);
  }

  private deadLetter(
    entry: SpoolEntry,
    status: number,
    error: { type?: string; reason?: string },
  ): void {
    mkdirSync(dirname(this.opts.deadLetterFile), { recursive: true });
    appendFileSync(
      this.opts.deadLetterFile,
      `${JSON.stringify({
        at: new Date().toISOString(),
        id: entry.id,
        index: entry.index,
        status,
        reason: { type: error.type ?? 'unknown', reason: error.reason ?? '' },
        doc: entry.doc,
      })}\n`,
    );
    this.stats.dead_lettered++;
    // The reason can quote a field value: the log gets the type and id only.
    this.opts.log.error(
      { session_id: entry.id, status, reason_type: error.type, file: this.opts.deadLetterFile },
      'audit: Elasticsearch rejected a record; moved to the dead-letter file',
    );
  }
}
