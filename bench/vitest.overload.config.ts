// `npm run bench:overload`: bench/overload.ts (callguard past its capacity through the real
// Envoy) with a global setup that installs Envoy (no Elasticsearch).
import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['bench/overload.ts'],
    testTimeout: 900_000,
    hookTimeout: 120_000,
    pool: 'forks',
    globalSetup: ['bench/envoy-setup.ts'],
  },
});
