// docs/detectors.md holds the detector reference generated from the built-in table
// (regenerate with `node dist/cli/main.js detectors reference` and paste it between the
// markers); every detector and pack has its row.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { expect, it } from 'vitest';
import { BUILTIN_SPECS } from '../../src/detect/builtin.js';
import { PACK_NAMES } from '../../src/detect/index.js';
import { detectorsReference, REFERENCE_BEGIN, REFERENCE_END } from '../../src/detect/reference.js';

const FILE = join(import.meta.dirname, '../../docs/detectors.md');

it('docs/detectors.md holds the generated reference', () => {
  const text = readFileSync(FILE, 'utf8');
  const a = text.indexOf(REFERENCE_BEGIN);
  const b = text.indexOf(REFERENCE_END);
  expect(a).toBeGreaterThan(0);
  expect(text.slice(a, b + REFERENCE_END.length + 1)).toBe(detectorsReference());
});

it('the reference has a row per detector and per pack', () => {
  const ref = detectorsReference();
  for (const s of BUILTIN_SPECS)
    expect(ref).toContain(`| \`${s.id}\` | ${s.packs.join(', ')} | ${s.level} |`);
  for (const p of PACK_NAMES) expect(ref).toContain(`| \`${p}\` |`);
});
