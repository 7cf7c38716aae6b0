// Runtime configuration: callguard.yaml, validated with ajv, then overridden by
// environment variables, then by command-line flags (most specific wins).

import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { Ajv2020 } from 'ajv/dist/2020.js';
import { parse } from 'yaml';
import { ASYMMETRIC_ALGORITHMS } from '../identity/oidc.js';
import { ConfigError, readSecret } from './secret.js';
import { refusedHeader } from '../policy/headers.js';

export { ConfigError, readSecret } from './secret.js';
export type { SecretSource } from './secret.js';
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
    /** Longest request target (`:path` with its query) read on a protected route; longer → 400 malformed_url. */
    max_url_bytes: number;
    /** Longest value of an inspected header (inspect_headers); longer → 431 header_too_large. */
    max_header_bytes: number;
  };
  /**
   * Request and response headers whose values the detectors read on every protected route,
   * beside each route's own `inspect_headers`. Credentials headers are refused.
   */
  inspect_headers: string[];
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
  audit: AuditConfig;
  admin: AdminConfig;
  /** Keys for the tokenize action and detokenize routes; the first makes new tokens. */
  tokenize: { keys: TokenKeyConfig[] };
  approvals: ApprovalsConfig;
  /** Refusing early what callguard cannot do in time (docs/operations.md, "Under load"). */
  admission: AdmissionConfig;
}

/** Admission control (src/extproc/admission-control.ts, docs/operations.md "Under load"). */
export interface AdmissionConfig {
  enabled: boolean;
  /** Share of the event loop's time admitted work may fill (0..1) before calls are refused. */
  target_utilization: number;
  /** Longest the event loop may work without a pause before each new call is refused. */
  max_busy_ms: number;
  /** How often the admission rate is updated. */
  interval_ms: number;
  /** The `retry-after` of a refusal, in seconds. */
  retry_after_s: number;
  /**
   * Each refusal becomes a session record (decision `overloaded`); off, a stream is refused
   * as it opens, at about half the cost, and refusals are only counted and logged.
   */
  record_refusals: boolean;
}

/** Just-in-time approvals (docs/approvals.md). */
export interface ApprovalsConfig {
  /** Elasticsearch holding the tickets ('' = the audit's, if any; none: a held call gets 503). */
  elasticsearch_url: string;
  index: string;
  /** The admin server's URL as callers and reviewers reach it (status and review links). */
  public_url: string;
  /** Longest a request waits in line; keep below Envoy's max_message_timeout. */
  max_wait_ms: number;
  /** How often expired tickets are recorded as such (expiry also applies on every read). */
  sweep_ms: number;
  webhook?: {
    url: string;
    secret_env?: string;
    secret_file?: string;
    timeout_ms: number;
    retries: number;
  };
}

export interface TokenKeyConfig {
  id: string;
  /** Environment variable holding the base64 secret (≥ 32 bytes decoded). */
  secret_env?: string;
  /** File holding the base64 secret. */
  secret_file?: string;
}

/** The session audit (docs/audit.md). */
export interface AuditConfig {
  elasticsearch?: {
    url: string;
    /** Indices are `<index_prefix>-YYYY.MM.DD`, alias `<index_prefix>`. */
    index_prefix: string;
    request_timeout_ms: number;
  };
  /** HMAC-SHA-256 keys for value fingerprints; `current` signs new records. */
  fingerprint: { current?: string; keys: FingerprintKeyConfig[] };
  spool: {
    dir: string;
    fsync: 'always' | 'interval' | 'never';
    fsync_interval_ms: number;
    segment_bytes: number;
    max_bytes: number;
    /** What happens when the spool is full: refuse new calls (503) or drop records. */
    on_full: 'refuse' | 'drop';
  };
  /** Where documents Elasticsearch rejects go (default: `<spool.dir>/dead-letter.ndjson`). */
  dead_letter_file: string;
  bulk_max_docs: number;
  flush_interval_ms: number;
  /** Bodies are kept up to this many bytes (as forwarded, masked), then truncated. */
  max_body_bytes: number;
}

export interface FingerprintKeyConfig {
  id: string;
  /** Exactly one of these. `secret` inline is for development and tests. */
  secret?: string;
  secret_env?: string;
  secret_file?: string;
}

