// One secret-source rule (src/config/config.ts SECRET_SOURCE): every place the configuration
// takes a secret from the environment refuses a variable name no shell can export, and
// names the path; a good name loads.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/config.js';

const dir = mkdtempSync(join(tmpdir(), 'callguard-config-secrets-'));
function load(yaml: string): unknown {
  const file = join(dir, `c${Math.random().toString(36).slice(2)}.yaml`);
  writeFileSync(file, yaml);
  return loadConfig(file, []);
}

/** Each place a secret is taken, as YAML with `ENV` where the variable name goes. */
const PLACES: [string, string][] = [
  [
    'audit fingerprint keys',
    'audit:\n  fingerprint:\n    keys:\n      - { id: fp1, secret_env: ENV }\n',
  ],
  ['tokenize keys', 'tokenize:\n  keys:\n    - { id: tok1, secret_env: ENV }\n'],
  [
    'approvals webhook',
    'approvals:\n  webhook: { url: "https://hooks.example/x", secret_env: ENV }\n',
  ],
  [
    'admin page OIDC client',
    'admin:\n  ui:\n    oidc: { issuer: "https://idp.example", client_id: cg, client_secret_env: ENV }\n',
  ],
];

describe('secrets from the environment: one rule for the variable name', () => {
  it.each(PLACES)('%s: a name no shell can export is refused, naming the path', (_p, yaml) => {
    for (const bad of ['my-secret', 'lower_case', '1ST_KEY', 'A B']) {
      let err: unknown;
      try {
        load(yaml.replace('ENV', JSON.stringify(bad)));
      } catch (e) {
        err = e;
      }
      expect(err, bad).toBeInstanceOf(Error);
      expect((err as Error).message).toMatch(/secret_env/);
      expect((err as Error).message).not.toContain(bad);
    }
  });

  it.each(PLACES)('%s: an upper-case name loads', (_p, yaml) => {
    expect(() => load(yaml.replace('ENV', 'CALLGUARD_TEST_SECRET'))).not.toThrow();
  });
});
