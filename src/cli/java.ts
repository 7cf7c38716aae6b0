// Which Java runs Elasticsearch: 8.x runs on Java 17 (the machine's default), 9.x needs 21 or
// newer. JDKs are found where the system keeps them (the `java` on PATH, JAVA_HOME,
// /usr/lib/jvm), each read from its `release` file; ES_JAVA_HOME, when set, wins.

import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, realpathSync } from 'node:fs';
import { dirname, join } from 'node:path';

/** Where Debian (and most Linux distributions) install JDKs side by side. */
const JVM_DIRS = ['/usr/lib/jvm'];

export interface Jdk {
  home: string;
  /** The feature release: 17, 21, 25. */
  major: number;
}

/** The JDK at `home`, from its `release` file (JAVA_VERSION="25.0.3"); undefined if none. */
export function readJdk(home: string): Jdk | undefined {
  const release = join(home, 'release');
  if (!existsSync(release) || !existsSync(join(home, 'bin', 'java'))) return undefined;
  const m = /^JAVA_VERSION="(\d+)(?:\.|")/m.exec(readFileSync(release, 'utf8'));
  return m ? { home: realpathSync(home), major: Number(m[1]) } : undefined;
}

/** Every JDK this machine has, the one on PATH first, without duplicates. */
export function installedJdks(): Jdk[] {
  const homes: string[] = [];
  try {
    const java = execFileSync('sh', ['-c', 'command -v java'], { encoding: 'utf8' }).trim();
    if (java) homes.push(dirname(dirname(realpathSync(java))));
  } catch {
    // no java on PATH
  }
  if (process.env.JAVA_HOME) homes.push(process.env.JAVA_HOME);
  for (const dir of JVM_DIRS) {
    if (!existsSync(dir)) continue;
    for (const name of readdirSync(dir).sort()) homes.push(join(dir, name));
  }
  const seen = new Set<string>();
  const out: Jdk[] = [];
  for (const h of homes) {
    const jdk = readJdk(h);
    if (!jdk || seen.has(jdk.home)) continue;
    seen.add(jdk.home);
    out.push(jdk);
  }
  return out;
}

/**
 * The JAVA_HOME for a program that needs Java `min` or newer: ES_JAVA_HOME when set (the
 * operator's choice, not second-guessed), else the `java` on PATH when new enough, else the
 * newest JDK installed. Throws, naming what was found, when there is none.
 */
export function javaHomeFor(min: number, what: string): string {
  if (process.env.ES_JAVA_HOME) return process.env.ES_JAVA_HOME;
  const jdks = installedJdks();
  const first = jdks[0];
  if (first && first.major >= min) return first.home;
  const newest = [...jdks].sort((a, b) => b.major - a.major)[0];
  if (newest && newest.major >= min) return newest.home;
  const found = jdks.map((j) => `Java ${j.major} at ${j.home}`).join(', ') || 'no JDK';
  throw new Error(
    `${what} needs Java ${min} or newer; found ${found} (on PATH, JAVA_HOME, ${JVM_DIRS.join(', ')}). ` +
      `Install one (for example Debian's openjdk-${min}-jdk-headless) or set ES_JAVA_HOME.`,
  );
}
