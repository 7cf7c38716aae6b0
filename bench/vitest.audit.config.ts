// `npm run bench:audit`: the audit benchmark (bench/audit.measure.ts) with the test run's global
// setup, which installs Envoy and starts one real Elasticsearch.
import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['bench/audit.measure.ts'],
    testTimeout: 600_000,
    hookTimeout: 120_000,
    pool: 'forks',
    globalSetup: ['test/global-setup.ts'],
  },
});
