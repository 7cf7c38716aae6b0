// Benchmarks that measure with their own clock and print a table (MB/s, ratios), run by
// `npm run bench`. Not part of `npm test`: timings never decide a test.
import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: { include: ['bench/**/*.measure.ts'], testTimeout: 600_000, pool: 'forks' },
});
