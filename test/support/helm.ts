// Helm v4 for the chart's tests (deploy/helm/callguard): pinned, built with `go install` into
// the project's .cache/bin by the integration tier's global setup (a fresh machine has no
// helm), race-safe like every install (src/cli/install.ts). Runs with its own config, cache
// and data folders, so nothing outside the run is read or written.

import { spawnSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PROJECT_ROOT } from '../../src/cli/envoy.js';
import { ensureGoBinary } from '../../src/cli/install.js';
import type { GoProgram } from '../../src/cli/install.js';

/** The newest helm v4 on the Go module proxy when the chart was written. */
export const HELM: GoProgram = {
  module: 'helm.sh/helm/v4',
  version: 'v4.3.2',
  pkg: 'helm.sh/helm/v4/cmd/helm',
};

export const CHART = join(PROJECT_ROOT, 'deploy/helm/callguard');

export function helmBinary(root = PROJECT_ROOT): string {
  return join(root, '.cache', 'bin', 'helm');
}

export function ensureHelm(log: (line: string) => void = () => {}, root = PROJECT_ROOT): string {
  return ensureGoBinary(HELM, helmBinary(root), log);
}

export interface HelmResult {
  status: number | null;
  stdout: string;
  stderr: string;
}

let home: string | undefined;

/** The environment helm runs in: private config, cache and data folders. */
export function helmEnv(): NodeJS.ProcessEnv {
  home ??= mkdtempSync(join(tmpdir(), 'callguard-helm-'));
  return {
    ...process.env,
    HELM: helmBinary(),
    HELM_CONFIG_HOME: join(home, 'config'),
    HELM_CACHE_HOME: join(home, 'cache'),
    HELM_DATA_HOME: join(home, 'data'),
  };
}

/** Runs helm with `args` from the project root. */
export function helm(args: string[]): HelmResult {
  const r = spawnSync(helmBinary(), args, {
    cwd: PROJECT_ROOT,
    encoding: 'utf8',
    timeout: 120_000,
    env: helmEnv(),
  });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}
