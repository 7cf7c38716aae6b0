// A JWKS cache per issuer: keys fetched once, re-fetched when a token names an unknown
// `kid` (rotation, without restart) but at most once per `minRefreshMs` (a flood of
// made-up kids cannot hammer the IdP), and refreshed after `maxAgeMs`. If a refresh
// fails, the keys already held keep verifying; with no keys at all the IdP is
// unavailable (503), never a pass.

import { createLocalJWKSet, errors } from 'jose';
import type {
  JSONWebKeySet,
  JWSHeaderParameters,
  FlattenedJWSInput,
  CryptoKey,
  KeyObject,
} from 'jose';
import { CallguardError } from '../errors.js';

export type Fetcher = (url: string, timeoutMs: number) => Promise<unknown>;

/** GET a JSON document with a timeout; any failure is an IdP that is unreachable. */
export const fetchJson: Fetcher = async (url, timeoutMs) => {
  const res = await fetch(url, { signal: AbortSignal.timeout(timeoutMs), redirect: 'error' });
  if (!res.ok) throw new Error(`HTTP ${res.status}`);
  return await res.json();
};

export interface JwksOptions {
  timeoutMs: number;
  minRefreshMs: number;
  maxAgeMs: number;
  now?: () => number;
  fetcher?: Fetcher;
}

type KeyResolver = (h: JWSHeaderParameters, t: FlattenedJWSInput) => Promise<CryptoKey | KeyObject>;

export class JwksCache {
  private local: ReturnType<typeof createLocalJWKSet> | undefined;
  private fetchedAt = 0;
  private lastAttempt = -Infinity;
  private inflight: Promise<void> | undefined;

  constructor(
    private readonly uri: () => Promise<string>,
    private readonly opts: JwksOptions,
  ) {}

  private now(): number {
    return (this.opts.now ?? Date.now)();
  }

  /** A jose key resolver over the cache. */
  readonly getKey: KeyResolver = async (header, token) => {
    if (!this.local || this.now() - this.fetchedAt > this.opts.maxAgeMs) await this.refresh();
    try {
      return await (this.local as NonNullable<typeof this.local>)(header, token);
    } catch (e) {
      if (
        !(e instanceof errors.JWKSNoMatchingKey) ||
        this.now() - this.lastAttempt < this.opts.minRefreshMs
      ) {
        throw e;
      }
      await this.refresh();
      return (this.local as NonNullable<typeof this.local>)(header, token);
    }
  };

  private refresh(): Promise<void> {
    this.inflight ??= this.doRefresh().finally(() => {
      this.inflight = undefined;
    });
    return this.inflight;
  }

  private async doRefresh(): Promise<void> {
    this.lastAttempt = this.now();
    try {
      const doc = await (this.opts.fetcher ?? fetchJson)(await this.uri(), this.opts.timeoutMs);
      if (typeof doc !== 'object' || doc === null || !Array.isArray((doc as JSONWebKeySet).keys)) {
        throw new Error('not a JWKS');
      }
      this.local = createLocalJWKSet(doc as JSONWebKeySet);
      this.fetchedAt = this.now();
    } catch (e) {
      if (this.local) return; // keep verifying with the keys we hold
      if (e instanceof CallguardError) throw e;
      throw new CallguardError('identity_unavailable', 'identity provider keys are unavailable', {
        rule: 'identity.oidc.jwks',
      });
    }
  }
}
