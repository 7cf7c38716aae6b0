// The configuration reference is generated from the configuration schema; the committed
// docs/configuration.md must be exactly that output (regenerate with
// `node dist/cli/main.js config reference > docs/configuration.md`), and it must name every
// key the schema admits.

import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { expect, it } from 'vitest';
import { CONFIG_SCHEMA } from '../../src/config/config.js';
import { configReference } from '../../src/config/reference.js';

const FILE = join(import.meta.dirname, '../../docs/configuration.md');

interface SchemaNode {
  properties?: Record<string, SchemaNode>;
  items?: SchemaNode;
}

function keyPaths(node: SchemaNode, prefix: string, out: string[]): string[] {
  for (const [k, v] of Object.entries(node.properties ?? {})) {
    const path = prefix ? `${prefix}.${k}` : k;
    out.push(path);
    if (v.items?.properties) keyPaths(v.items, `${path}[]`, out);
    else if (v.properties) keyPaths(v, path, out);
  }
  return out;
}

it('docs/configuration.md is the reference generated from the schema', () => {
  expect(readFileSync(FILE, 'utf8')).toBe(configReference());
});

it('the reference has a row for every key of the schema, nested keys included', () => {
  const text = configReference();
  const paths = keyPaths(CONFIG_SCHEMA as unknown as SchemaNode, '', []);
  expect(paths).toContain('identity.oidc[].groups_claim');
  expect(paths).toContain('approvals.webhook.secret_file');
  for (const p of paths) expect(text).toContain(`| \`${p}\` |`);
});
