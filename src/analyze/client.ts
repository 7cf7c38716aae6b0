// One analyzer as callguard uses it: its cache, its concurrency limit, its connections, and
// one request per body for the texts the cache does not know.

import type { AnalyzerHit } from '../engine/index.js';
import type { AnalyzerMeter } from '../metrics.js';
import type { AnalyzerPlan } from '../policy/compile.js';
import { HitCache } from './cache.js';
import { agentFor, postJson, RequestFailed } from './http.js';
import type { Agent, FailureKind } from './http.js';
import { Limiter, Saturated } from './limiter.js';
import { BadAnswer, hitsOf, requestFor } from './protocol.js';

export interface ClientResult {
  /** Hits per text (by index of the texts given), when the analyzer answered. */
  hits?: (readonly AnalyzerHit[])[];
  failure?: FailureKind;
  /** The HTTP status of a bad_status failure. */
  status?: number;
  /** Texts answered from the cache. */
  cached: number;
  /** Requests made (0 when the cache knew every text, or no slot was free). */
  requests: number;
  /** Time taken, waiting for a slot included. */
  ms: number;
}

export interface ClientDeps {
  meter?: AnalyzerMeter | undefined;
  /** Wall clock (ms) for the cache's expiry. */
  now: () => number;
}

export class AnalyzerClient {
  private readonly cache: HitCache;
  private readonly limiter: Limiter;
  private readonly agent: Agent;

  constructor(
    readonly plan: AnalyzerPlan,
    private readonly deps: ClientDeps,
  ) {
    this.cache = new HitCache(plan.cache.ttlMs, plan.cache.maxEntries, deps.now);
    this.limiter = new Limiter(plan.maxConcurrency);
    this.agent = agentFor(plan.url, plan.maxConcurrency);
  }

  /** The hits in each of `texts`; never rejects for the analyzer's failures. */
  async analyze(texts: readonly string[]): Promise<ClientResult> {
    const { plan } = this;
    const started = performance.now();
    const elapsed = () => performance.now() - started;
    const cache = this.cache.enabled ? this.cache : undefined;
    const keys = cache ? texts.map((t) => cache.keyOf(t)) : undefined;
    const hits: (readonly AnalyzerHit[])[] = new Array<readonly AnalyzerHit[]>(texts.length);
    const missing: number[] = [];
    texts.forEach((_, i) => {
      const known = keys ? cache?.get(keys[i]!) : undefined;
      if (known) hits[i] = known;
      else missing.push(i);
    });
    const cached = texts.length - missing.length;
    this.deps.meter?.texts(plan.name, cached, missing.length);
    if (missing.length === 0) return { hits, cached, requests: 0, ms: elapsed() };

    let release: () => void;
    try {
      release = await this.limiter.acquire(plan.timeoutMs - elapsed());
    } catch (e) {
      if (!(e instanceof Saturated)) throw e;
      this.deps.meter?.failed(plan.name, 'saturated');
      return { failure: 'saturated', cached, requests: 0, ms: elapsed() };
    }
    const sentAt = performance.now();
    try {
      const sent = missing.map((i) => texts[i]!);
      const { url, body } = requestFor(plan, sent);
      const answer = await postJson(url, body, this.agent, plan.timeoutMs - elapsed());
      const found = hitsOf(plan, sent, answer);
      found.forEach((h, k) => {
        const i = missing[k]!;
        hits[i] = h;
        if (keys) cache?.set(keys[i]!, h);
      });
      this.deps.meter?.request(plan.name, (performance.now() - sentAt) / 1000);
      return { hits, cached, requests: 1, ms: elapsed() };
    } catch (e) {
      let failure: FailureKind;
      let status: number | undefined;
      if (e instanceof RequestFailed) {
        failure = e.kind;
        status = e.status;
      } else if (e instanceof BadAnswer) failure = 'bad_answer';
      else throw e;
      this.deps.meter?.request(plan.name, (performance.now() - sentAt) / 1000, failure);
      return {
        failure,
        ...(status !== undefined ? { status } : {}),
        cached,
        requests: 1,
        ms: elapsed(),
      };
    } finally {
      release();
    }
  }

  /** Ends its idle connections now and the others once their requests are over. */
  close(): void {
    const t = setTimeout(() => this.agent.destroy(), this.plan.timeoutMs + 1000);
    t.unref();
  }
}
