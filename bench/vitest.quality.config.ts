// `npm run bench:quality`: the detectors' precision and recall on the evaluation set,
// beside Presidio's (bench/quality.measure.ts). No global setup: no Envoy, no Elasticsearch.
import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['bench/quality.measure.ts'],
    testTimeout: 900_000,
    pool: 'forks',
  },
});
