// Global setup for benchmarks that need Envoy and dist/ but no Elasticsearch
// (bench/vitest.overload.config.ts): installs the pinned Envoy (pip, into .cache/).
import { existsSync } from 'node:fs';
import { ensureEnvoy, PROJECT_ROOT } from '../src/cli/envoy.js';

export default function setup(): void {
  ensureEnvoy((line) => process.stderr.write(`${line}\n`));
  if (!existsSync(`${PROJECT_ROOT}dist/cli/main.js`)) {
    throw new Error('dist/ is missing: run `npm run build` (npm run bench:overload does)');
  }
}
