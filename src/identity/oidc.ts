// OIDC bearer tokens (JWT access or ID tokens), verified with jose against the issuer's
// keys from discovery (or a configured jwks_uri). Issuer, audience, exp/nbf with skew and
// an algorithm allow-list are enforced; `alg: none` and HMAC algorithms are never
// accepted (an RSA/EC public key must not double as an HMAC secret). Opaque (non-JWT)
// tokens are verified by RFC 7662 introspection at an issuer configured for it, with the
// same audience and time checks, and cached for a short while.

import { createHash } from 'node:crypto';
import { decodeJwt, errors, jwtVerify } from 'jose';
import type { OidcIssuerConfig } from '../config/config.js';
import { prefixedSource, readSecret } from '../config/secret.js';
import { CallguardError } from '../errors.js';
import type { Principal } from '../policy/types.js';
import { principalFromClaims } from './claims.js';
import { fetchJson, JwksCache } from './jwks.js';
import type { Fetcher } from './jwks.js';

export const ASYMMETRIC_ALGORITHMS = [
  'RS256',
  'RS384',
  'RS512',
  'PS256',
  'PS384',
  'PS512',
  'ES256',
  'ES384',
  'ES512',
  'EdDSA',
] as const;

export type { OidcIssuerConfig } from '../config/config.js';

/** Most introspection answers kept; the oldest go first. */
const INTROSPECTION_CACHE_MAX = 10_000;

export interface OidcRuntime {
  timeoutMs: number;
  minRefreshMs: number;
  maxAgeMs: number;
  now?: () => number;
  fetcher?: Fetcher;
}

const unauthenticated = (message: string, rule = 'identity.oidc') =>
  new CallguardError('unauthenticated', message, { rule });

export class OidcIssuer {
  readonly jwks: JwksCache;
  private discoveryDoc: Promise<Record<string, unknown>> | undefined;
  private readonly introspected = new Map<string, { principal: Principal; until: number }>();
  private readonly clientAuth: string | undefined;

  constructor(
    readonly config: OidcIssuerConfig,
    private readonly rt: OidcRuntime,
  ) {
    this.jwks = new JwksCache(() => this.resolveJwksUri(), rt);
    const i = config.introspection;
    if (i) {
      const secret =
        readSecret(prefixedSource(i, 'client_'), `identity.oidc ${config.issuer} introspection`) ??
        '';
      // RFC 6749 §2.3.1: both parts form-encoded before base64.
      this.clientAuth = `Basic ${Buffer.from(`${encodeURIComponent(i.client_id)}:${encodeURIComponent(secret)}`).toString('base64')}`;
    }
  }

  /** An opaque token, checked by the issuer's introspection endpoint (RFC 7662). */
  async introspect(token: string): Promise<Principal> {
    const cfg = this.config.introspection;
    if (!cfg || !this.clientAuth)
      throw unauthenticated('opaque tokens are not accepted', 'identity.oidc.format');
    const now = (this.rt.now ?? Date.now)();
    const key = createHash('sha256').update(token).digest('base64url');
    const hit = this.introspected.get(key);
    if (hit && hit.until > now) return hit.principal;
    this.introspected.delete(key);

    const endpoint = cfg.endpoint ?? (await this.discovery()).introspection_endpoint;
    if (typeof endpoint !== 'string') throw invalidDiscovery();
    let answer: Record<string, unknown>;
    try {
      const res = await fetch(endpoint, {
        method: 'POST',
        headers: {
          authorization: this.clientAuth,
          'content-type': 'application/x-www-form-urlencoded',
          accept: 'application/json',
        },
        body: new URLSearchParams({ token, token_type_hint: 'access_token' }),
        signal: AbortSignal.timeout(this.rt.timeoutMs),
        redirect: 'error',
      });
      // A refusal of callguard's own client is a misconfiguration: fail closed, as unavailable.
      if (!res.ok) throw new Error(`HTTP ${res.status}`);
      answer = (await res.json()) as Record<string, unknown>;
    } catch {
      throw new CallguardError('identity_unavailable', 'token introspection is unavailable', {
        rule: 'identity.oidc.introspection',
      });
    }
    if (answer?.active !== true)
      throw unauthenticated('token is not active', 'identity.oidc.introspection');
    if (answer.iss !== undefined && answer.iss !== this.config.issuer) {
      throw unauthenticated('token claim "iss" is not valid', 'identity.oidc.iss');
    }
    const aud =
      typeof answer.aud === 'string' ? [answer.aud] : Array.isArray(answer.aud) ? answer.aud : [];
    if (!aud.some((a) => this.config.audiences.includes(a as string))) {
      throw unauthenticated('token claim "aud" is not valid', 'identity.oidc.aud');
    }
    const skew = this.config.clock_skew_s * 1000;
    const exp = typeof answer.exp === 'number' ? answer.exp * 1000 : undefined;
    if (exp !== undefined && exp + skew <= now)
      throw unauthenticated('token has expired', 'identity.oidc.exp');
    if (typeof answer.nbf === 'number' && answer.nbf * 1000 - skew > now) {
      throw unauthenticated('token claim "nbf" is not valid', 'identity.oidc.nbf');
    }
    // A client-credentials token has no user: its client is the subject (as in its JWT form).
    const claims = { ...answer, sub: answer.sub ?? answer.client_id, iss: this.config.issuer };
    const p = principalFromClaims(claims, this.config, 'oidc');
    if (!p) throw unauthenticated('token has no subject');
    if (this.introspected.size >= INTROSPECTION_CACHE_MAX) {
      const oldest = this.introspected.keys().next().value;
      if (oldest !== undefined) this.introspected.delete(oldest);
    }
    this.introspected.set(key, {
      principal: p,
      until: Math.min(now + cfg.cache_ms, exp ?? Infinity),
    });
    return p;
  }

