// A short cache of an analyzer's answers, per text: a chat resends its whole history every
// turn, so most of a body's texts were analyzed a moment ago. Keyed by an HMAC-SHA-256 of
// the text under a key made at start and never kept (so neither the text nor a plain hash
// that could confirm a guessed value is held); the value is the spans found (offsets, types,
// scores), never text. Entries expire after the analyzer's cache.ttl; the oldest go first
// beyond cache.max_entries.

import { createHmac, randomBytes } from 'node:crypto';
import type { AnalyzerHit } from '../engine/index.js';

interface Entry {
  expires: number;
  hits: readonly AnalyzerHit[];
}

export class HitCache {
  private readonly entries = new Map<string, Entry>();

  constructor(
    private readonly ttlMs: number,
    private readonly maxEntries: number,
    private readonly now: () => number,
    private readonly secret: Buffer = randomBytes(32),
  ) {}

  get enabled(): boolean {
    return this.ttlMs > 0 && this.maxEntries > 0;
  }

  get size(): number {
    return this.entries.size;
  }

  /** The cache key of a text: a keyed hash, never the text. */
  keyOf(text: string): string {
    return createHmac('sha256', this.secret).update(text, 'utf8').digest('base64url');
  }

  get(key: string): readonly AnalyzerHit[] | undefined {
    const e = this.entries.get(key);
    if (!e) return undefined;
    if (e.expires <= this.now()) {
      this.entries.delete(key);
      return undefined;
    }
    // Most recently used last: the oldest is evicted first.
    this.entries.delete(key);
    this.entries.set(key, e);
    return e.hits;
  }

  set(key: string, hits: readonly AnalyzerHit[]): void {
    if (!this.enabled) return;
    this.entries.delete(key);
    while (this.entries.size >= this.maxEntries) {
      const oldest = this.entries.keys().next();
      if (oldest.done) break;
      this.entries.delete(oldest.value);
    }
    this.entries.set(key, { expires: this.now() + this.ttlMs, hits });
  }
}
