// The durable Elasticsearch sink: submit() turns a session record into its document and
// appends it to the on-disk spool (synchronously, a few microseconds: the request path
// never waits for Elasticsearch); the indexer ships the spool in the background.
//
// Overflow: the spool is bounded by `audit.spool.max_bytes`. When it is full, an alarm is
// logged once and /healthz shows `audit.spool_full: true`. With `on_full: refuse` (the
// default) new exchanges are refused with 503 `audit_unavailable` until the spool drains;
// records of exchanges already in flight still go in (up to 10 % over the bound). With
// `on_full: drop` calls go on and records that do not fit are dropped and counted.

import { Client } from '@elastic/elasticsearch';
import type { AuditConfig } from '../config/config.js';
import type { Logger } from '../log.js';
import { safeError } from '../log.js';
import { Indexer } from './indexer.js';
import type { IndexerStats } from './indexer.js';
import { indexFor, toDocument } from './record.js';
import type { SessionRecord, SessionSink } from './record.js';
import { Spool } from './spool.js';

export interface AuditStatus extends IndexerStats {
  spool_bytes: number;
  spool_segments: number;
  spool_full: boolean;
  dropped: number;
}

export class ElasticsearchSink implements SessionSink {
  readonly spool: Spool;
  readonly indexer: Indexer;
  readonly es: Client;
  private dropped = 0;
  private alarmed = false;

  constructor(
    private readonly cfg: AuditConfig & {
      elasticsearch: NonNullable<AuditConfig['elasticsearch']>;
    },
    private readonly log: Logger,
  ) {
    this.spool = new Spool({
      dir: cfg.spool.dir,
      fsync: cfg.spool.fsync,
      fsyncIntervalMs: cfg.spool.fsync_interval_ms,
      segmentBytes: cfg.spool.segment_bytes,
      maxBytes: cfg.spool.max_bytes,
    });
    this.es = new Client({
      node: cfg.elasticsearch.url,
      // Retries are the indexer's (backoff, spool); the client fails fast.
      maxRetries: 0,
      requestTimeout: cfg.elasticsearch.request_timeout_ms,
    });
    this.indexer = new Indexer(this.spool, this.es, {
      prefix: cfg.elasticsearch.index_prefix,
      bulkMaxDocs: cfg.bulk_max_docs,
      flushIntervalMs: cfg.flush_interval_ms,
      segmentBytes: cfg.spool.segment_bytes,
      deadLetterFile: cfg.dead_letter_file,
      log,
    });
    if (this.spool.bytes > 0) {
      log.info(
        { spool_bytes: this.spool.bytes, spool_segments: this.spool.segments },
        'audit: replaying records left in the spool',
      );
    }
    this.indexer.start();
  }

  accepting(): boolean {
    const full = this.spool.full;
    this.alarm(full);
    return !(full && this.cfg.spool.on_full === 'refuse');
  }

  submit(record: SessionRecord): void {
    try {
      const doc = toDocument(record);
      const line = `${JSON.stringify({
        id: record.session_id,
        index: indexFor(this.cfg.elasticsearch.index_prefix, doc['@timestamp']),
        doc,
      })}\n`;
      const limit =
        this.cfg.spool.on_full === 'refuse'
          ? Math.floor(this.cfg.spool.max_bytes * 1.1)
          : this.cfg.spool.max_bytes;
      if (!this.spool.append(line, limit)) {
        this.dropped++;
        this.alarm(true);
        this.log.error({ session_id: record.session_id }, 'audit: spool full; record dropped');
      }
    } catch (e) {
      this.dropped++;
      this.log.error(
        { err: safeError(e), session_id: record.session_id },
        'audit: record not spooled',
      );
    }
  }

  private alarm(full: boolean): void {
    if (full && !this.alarmed) {
      this.alarmed = true;
      this.log.error(
        { spool_bytes: this.spool.bytes, on_full: this.cfg.spool.on_full },
        'audit: spool full (Elasticsearch down or too slow)',
      );
    } else if (!full && this.alarmed && this.spool.bytes < this.cfg.spool.max_bytes * 0.9) {
      this.alarmed = false;
      this.log.warn({ spool_bytes: this.spool.bytes }, 'audit: spool below its bound again');
    }
  }

  status(): AuditStatus {
    return {
      ...this.indexer.stats,
      spool_bytes: this.spool.bytes,
      spool_segments: this.spool.segments,
      spool_full: this.spool.full,
      dropped: this.dropped,
    };
  }

  /** On shutdown: ship what is left for up to graceMs; the rest stays for the next start. */
  async close(graceMs: number): Promise<void> {
    await this.indexer.drain(graceMs);
    await this.indexer.stop();
    this.spool.close();
    await this.es.close();
  }
}
