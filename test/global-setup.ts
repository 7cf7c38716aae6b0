// Before any test: the pinned Envoy is installed (pip, into .cache/) and callguard is
// built (integration tests run the real `callguard serve` from dist/).
import { existsSync } from 'node:fs';
import { ensureEnvoy, PROJECT_ROOT } from '../src/cli/envoy.js';

export default function setup(): void {
  ensureEnvoy((line) => process.stderr.write(`${line}\n`));
  if (!existsSync(`${PROJECT_ROOT}dist/cli/main.js`)) {
    throw new Error('dist/ is missing: run `npm run build` (npm test does) before vitest');
  }
}
