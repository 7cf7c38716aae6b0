// Runtime configuration: callguard.yaml, validated with ajv, then overridden by
// environment variables, then by command-line flags (most specific wins).

import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { Ajv2020 } from 'ajv/dist/2020.js';
import { parse } from 'yaml';
import { ASYMMETRIC_ALGORITHMS } from '../identity/oidc.js';
import type { OidcIssuerConfig } from '../identity/oidc.js';

export interface Config {
  grpc_addr: string;
  admin_addr: string;
  /** Policy files or directories, resolved against the config file's directory. */
  policies: string[];
  limits: {
    /** Largest body callguard inspects (after decoding); larger → 413. */
    max_body_bytes: number;
    /** Deepest JSON nesting accepted; deeper → 400 too_deep. */
    max_depth: number;
  };
  log: { level: 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent' };
  /** How long a shutdown waits for open streams before cutting them. */
  shutdown_grace_ms: number;
  /** Hot reload of the policy files (SIGHUP always reloads). */
  policy_reload: {
    /** Watch the policy directories and reload on change. */
    watch: boolean;
    /** Quiet time after the last change before reloading. */
    debounce_ms: number;
  };
  dev: {
    /**
     * DEVELOPMENT ONLY. A request header whose comma-separated value is trusted as the
     * caller's groups (and `<header>-user` as the subject). Anyone who can reach Envoy can
     * set it, so it is off (empty) by default and must never be set in production.
     */
    groups_header: string;
  };
  identity: IdentityConfig;
}

/** Where callguard learns who the caller is (see README "Identity"). */
export interface IdentityConfig {
  oidc: OidcIssuerConfig[];
  envoy_jwt_authn?: {
    /** `payload_in_metadata` of Envoy's jwt_authn provider(s). */
    metadata_key: string;
    /** If set, only payloads from these issuers are trusted. */
    issuers?: string[];
    groups_claim: string;
    email_claim: string;
    name_claim: string;
  };
  saml?: {
    header: string;
    /** IdP metadata XML file (entityID and signing certificates). */
    idp_metadata: string;
    audience: string;
    clock_skew_s: number;
    groups_attribute: string;
    email_attribute?: string;
    name_attribute?: string;
  };
  /** Timeout for discovery and JWKS fetches; keep under Envoy's message_timeout. */
  fetch_timeout_ms: number;
  /** Least time between two JWKS fetches caused by an unknown kid. */
  jwks_min_refresh_ms: number;
  /** JWKS older than this is refreshed (kept if the refresh fails). */
  jwks_max_age_ms: number;
}

export const DEFAULT_CONFIG: Config = {
  grpc_addr: '127.0.0.1:50051',
  admin_addr: '127.0.0.1:9090',
  policies: ['policies'],
  limits: { max_body_bytes: 1024 * 1024, max_depth: 64 },
  log: { level: 'info' },
  shutdown_grace_ms: 10_000,
  policy_reload: { watch: true, debounce_ms: 200 },
  dev: { groups_header: '' },
  identity: {
    oidc: [],
    fetch_timeout_ms: 1500,
    jwks_min_refresh_ms: 30_000,
    jwks_max_age_ms: 600_000,
  },
};

const claimPath = { type: 'string', minLength: 1 };
const OIDC_ISSUER_SCHEMA = {
  type: 'object',
  additionalProperties: false,
  required: ['issuer', 'audiences'],
  properties: {
    issuer: { type: 'string', pattern: '^https?://' },
    audiences: { type: 'array', items: { type: 'string', minLength: 1 }, minItems: 1 },
    jwks_uri: { type: 'string', pattern: '^https?://' },
    algorithms: {
      type: 'array',
      items: { enum: [...ASYMMETRIC_ALGORITHMS] },
      minItems: 1,
      default: ['RS256', 'ES256'],
    },
    clock_skew_s: { type: 'integer', minimum: 0, maximum: 300, default: 30 },
    groups_claim: { ...claimPath, default: 'groups' },
    email_claim: { ...claimPath, default: 'email' },
    name_claim: { ...claimPath, default: 'name' },
  },
} as const;

const addr = { type: 'string', pattern: '^[^\\s:]+:\\d{1,5}$' };
const CONFIG_SCHEMA = {
  type: 'object',
  additionalProperties: false,
  properties: {
    grpc_addr: addr,
    admin_addr: addr,
    policies: { type: 'array', items: { type: 'string', minLength: 1 }, minItems: 1 },
    limits: {
      type: 'object',
      additionalProperties: false,
      properties: {
        max_body_bytes: { type: 'integer', minimum: 1, maximum: 64 * 1024 * 1024 },
        max_depth: { type: 'integer', minimum: 1, maximum: 1000 },
      },
    },
    log: {
      type: 'object',
      additionalProperties: false,
      properties: {
        level: { enum: ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] },
      },
    },
    shutdown_grace_ms: { type: 'integer', minimum: 0 },
    policy_reload: {
      type: 'object',
      additionalProperties: false,
      properties: {
        watch: { type: 'boolean' },
        debounce_ms: { type: 'integer', minimum: 0, maximum: 60_000 },
      },
    },
    dev: {
      type: 'object',
      additionalProperties: false,
      properties: { groups_header: { type: 'string', pattern: '^[a-z0-9-]*$' } },
    },
    identity: {
      type: 'object',
      additionalProperties: false,
      properties: {
        oidc: { type: 'array', items: OIDC_ISSUER_SCHEMA, default: [] },
        envoy_jwt_authn: {
          type: 'object',
          additionalProperties: false,
          properties: {
            metadata_key: { type: 'string', minLength: 1, default: 'jwt_payload' },
            issuers: { type: 'array', items: { type: 'string' } },
            groups_claim: { ...claimPath, default: 'groups' },
            email_claim: { ...claimPath, default: 'email' },
            name_claim: { ...claimPath, default: 'name' },
          },
        },
        saml: {
          type: 'object',
          additionalProperties: false,
          required: ['header', 'idp_metadata', 'audience'],
          properties: {
            header: { type: 'string', pattern: '^[a-z0-9-]+$' },
            idp_metadata: { type: 'string', minLength: 1 },
            audience: { type: 'string', minLength: 1 },
            clock_skew_s: { type: 'integer', minimum: 0, maximum: 300, default: 60 },
            groups_attribute: { type: 'string', minLength: 1, default: 'groups' },
            email_attribute: { type: 'string' },
            name_attribute: { type: 'string' },
          },
        },
        fetch_timeout_ms: { type: 'integer', minimum: 50, maximum: 30_000, default: 1500 },
        jwks_min_refresh_ms: { type: 'integer', minimum: 0, default: 30_000 },
        jwks_max_age_ms: { type: 'integer', minimum: 1000, default: 600_000 },
      },
    },
  },
} as const;

