// Runtime configuration: callguard.yaml, overridden by environment variables, then by
// command-line flags (most specific wins), then validated once against CONFIG_SCHEMA.

import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { Ajv2020 } from 'ajv/dist/2020.js';
import type { ErrorObject } from 'ajv/dist/2020.js';
import type { FromSchema } from 'json-schema-to-ts';
import { parse } from 'yaml';
import { ASYMMETRIC_ALGORITHMS } from '../identity/oidc.js';
import { refusedHeader } from '../policy/headers.js';
import { ConfigError, optionalSecret, readSecret, requiredSecret } from './secret.js';

export { ConfigError, readSecret } from './secret.js';
export type { SecretSource } from './secret.js';

const claimPath = { type: 'string', minLength: 1 } as const;
/** How a token from an OIDC issuer is checked and read: data path and admin page alike. */
const TOKEN_CHECKS = {
  algorithms: {
    type: 'array',
    items: { enum: ASYMMETRIC_ALGORITHMS },
    minItems: 1,
    default: ['RS256', 'ES256'],
  },
  clock_skew_s: { type: 'integer', minimum: 0, maximum: 300, default: 30 },
  groups_claim: { ...claimPath, default: 'groups' },
  email_claim: { ...claimPath, default: 'email' },
  name_claim: { ...claimPath, default: 'name' },
} as const;

const introspectionSecret = optionalSecret('client_');
const OIDC_ISSUER_SCHEMA = {
  type: 'object',
  additionalProperties: false,
  required: ['issuer', 'audiences'],
  properties: {
    issuer: { type: 'string', pattern: '^https?://' },
    audiences: { type: 'array', items: { type: 'string', minLength: 1 }, minItems: 1 },
    jwks_uri: { type: 'string', pattern: '^https?://' },
    ...TOKEN_CHECKS,
    /** Verify opaque tokens at this issuer's introspection endpoint (RFC 7662). */
    introspection: {
      type: 'object',
      additionalProperties: false,
      required: ['client_id'],
      properties: {
        /** callguard's client at the issuer (it authenticates with client_secret_basic). */
        client_id: { type: 'string', minLength: 1 },
        ...introspectionSecret.properties,
        /** Else the discovery document's introspection_endpoint. */
        endpoint: { type: 'string', pattern: '^https?://' },
        /** How long an active token's answer is reused (never past the token's exp). */
        cache_ms: { type: 'integer', minimum: 0, maximum: 3_600_000, default: 60_000 },
      },
      not: introspectionSecret.not,
    },
  },
} as const;

const fingerprintSecret = requiredSecret('');
const tokenSecret = requiredSecret('');
const webhookSecret = optionalSecret('');
const uiClientSecret = optionalSecret('client_');

const addr = { type: 'string', pattern: '^[^\\s:]+:\\d{1,5}$' } as const;

/**
 * callguard.yaml: the one source of the configuration's shape, rules and defaults. The types
 * below are derived from it (json-schema-to-ts), ajv fills the defaults while validating, and
 * docs/configuration.md is generated from it (src/config/reference.ts).
 */
