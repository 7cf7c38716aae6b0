// Which JDK runs Elasticsearch: read from each JDK's `release` file; 9.x needs 21+.

import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { javaFor } from '../../src/cli/elasticsearch.js';
import { installedJdks, javaHomeFor, readJdk } from '../../src/cli/java.js';

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
  delete process.env.ES_JAVA_HOME;
});

function fakeJdk(release: string | undefined, withJava = true): string {
  const home = mkdtempSync(join(tmpdir(), 'callguard-jdk-'));
  dirs.push(home);
  mkdirSync(join(home, 'bin'));
  if (withJava) writeFileSync(join(home, 'bin', 'java'), '');
  if (release !== undefined) writeFileSync(join(home, 'release'), release);
  return home;
}

describe('readJdk', () => {
  it('reads the feature release from JAVA_VERSION', () => {
    expect(readJdk(fakeJdk('IMPLEMENTOR="Eclipse"\nJAVA_VERSION="25.0.3"\n'))?.major).toBe(25);
    expect(readJdk(fakeJdk('JAVA_VERSION="17.0.15"\n'))?.major).toBe(17);
    expect(readJdk(fakeJdk('JAVA_VERSION="21"\n'))?.major).toBe(21);
  });

  it('is undefined without a release file, a JAVA_VERSION or a bin/java', () => {
    expect(readJdk(fakeJdk(undefined))).toBeUndefined();
    expect(readJdk(fakeJdk('IMPLEMENTOR="x"\n'))).toBeUndefined();
    expect(readJdk(fakeJdk('JAVA_VERSION="21.0.1"\n', false))).toBeUndefined();
  });
});

describe('javaHomeFor', () => {
  it('takes ES_JAVA_HOME as the operator set it', () => {
    process.env.ES_JAVA_HOME = '/opt/some/jdk';
    expect(javaHomeFor(21, 'Elasticsearch 9.5.4')).toBe('/opt/some/jdk');
  });

  it('finds a JDK new enough among those installed, or says what it found', () => {
    const jdks = installedJdks();
    const newest = Math.max(...jdks.map((j) => j.major));
    const home = javaHomeFor(17, 'Elasticsearch 8.19.21');
    expect(readJdk(home)!.major).toBeGreaterThanOrEqual(17);
    expect(() => javaHomeFor(newest + 1, 'Elasticsearch 99.0.0')).toThrow(
      new RegExp(`Elasticsearch 99.0.0 needs Java ${newest + 1} or newer; found Java \\d+ at `),
    );
  });

  it('Elasticsearch 8 runs on Java 17, 9 and later need 21', () => {
    expect(javaFor('8.19.21')).toBe(17);
    expect(javaFor('9.5.4')).toBe(21);
    expect(javaFor('10.0.0')).toBe(21);
  });
});
