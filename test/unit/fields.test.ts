// Values named by their field (src/detect/fields.ts) through the engine: the whole value of
// a name, address or password field is found, a key never is, and what one text is found
// to be depends on both keys above it (the engine's memories of plain texts included).
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { inspect } from '../../src/engine/index.js';
import { loadPolicy } from '../../src/policy/load.js';

const dir = mkdtempSync(join(tmpdir(), 'callguard-fields-'));
writeFileSync(
  join(dir, 'policy.yaml'),
  [
    'routes:',
    '  - { name: fn, match: { path: /f } }',
    'rules:',
    '  - { name: redact-all, match: { min_level: internal }, action: redact }',
    '',
  ].join('\n'),
);
const policy = loadPolicy([join(dir, 'policy.yaml')]);

function run(doc: unknown): { paths: string[]; body: string } {
  const r = inspect({
    policy,
    route: policy.routesByName.get('fn')!,
    fn: undefined,
    principal: { subject: 't', groups: [], authMethod: 'dev-header' },
    direction: 'request',
    body: Buffer.from(JSON.stringify(doc)),
    maxDepth: 64,
  });
  return {
    paths: r.decision.findings.map((f) => `${f.path}=${f.detector}`),
    body: Buffer.from(r.body).toString('utf8'),
  };
}

describe('values named by their field', () => {
  it('finds names, addresses, passwords and card codes, numbers included', () => {
    const r = run({
      customer: { first_name: 'Ada', lastName: 'Lovelace', name: 'Ada Lovelace' },
      billing_address: '221B Baker Street, London NW1 6XE',
      login: { password: 'hunter2' },
      card: { cvv: 123 },
    });
    expect(r.paths).toEqual([
      '/customer/first_name=person_name',
      '/customer/lastName=person_name',
      '/customer/name=person_name',
      '/billing_address=postal_address',
      '/login/password=password',
      '/card/cvv=password',
    ]);
    expect(r.body).not.toMatch(/Ada|Lovelace|Baker|hunter2|123/);
    // The number became a JSON string: the body is still JSON.
    expect(() => JSON.parse(r.body) as unknown).not.toThrow();
  });

  it('never flags a key, even under a field of that kind', () => {
    const r = run({ password: { min_length: 8 }, full_name: { first: 'x1' } });
    expect(r.paths).toEqual([]);
  });

  it('a `name` is a person only under a person: the same text elsewhere is not', () => {
    const r = run({
      tool: { name: 'Jane Doe' },
      customer: { name: 'Jane Doe' },
      file: { name: 'Jane Doe' },
    });
    expect(r.paths).toEqual(['/customer/name=person_name']);
  });

  it('a number and a key of one text are judged apart', () => {
    // The key `123` under `cvv` is remembered as plain; the value 123 there is still found.
    const r = run({ items: [{ cvv: { '123': true } }, { cvv: 123 }] });
    expect(r.paths).toEqual(['/items/1/cvv=password']);
  });
});
