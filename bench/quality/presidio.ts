// Presidio (presidio-analyzer from the Python registry) for the quality comparison:
// installed by pip into the project's gitignored cache on first use, race-safe (installDir:
// a private folder renamed into place), and run by presidio_runner.py over JSON lines.

import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { installDir } from '../../src/cli/install.js';
import { PROJECT_ROOT } from '../../src/cli/envoy.js';

export const PRESIDIO_VERSION = '2.2.366';
const PYTHON = process.env.PYTHON ?? 'python3';

export function presidioDir(root = PROJECT_ROOT): string {
  return join(root, '.cache', 'presidio', PRESIDIO_VERSION);
}

function works(dir: string): boolean {
  if (!existsSync(join(dir, 'presidio_analyzer'))) return false;
  const r = spawnSync(PYTHON, ['-c', 'import presidio_analyzer, spacy; spacy.blank("en")'], {
    env: { ...process.env, PYTHONPATH: dir },
    encoding: 'utf8',
  });
  return r.status === 0;
}

/** The site directory holding presidio-analyzer (PYTHONPATH), installing it if needed. */
export function ensurePresidio(log: (line: string) => void = () => {}): string {
  const dir = presidioDir();
  if (!works(dir))
    log(`installing presidio-analyzer ${PRESIDIO_VERSION} (pip) into ${dir}; this takes a minute`);
  installDir(
    dir,
    () => works(dir),
    (tmp) => {
      execFileSync(
        PYTHON,
        [
          '-m',
          'pip',
          'install',
          '--quiet',
          '--disable-pip-version-check',
          '--target',
          tmp,
          `presidio-analyzer==${PRESIDIO_VERSION}`,
        ],
        {
          stdio: ['ignore', 'inherit', 'inherit'],
          env: { ...process.env, PIP_ROOT_USER_ACTION: 'ignore' },
        },
      );
    },
  );
  return dir;
}

export interface PresidioItem {
  id: string;
  text: string;
  context: string[];
}

/** [entity, start, end, score] per item id. */
export type PresidioResults = Map<string, [string, number, number, number][]>;

/** Runs Presidio over `items` in one Python process. */
export function runPresidio(site: string, items: readonly PresidioItem[]): PresidioResults {
  const input = items.map((i) => JSON.stringify(i)).join('\n');
  const r = spawnSync(PYTHON, [join(import.meta.dirname, 'presidio_runner.py')], {
    input,
    encoding: 'utf8',
    maxBuffer: 256 * 1024 * 1024,
    // tldextract (Presidio's URL recognizer) would fetch the public suffix list: offline here.
    env: { ...process.env, PYTHONPATH: site, TLDEXTRACT_CACHE: join(site, '.tldextract') },
  });
  if (r.status !== 0) throw new Error(`presidio_runner.py failed:\n${r.stderr.slice(-4000)}`);
  const out: PresidioResults = new Map();
  for (const line of r.stdout.split('\n')) {
    if (line.trim() === '') continue;
    const { id, results } = JSON.parse(line) as {
      id: string;
      results: [string, number, number, number][];
    };
    out.set(id, results);
  }
  return out;
}
