// OIDC bearer tokens (JWT access or ID tokens), verified with jose against the issuer's
// keys from discovery (or a configured jwks_uri). Issuer, audience, exp/nbf with skew and
// an algorithm allow-list are enforced; `alg: none` and HMAC algorithms are never
// accepted (an RSA/EC public key must not double as an HMAC secret).

import { decodeJwt, errors, jwtVerify } from 'jose';
import { CallguardError } from '../errors.js';
import type { Principal } from '../policy/types.js';
import { principalFromClaims } from './claims.js';
import type { ClaimMapping } from './claims.js';
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

export interface OidcIssuerConfig extends ClaimMapping {
  issuer: string;
  audiences: string[];
  jwks_uri?: string;
  algorithms: string[];
  clock_skew_s: number;
}

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
  private jwksUri: Promise<string> | undefined;

  constructor(
    readonly config: OidcIssuerConfig,
    private readonly rt: OidcRuntime,
  ) {
    this.jwks = new JwksCache(() => this.resolveJwksUri(), rt);
  }

  /** jwks_uri from configuration, else from discovery (cached once it succeeds). */
  private resolveJwksUri(): Promise<string> {
    if (this.config.jwks_uri) return Promise.resolve(this.config.jwks_uri);
    this.jwksUri ??= (async () => {
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
      const d = doc as { issuer?: unknown; jwks_uri?: unknown };
      // OIDC Discovery §4.3: the document's issuer must be the issuer we trust.
      if (d.issuer !== this.config.issuer || typeof d.jwks_uri !== 'string') {
        throw new CallguardError(
          'identity_unavailable',
          'identity provider discovery document is not valid',
          {
            rule: 'identity.oidc.discovery',
          },
        );
      }
      return d.jwks_uri;
    })().catch((e: unknown) => {
      this.jwksUri = undefined; // try discovery again next time
      throw e;
    });
    return this.jwksUri;
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

  constructor(configs: OidcIssuerConfig[], rt: OidcRuntime) {
    this.byIssuer = new Map(configs.map((c) => [c.issuer, new OidcIssuer(c, rt)]));
  }

  get size(): number {
    return this.byIssuer.size;
  }

  async verify(token: string): Promise<Principal> {
    let iss: unknown;
    try {
      iss = decodeJwt(token).iss;
    } catch {
      // Opaque (non-JWT) tokens would need introspection/userinfo, which is not configured.
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
