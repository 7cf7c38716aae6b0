// Detector packs in the policy: the policy-wide `detectors.packs`, a route's own, `all`,
// and what load refuses (an unknown pack, packs beside enabled, packs in two files); custom
// detectors' validate and exclusions through the policy schema.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { BUILTIN_SPECS } from '../../src/detect/builtin.js';
import { loadPolicy } from '../../src/policy/load.js';

function load(files: Record<string, string>) {
  const dir = mkdtempSync(join(tmpdir(), 'cg-packs-'));
  for (const [name, text] of Object.entries(files)) writeFileSync(join(dir, name), text);
  return loadPolicy(
    Object.keys(files).map((f) => join(dir, f)),
    dir,
  );
}

const ROUTES = `
routes:
  - name: a
    match: { path: /a }
  - name: b
    match: { path: /b }
    detectors: { packs: [health, secrets] }
`;
const ids = (p: ReturnType<typeof load>, route: string) =>
  p.routesByName.get(route)!.detectors!.active.map((a) => a.id);
const inPacks = (...packs: string[]) =>
  BUILTIN_SPECS.filter((s) => s.packs.some((p) => packs.includes(p))).map((s) => s.id);

describe('detector packs in a policy', () => {
  it('by default a route runs every built-in detector', () => {
    const p = load({ 'p.yaml': ROUTES });
    expect(ids(p, 'a')).toEqual(BUILTIN_SPECS.map((s) => s.id));
    expect(ids(p, 'b')).toEqual(inPacks('health', 'secrets'));
  });

  it('the policy-wide packs apply to every route without its own', () => {
    const p = load({ 'p.yaml': `${ROUTES}\ndetectors: { packs: [core, uk] }\n` });
    expect(ids(p, 'a')).toEqual(inPacks('core', 'uk'));
    expect(ids(p, 'a')).toContain('uk_nhs');
    expect(ids(p, 'a')).not.toContain('br_cpf');
    expect(ids(p, 'b')).toEqual(inPacks('health', 'secrets'));
  });

  it('`all` is every pack', () => {
    const p = load({ 'p.yaml': `${ROUTES}\ndetectors: { packs: [all] }\n` });
    expect(ids(p, 'a')).toEqual(BUILTIN_SPECS.map((s) => s.id));
  });

  it.each([
    ['an unknown pack', `${ROUTES}\ndetectors: { packs: [mars] }\n`, /packs\/0/],
    [
      'packs beside enabled',
      'routes: [{ name: a, match: { path: /a }, detectors: { packs: [core], enabled: [card] } }]\n',
      /\/routes\/0\/detectors/,
    ],
  ])('%s is refused at load', (_name, yaml, message) => {
    expect(() => load({ 'p.yaml': yaml })).toThrow(message);
  });

  it('packs set in two files are refused', () => {
    expect(() =>
      load({
        'a.yaml': `${ROUTES}\ndetectors: { packs: [core] }\n`,
        'b.yaml': 'detectors: { packs: [us] }\n',
      }),
    ).toThrow(/detectors.packs may be set in one policy file only/);
  });

  it('custom detectors take validate and exclusions from the policy', () => {
    const p = load({
      'p.yaml': `routes: [{ name: a, match: { path: /a }, detectors: { enabled: [acct] } }]
detectors:
  custom:
    - id: acct
      level: confidential
      pattern: '[0-9]{4}-[0-9]{4}-[0-9]{4}-[0-9]{4}'
      validate: luhn
      exclude: ['4111 1111 1111 1111']
`,
    });
    const d = p.routesByName.get('a')!.detectors!;
    const text = '5555-5555-5555-4444 4111-1111-1111-1111 5555-5555-5555-4445';
    expect(d.scan(text, { keys: [] }).map((h) => text.slice(h.start, h.end))).toEqual([
      '5555-5555-5555-4444',
    ]);
    expect(() =>
      load({
        'p.yaml':
          "detectors: { custom: [{ id: x, level: internal, pattern: 'a', validate: crc32 }] }\n",
      }),
    ).toThrow(/validate/);
  });
});
