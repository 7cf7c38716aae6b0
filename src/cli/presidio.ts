// Presidio's analyzer for the analyzer tests and the quality benchmark: presidio-analyzer
// and spaCy, pinned, pip-installed from the Python registry into a virtual environment in
// the project's gitignored cache on first use (race-safe, like Envoy), and served by our
// own launcher (presidio/server.py) with a blank spaCy pipeline, on loopback.

import { execFileSync, spawn, spawnSync } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { PROJECT_ROOT } from './envoy.js';
import { installDir } from './install.js';

export const PRESIDIO_VERSION = '2.2.366';
/** spaCy pinned beside it: presidio-analyzer asks for any 3.x. */
export const SPACY_VERSION = '3.8.18';

export function presidioDir(root = PROJECT_ROOT): string {
  return join(root, '.cache', 'presidio', PRESIDIO_VERSION);
}

function python(root: string): string {
  return join(presidioDir(root), 'venv', 'bin', 'python');
}

/** The virtual environment's python, installing presidio-analyzer into it if needed. */
export function ensurePresidio(
  log: (line: string) => void = () => {},
  root = PROJECT_ROOT,
): string {
  const dir = presidioDir(root);
  const valid = (): boolean =>
    existsSync(python(root)) &&
    spawnSync(python(root), ['-c', 'import presidio_analyzer, spacy'], { stdio: 'ignore' })
      .status === 0;
  if (!valid()) log(`installing presidio-analyzer ${PRESIDIO_VERSION} (pip, a venv) into ${dir}`);
  installDir(dir, valid, (tmp) => {
    // A venv keeps absolute paths only in its scripts; `venv/bin/python -m …` works moved.
    execFileSync(process.env.PYTHON ?? 'python3', ['-m', 'venv', join(tmp, 'venv')], {
      stdio: ['ignore', 'inherit', 'inherit'],
    });
    execFileSync(
      join(tmp, 'venv', 'bin', 'python'),
      [
        '-m',
        'pip',
        'install',
        '--quiet',
        '--disable-pip-version-check',
        `presidio-analyzer==${PRESIDIO_VERSION}`,
        `spacy==${SPACY_VERSION}`,
      ],
      { stdio: ['ignore', 'inherit', 'inherit'] },
    );
  });
  return python(root);
}

export interface PresidioProcess {
  url: string;
  child: ChildProcess;
  output(): string;
  stop(): Promise<void>;
}

export interface PresidioOptions {
  port: number;
  /** Deny-list recognizers by entity type (they stand in for NER, which needs a model). */
  denyLists?: Readonly<Record<string, readonly string[]>>;
  log?: (line: string) => void;
  timeoutMs?: number;
}

/** Starts the analyzer on 127.0.0.1:port and waits until /health answers. */
export async function startPresidio(opts: PresidioOptions): Promise<PresidioProcess> {
  const py = ensurePresidio(opts.log);
  const args = [join(PROJECT_ROOT, 'presidio', 'server.py'), '--port', String(opts.port)];
  for (const [entity, words] of Object.entries(opts.denyLists ?? {}))
    args.push('--deny-list', `${entity}=${words.join(',')}`);
  const child = spawn(py, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  const chunks: Buffer[] = [];
  child.stdout?.on('data', (c: Buffer) => chunks.push(c));
  child.stderr?.on('data', (c: Buffer) => chunks.push(c));
  const output = () => Buffer.concat(chunks).toString('utf8');
  const url = `http://127.0.0.1:${opts.port}`;
  const until = Date.now() + (opts.timeoutMs ?? 60_000);
  for (;;) {
    if (child.exitCode !== null)
      throw new Error(`presidio exited with ${child.exitCode}\n${output().slice(-4000)}`);
    try {
      if ((await fetch(`${url}/health`)).ok) break;
    } catch {
      // not listening yet
    }
    if (Date.now() > until) {
      child.kill('SIGKILL');
      throw new Error(`presidio not ready in time\n${output().slice(-4000)}`);
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  return {
    url,
    child,
    output,
    stop: () =>
      new Promise<void>((resolve) => {
        if (child.exitCode !== null || child.signalCode !== null) return resolve();
        child.once('exit', () => resolve());
        child.kill('SIGTERM');
      }),
  };
}