export interface AdminConfig {
  /** Groups whose members may read session records through the admin API. */
  auditor_groups: string[];
  /** Identity sources the admin API accepts (dev-header is for the local stack only). */
  auth_sources: ('oidc' | 'saml' | 'dev-header')[];
  /** The web page's sign-in (docs/ui.md); without it the page offers no sign-in. */
  ui?: AdminUiConfig;
}

/** Sign-in to the admin web page: OIDC authorization code with PKCE (docs/ui.md). */
export interface AdminUiConfig {
  oidc: {
    issuer: string;
    client_id: string;
    /** Confidential clients: exactly one of these (inline only for development and tests). */
    client_secret?: string;
    client_secret_env?: string;
    /** Default: http://<admin_addr>/ui/callback. Its origin is the page's origin. */
    redirect_uri: string;
    scopes: string[];
    groups_claim: string;
    email_claim: string;
    name_claim: string;
    algorithms: string[];
    clock_skew_s: number;
  };
  /** Lifetime of a page session (server side; the cookie carries only a random id). */
  session_ttl_s: number;
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
  limits: {
    max_body_bytes: 1024 * 1024,
    max_depth: 64,
    max_url_bytes: 8192,
    max_header_bytes: 8192,
  },
  inspect_headers: [],
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
  audit: {
    fingerprint: { keys: [] },
    spool: {
      dir: 'spool',
      fsync: 'interval',
      fsync_interval_ms: 200,
      segment_bytes: 8 * 1024 * 1024,
      max_bytes: 1024 * 1024 * 1024,
      on_full: 'refuse',
    },
    dead_letter_file: '',
    bulk_max_docs: 500,
    flush_interval_ms: 250,
    max_body_bytes: 64 * 1024,
  },
  admin: { auditor_groups: [], auth_sources: ['oidc', 'saml'] },
  tokenize: { keys: [] },
  approvals: {
    elasticsearch_url: '',
    index: 'callguard-approvals',
    public_url: 'http://127.0.0.1:9090',
    max_wait_ms: 20_000,
    sweep_ms: 30_000,
  },
  admission: {
    enabled: true,
    target_utilization: 0.85,
    max_busy_ms: 50,
    interval_ms: 100,
    retry_after_s: 1,
    record_refusals: false,
  },
};

const claimPath = { type: 'string', minLength: 1 };
/** How a token from an OIDC issuer is checked and read: data path and admin page alike. */
const TOKEN_CHECKS = {
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
} as const;
/**
 * Where a secret comes from: the one fragment every secret-taking object spreads, with one
 * rule for the variable's name (a POSIX shell's: upper case, digits, `_`), so a name that
 * no shell can export is refused at load wherever it is written.
 */
const ENV_NAME = { type: 'string', pattern: '^[A-Z_][A-Z0-9_]*$' } as const;
const SECRET_FILE = { type: 'string', minLength: 1 } as const;
const SECRET_SOURCE = { secret_env: ENV_NAME, secret_file: SECRET_FILE } as const;
const CLIENT_SECRET_SOURCE = {
  client_secret_env: ENV_NAME,
  client_secret_file: SECRET_FILE,
} as const;

const OIDC_ISSUER_SCHEMA = {
  type: 'object',
  additionalProperties: false,
  required: ['issuer', 'audiences'],
  properties: {
    issuer: { type: 'string', pattern: '^https?://' },
    audiences: { type: 'array', items: { type: 'string', minLength: 1 }, minItems: 1 },
    jwks_uri: { type: 'string', pattern: '^https?://' },
    ...TOKEN_CHECKS,
    introspection: {
      type: 'object',
      additionalProperties: false,
      required: ['client_id'],
      properties: {
        client_id: { type: 'string', minLength: 1 },
        ...CLIENT_SECRET_SOURCE,
        endpoint: { type: 'string', pattern: '^https?://' },
        cache_ms: { type: 'integer', minimum: 0, maximum: 3_600_000, default: 60_000 },
      },
    },
  },
} as const;

