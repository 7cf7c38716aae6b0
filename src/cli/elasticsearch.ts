// The local Elasticsearch: the `integ-test-zip` distribution (core plus security, no
// data-stream, ILM, painless or wildcard modules) from Maven Central, fetched by Maven into
// the project's gitignored cache on first use, and run with the machine's Java 17 as a
// dedicated system user (Elasticsearch refuses to run as root) on loopback.

import { execFileSync, spawn, spawnSync } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import {
  chmodSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  realpathSync,
  renameSync,
  rmSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { PROJECT_ROOT } from './envoy.js';

export const ES_VERSION = '8.19.21';
export const ES_USER = 'callguard-es';
const ARTIFACT = `org.elasticsearch.distribution.integ-test-zip:elasticsearch:${ES_VERSION}:zip`;

export function esHome(root = PROJECT_ROOT): string {
  return join(root, '.cache', 'elasticsearch', ES_VERSION);
}

/** The unpacked distribution, fetching it with Maven and unpacking it if needed. */
export function ensureElasticsearch(
  log: (line: string) => void = () => {},
  root = PROJECT_ROOT,
): string {
  const home = esHome(root);
  if (existsSync(join(home, 'bin', 'elasticsearch'))) {
    ensureUser(home);
    return home;
  }
  log(`installing Elasticsearch ${ES_VERSION} (Maven: ${ARTIFACT}) into ${home}`);
  const tmp = `${home}.tmp-${process.pid}`;
  rmSync(tmp, { recursive: true, force: true });
  mkdirSync(tmp, { recursive: true });
  execFileSync(
    process.env.MVN ?? 'mvn',
    ['-q', '-B', 'dependency:copy', `-Dartifact=${ARTIFACT}`, `-DoutputDirectory=${tmp}`],
    { stdio: ['ignore', 'inherit', 'inherit'] },
  );
  const zip = join(tmp, `elasticsearch-${ES_VERSION}.zip`);
  execFileSync('python3', ['-m', 'zipfile', '-e', zip, tmp], { stdio: 'inherit' });
  rmSync(zip);
  const unpacked = join(tmp, `elasticsearch-${ES_VERSION}`);
  // zipfile does not keep permission bits.
  for (const f of readdirSync(join(unpacked, 'bin'))) chmodSync(join(unpacked, 'bin', f), 0o755);
  rmSync(home, { recursive: true, force: true });
  mkdirSync(dirname(home), { recursive: true });
  renameSync(unpacked, home);
  rmSync(tmp, { recursive: true, force: true });
  ensureUser(home);
  return home;
}

/** As root: the system user exists and owns the distribution (config is written at start). */
function ensureUser(home: string): void {
  if (process.getuid?.() !== 0) return;
  if (spawnSync('id', ['-u', ES_USER]).status !== 0) {
    execFileSync('useradd', [
      '--system',
      '--no-create-home',
      '--shell',
      '/usr/sbin/nologin',
      ES_USER,
    ]);
  }
  execFileSync('chown', ['-R', `${ES_USER}:${ES_USER}`, home]);
}

/** Can the ES user reach `path` (every parent directory traversable)? */
function reachable(path: string, ids: { uid: number; gid: number }): boolean {
  return spawnSync('test', ['-x', path], { ...ids }).status === 0;
}

/**
 * The distribution where the ES user can run it. A checkout under a directory only root
 * may enter (a mktemp'd CI clone, /root) is not reachable: then a copy under the system
 * temporary directory is used.
 */
function runnableHome(home: string, ids: { uid: number; gid: number } | undefined): string {
  if (!ids || reachable(join(home, 'bin', 'elasticsearch'), ids)) return home;
  const copy = join(tmpdir(), `callguard-elasticsearch-${ES_VERSION}`);
  if (!existsSync(join(copy, 'bin', 'elasticsearch'))) {
    const tmp = `${copy}.tmp-${process.pid}`;
    rmSync(tmp, { recursive: true, force: true });
    execFileSync('cp', ['-a', home, tmp]);
    execFileSync('chown', ['-R', `${ids.uid}:${ids.gid}`, tmp]);
    renameSync(tmp, copy);
  }
  return copy;
}

function userIds(): { uid: number; gid: number } | undefined {
  if (process.getuid?.() !== 0) return undefined;
  const uid = Number(execFileSync('id', ['-u', ES_USER], { encoding: 'utf8' }).trim());
  const gid = Number(execFileSync('id', ['-g', ES_USER], { encoding: 'utf8' }).trim());
  return { uid, gid };
}

/** JAVA_HOME of the `java` on PATH (ES_JAVA_HOME wins when set). */
export function javaHome(): string {
  if (process.env.ES_JAVA_HOME) return process.env.ES_JAVA_HOME;
  const java = execFileSync('sh', ['-c', 'command -v java'], { encoding: 'utf8' }).trim();
  return dirname(dirname(realpathSync(java)));
}

export interface EsProcess {
  url: string;
  port: number;
  child: ChildProcess;
  output(): string;
  stop(): Promise<void>;
}

export interface EsOptions {
  port: number;
  transportPort: number;
  /** Data and logs go here (created, owned by the ES user); a temporary directory by default. */
  dataDir?: string;
  onLine?: (line: string) => void;
  timeoutMs?: number;
}

/** Starts a single-node, security-off Elasticsearch on 127.0.0.1 and waits until it is green. */
export async function startElasticsearch(opts: EsOptions): Promise<EsProcess> {
  const ids = userIds();
  const home = runnableHome(ensureElasticsearch(opts.onLine), ids);
  let dir = opts.dataDir ?? mkdtempSync(join(tmpdir(), 'callguard-es-'));
  if (ids && opts.dataDir && !reachable(dirname(dir), ids)) {
    dir = mkdtempSync(join(tmpdir(), 'callguard-es-'));
  }
  mkdirSync(join(dir, 'data'), { recursive: true });
  mkdirSync(join(dir, 'logs'), { recursive: true });
  if (ids) execFileSync('chown', ['-R', `${ids.uid}:${ids.gid}`, dir]);
  const child = spawn(
    join(home, 'bin', 'elasticsearch'),
    [
      '-Ediscovery.type=single-node',
      '-Expack.security.enabled=false',
      '-Enetwork.host=127.0.0.1',
      `-Ehttp.port=${opts.port}`,
      `-Etransport.port=${opts.transportPort}`,
      `-Epath.data=${join(dir, 'data')}`,
      `-Epath.logs=${join(dir, 'logs')}`,
      // Tests and the demo run on small disks; do not turn indices read-only at 90 %.
      '-Ecluster.routing.allocation.disk.threshold_enabled=false',
    ],
    {
      env: {
        PATH: process.env.PATH ?? '/usr/bin:/bin',
        ES_JAVA_HOME: javaHome(),
        ES_JAVA_OPTS: '-Xms512m -Xmx512m',
        HOME: dir,
      },
      stdio: ['ignore', 'pipe', 'pipe'],
      ...(ids ?? {}),
    },
  );
  const chunks: Buffer[] = [];
  for (const s of [child.stdout, child.stderr]) {
    s?.on('data', (c: Buffer) => {
      chunks.push(c);
      if (opts.onLine) for (const l of c.toString().split('\n')) if (l) opts.onLine(l);
    });
  }
  const output = () => Buffer.concat(chunks).toString('utf8');
  const url = `http://127.0.0.1:${opts.port}`;
  const until = Date.now() + (opts.timeoutMs ?? 120_000);
  for (;;) {
    if (child.exitCode !== null) {
      throw new Error(`Elasticsearch exited with ${child.exitCode}\n${output().slice(-4000)}`);
    }
    try {
      const r = await fetch(`${url}/_cluster/health?wait_for_status=yellow&timeout=1s`);
      if (r.ok) break;
    } catch {
      // not listening yet
    }
    if (Date.now() > until) {
      child.kill('SIGKILL');
      throw new Error(`Elasticsearch not ready in time\n${output().slice(-4000)}`);
    }
    await new Promise((r) => setTimeout(r, 250));
  }
  return {
    url,
    port: opts.port,
    child,
    output,
    stop: () =>
      new Promise<void>((resolve) => {
        if (child.exitCode !== null || child.signalCode !== null) return resolve();
        const t = setTimeout(() => child.kill('SIGKILL'), 15_000);
        child.once('exit', () => {
          clearTimeout(t);
          if (!opts.dataDir) rmSync(dir, { recursive: true, force: true });
          resolve();
        });
        child.kill('SIGTERM');
      }),
  };
}