export const CONFIG_SCHEMA = {
  type: 'object',
  additionalProperties: false,
  properties: {
    grpc_addr: { ...addr, default: '127.0.0.1:50051' },
    admin_addr: { ...addr, default: '127.0.0.1:9090' },
    /** Policy files or directories, resolved against the config file's directory. */
    policies: {
      type: 'array',
      items: { type: 'string', minLength: 1 },
      minItems: 1,
      default: ['policies'],
    },
    limits: {
      type: 'object',
      additionalProperties: false,
      default: {},
      properties: {
        /** Largest body callguard inspects (after decoding); larger → 413. */
        max_body_bytes: {
          type: 'integer',
          minimum: 1,
          maximum: 64 * 1024 * 1024,
          default: 1024 * 1024,
        },
        /** Deepest JSON nesting accepted; deeper → 400 too_deep. */
        max_depth: { type: 'integer', minimum: 1, maximum: 1000, default: 64 },
        /** Longest request target (`:path` with its query) read on a protected route; longer → 400 malformed_url. */
        max_url_bytes: { type: 'integer', minimum: 1, maximum: 1024 * 1024, default: 8192 },
        /** Longest value of an inspected header (inspect_headers); longer → 431 header_too_large. */
        max_header_bytes: { type: 'integer', minimum: 1, maximum: 1024 * 1024, default: 8192 },
      },
    },
    /**
     * Request and response headers whose values the detectors read on every protected route,
     * beside each route's own `inspect_headers`. Credentials headers are refused.
     */
    inspect_headers: {
      type: 'array',
      items: { type: 'string', pattern: "^[a-z0-9!#$%&'*+.^_`|~-]+$" },
      uniqueItems: true,
      default: [],
    },
    log: {
      type: 'object',
      additionalProperties: false,
      default: {},
      properties: {
        level: {
          enum: ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'],
          default: 'info',
        },
      },
    },
    /** How long a shutdown waits for open streams before cutting them. */
    shutdown_grace_ms: { type: 'integer', minimum: 0, default: 10_000 },
    /** Hot reload of the policy files (SIGHUP always reloads). */
    policy_reload: {
      type: 'object',
      additionalProperties: false,
      default: {},
      properties: {
        /** Watch the policy directories and reload on change. */
        watch: { type: 'boolean', default: true },
        /** Quiet time after the last change before reloading. */
        debounce_ms: { type: 'integer', minimum: 0, maximum: 60_000, default: 200 },
      },
    },
    dev: {
      type: 'object',
      additionalProperties: false,
      default: {},
      properties: {
        /**
         * DEVELOPMENT ONLY. A request header whose comma-separated value is trusted as the
         * caller's groups (and `<header>-user` as the subject). Anyone who can reach Envoy can
         * set it, so it is off (empty) by default and must never be set in production.
         */
        groups_header: { type: 'string', pattern: '^[a-z0-9-]*$', default: '' },
      },
    },
    /** Where callguard learns who the caller is (see README "Identity"). */
    identity: {
      type: 'object',
      additionalProperties: false,
      default: {},
      properties: {
        oidc: { type: 'array', items: OIDC_ISSUER_SCHEMA, default: [] },
        envoy_jwt_authn: {
          type: 'object',
          additionalProperties: false,
          properties: {
            /** `payload_in_metadata` of Envoy's jwt_authn provider(s). */
            metadata_key: { type: 'string', minLength: 1, default: 'jwt_payload' },
            /** If set, only payloads from these issuers are trusted. */
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
            /** IdP metadata XML file (entityID and signing certificates). */
            idp_metadata: { type: 'string', minLength: 1 },
            audience: { type: 'string', minLength: 1 },
            clock_skew_s: { type: 'integer', minimum: 0, maximum: 300, default: 60 },
            groups_attribute: { type: 'string', minLength: 1, default: 'groups' },
            email_attribute: { type: 'string' },
            name_attribute: { type: 'string' },
          },
        },
        /** Timeout for discovery and JWKS fetches; keep under Envoy's message_timeout. */
        fetch_timeout_ms: { type: 'integer', minimum: 50, maximum: 30_000, default: 1500 },
        /** Least time between two JWKS fetches caused by an unknown kid. */
        jwks_min_refresh_ms: { type: 'integer', minimum: 0, default: 30_000 },
        /** JWKS older than this is refreshed (kept if the refresh fails). */
        jwks_max_age_ms: { type: 'integer', minimum: 1000, default: 600_000 },
      },
    },
    /** The session audit (docs/audit.md). */
    audit: {
      type: 'object',
      additionalProperties: false,
      default: {},
      properties: {
        elasticsearch: {
          type: 'object',
          additionalProperties: false,
          required: ['url'],
          properties: {
            url: { type: 'string', pattern: '^https?://' },
            /** Indices are `<index_prefix>-YYYY.MM.DD`, alias `<index_prefix>`. */
            index_prefix: {
              type: 'string',
              pattern: '^[a-z0-9][a-z0-9_.-]*$',
              default: 'callguard-sessions',
            },
            request_timeout_ms: { type: 'integer', minimum: 100, default: 10_000 },
          },
        },
        /** HMAC-SHA-256 keys for value fingerprints; `current` signs new records. */
        fingerprint: {
          type: 'object',
          additionalProperties: false,
          default: {},
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
                  ...fingerprintSecret.properties,
                },
                oneOf: fingerprintSecret.oneOf,
              },
              default: [],
            },
          },
        },
        spool: {
          type: 'object',
          additionalProperties: false,
          default: {},
          properties: {
            dir: { type: 'string', minLength: 1, default: 'spool' },
            fsync: { enum: ['always', 'interval', 'never'], default: 'interval' },
            fsync_interval_ms: { type: 'integer', minimum: 1, default: 200 },
            segment_bytes: { type: 'integer', minimum: 4096, default: 8 * 1024 * 1024 },
            max_bytes: { type: 'integer', minimum: 65536, default: 1024 * 1024 * 1024 },
            /** What happens when the spool is full: refuse new calls (503) or drop records. */
            on_full: { enum: ['refuse', 'drop'], default: 'refuse' },
          },
        },
        /** Where documents Elasticsearch rejects go ('' = `<spool.dir>/dead-letter.ndjson`). */
        dead_letter_file: { type: 'string', default: '' },
        bulk_max_docs: { type: 'integer', minimum: 1, maximum: 10_000, default: 500 },
        flush_interval_ms: { type: 'integer', minimum: 10, default: 250 },
        /** Bodies are kept up to this many bytes (as forwarded, masked), then truncated. */
        max_body_bytes: {
          type: 'integer',
          minimum: 0,
          maximum: 16 * 1024 * 1024,
          default: 64 * 1024,
        },
      },
    },
    admin: {
      type: 'object',
      additionalProperties: false,
      default: {},
      properties: {
        /** Groups whose members may read session records through the admin API. */
        auditor_groups: { type: 'array', items: { type: 'string', minLength: 1 }, default: [] },
        /** Identity sources the admin API accepts (dev-header is for the local stack only). */
        auth_sources: {
          type: 'array',
          items: { enum: ['oidc', 'saml', 'dev-header'] },
          minItems: 1,
          default: ['oidc', 'saml'],
        },
        /** Sign-in to the admin web page: OIDC authorization code with PKCE (docs/ui.md). */
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
                /** Confidential clients only (inline only for development and tests). */
                ...uiClientSecret.properties,
                /** '' = http://<admin_addr>/ui/callback. Its origin is the page's origin. */
                redirect_uri: {
                  type: 'string',
                  pattern: '^(https?://[^/]+/ui/callback)?$',
                  default: '',
                },
                scopes: {
                  type: 'array',
                  items: { type: 'string', pattern: '^[A-Za-z0-9_.:/-]+$' },
                  default: ['openid', 'email', 'profile', 'groups'],
                },
                ...TOKEN_CHECKS,
              },
              not: uiClientSecret.not,
            },
            /** Lifetime of a page session (server side; the cookie carries only a random id). */
            session_ttl_s: { type: 'integer', minimum: 60, maximum: 86_400, default: 3600 },
          },
        },
      },
    },
    /** Just-in-time approvals (docs/approvals.md). */
    approvals: {
      type: 'object',
      additionalProperties: false,
      default: {},
      properties: {
        /** Elasticsearch holding the tickets ('' = the audit's, if any; none: a held call gets 503). */
        elasticsearch_url: { type: 'string', default: '' },
        index: {
          type: 'string',
          pattern: '^[a-z0-9][a-z0-9._-]*$',
          default: 'callguard-approvals',
        },
        /** The admin server's URL as callers and reviewers reach it (status and review links). */
        public_url: { type: 'string', minLength: 1, default: 'http://127.0.0.1:9090' },
        /** Longest a request waits in line; keep below Envoy's max_message_timeout. */
        max_wait_ms: { type: 'integer', minimum: 0, maximum: 300_000, default: 20_000 },
        /** How often expired tickets are recorded as such (expiry also applies on every read). */
        sweep_ms: { type: 'integer', minimum: 100, default: 30_000 },
        webhook: {
          type: 'object',
          additionalProperties: false,
          required: ['url'],
          properties: {
            url: { type: 'string', pattern: '^https?://' },
            ...webhookSecret.properties,
            timeout_ms: { type: 'integer', minimum: 100, default: 5000 },
            retries: { type: 'integer', minimum: 0, maximum: 10, default: 3 },
          },
          not: webhookSecret.not,
        },
      },
    },
    /** Admission control: refusing early what callguard cannot do in time (docs/operations.md, "Under load"). */
    admission: {
      type: 'object',
      additionalProperties: false,
      default: {},
      properties: {
        enabled: { type: 'boolean', default: true },
        /** Share of the event loop's time admitted work may fill (0..1) before calls are refused. */
        target_utilization: { type: 'number', minimum: 0.1, maximum: 1, default: 0.85 },
        /** Longest the event loop may work without a pause before each new call is refused. */
        max_busy_ms: { type: 'integer', minimum: 1, maximum: 10_000, default: 50 },
        /** How often the admission rate is updated. */
        interval_ms: { type: 'integer', minimum: 10, maximum: 10_000, default: 100 },
        /** The `retry-after` of a refusal, in seconds. */
        retry_after_s: { type: 'integer', minimum: 0, maximum: 3600, default: 1 },
        /**
         * Each refusal becomes a session record (decision `overloaded`); off, a stream is
         * refused as it opens, at about half the cost, and refusals are only counted and logged.
         */
        record_refusals: { type: 'boolean', default: false },
      },
    },
    /** Keys for the tokenize action and detokenize routes; the first makes new tokens. */
    tokenize: {
      type: 'object',
      additionalProperties: false,
      default: {},
      properties: {
        keys: {
          type: 'array',
          items: {
            type: 'object',
            additionalProperties: false,
            required: ['id'],
            properties: {
              id: { type: 'string', pattern: '^[a-z0-9]{1,8}$' },
              /** The secret is base64 of at least 32 bytes. */
              ...tokenSecret.properties,
            },
            oneOf: tokenSecret.oneOf,
          },
          default: [],
        },
      },
    },
  },
} as const;

