// Who is calling: one Principal from the first credential present, in this order —
//   1. the payload Envoy's jwt_authn filter verified (dynamic metadata), when trusted;
//   2. an `authorization: Bearer` JWT from a configured OIDC issuer;
//   3. a signed SAML assertion in the configured header;
//   4. the development-only groups header, when configured.
// A credential that is present but does not verify is a refusal (401), never a fall-through
// to a weaker source or to anonymous. No credential at all is the anonymous principal; the
// route decides whether that is enough.

import { readFileSync } from 'node:fs';
import { CallguardError } from '../errors.js';
import { ANONYMOUS } from '../policy/types.js';
import type { Principal } from '../policy/types.js';
import type { IdentityConfig } from '../config/config.js';
import { principalFromClaims } from './claims.js';
import { OidcVerifier } from './oidc.js';
import type { OidcRuntime } from './oidc.js';
import { readIdpMetadata, SamlVerifier } from './saml.js';

export type AuthSource = Exclude<Principal['authMethod'], 'anonymous'>;

export const JWT_AUTHN_NAMESPACE = 'envoy.filters.http.jwt_authn';

export interface IdentityInput {
  /** Lower-case header names. */
  headers: ReadonlyMap<string, string>;
  /** Dynamic metadata Envoy forwarded, as plain objects by namespace. */
  metadata?: Record<string, Record<string, unknown>>;
}

export class Identifier {
  private readonly oidc: OidcVerifier;
  private readonly saml: SamlVerifier | undefined;

  constructor(
    private readonly config: IdentityConfig,
    private readonly devHeader: string,
    runtime: Partial<OidcRuntime> = {},
  ) {
    this.oidc = new OidcVerifier(config.oidc, {
      timeoutMs: config.fetch_timeout_ms,
      minRefreshMs: config.jwks_min_refresh_ms,
      maxAgeMs: config.jwks_max_age_ms,
      ...runtime,
    });
    if (config.saml) {
      const meta = readIdpMetadata(readFileSync(config.saml.idp_metadata, 'utf8'));
      this.saml = new SamlVerifier(
        {
          certs: meta.certs,
          issuer: meta.entityId,
          audience: config.saml.audience,
          clockSkewSeconds: config.saml.clock_skew_s,
          groupsAttribute: config.saml.groups_attribute,
          ...(config.saml.email_attribute ? { emailAttribute: config.saml.email_attribute } : {}),
          ...(config.saml.name_attribute ? { nameAttribute: config.saml.name_attribute } : {}),
        },
        runtime.now,
      );
    }
  }

  /** Headers that carry credentials only callguard reads: removed before the upstream. */
  get credentialHeaders(): string[] {
    const out: string[] = [];
    if (this.config.saml) out.push(this.config.saml.header);
    if (this.devHeader) out.push(this.devHeader, `${this.devHeader}-user`);
    return out;
  }

  async identify(input: IdentityInput): Promise<Principal> {
    const jwtAuthn = this.config.envoy_jwt_authn;
    if (jwtAuthn) {
      const payload = input.metadata?.[JWT_AUTHN_NAMESPACE]?.[jwtAuthn.metadata_key];
      if (payload !== undefined) {
        if (typeof payload !== 'object' || payload === null) {
          throw new CallguardError('unauthenticated', 'jwt_authn payload is not an object', {
            rule: 'identity.envoy_jwt_authn',
          });
        }
        const claims = payload as Record<string, unknown>;
        if (jwtAuthn.issuers && !jwtAuthn.issuers.includes(String(claims.iss))) {
          throw new CallguardError('unauthenticated', 'token issuer is not trusted', {
            rule: 'identity.envoy_jwt_authn.iss',
          });
        }
        const p = principalFromClaims(claims, jwtAuthn, 'jwt_authn');
        if (!p) {
          throw new CallguardError('unauthenticated', 'token has no subject', {
            rule: 'identity.envoy_jwt_authn',
          });
        }
        return p;
      }
    }

    const authz = input.headers.get('authorization');
    if (authz !== undefined && this.oidc.size > 0) {
      const m = /^Bearer\s+(.*)$/is.exec(authz.trim());
      if (m) return this.oidc.verify((m[1] as string).trim());
    }

    if (this.saml && this.config.saml) {
      const assertion = input.headers.get(this.config.saml.header);
      if (assertion !== undefined) return this.saml.verify(assertion);
    }

    if (this.devHeader) {
      const groups = input.headers.get(this.devHeader);
      if (groups !== undefined) {
        return {
          subject: input.headers.get(`${this.devHeader}-user`) ?? 'dev-user',
          groups: groups
            .split(',')
            .map((g) => g.trim())
            .filter((g) => g !== ''),
          authMethod: 'dev-header',
        };
      }
    }
    return ANONYMOUS;
  }
}
