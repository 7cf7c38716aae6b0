// Presidio for the quality comparison: the same pinned install as the analyzer tests
// (src/cli/presidio.ts: presidio-analyzer and spaCy in a venv in the project's cache), run
// by presidio_runner.py over JSON lines in one process.

import { spawnSync } from 'node:child_process';
import { dirname, join } from 'node:path';

export { ensurePresidio } from '../../src/cli/presidio.js';

export interface PresidioItem {
  id: string;
  text: string;
  context: string[];
}

/** [entity, start, end, score] per item id. */
export type PresidioResults = Map<string, [string, number, number, number][]>;

/** Runs Presidio over `items` in one Python process (`python`: ensurePresidio()'s). */
export function runPresidio(python: string, items: readonly PresidioItem[]): PresidioResults {
  const input = items.map((i) => JSON.stringify(i)).join('\n');
  const r = spawnSync(python, [join(import.meta.dirname, 'presidio_runner.py')], {
    input,
    encoding: 'utf8',
    maxBuffer: 256 * 1024 * 1024,
    // tldextract's cache beside the venv (the runner never fetches the suffix list).
    env: {
      ...process.env,
      TLDEXTRACT_CACHE: join(dirname(dirname(dirname(python))), '.tldextract'),
    },
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
