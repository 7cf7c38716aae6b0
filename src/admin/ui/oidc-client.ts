// The admin page's OIDC relying party: authorization code with PKCE (S256), a state bound
// to the browser and a nonce bound to the ID token. Endpoints come from discovery (whose
// issuer must be the configured one); the code is exchanged server side; the ID token is
// verified with jose against the issuer's JWKS (the data path's JwksCache), with the
// configured algorithms, issuer, audience = client_id, expiry and nonce.

import { createHash, randomBytes } from 'node:crypto';
import { errors, jwtVerify } from 'jose';
import { CallguardError } from '../../errors.js';
import type { AdminUiConfig } from '../../config/config.js';
import { principalFromClaims } from '../../identity/claims.js';
import { fetchJson, JwksCache } from '../../identity/jwks.js';
import type { Principal } from '../../policy/types.js';

interface Discovery {
  issuer: string;
  authorization_endpoint: string;
  token_endpoint: string;
  jwks_uri: string;
}

export interface LoginStart {
  /** Where the browser goes next. */
  url: string;
  state: string;
  verifier: string;
  nonce: string;
}

export const b64url = (n: number) => randomBytes(n).toString('base64url');

const unavailable = (message: string) =>
  new CallguardError('identity_unavailable', message, { rule: 'admin.ui.oidc' });
const unauthenticated = (message: string) =>
  new CallguardError('unauthenticated', message, { rule: 'admin.ui.oidc' });

export class UiOidcClient {
  private discovery: Promise<Discovery> | undefined;
  private readonly jwks: JwksCache;

  constructor(
    private readonly cfg: AdminUiConfig['oidc'],
    private readonly secret: string | undefined,
    private readonly timeoutMs = 5000,
  ) {
    this.jwks = new JwksCache(async () => (await this.discover()).jwks_uri, {
      timeoutMs,
      minRefreshMs: 30_000,
      maxAgeMs: 600_000,
    });
  }

  private discover(): Promise<Discovery> {
    this.discovery ??= (async () => {
      const url = `${this.cfg.issuer.replace(/\/$/, '')}/.well-known/openid-configuration`;
      let d: Partial<Discovery>;
      try {
        d = (await fetchJson(url, this.timeoutMs)) as Partial<Discovery>;
      } catch {
        throw unavailable('identity provider discovery is unavailable');
      }
      const ok = (v: unknown) => typeof v === 'string' && /^https?:\/\//.test(v);
      if (
        d.issuer !== this.cfg.issuer ||
        !ok(d.authorization_endpoint) ||
        !ok(d.token_endpoint) ||
        !ok(d.jwks_uri)
      ) {
        throw unavailable('identity provider discovery document is not valid');
      }
      return d as Discovery;
    })().catch((e: unknown) => {
      this.discovery = undefined;
      throw e;
    });
    return this.discovery;
  }

  async start(): Promise<LoginStart> {
    const d = await this.discover();
    const state = b64url(32);
    const nonce = b64url(32);
    const verifier = b64url(48);
    const challenge = createHash('sha256').update(verifier).digest('base64url');
    const url = new URL(d.authorization_endpoint);
    url.searchParams.set('response_type', 'code');
    url.searchParams.set('client_id', this.cfg.client_id);
    url.searchParams.set('redirect_uri', this.cfg.redirect_uri);
    url.searchParams.set('scope', this.cfg.scopes.join(' '));
    url.searchParams.set('state', state);
    url.searchParams.set('nonce', nonce);
    url.searchParams.set('code_challenge', challenge);
    url.searchParams.set('code_challenge_method', 'S256');
    return { url: url.toString(), state, verifier, nonce };
  }

  /** Exchanges the code and verifies the ID token; the caller's principal and its expiry. */
  async finish(
    code: string,
    verifier: string,
    nonce: string,
  ): Promise<{ principal: Principal; exp: number }> {
    const d = await this.discover();
    const form = new URLSearchParams({
      grant_type: 'authorization_code',
      code,
      redirect_uri: this.cfg.redirect_uri,
      code_verifier: verifier,
    });
    const headers: Record<string, string> = {
      'content-type': 'application/x-www-form-urlencoded',
      accept: 'application/json',
    };
    if (this.secret !== undefined) {
      const basic = `${encodeURIComponent(this.cfg.client_id)}:${encodeURIComponent(this.secret)}`;
      headers.authorization = `Basic ${Buffer.from(basic).toString('base64')}`;
    } else {
      form.set('client_id', this.cfg.client_id);
    }
    let res: Response;
    try {
      res = await fetch(d.token_endpoint, {
        method: 'POST',
        headers,
        body: form,
        redirect: 'error',
        signal: AbortSignal.timeout(this.timeoutMs),
      });
    } catch {
      throw unavailable('the identity provider token endpoint did not answer');
    }
    if (!res.ok) {
      await res.body?.cancel();
      throw unauthenticated(`the identity provider refused the code (HTTP ${res.status})`);
    }
    const tokens = (await res.json().catch(() => ({}))) as { id_token?: unknown };
    if (typeof tokens.id_token !== 'string') throw unauthenticated('no ID token was returned');
    let payload;
    try {
      ({ payload } = await jwtVerify(tokens.id_token, this.jwks.getKey, {
        issuer: this.cfg.issuer,
        audience: this.cfg.client_id,
        algorithms: this.cfg.algorithms,
        clockTolerance: this.cfg.clock_skew_s,
        requiredClaims: ['exp', 'sub', 'nonce'],
      }));
    } catch (e) {
      if (e instanceof CallguardError) throw e;
      if (e instanceof errors.JOSEError) throw unauthenticated('the ID token is not valid');
      throw e;
    }
    if (payload.nonce !== nonce) throw unauthenticated('the ID token nonce does not match');
    const principal = principalFromClaims(payload, this.cfg, 'oidc');
    if (!principal) throw unauthenticated('the ID token has no subject');
    return { principal, exp: payload.exp as number };
  }
}
