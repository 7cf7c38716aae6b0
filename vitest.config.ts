import { defineConfig } from 'vitest/config';
import { ES9_VERSION } from './src/cli/elasticsearch.js';
import { OLDEST_ENVOY_VERSION } from './src/cli/envoy.js';

// Two tiers. `unit` needs nothing but Node: no Envoy, Elasticsearch, Chromium or dist/
// (`npm run test:unit`). `integration` starts real Envoy and callguard processes, and its
// global setup installs what they need and starts one Elasticsearch for the run. `npm test`
// runs both. Integration files own their ports, so files may run in parallel.
// `envoy-oldest` runs the data-path files again on the oldest Envoy callguard supports, and
// `elasticsearch-9` the audit and approval files on Elasticsearch 9 (Java 21+).
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
      {
        extends: true,
        test: {
          name: 'envoy-oldest',
          // Buffered and streamed bodies, the public fast path, header-only calls (datapath);
          // SSE answers of every LLM format (llm); ext_authz and jwt_authn (identity).
          include: [
            'test/integration/datapath.test.ts',
            'test/integration/llm.test.ts',
            'test/integration/identity.test.ts',
          ],
          env: { CALLGUARD_ENVOY_VERSION: OLDEST_ENVOY_VERSION },
          globalSetup: ['test/global-setup-envoy-oldest.ts'],
        },
      },
      {
        extends: true,
        test: {
          name: 'elasticsearch-9',
          // The audit (template, bulk, search, search_after, search by value, replay) and
          // the approval store (optimistic concurrency between replicas).
          include: ['test/integration/audit.test.ts', 'test/integration/approvals.test.ts'],
          env: { CALLGUARD_ES_VERSION: ES9_VERSION },
          globalSetup: ['test/global-setup.ts'],
        },
      },
    ],
  },
});