/** A valid configuration, defaults filled in (paths resolved by loadConfig). */
export type Config = FromSchema<typeof CONFIG_SCHEMA>;
export type IdentityConfig = Config['identity'];
export type OidcIssuerConfig = IdentityConfig['oidc'][number];
export type IntrospectionConfig = NonNullable<OidcIssuerConfig['introspection']>;
export type AuditConfig = Config['audit'];
export type FingerprintKeyConfig = AuditConfig['fingerprint']['keys'][number];
export type AdminConfig = Config['admin'];
export type AdminUiConfig = NonNullable<AdminConfig['ui']>;
export type ApprovalsConfig = Config['approvals'];
export type TokenKeyConfig = Config['tokenize']['keys'][number];
export type AdmissionConfig = Config['admission'];

const validate = new Ajv2020({
  allErrors: false,
  strict: true,
  // A secret source's oneOf/not branches name keys the parent's `properties` define.
  strictRequired: false,
  useDefaults: true,
  verbose: true,
}).compile<Config>(CONFIG_SCHEMA);

/**
 * The problem ajv found, as `path rule`. With allErrors off, ajv stops at the first failing
 * keyword and a composite keyword (oneOf, not) reports its branches' errors before its own:
 * so the last error is the one that failed. A secret source's oneOf/not is told in its keys.
 */
