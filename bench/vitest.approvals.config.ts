// `npm run bench:approvals`: bench/approvals.ts with the test run's global setup (Envoy,
// one real Elasticsearch).
import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['bench/approvals.ts'],
    testTimeout: 600_000,
    hookTimeout: 120_000,
    pool: 'forks',
    globalSetup: ['test/global-setup.ts'],
  },
});
