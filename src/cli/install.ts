// Installs into the project's cache that hold when two runs race (two `npm test`, or
// `npm start` beside a test run) and that never trust half of an earlier run's work: each
// install fills a private temporary folder and moves it into place with one rename.

import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, renameSync, rmSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';

/**
 * Makes `dir` hold a good install: when `valid()` already holds, nothing is done. Otherwise
 * `fill(tmp)` builds it in a folder of this process, which is renamed to `dir`. A racing
 * process that got there first wins, and ours is thrown away; a broken `dir` left by an
 * earlier run is moved aside first (never deleted under a process that may be using it).
 */
export function installDir(dir: string, valid: () => boolean, fill: (tmp: string) => void): void {
  if (valid()) return;
  const tmp = `${dir}.tmp-${process.pid}`;
  rmSync(tmp, { recursive: true, force: true });
  mkdirSync(tmp, { recursive: true });
  try {
    fill(tmp);
    mkdirSync(dirname(dir), { recursive: true });
    if (!tryRename(tmp, dir)) {
      if (!valid()) {
        // A broken install from an earlier run: set it aside, then take its place.
        const aside = `${dir}.broken-${process.pid}-${Date.now()}`;
        if (tryRename(dir, aside)) rmSync(aside, { recursive: true, force: true });
        if (!tryRename(tmp, dir) && !valid())
          throw new Error(`could not move the install of ${dir} into place`);
      }
    }
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
  if (!valid()) throw new Error(`${dir} was installed but does not work`);
}

/** rename(2), false when the target exists already (a directory that is not empty). */
function tryRename(from: string, to: string): boolean {
  try {
    renameSync(from, to);
    return true;
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOTEMPTY' || code === 'EEXIST' || code === 'ENOENT') return false;
    throw e;
  }
}

export interface GoProgram {
  /** The module, e.g. `helm.sh/helm/v4`. */
  module: string;
  /** The pinned version, e.g. `v4.3.2`. */
  version: string;
  /** The main package when it is not the module's root, e.g. `helm.sh/helm/v4/cmd/helm`. */
  pkg?: string;
}

/**
 * `bin` is the program of the pinned module version, installed with `go install` when missing
 * or of another version (a binary's build info names its module version). It is built into a
 * folder of this process and renamed over `bin`: a racing run never sees half a binary, and
 * the last rename wins with a whole one. Needs Go on the PATH.
 */
export function ensureGoBinary(
  program: GoProgram,
  bin: string,
  log: (line: string) => void = () => {},
): string {
  if (goBinaryIs(bin, program)) return bin;
  const target = `${program.pkg ?? program.module}@${program.version}`;
  log(`installing ${basename(bin)} ${program.version} (go install ${target}) into ${bin}`);
  mkdirSync(dirname(bin), { recursive: true });
  const tmp = mkdtempSync(join(dirname(bin), `.${basename(bin)}-`));
  try {
    execFileSync('go', ['install', target], {
      stdio: ['ignore', 'inherit', 'inherit'],
      env: { ...process.env, GOBIN: tmp },
    });
    const [built] = readdirSync(tmp);
    if (built === undefined) throw new Error(`go install ${target} built nothing`);
    renameSync(join(tmp, built), bin);
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
  if (!goBinaryIs(bin, program))
    throw new Error(`${bin} was installed but is not ${program.module} ${program.version}`);
  return bin;
}

/** The binary exists and its build info names the module at the pinned version. */
export function goBinaryIs(bin: string, program: GoProgram): boolean {
  if (!existsSync(bin)) return false;
  const r = spawnSync('go', ['version', '-m', bin], { encoding: 'utf8' });
  // Lines of `go version -m`: "\tmod\t<module>\t<version>\t<sum>".
  return (
    r.status === 0 &&
    r.stdout.split('\n').some((line) => {
      const [kind, mod, version] = line.trim().split(/\s+/);
      return kind === 'mod' && mod === program.module && version === program.version;
    })
  );
}

/** Whether this process runs as root (system users and apt need it). */
export function isRoot(): boolean {
  return process.getuid?.() === 0;
}

/** The numeric ids of a system user, undefined when it does not exist. */
export function userIds(user: string): { uid: number; gid: number } | undefined {
  const u = spawnSync('id', ['-u', user], { encoding: 'utf8' });
  const g = spawnSync('id', ['-g', user], { encoding: 'utf8' });
  if (u.status !== 0 || g.status !== 0) return undefined;
  return { uid: Number(u.stdout.trim()), gid: Number(g.stdout.trim()) };
}

/**
 * The system user exists (created without a home or a login shell when missing). Two runs
 * may race to create it: a failed useradd is an error only if the user is still missing.
 */
export function ensureSystemUser(user: string): { uid: number; gid: number } {
  const known = userIds(user);
  if (known) return known;
  if (!isRoot())
    throw new Error(`the system user ${user} does not exist, and only root can create it`);
  const r = spawnSync(
    'useradd',
    ['--system', '--no-create-home', '--shell', '/usr/sbin/nologin', user],
    { encoding: 'utf8' },
  );
  const made = userIds(user);
  if (!made) throw new Error(`useradd ${user} failed: ${(r.stderr || r.error?.message) ?? ''}`);
  return made;
}

/** `chown -R uid:gid path`. */
export function chownTree(path: string, ids: { uid: number; gid: number }): void {
  execFileSync('chown', ['-R', `${ids.uid}:${ids.gid}`, path]);
}
