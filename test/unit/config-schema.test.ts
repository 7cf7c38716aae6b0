// The configuration schema is the one source of shape, rules and defaults: every place that
// takes a secret takes it the same way (one fragment, one rule for variable names), defaults
// are the schema's, and nothing reaches the program before it validates.

import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  CONFIG_SCHEMA,
  ConfigError,
  DEFAULT_CONFIG,
  envOverrides,
  loadConfig,
  readSecret,
} from '../../src/config/config.js';

const dir = mkdtempSync(join(tmpdir(), 'cg-config-schema-'));
let n = 0;
function load(yaml: string, env: NodeJS.ProcessEnv = {}) {
  const file = join(dir, `c${n++}.yaml`);
  writeFileSync(file, yaml);
  return loadConfig(file, [envOverrides(env)]);
}
function problem(yaml: string, env: NodeJS.ProcessEnv = {}): string {
  try {
    load(yaml, env);
  } catch (e) {
    if (e instanceof ConfigError) return e.message;
    throw e;
  }
  return 'accepted';
}

/** Every place that takes a secret: the YAML with `{S}` where the source's keys go. */
const PLACES: [name: string, prefix: string, path: string, yaml: (s: string) => string][] = [
  [
    'audit fingerprint keys',
    '',
    '/audit/fingerprint/keys/0',
    (s) => `audit:\n  fingerprint:\n    keys: [{ id: k1, ${s} }]\n`,
  ],
  ['tokenize keys', '', '/tokenize/keys/0', (s) => `tokenize:\n  keys: [{ id: t1, ${s} }]\n`],
  [
    'the approvals webhook',
    '',
    '/approvals/webhook',
    (s) => `approvals:\n  webhook: { url: "https://hooks.example/x", ${s} }\n`,
  ],
  [
    'OIDC introspection client',
    'client_',
    '/identity/oidc/0/introspection',
    (s) =>
      `identity:\n  oidc:\n    - issuer: "https://i.example"\n      audiences: [cg]\n      introspection: { client_id: cg, ${s} }\n`,
  ],
  [
    'the admin page client',
    'client_',
    '/admin/ui/oidc',
    (s) => `admin:\n  ui:\n    oidc: { issuer: "https://i.example", client_id: cg, ${s} }\n`,
  ],
];

describe.each(PLACES)('the secret of %s', (_name, p, path, yaml) => {
  it('is read from a variable named in upper case, or a file, or inline', () => {
    expect(problem(yaml(`${p}secret_env: CG_SECRET_1`))).toBe('accepted');
    expect(problem(yaml(`${p}secret_file: secret.txt`))).toBe('accepted');
    expect(problem(yaml(`${p}secret: "0123456789abcdef"`))).toBe('accepted');
  });

  it.each(['cg_secret', 'MY-KEY', '1KEY', 'A B', ''])(
    'refuses the variable name %j, naming the key and the rule',
    (bad) => {
      const msg = problem(yaml(`${p}secret_env: "${bad}"`));
      expect(msg).toContain(`${path}/${p}secret_env must match pattern "^[A-Z_][A-Z0-9_]*$"`);
    },
  );

  it('refuses two sources at once, naming the three keys', () => {
    const msg = problem(yaml(`${p}secret_env: CG_A, ${p}secret_file: a.txt`));
    expect(msg).toMatch(new RegExp(`${path}:? (needs exactly|set at most) one of `));
    expect(msg).toContain(`${p}secret, ${p}secret_env, ${p}secret_file`);
    // The value never appears in the message.
    expect(msg).not.toContain('a.txt');
  });
});

describe('where a secret is required', () => {
  it.each([
    ['fingerprint', PLACES[0]![3], '/audit/fingerprint/keys/0'],
    ['token', PLACES[1]![3], '/tokenize/keys/0'],
  ])('a %s key without one is refused at load', (_n, yaml, path) => {
    expect(problem(yaml('')).replace(/^.*?: /, '')).toBe(
      `${path} needs exactly one of secret, secret_env, secret_file`,
    );
  });

  it('a webhook or an introspection client may have none', () => {
    expect(problem(PLACES[2]![3](''))).toBe('accepted');
    expect(problem(PLACES[3]![3](''))).toBe('accepted');
  });

  it('secret files are relative to the configuration file', () => {
    const c = load(PLACES[4]![3]('client_secret_file: ui.secret'));
    expect(c.admin.ui?.oidc.client_secret_file).toBe(join(dir, 'ui.secret'));
    const t = load(PLACES[1]![3]('secret_file: t.secret'));
    expect(t.tokenize.keys[0]?.secret_file).toBe(join(dir, 't.secret'));
  });
});

describe('readSecret', () => {
  it('refuses a variable name outside the rule even without the schema', () => {
    expect(() => readSecret({ secret_env: 'lower' }, 'k', { lower: 'x'.repeat(32) })).toThrow(
      /k: secret_env must match/,
    );
    expect(readSecret({ secret_env: 'UPPER' }, 'k', { UPPER: ' s ' })).toBe('s');
  });
});

describe('defaults', () => {
  it('are the schema’s: {} validates to DEFAULT_CONFIG', () => {
    expect(DEFAULT_CONFIG.limits.max_depth).toBe(64);
    expect(DEFAULT_CONFIG.audit.spool.on_full).toBe('refuse');
    expect(DEFAULT_CONFIG.admission.target_utilization).toBe(0.85);
    expect(CONFIG_SCHEMA.properties.limits.properties.max_depth.default).toBe(
      DEFAULT_CONFIG.limits.max_depth,
    );
  });

  it('fill what a section leaves out, and only that', () => {
    const c = load('limits: { max_depth: 5 }\naudit:\n  spool: { fsync: always }\n');
    expect(c.limits).toEqual({ ...DEFAULT_CONFIG.limits, max_depth: 5 });
    expect(c.audit.spool.fsync).toBe('always');
    expect(c.audit.spool.fsync_interval_ms).toBe(DEFAULT_CONFIG.audit.spool.fsync_interval_ms);
    expect(c.audit.dead_letter_file).toBe(join(dir, 'spool', 'dead-letter.ndjson'));
  });

  it('are not shared between loads', () => {
    const a = load('');
    a.inspect_headers.push('x-a');
    a.admin.auth_sources.push('dev-header');
    const b = load('');
    expect(b.inspect_headers).toEqual([]);
    expect(b.admin.auth_sources).toEqual(['oidc', 'saml']);
    expect(DEFAULT_CONFIG.inspect_headers).toEqual([]);
  });
});

describe('validation comes before use', () => {
  it('an override is validated like the file', () => {
    expect(problem('', { CALLGUARD_LOG_LEVEL: 'loud' })).toMatch(
      /\/log\/level must be equal to one of the allowed values$/,
    );
    expect(problem('', { CALLGUARD_ES_URL: 'ftp://x' })).toMatch(
      /\/audit\/elasticsearch\/url must match pattern/,
    );
  });

  it('a file that is not a mapping is refused', () => {
    expect(problem('- a\n- b\n')).toMatch(/: \/ must be object$/);
    expect(problem('limits: 5\n')).toMatch(/\/limits must be object$/);
  });

  it('env policies resolve against the cwd, file policies against the file', () => {
    expect(load('policies: [p]\n').policies).toEqual([join(dir, 'p')]);
    expect(load('policies: [p]\n', { CALLGUARD_POLICIES: 'q' }).policies).toEqual([
      join(process.cwd(), 'q'),
    ]);
  });
});
