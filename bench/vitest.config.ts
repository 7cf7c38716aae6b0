// Benchmarks that measure with their own clock and print a table (MB/s, ratios, latency
// percentiles), run by `npm run bench`. Not part of `npm test`: timings never decide a test.
// The data path measure starts the real stack (Envoy from .cache/, callguard from dist/).
import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['bench/**/*.measure.ts'],
    // Its own command (npm run bench:quality): it installs Presidio and measures no speed.
    exclude: ['bench/quality.measure.ts'],
    testTimeout: 600_000,
    hookTimeout: 120_000,
    pool: 'forks',
    // One file at a time: the measures must not load the machine for each other.
    fileParallelism: false,
    globalSetup: ['test/global-setup.ts'],
  },
});