const addr = { type: 'string', pattern: '^[^\\s:]+:\\d{1,5}$' };
export const CONFIG_SCHEMA = {
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
        max_url_bytes: { type: 'integer', minimum: 1, maximum: 1024 * 1024 },
        max_header_bytes: { type: 'integer', minimum: 1, maximum: 1024 * 1024 },
      },
    },
    inspect_headers: {
      type: 'array',
      items: { type: 'string', pattern: "^[a-z0-9!#$%&'*+.^_`|~-]+$" },
      uniqueItems: true,
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
    audit: {
      type: 'object',
      additionalProperties: false,
      properties: {
        elasticsearch: {
          type: 'object',
          additionalProperties: false,
          required: ['url'],
          properties: {
            url: { type: 'string', pattern: '^https?://' },
            index_prefix: {
              type: 'string',
              pattern: '^[a-z0-9][a-z0-9_.-]*$',
              default: 'callguard-sessions',
            },
            request_timeout_ms: { type: 'integer', minimum: 100, default: 10_000 },
          },
        },
        fingerprint: {
          type: 'object',
          additionalProperties: false,
          properties: {
            current: { type: 'string', minLength: 1 },
            keys: {
              type: 'array',
              items: {
                type: 'object',
                additionalProperties: false,
                required: ['id'],
                properties: {
                  id: { type: 'string', pattern: '^[A-Za-z0-9_-]{1,32}$' },
                  secret: { type: 'string', minLength: 16 },
                  ...SECRET_SOURCE,
                },
              },
              default: [],
            },
          },
        },
        spool: {
          type: 'object',
          additionalProperties: false,
          properties: {
            dir: { type: 'string', minLength: 1 },
            fsync: { enum: ['always', 'interval', 'never'] },
            fsync_interval_ms: { type: 'integer', minimum: 1 },
            segment_bytes: { type: 'integer', minimum: 4096 },
            max_bytes: { type: 'integer', minimum: 65536 },
            on_full: { enum: ['refuse', 'drop'] },
          },
        },
        dead_letter_file: { type: 'string' },
        bulk_max_docs: { type: 'integer', minimum: 1, maximum: 10_000 },
        flush_interval_ms: { type: 'integer', minimum: 10 },
        max_body_bytes: { type: 'integer', minimum: 0, maximum: 16 * 1024 * 1024 },
      },
    },
    admin: {
      type: 'object',
      additionalProperties: false,
      properties: {
        auditor_groups: { type: 'array', items: { type: 'string', minLength: 1 } },
        auth_sources: {
          type: 'array',
          items: { enum: ['oidc', 'saml', 'dev-header'] },
          minItems: 1,
        },
        ui: {
          type: 'object',
          additionalProperties: false,
          required: ['oidc'],
          properties: {
            oidc: {
              type: 'object',
              additionalProperties: false,
              required: ['issuer', 'client_id'],
              properties: {
                issuer: { type: 'string', pattern: '^https?://' },
                client_id: { type: 'string', minLength: 1 },
                client_secret: { type: 'string', minLength: 1 },
                client_secret_env: ENV_NAME,
                redirect_uri: { type: 'string', pattern: '^https?://[^/]+/ui/callback$' },
                scopes: {
                  type: 'array',
                  items: { type: 'string', pattern: '^[A-Za-z0-9_.:/-]+$' },
                  default: ['openid', 'email', 'profile', 'groups'],
                },
                ...TOKEN_CHECKS,
              },
            },
            session_ttl_s: { type: 'integer', minimum: 60, maximum: 86_400, default: 3600 },
          },
        },
      },
    },
    approvals: {
      type: 'object',
      additionalProperties: false,
      properties: {
        elasticsearch_url: { type: 'string' },
        index: { type: 'string', pattern: '^[a-z0-9][a-z0-9._-]*$' },
        public_url: { type: 'string', minLength: 1 },
        max_wait_ms: { type: 'integer', minimum: 0, maximum: 300_000 },
        sweep_ms: { type: 'integer', minimum: 100 },
        webhook: {
          type: 'object',
          additionalProperties: false,
          required: ['url'],
          properties: {
            url: { type: 'string', pattern: '^https?://' },
            ...SECRET_SOURCE,
            timeout_ms: { type: 'integer', minimum: 100, default: 5000 },
            retries: { type: 'integer', minimum: 0, maximum: 10, default: 3 },
          },
        },
      },
    },
    admission: {
      type: 'object',
      additionalProperties: false,
      properties: {
        enabled: { type: 'boolean' },
        target_utilization: { type: 'number', minimum: 0.1, maximum: 1 },
        max_busy_ms: { type: 'integer', minimum: 1, maximum: 10_000 },
        interval_ms: { type: 'integer', minimum: 10, maximum: 10_000 },
        retry_after_s: { type: 'integer', minimum: 0, maximum: 3600 },
        record_refusals: { type: 'boolean' },
      },
    },
    tokenize: {
      type: 'object',
      additionalProperties: false,
      properties: {
        keys: {
          type: 'array',
          items: {
            type: 'object',
            additionalProperties: false,
            required: ['id'],
            properties: {
              id: { type: 'string', pattern: '^[a-z0-9]{1,8}$' },
              ...SECRET_SOURCE,
            },
          },
          default: [],
        },
      },
    },
  },
} as const;