function schemaProblem(errors: readonly ErrorObject[] | null | undefined): string {
  const e = errors?.[errors.length - 1];
  if (!e) return '/ invalid';
  const at = e.instancePath || '/';
  const names = (xs: unknown): string[] =>
    Array.isArray(xs) ? xs.flatMap((x) => (x as { required?: string[] }).required ?? []) : [];
  if (e.keyword === 'oneOf') {
    const keys = names(e.schema);
    if (keys.length > 0) return `${at} needs exactly one of ${keys.join(', ')}`;
  }
  if (e.keyword === 'not') {
    const keys = [...new Set(names((e.schema as { anyOf?: unknown }).anyOf))];
    if (keys.length > 0) return `${at}: set at most one of ${keys.join(', ')}`;
  }
  return `${at} ${e.message ?? 'invalid'}`;
}

/** Every default of the schema: what `{}` becomes (for tests and the reference). */
export const DEFAULT_CONFIG: Config = (() => {
  const c: unknown = {};
  if (!validate(c))
    throw new TypeError(`CONFIG_SCHEMA's defaults: ${schemaProblem(validate.errors)}`);
  return c;
})();

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

type Json = Record<string, unknown>;
const isObject = (v: unknown): v is Json =>
  typeof v === 'object' && v !== null && !Array.isArray(v);