  /** jwks_uri from configuration, else from discovery. */
  private async resolveJwksUri(): Promise<string> {
    if (this.config.jwks_uri) return this.config.jwks_uri;
    const d = await this.discovery();
    if (typeof d.jwks_uri !== 'string') throw invalidDiscovery();
    return d.jwks_uri;
  }

  /** The discovery document (cached once it succeeds; tried again after a failure). */
  private discovery(): Promise<Record<string, unknown>> {
    this.discoveryDoc ??= (async () => {
      const url = `${this.config.issuer.replace(/\/$/, '')}/.well-known/openid-configuration`;
      let doc: unknown;
      try {
        doc = await (this.rt.fetcher ?? fetchJson)(url, this.rt.timeoutMs);
      } catch {
        throw new CallguardError(
          'identity_unavailable',
          'identity provider discovery is unavailable',
          {
            rule: 'identity.oidc.discovery',
          },
        );
      }
      // OIDC Discovery §4.3: the document's issuer must be the issuer we trust.
      const d = doc as Record<string, unknown> | null;
      if (typeof d !== 'object' || d === null || d.issuer !== this.config.issuer)
        throw invalidDiscovery();
      return d;
    })().catch((e: unknown) => {
      this.discoveryDoc = undefined;
      throw e;
    });
    return this.discoveryDoc;
  }

  async verify(token: string): Promise<Principal> {
    let payload;
    try {
      ({ payload } = await jwtVerify(token, this.jwks.getKey, {
        issuer: this.config.issuer,
        audience: this.config.audiences,
        algorithms: this.config.algorithms,
        clockTolerance: this.config.clock_skew_s,
        currentDate: this.rt.now ? new Date(this.rt.now()) : undefined,
        requiredClaims: ['exp', 'sub'],
      }));
    } catch (e) {
      throw mapJoseError(e);
    }
    const p = principalFromClaims(payload, this.config, 'oidc');
    if (!p) throw unauthenticated('token has no subject');
    return p;
  }
}

function invalidDiscovery(): CallguardError {
  return new CallguardError(
    'identity_unavailable',
    'identity provider discovery document is not valid',
    {
      rule: 'identity.oidc.discovery',
    },
  );
}

function mapJoseError(e: unknown): CallguardError {
  if (e instanceof CallguardError) return e;
  if (e instanceof errors.JWTExpired)
    return unauthenticated('token has expired', 'identity.oidc.exp');
  if (e instanceof errors.JWTClaimValidationFailed) {
    return unauthenticated(`token claim "${e.claim}" is not valid`, `identity.oidc.${e.claim}`);
  }
  if (e instanceof errors.JOSEAlgNotAllowed)
    return unauthenticated('token algorithm is not allowed', 'identity.oidc.alg');
  if (e instanceof errors.JWSSignatureVerificationFailed) {
    return unauthenticated('token signature is not valid', 'identity.oidc.signature');
  }
  if (e instanceof errors.JWKSNoMatchingKey || e instanceof errors.JWKSMultipleMatchingKeys) {
    return unauthenticated('token is signed with an unknown key', 'identity.oidc.kid');
  }
  return unauthenticated('token is not a valid JWT');
}

/** The set of trusted issuers; a token is routed to its issuer by its (unverified) `iss`. */
export class OidcVerifier {
  private readonly byIssuer: Map<string, OidcIssuer>;

  /** The (first) issuer configured to introspect opaque tokens. */
  private readonly introspector: OidcIssuer | undefined;

  constructor(configs: OidcIssuerConfig[], rt: OidcRuntime) {
    this.byIssuer = new Map(configs.map((c) => [c.issuer, new OidcIssuer(c, rt)]));
    this.introspector = [...this.byIssuer.values()].find((i) => i.config.introspection);
  }

  get size(): number {
    return this.byIssuer.size;
  }

  async verify(token: string): Promise<Principal> {
    let iss: unknown;
    try {
      iss = decodeJwt(token).iss;
    } catch {
      // An opaque token: the issuer configured for introspection answers for it.
      if (this.introspector) return this.introspector.introspect(token);
      throw unauthenticated(
        'bearer token is not a JWT; opaque tokens are not accepted',
        'identity.oidc.format',
      );
    }
    const issuer = typeof iss === 'string' ? this.byIssuer.get(iss) : undefined;
    if (!issuer) throw unauthenticated('token issuer is not trusted', 'identity.oidc.iss');
    return issuer.verify(token);
  }
}