const validate = new Ajv2020({ allErrors: false, strict: true, useDefaults: true }).compile(
  CONFIG_SCHEMA,
);

export interface Overrides {
  grpc_addr?: string | undefined;
  admin_addr?: string | undefined;
  policies?: string[] | undefined;
  log_level?: string | undefined;
  es_url?: string | undefined;
}

/** Environment variables that override the file (documented in the README). */
export function envOverrides(env: NodeJS.ProcessEnv): Overrides {
  return {
    grpc_addr: env.CALLGUARD_GRPC_ADDR,
    admin_addr: env.CALLGUARD_ADMIN_ADDR,
    policies: env.CALLGUARD_POLICIES ? env.CALLGUARD_POLICIES.split(',') : undefined,
    log_level: env.CALLGUARD_LOG_LEVEL,
    es_url: env.CALLGUARD_ES_URL,
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
  };
  // Paths in the file are relative to the file; paths from env or flags to the cwd.
  if (Array.isArray(merged.policies))
    merged.policies = merged.policies.map((p) => resolve(base, p));
  for (const o of overrides) {
    if (o.grpc_addr) merged.grpc_addr = o.grpc_addr;
    if (o.admin_addr) merged.admin_addr = o.admin_addr;
    if (o.policies) merged.policies = o.policies.map((p) => resolve(p));
    if (o.log_level) merged.log = { ...merged.log, level: o.log_level as Config['log']['level'] };
    if (o.es_url) {
      const audit = (merged.audit ?? {}) as Partial<AuditConfig>;
      merged.audit = {
        ...audit,
        elasticsearch: { ...audit.elasticsearch, url: o.es_url },
      } as AuditConfig;
    }
  }
  if (!validate(merged)) {
    const e = validate.errors?.[0];
    throw new ConfigError(`${file}: ${e?.instancePath || '/'} ${e?.message ?? 'invalid'}`);
  }
  const identity = identityHeaders(merged);
  merged.inspect_headers.forEach((h, i) => {
    const why = refusedHeader(h, identity);
    if (why) throw new ConfigError(`${file}: /inspect_headers/${i}: ${why}`);
  });
  return {
    ...merged,
    limits: { ...DEFAULT_CONFIG.limits, ...merged.limits },
    log: { ...DEFAULT_CONFIG.log, ...merged.log },
    policy_reload: { ...DEFAULT_CONFIG.policy_reload, ...merged.policy_reload },
    dev: { ...DEFAULT_CONFIG.dev, ...merged.dev },
    identity: resolveIdentityPaths({ ...DEFAULT_CONFIG.identity, ...merged.identity }, base),
    audit: resolveAudit(merged.audit, base, file),
    approvals: resolveApprovals(
      { ...DEFAULT_CONFIG.approvals, ...merged.approvals },
      base,
      process.env,
    ),
    admission: { ...DEFAULT_CONFIG.admission, ...merged.admission },
    tokenize: {
      keys: (merged.tokenize?.keys ?? []).map((k) =>
        k.secret_file ? { ...k, secret_file: resolve(base, k.secret_file) } : k,
      ),
    },
    admin: resolveAdmin({ ...DEFAULT_CONFIG.admin, ...merged.admin }, merged.admin_addr, file),
  };
}

function resolveAdmin(a: AdminConfig, adminAddr: string, file: string): AdminConfig {
  const o = a.ui?.oidc;
  if (!a.ui || !o) return a;
  if (o.client_secret !== undefined && o.client_secret_env !== undefined) {
    throw new ConfigError(
      `${file}: /admin/ui/oidc: set at most one of client_secret and client_secret_env`,
    );
  }
  if (!o.scopes.includes('openid')) {
    throw new ConfigError(`${file}: /admin/ui/oidc/scopes must include openid`);
  }
  return {
    ...a,
    ui: {
      ...a.ui,
      oidc: { ...o, redirect_uri: o.redirect_uri || `http://${adminAddr}/ui/callback` },
    },
  };
}