/** `doc[a][b]… = value`, making the objects on the way; a non-object on the way is left for the schema to refuse. */
function setIn(doc: Json, path: readonly string[], value: unknown): void {
  let o = doc;
  for (const k of path.slice(0, -1)) {
    if (o[k] === undefined) o[k] = {};
    const next = o[k];
    if (!isObject(next)) return;
    o = next;
  }
  o[path[path.length - 1]!] = value;
}

/**
 * Load `file` (absent file → defaults only if `optional`), apply overrides in order, then
 * validate once: ajv fills the schema's defaults, and only a valid document becomes a Config.
 */
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
  if (!isObject(raw)) throw new ConfigError(`${file}: / must be object`);
  // Paths in the file are relative to the file; paths from env or flags to the cwd.
  let policiesBase = base;
  for (const o of overrides) {
    if (o.grpc_addr) raw.grpc_addr = o.grpc_addr;
    if (o.admin_addr) raw.admin_addr = o.admin_addr;
    if (o.policies) {
      raw.policies = o.policies;
      policiesBase = process.cwd();
    }
    if (o.log_level) setIn(raw, ['log', 'level'], o.log_level);
    if (o.es_url) setIn(raw, ['audit', 'elasticsearch', 'url'], o.es_url);
  }
  if (!validate(raw)) throw new ConfigError(`${file}: ${schemaProblem(validate.errors)}`);
  const merged: Config = raw;
  const identity = identityHeaders(merged);
  merged.inspect_headers.forEach((h, i) => {
    const why = refusedHeader(h, identity);
    if (why) throw new ConfigError(`${file}: /inspect_headers/${i}: ${why}`);
  });
  return {
    ...merged,
    policies: merged.policies.map((p) => resolve(policiesBase, p)),
    identity: resolveIdentityPaths(merged.identity, base),
    audit: resolveAudit(merged.audit, base, file),
    approvals: resolveApprovals(merged.approvals, base, process.env),
    tokenize: {
      keys: merged.tokenize.keys.map((k) =>
        k.secret_file ? { ...k, secret_file: resolve(base, k.secret_file) } : k,
      ),
    },
    admin: resolveAdmin(merged.admin, merged.admin_addr, base, file),
  };
}

function resolveAdmin(a: AdminConfig, adminAddr: string, base: string, file: string): AdminConfig {
  const o = a.ui?.oidc;
  if (!a.ui || !o) return a;
  if (!o.scopes.includes('openid')) {
    throw new ConfigError(`${file}: /admin/ui/oidc/scopes must include openid`);
  }
  return {
    ...a,
    ui: {
      ...a.ui,
      oidc: {
        ...o,
        redirect_uri: o.redirect_uri || `http://${adminAddr}/ui/callback`,
        ...(o.client_secret_file
          ? { client_secret_file: resolve(base, o.client_secret_file) }
          : {}),
      },
    },
  };
}

function resolveAudit(a: AuditConfig, base: string, file: string): AuditConfig {
  const dir = resolve(base, a.spool.dir);
  const keys = a.fingerprint.keys.map((k) =>
    k.secret_file ? { ...k, secret_file: resolve(base, k.secret_file) } : k,
  );
  if (new Set(keys.map((k) => k.id)).size !== keys.length) {
    throw new ConfigError(`${file}: /audit/fingerprint/keys: a key id is used twice`);
  }
  const current = a.fingerprint.current ?? keys[0]?.id;
  if (a.fingerprint.current && !keys.some((k) => k.id === a.fingerprint.current)) {
    throw new ConfigError(`${file}: /audit/fingerprint/current names no configured key`);
  }
  if (a.elasticsearch && keys.length === 0) {
    throw new ConfigError(
      `${file}: /audit/fingerprint/keys: the Elasticsearch audit needs a fingerprint key`,
    );
  }
  return {
    ...a,
    fingerprint: current === undefined ? { keys } : { current, keys },
    spool: { ...a.spool, dir },
    dead_letter_file: a.dead_letter_file
      ? resolve(base, a.dead_letter_file)
      : resolve(dir, 'dead-letter.ndjson'),
  };
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