const validate = new Ajv2020({ allErrors: false, strict: true, useDefaults: true }).compile(
  CONFIG_SCHEMA,
);

export class ConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ConfigError';
  }
}

export interface Overrides {
  grpc_addr?: string | undefined;
  admin_addr?: string | undefined;
  policies?: string[] | undefined;
  log_level?: string | undefined;
}

/** Environment variables that override the file (documented in the README). */
export function envOverrides(env: NodeJS.ProcessEnv): Overrides {
  return {
    grpc_addr: env.CALLGUARD_GRPC_ADDR,
    admin_addr: env.CALLGUARD_ADMIN_ADDR,
    policies: env.CALLGUARD_POLICIES ? env.CALLGUARD_POLICIES.split(',') : undefined,
    log_level: env.CALLGUARD_LOG_LEVEL,
  };
}

/** Load `file` (absent file → defaults only if `optional`), then apply overrides in order. */
export function loadConfig(
  file: string,
  overrides: Overrides[],
  opts: { optional?: boolean } = {},
): Config {
  let raw: unknown = {};
  let base = process.cwd();
  try {
    raw = parse(readFileSync(file, 'utf8')) ?? {};
    base = dirname(resolve(file));
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (!(opts.optional && code === 'ENOENT')) {
      throw new ConfigError(`${file}: ${code ? `cannot read (${code})` : (e as Error).message}`);
    }
  }
  // A copy: ajv's useDefaults fills objects in place.
  const merged = {
    ...structuredClone(DEFAULT_CONFIG),
    ...(raw as object),
  } as Config;
  // Paths in the file are relative to the file; paths from env or flags to the cwd.
  if (Array.isArray(merged.policies))
    merged.policies = merged.policies.map((p) => resolve(base, p));
  for (const o of overrides) {
    if (o.grpc_addr) merged.grpc_addr = o.grpc_addr;
    if (o.admin_addr) merged.admin_addr = o.admin_addr;
    if (o.policies) merged.policies = o.policies.map((p) => resolve(p));
    if (o.log_level) merged.log = { ...merged.log, level: o.log_level as Config['log']['level'] };
  }
  if (!validate(merged)) {
    const e = validate.errors?.[0];
    throw new ConfigError(`${file}: ${e?.instancePath || '/'} ${e?.message ?? 'invalid'}`);
  }
  return {
    ...merged,
    limits: { ...DEFAULT_CONFIG.limits, ...merged.limits },
    log: { ...DEFAULT_CONFIG.log, ...merged.log },
    policy_reload: { ...DEFAULT_CONFIG.policy_reload, ...merged.policy_reload },
    dev: { ...DEFAULT_CONFIG.dev, ...merged.dev },
    identity: resolveIdentityPaths({ ...DEFAULT_CONFIG.identity, ...merged.identity }, base),
  };
}

function resolveIdentityPaths(id: IdentityConfig, base: string): IdentityConfig {
  return id.saml
    ? { ...id, saml: { ...id.saml, idp_metadata: resolve(base, id.saml.idp_metadata) } }
    : id;
}
