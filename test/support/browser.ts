// Debian's Chromium for the browser tests, driven by playwright-core (never a browser
// downloaded by Playwright). The test global setup installs it with apt when missing.

import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium } from 'playwright-core';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { PROJECT_ROOT } from '../../src/cli/envoy.js';

export const CHROMIUM = '/usr/bin/chromium';
export const SCREENSHOTS = join(PROJECT_ROOT, 'test-results', 'screenshots');

/**
 * apt-get install chromium when /usr/bin/chromium is missing (the tests run as root). The
 * package lists are refreshed first (a fresh image has none), and apt waits for the dpkg
 * lock instead of failing when another install holds it.
 */
export function ensureChromium(say: (line: string) => void): void {
  if (existsSync(CHROMIUM)) return;
  if (process.getuid?.() !== 0)
    throw new Error(
      `${CHROMIUM} is missing and only root can apt-get install it: run \`apt-get install chromium\``,
    );
  say('installing Debian chromium for the browser tests (apt-get)');
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  const lock = ['-o', 'DPkg::Lock::Timeout=300'];
  execFileSync('apt-get', [...lock, 'update'], { stdio: ['ignore', 'ignore', 'inherit'], env });
  execFileSync('apt-get', [...lock, 'install', '-y', '--no-install-recommends', 'chromium'], {
    stdio: ['ignore', 'ignore', 'inherit'],
    env,
  });
  if (!existsSync(CHROMIUM))
    throw new Error(`apt-get installed chromium but ${CHROMIUM} is missing`);
}

/**
 * A fresh headless Chromium with a profile directory of its own (Playwright takes the
 * user data dir as the persistent context's argument, never as `--user-data-dir`). Tests
 * open isolated contexts on the returned browser, one per signed-in user.
 */
export async function launchChromium(): Promise<{ browser: Browser; close: () => Promise<void> }> {
  const profile = mkdtempSync(join(tmpdir(), 'callguard-chromium-'));
  const persistent = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
  const browser = persistent.browser();
  if (!browser) {
    await persistent.close();
    throw new Error('Chromium gave no browser handle for its persistent context');
  }
  return {
    browser,
    close: async () => {
      await persistent.close();
      rmSync(profile, { recursive: true, force: true });
    },
  };
}

export async function screenshot(page: Page, name: string): Promise<void> {
  mkdirSync(SCREENSHOTS, { recursive: true });
  await page.screenshot({ path: join(SCREENSHOTS, `${name}.png`), fullPage: true });
}

export type { Browser, BrowserContext, Page };
