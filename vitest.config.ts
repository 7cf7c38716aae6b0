import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // Integration tests start real Envoy and callguard processes; they run in files of
    // their own, and each file owns its ports, so files may run in parallel.
    testTimeout: 30_000,
    hookTimeout: 60_000,
    pool: 'forks',
    globalSetup: ['test/global-setup.ts'],
    // fast-check: a fixed seed (CALLGUARD_LONG=1 for long runs), see test/support/fuzz.ts.
    setupFiles: ['test/support/fuzz-setup.ts'],
  },
});