function resolveAudit(a: Partial<AuditConfig>, base: string, file: string): AuditConfig {
  const d = DEFAULT_CONFIG.audit;
  const spool = { ...d.spool, ...a.spool };
  spool.dir = resolve(base, spool.dir);
  const out: AuditConfig = {
    ...d,
    ...a,
    fingerprint: { ...d.fingerprint, ...a.fingerprint },
    spool,
    dead_letter_file: a.dead_letter_file
      ? resolve(base, a.dead_letter_file)
      : resolve(spool.dir, 'dead-letter.ndjson'),
  };
  const keys = out.fingerprint.keys;
  for (const k of keys) {
    const n = [k.secret, k.secret_env, k.secret_file].filter((x) => x !== undefined).length;
    if (n !== 1) {
      throw new ConfigError(
        `${file}: /audit/fingerprint/keys/${k.id} needs exactly one of secret, secret_env, secret_file`,
      );
    }
    if (k.secret_file) k.secret_file = resolve(base, k.secret_file);
  }
  if (new Set(keys.map((k) => k.id)).size !== keys.length) {
    throw new ConfigError(`${file}: /audit/fingerprint/keys: a key id is used twice`);
  }
  if (out.fingerprint.current && !keys.some((k) => k.id === out.fingerprint.current)) {
    throw new ConfigError(`${file}: /audit/fingerprint/current names no configured key`);
  }
  if (!out.fingerprint.current && keys.length > 0) {
    out.fingerprint = { ...out.fingerprint, current: keys[0]!.id };
  }
  if (out.elasticsearch && keys.length === 0) {
    throw new ConfigError(
      `${file}: /audit/fingerprint/keys: the Elasticsearch audit needs a fingerprint key`,
    );
  }
  return out;
}

function resolveIdentityPaths(id: IdentityConfig, base: string): IdentityConfig {
  const oidc = id.oidc.map((o) =>
    o.introspection?.client_secret_file
      ? {
          ...o,
          introspection: {
            ...o.introspection,
            client_secret_file: resolve(base, o.introspection.client_secret_file),
          },
        }
      : o,
  );
  return id.saml
    ? { ...id, oidc, saml: { ...id.saml, idp_metadata: resolve(base, id.saml.idp_metadata) } }
    : { ...id, oidc };
}

function resolveApprovals(
  a: ApprovalsConfig,
  base: string,
  env: NodeJS.ProcessEnv,
): ApprovalsConfig {
  const out = { ...a };
  if (!out.elasticsearch_url && env.CALLGUARD_APPROVALS_ES_URL)
    out.elasticsearch_url = env.CALLGUARD_APPROVALS_ES_URL;
  if (out.webhook?.secret_file)
    out.webhook = { ...out.webhook, secret_file: resolve(base, out.webhook.secret_file) };
  return out;
}

/**
 * The headers this configuration reads identities from: never scanned, logged or recorded
 * (inspect_headers naming one is refused, in the configuration and in a route).
 */
export function identityHeaders(c: Pick<Config, 'identity' | 'dev'>): string[] {
  const out: string[] = [];
  if (c.identity?.saml) out.push(c.identity.saml.header);
  const dev = c.dev?.groups_header;
  if (dev) out.push(dev, `${dev}-user`);
  return out;
}

/** Where approval tickets live: their own setting, else the audit's Elasticsearch. */
export function approvalsElasticsearchUrl(
  c: Pick<Config, 'approvals' | 'audit'>,
): string | undefined {
  return c.approvals.elasticsearch_url || c.audit.elasticsearch?.url || undefined;
}

/** The webhook's signing secret (the text's UTF-8 bytes), if one is configured. */
export function readWebhookSecret(
  a: ApprovalsConfig,
  env: NodeJS.ProcessEnv = process.env,
): Buffer | undefined {
  if (!a.webhook) return undefined;
  const text = readSecret(a.webhook, 'approvals.webhook', env);
  return text === undefined ? undefined : Buffer.from(text, 'utf8');
}

/** The token keys' secrets (base64 of at least 32 bytes), from the environment or files. */
export function readTokenKeys(
  cfg: Config['tokenize'],
  env: NodeJS.ProcessEnv = process.env,
): { id: string; secret: Buffer }[] {
  return cfg.keys.map((k) => {
    const what = `tokenize key ${k.id}`;
    const b64 = readSecret(k, what, env);
    if (b64 === undefined) throw new ConfigError(`${what}: set secret_env or secret_file`);
    const secret = Buffer.from(b64, 'base64');
    if (secret.length < 32)
      throw new ConfigError(`${what}: the secret must be base64 of at least 32 bytes`);
    return { id: k.id, secret };
  });
}
