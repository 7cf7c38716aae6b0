import { defineConfig } from 'vitest/config';

// Two tiers. `unit` needs nothing but Node: no Envoy, Elasticsearch, Chromium or dist/
// (`npm run test:unit`). `integration` starts real Envoy and callguard processes, and its
// global setup installs what they need and starts one Elasticsearch for the run. `npm test`
// runs both. Integration files own their ports, so files may run in parallel.
const ENGINE_CAMPAIGN = 'test/adversarial/engine.test.ts';

export default defineConfig({
  test: {
    testTimeout: 30_000,
    hookTimeout: 60_000,
    pool: 'forks',
    // fast-check: a fixed seed (CALLGUARD_LONG=1 for long runs), see test/support/fuzz.ts.
    setupFiles: ['test/support/fuzz-setup.ts'],
    projects: [
      {
        extends: true,
        test: { name: 'unit', include: ['test/unit/**/*.test.ts', ENGINE_CAMPAIGN] },
      },
      {
        extends: true,
        test: {
          name: 'integration',
          include: [
            'test/integration/**/*.test.ts',
            'test/adversarial/**/*.test.ts',
            'test/browser/**/*.test.ts',
          ],
          exclude: [ENGINE_CAMPAIGN],
          globalSetup: ['test/global-setup.ts'],
        },
      },
    ],
  },
});
