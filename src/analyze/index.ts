// External analyzers (docs/analyzers.md): HTTP services that find entity spans (names,
// addresses) in the texts the built-in detectors read. The engine stays pure: it lists a
// body's texts (planInspection, StreamInspector.plan) and takes the hits back; this module
// does the I/O between, bounded by each analyzer's timeout and concurrency limit, with a
// short cache keyed by a keyed hash of each text. It returns what each analyzer did; the
// caller (the exchange) decides what a failure means (on_error, monitor mode).

import type { AnalyzedText, AnalyzerHit } from '../engine/index.js';
import type { AnalyzerMeter } from '../metrics.js';
import type { AnalyzerPlan } from '../policy/compile.js';
import { AnalyzerClient } from './client.js';
import type { ClientResult } from './client.js';
import type { FailureKind } from './http.js';

export type { FailureKind } from './http.js';

/** What one analyzer did for one body (or one streamed batch). */
export interface AnalyzerUse {
  analyzer: string;
  /** ok: every text analyzed; failed: see `error`. */
  outcome: 'ok' | 'failed';
  error?: FailureKind;
  /** The HTTP status of a bad_status failure. */
  status?: number;
  /** Distinct texts it was given, and how many the cache answered. */
  texts: number;
  cached: number;
  requests: number;
  duration_ms: number;
}

export interface Analysis {
  /** Every analyzer's hits, by the item whose text they are in (items without hits absent). */
  hits: Map<AnalyzedText, AnalyzerHit[]>;
  /** Per analyzer, in the route's order. */
  uses: { plan: AnalyzerPlan; use: AnalyzerUse }[];
}

export interface AnalyzersDeps {
  meter?: AnalyzerMeter | undefined;
  /** Wall clock (ms), for the caches' expiry. */
  now?: () => number;
}

export class Analyzers {
  private readonly clients = new Map<string, AnalyzerClient>();

  constructor(private readonly deps: AnalyzersDeps = {}) {}

  /**
   * Runs `plans` (a route's analyzers, in parallel) over the distinct non-empty texts of
   * `items`: one request per analyzer at most. Never rejects for an analyzer's failure.
   */
  async run(plans: readonly AnalyzerPlan[], items: readonly AnalyzedText[]): Promise<Analysis> {
    const index = new Map<string, number>();
    const texts: string[] = [];
    for (const { text } of items)
      if (text.length > 0 && !index.has(text)) index.set(text, texts.push(text) - 1);
    const results = await Promise.all(
      plans.map((p): Promise<ClientResult> =>
        texts.length === 0
          ? Promise.resolve({ hits: [], cached: 0, requests: 0, ms: 0 })
          : this.client(p).analyze(texts),
      ),
    );
    const hits = new Map<AnalyzedText, AnalyzerHit[]>();
    const uses = plans.map((plan, k) => {
      const r = results[k]!;
      const use: AnalyzerUse = {
        analyzer: plan.name,
        outcome: r.failure ? 'failed' : 'ok',
        texts: texts.length,
        cached: r.cached,
        requests: r.requests,
        duration_ms: Math.round(r.ms * 1000) / 1000,
      };
      if (r.failure) use.error = r.failure;
      if (r.status !== undefined) use.status = r.status;
      return { plan, use };
    });
    for (const item of items) {
      const i = index.get(item.text);
      if (i === undefined) continue;
      let found: AnalyzerHit[] | undefined;
      for (const r of results) {
        const h = r.hits?.[i];
        if (h && h.length > 0) (found ??= []).push(...h);
      }
      if (found) hits.set(item, found);
    }
    return { hits, uses };
  }

  /** The client of `plan`: kept across policy reloads while its settings stay the same. */
  private client(plan: AnalyzerPlan): AnalyzerClient {
    const known = this.clients.get(plan.name);
    if (known?.plan.key === plan.key) return known;
    known?.close();
    const c = new AnalyzerClient(plan, { meter: this.deps.meter, now: this.deps.now ?? Date.now });
    this.clients.set(plan.name, c);
    return c;
  }

  close(): void {
    for (const c of this.clients.values()) c.close();
    this.clients.clear();
  }
}
