// installDir: the one way installs into .cache/ happen, safe when two runs race.

import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { installDir } from '../../src/cli/install.js';

let base: string;
afterEach(() => rmSync(base, { recursive: true, force: true }));

function setup(): string {
  base = mkdtempSync(join(tmpdir(), 'callguard-install-'));
  return join(base, 'cache', 'thing', '1.0');
}
const validIn = (dir: string) => () => existsSync(join(dir, 'ok'));

describe('installDir', () => {
  it('fills a private folder and moves it into place, leaving nothing beside it', () => {
    const dir = setup();
    installDir(dir, validIn(dir), (tmp) => writeFileSync(join(tmp, 'ok'), 'mine'));
    expect(readFileSync(join(dir, 'ok'), 'utf8')).toBe('mine');
    expect(readdirSync(join(base, 'cache', 'thing'))).toEqual(['1.0']);
  });

  it('does nothing when the install is already good', () => {
    const dir = setup();
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, 'ok'), 'earlier');
    installDir(dir, validIn(dir), () => {
      throw new Error('must not install again');
    });
    expect(readFileSync(join(dir, 'ok'), 'utf8')).toBe('earlier');
  });

  it('keeps the install of a run that got there first, and throws its own away', () => {
    const dir = setup();
    installDir(dir, validIn(dir), (tmp) => {
      writeFileSync(join(tmp, 'ok'), 'loser');
      // Meanwhile another run finished its install.
      mkdirSync(dir, { recursive: true });
      writeFileSync(join(dir, 'ok'), 'winner');
    });
    expect(readFileSync(join(dir, 'ok'), 'utf8')).toBe('winner');
    expect(readdirSync(join(base, 'cache', 'thing'))).toEqual(['1.0']);
  });

  it('replaces a broken install an earlier run left behind', () => {
    const dir = setup();
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, 'half'), 'interrupted');
    installDir(dir, validIn(dir), (tmp) => writeFileSync(join(tmp, 'ok'), 'new'));
    expect(readdirSync(dir)).toEqual(['ok']);
    expect(readdirSync(join(base, 'cache', 'thing'))).toEqual(['1.0']);
  });

  it('fails, and leaves no temporary folder, when the fill fails', () => {
    const dir = setup();
    expect(() =>
      installDir(dir, validIn(dir), () => {
        throw new Error('pip: no such version');
      }),
    ).toThrow('pip: no such version');
    expect(existsSync(dir)).toBe(false);
    expect(readdirSync(join(base, 'cache', 'thing'))).toEqual([]);
  });
});
