// The built-in detectors, in packs (spec.ts PACKS): core, secrets, health, finance and one
// per country. Each file holds its detectors' patterns, checks and documentation facts;
// this table is the one list of them (docs/detectors.md is generated from it).

import { CORE } from './core.js';
import { FIELDS } from './fields.js';
import { FINANCE } from './finance.js';
import { HEALTH } from './health.js';
import { NATIONAL } from './national.js';
import { SECRETS } from './secrets.js';
import type { BuiltinSpec } from './spec.js';

export type { BuiltinSpec, PackName } from './spec.js';
export { PACK_NAMES, PACKS } from './spec.js';

export const BUILTIN_SPECS: readonly BuiltinSpec[] = [
  ...CORE,
  ...FIELDS,
  ...SECRETS,
  ...HEALTH,
  ...FINANCE,
  ...NATIONAL,
];
