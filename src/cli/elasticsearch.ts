// The local Elasticsearch: the `integ-test-zip` distribution (core plus security, no
// data-stream, ILM, painless or wildcard modules) from Maven Central, fetched by Maven into
// the project's gitignored cache on first use, and run with the machine's Java 17 as a
// dedicated system user (Elasticsearch refuses to run as root) on loopback.

import { execFileSync, spawn, spawnSync } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { PROJECT_ROOT } from './envoy.js';
import { chownTree, ensureSystemUser, installDir, isRoot } from './install.js';
import { javaHomeFor } from './java.js';

/** The Elasticsearch the local stack and the tests run by default (Java 17). */
export const ES_VERSION = '8.19.21';
/** The newest 9.x `integ-test-zip` on Maven Central, tested beside ES_VERSION (Java 21+). */
export const ES9_VERSION = '9.5.4';

/** `CALLGUARD_ES_VERSION` (an `integ-test-zip` version on Maven Central), else ES_VERSION. */
export function esVersion(): string {
  const v = process.env.CALLGUARD_ES_VERSION;
  if (v === undefined || v === '') return ES_VERSION;
  if (!/^\d+\.\d+\.\d+$/.test(v))
    throw new Error(`CALLGUARD_ES_VERSION=${v} is not an Elasticsearch version (like 9.5.4)`);
  return v;
}

/** The oldest Java an Elasticsearch version runs on: 17 for 8.x, 21 for 9.x. */
export function javaFor(version: string): number {
  return Number(version.split('.')[0]) >= 9 ? 21 : 17;
}
/** The system user Elasticsearch runs as when callguard runs as root (it refuses root). */
export const DEFAULT_ES_USER = 'callguard-es';

/** `CALLGUARD_ES_USER`, else callguard-es. */
export function esUser(): string {
  return process.env.CALLGUARD_ES_USER || DEFAULT_ES_USER;
}

function artifact(version: string): string {
  return `org.elasticsearch.distribution.integ-test-zip:elasticsearch:${version}:zip`;
}

export function esHome(root = PROJECT_ROOT, version = esVersion()): string {
  return join(root, '.cache', 'elasticsearch', version);
}

export interface EsInstallOptions {
  log?: (line: string) => void;
  /** The project root whose `.cache/` holds the install. */
  root?: string;
  version?: string;
  /** Who runs it (as root only); default esUser(). */
  user?: string;
}

/**
 * The unpacked distribution, fetched with Maven and unpacked if needed; as root, the system
 * user that runs it exists and owns it (Elasticsearch writes its keystore there at start).
 */
export function ensureElasticsearch(opts: EsInstallOptions = {}): string {
  const version = opts.version ?? esVersion();
  const home = esHome(opts.root, version);
  const valid = (): boolean => existsSync(join(home, 'bin', 'elasticsearch'));
  if (!valid()) {
    opts.log?.(`installing Elasticsearch ${version} (Maven: ${artifact(version)}) into ${home}`);
  }
  installDir(home, valid, (tmp) => {
    execFileSync(
      process.env.MVN ?? 'mvn',
      [
        '-q',
        '-B',
        'dependency:copy',
        `-Dartifact=${artifact(version)}`,
        `-DoutputDirectory=${tmp}`,
      ],
      { stdio: ['ignore', 'inherit', 'inherit'] },
    );
    const zip = join(tmp, `elasticsearch-${version}.zip`);
    execFileSync('python3', ['-m', 'zipfile', '-e', zip, tmp], { stdio: 'inherit' });
    rmSync(zip);
    // Move the unpacked tree's contents up into tmp, which becomes `home`.
    const unpacked = join(tmp, `elasticsearch-${version}`);
    for (const f of readdirSync(unpacked)) execFileSync('mv', [join(unpacked, f), tmp]);
    rmSync(unpacked, { recursive: true });
    // zipfile does not keep permission bits.
    for (const f of readdirSync(join(tmp, 'bin'))) chmodSync(join(tmp, 'bin', f), 0o755);
  });
  if (isRoot()) chownTree(home, ensureSystemUser(opts.user ?? esUser()));
  return home;
}

/** Can the ES user reach `path` (every parent directory traversable)? */
function reachable(path: string, ids: { uid: number; gid: number }): boolean {
  return spawnSync('test', ['-x', path], { ...ids }).status === 0;
}

/**
 * The distribution where the ES user can run it. A checkout under a directory only root
 * may enter (a mktemp'd CI clone, /root) is not reachable: then a copy under the system
 * temporary directory is used, one per version and user id.
 */
function runnableHome(
  home: string,
  version: string,
  ids: { uid: number; gid: number } | undefined,
): string {
  if (!ids || reachable(join(home, 'bin', 'elasticsearch'), ids)) return home;
  const copy = join(tmpdir(), `callguard-elasticsearch-${version}-${ids.uid}`);
  installDir(
    copy,
    () => existsSync(join(copy, 'bin', 'elasticsearch')),
    (tmp) => {
      execFileSync('cp', ['-a', `${home}/.`, tmp]);
      chownTree(tmp, ids);
    },
  );
  return copy;
}

export interface EsProcess {
  url: string;
  port: number;
  child: ChildProcess;
  output(): string;
  stop(): Promise<void>;
}

export interface EsOptions extends EsInstallOptions {
  port: number;
  transportPort: number;
  /** Data and logs go here (created, owned by the ES user); a temporary directory by default. */
  dataDir?: string;
  onLine?: (line: string) => void;
  timeoutMs?: number;
}

/** Starts a single-node, security-off Elasticsearch on 127.0.0.1 and waits until it is green. */
export async function startElasticsearch(opts: EsOptions): Promise<EsProcess> {
  // Install first: as root, that also creates the system user the ids below belong to.
  const version = opts.version ?? esVersion();
  const java = javaHomeFor(javaFor(version), `Elasticsearch ${version}`);
  const installed = ensureElasticsearch({ ...opts, log: opts.log ?? opts.onLine });
  const ids = isRoot() ? ensureSystemUser(opts.user ?? esUser()) : undefined;
  const home = runnableHome(installed, version, ids);
  let dir = opts.dataDir ?? mkdtempSync(join(tmpdir(), 'callguard-es-'));
  if (ids && opts.dataDir && !reachable(dirname(dir), ids)) {
    dir = mkdtempSync(join(tmpdir(), 'callguard-es-'));
  }
  mkdirSync(join(dir, 'data'), { recursive: true });
  mkdirSync(join(dir, 'logs'), { recursive: true });
  if (ids) chownTree(dir, ids);
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
        ES_JAVA_HOME: java,
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
