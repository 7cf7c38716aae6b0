// The admin web page end to end: Debian's Chromium (playwright-core) signs in through a real
// OIDC provider (oidc-provider, authorization code + PKCE, its own login form) to callguard's
// admin server, in front of the real Envoy, Elasticsearch and approval store. An auditor
// finds a session by user and by value and sees its masked span highlighted; a manager
// approves a held call in the inbox and the retried call goes through. Then the cookie's
// CSRF and authorization rules on every state-changing endpoint, over plain HTTP.

import { randomBytes, randomUUID } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { PROJECT_ROOT } from '../../src/cli/envoy.js';
import { startTestIdp } from '../support/idp.js';
import type { TestIdp } from '../support/idp.js';
import { uniquePrefix } from '../support/es.js';
import { launchChromium, screenshot } from '../support/browser.js';
import type { Browser, BrowserContext, Page } from '../support/browser.js';
import { freePort, http, postJson, startStack } from '../integration/stack.js';
import type { Stack } from '../integration/stack.js';

const AUD = 'callguard';
const CLIENT_ID = 'callguard-admin-ui';
const CLIENT_SECRET = randomBytes(24).toString('base64url');
const CARD = `4000 ${String(randomBytes(2).readUInt16BE(0) % 10000).padStart(4, '0')} 0000 0002`;
const IBAN = 'DE89370400440532013000';
const TRANSFER = JSON.stringify({
  from_account: 'acc_1',
  to_iban: IBAN,
  amount: 99.5,
  currency: 'EUR',
  memo: 'ui test',
});

let idp: TestIdp;
let stack: Stack;
let browser: Browser;
let closeBrowser: (() => Promise<void>) | undefined;
let admin: string;
const sessions: Record<string, string> = {};
let approvalId = '';

const agent = (user: string) => ({
  'x-callguard-dev-groups': 'agents',
  'x-callguard-dev-groups-user': user,
});

async function bearer(groups: string[]): Promise<Record<string, string>> {
  const t = await idp.clientCredentialsToken({
    clientId: `svc-${groups.join('-')}`,
    audience: AUD,
    groups,
  });
  return { authorization: `Bearer ${t}` };
}

/** Signs in through the provider's login form; the page then shows the user's name. */
async function signIn(ctx: BrowserContext, login: string, name: string): Promise<Page> {
  const page = await ctx.newPage();
  await page.goto(`${admin}/`);
  await page.getByRole('link', { name: /sign in/i }).click();
  await page.locator('input[name=login]').fill(login);
  await page.locator('input[name=password]').fill('any password');
  await page.locator('button[type=submit]').click();
  await page.waitForURL(`${admin}/`);
  await page.locator('#user', { hasText: name }).waitFor();
  return page;
}

beforeAll(async () => {
  idp = await startTestIdp({
    users: {
      audrey: { groups: ['auditors'], name: 'Audrey Auditor', email: 'audrey@example.test' },
      mark: { groups: ['managers'], name: 'Mark Manager', email: 'mark@example.test' },
    },
  });
  const adminPort = await freePort();
  admin = `http://127.0.0.1:${adminPort}`;
  await idp.registerWebClient({
    clientId: CLIENT_ID,
    clientSecret: CLIENT_SECRET,
    redirectUris: [`${admin}/ui/callback`],
  });
  const dir = mkdtempSync(join(tmpdir(), 'callguard-ui-'));
  stack = await startStack({
    policies: [join(PROJECT_ROOT, 'test/fixtures/ui/policy.yaml')],
    config: {
      admin_addr: `127.0.0.1:${adminPort}`,
      identity: { oidc: [{ issuer: idp.issuer, audiences: [AUD] }] },
      audit: {
        elasticsearch: { url: inject('esUrl'), index_prefix: uniquePrefix('ui') },
        fingerprint: { keys: [{ id: 'k1', secret: 'ui-test-fingerprint-secret-0123' }] },
        spool: { dir: join(dir, 'spool') },
        flush_interval_ms: 100,
      },
      approvals: {
        elasticsearch_url: inject('esUrl'),
        index: `cg-ui-approvals-${randomUUID().slice(0, 8)}`,
        public_url: admin,
      },
      admin: {
        auditor_groups: ['auditors'],
        auth_sources: ['oidc'],
        ui: { oidc: { issuer: idp.issuer, client_id: CLIENT_ID, client_secret: CLIENT_SECRET } },
      },
    },
  });
  for (const fn of ['pay', 'transfer_funds']) {
    stack.upstream.respond(`/functions/${fn}`, {
      status: 200,
      headers: { 'content-type': 'application/json' },
      body: '{"ok":true}',
    });
  }
  const pay = (user: string, body: string) =>
    postJson(`${stack.url}/functions/pay`, body, agent(user));
  const a = await pay('alice', `{"amount":5,"card":{"number":"${CARD}"}}`);
  expect(a.status, a.text).toBe(200);
  sessions.alice = a.headers['x-callguard-session'] as string;
  const b = await pay('bob', '{"amount":3,"note":"coffee"}');
  expect(b.status, b.text).toBe(200);
  sessions.bob = b.headers['x-callguard-session'] as string;
  const held = await postJson(`${stack.url}/functions/transfer_funds`, TRANSFER, agent('alice'));
  expect(held.status, held.text).toBe(403);
  approvalId = held.json<{ error: { approval_id: string } }>().error.approval_id;
  const heldSession = held.headers['x-callguard-session'] as string;
  // Wait until the records are searchable.
  const auditor = await bearer(['auditors']);
  for (let i = 0; ; i++) {
    const r = await http(`${admin}/api/sessions?size=50`, { headers: auditor });
    const ids = r
      .json<{ sessions: { callguard: { session_id: string } }[] }>()
      .sessions.map((s) => s.callguard.session_id);
    if (ids.includes(sessions.alice) && ids.includes(sessions.bob) && ids.includes(heldSession)) {
      break;
    }
    if (i > 100) throw new Error('the session records did not reach Elasticsearch');
    await new Promise((r) => setTimeout(r, 200));
  }
  ({ browser, close: closeBrowser } = await launchChromium());
}, 120_000);

afterAll(async () => {
  await closeBrowser?.();
  await stack?.stop();
  await idp?.stop();
});

describe('the page itself', () => {
  it('is served with a strict CSP and no inline script', async () => {
    const r = await http(`${admin}/`);
    expect(r.status).toBe(200);
    const csp = r.headers['content-security-policy'] as string;
    expect(csp).toContain("default-src 'self'");
    expect(csp).toContain("script-src 'self'");
    expect(csp).toContain("frame-ancestors 'none'");
    expect(csp).not.toContain('unsafe-inline');
    expect(r.headers['x-content-type-options']).toBe('nosniff');
    expect(r.text).toMatch(/<script type="module" src="\/ui\/app\.js"><\/script>/);
    expect(r.text).not.toMatch(/<script>|<script type="module">|style="/);
    const js = await http(`${admin}/ui/app.js`);
    expect([js.status, js.headers['content-type']]).toEqual([
      200,
      'text/javascript; charset=utf-8',
    ]);
  });
});

describe('the hourly histogram (Bearer API)', () => {
  it('counts the calls by decision over the same validated filters', async () => {
    const auditor = await bearer(['auditors']);
    const get = (q: string) => http(`${admin}/api/sessions/histogram?${q}`, { headers: auditor });
    const from = new Date(Date.now() - 3 * 3_600_000).toISOString();
    type Histogram = {
      interval: string;
      buckets: { start: string; total: number; decisions: Record<string, number> }[];
    };
    const histogram = async () => {
      const r = await get(`user=alice&from=${encodeURIComponent(from)}`);
      expect(r.status, r.text).toBe(200);
      return r.json<Histogram>();
    };
    const sums = (h: Histogram) =>
      ['modified', 'held', 'allowed'].map((d) =>
        h.buckets.reduce((n, b) => n + (b.decisions[d] ?? 0), 0),
      );
    // Records reach Elasticsearch through the spool: wait until both of alice's are in.
    // bob's call is not alice's: never counted.
    await expect.poll(async () => sums(await histogram()), { timeout: 15_000 }).toEqual([1, 1, 0]);
    const h = await histogram();
    expect(h.interval).toBe('1h');
    expect(h.buckets.length).toBeGreaterThanOrEqual(3); // empty hours included
    expect((await get('decision=nonsense')).status).toBe(400);
    expect((await get('from=2026-01-01T00:00:00Z&to=2026-03-01T00:00:00Z')).status).toBe(400);
    expect((await http(`${admin}/api/sessions/histogram`)).status).toBe(401);
  });
});

describe('an auditor', () => {
  let ctx: BrowserContext;
  let page: Page;
  const errors: string[] = [];

  beforeAll(async () => {
    ctx = await browser.newContext({ viewport: { width: 1280, height: 900 } });
    page = await signIn(ctx, 'audrey', 'Audrey Auditor');
    page.on('console', (m) => {
      if (m.type() === 'error') errors.push(m.text());
    });
  }, 60_000);
  afterAll(async () => ctx?.close());

  it('gets an HttpOnly, SameSite=Lax session cookie holding only a random id', async () => {
    const [c] = (await ctx.cookies(admin)).filter((x) => x.name === 'cg_session');
    expect(c).toBeDefined();
    expect(c!.httpOnly).toBe(true);
    expect(c!.sameSite).toBe('Lax');
    expect(c!.secure).toBe(false); // loopback over http
    expect(c!.value).toMatch(/^[A-Za-z0-9_-]{43}$/);
  });

  it('finds a session by user, with the hourly chart', async () => {
    await page.locator('#f-user').fill('alice');
    await page.getByRole('button', { name: 'Search' }).click();
    await page.waitForURL(/#\/sessions\?user=alice/);
    // The table is drawn again when the search answers: look until it shows alice's rows.
    await expect
      .poll(
        async () => {
          const rows = await page.locator('tbody tr').allTextContents();
          return rows.length >= 1 && rows.every((r) => r.includes('alice'));
        },
        { timeout: 10_000 },
      )
      .toBe(true);
    const rows = await page.locator('tbody tr').allTextContents();
    expect(rows.some((r) => r.includes('bob'))).toBe(false);
    expect(await page.locator('#chart svg rect.bar').count()).toBeGreaterThan(0);
    await screenshot(page, 'sessions-by-user');
  });

  it('pages through the results', async () => {
    await page.goto(`${admin}/#/sessions?user=alice&size=1`);
    await page.locator('tbody tr').first().waitFor();
    expect(await page.locator('tbody tr').count()).toBe(1);
    await page.getByRole('button', { name: 'More sessions' }).click();
    await page.locator('table').nth(1).waitFor();
    const ids = await page
      .getByRole('link', { name: /^Open session / })
      // The tests compile without the DOM lib: the element type is spelt out.
      .evaluateAll((as: { getAttribute(name: string): string | null }[]) =>
        as.map((a) => a.getAttribute('href')),
      );
    expect(ids).toHaveLength(2); // alice's two calls, newest first, one per page
    expect(new Set(ids).size).toBe(2);
    expect(ids).toContain(`#/sessions/${sessions.alice}`);
  });

  it('finds a session by value with the keyboard only, and the value stays out of the URL', async () => {
    await page.getByLabel('User').fill('');
    await page.getByLabel('Value (fingerprint search)').focus();
    await page.keyboard.type(CARD);
    await page.keyboard.press('Enter'); // submits the search form
    await page.getByText('Sessions in which this value was found').waitFor();
    const links = page.getByRole('link', { name: /^Open session / });
    expect(await links.count()).toBe(1);
    expect(await links.first().getAttribute('href')).toBe(`#/sessions/${sessions.alice}`);
    expect(page.url()).not.toContain(CARD.slice(-4));
    await screenshot(page, 'sessions-by-value');
  });

  it('opens the session: principal, decision, findings, masked span highlighted, replay', async () => {
    await page.getByRole('link', { name: `Open session ${sessions.alice}` }).click();
    await page.locator('#decision').waitFor();
    expect(await page.locator('#principal').textContent()).toContain('alice');
    expect(await page.locator('#decision').textContent()).toBe('modified');
    expect(await page.locator('#trace li').count()).toBeGreaterThan(0);
    expect(await page.locator('table').first().textContent()).toContain('/card/number');
    const marked = await page.locator('mark.masked').allTextContents();
    expect(marked).toContain(`**** **** **** ${CARD.slice(-4)}`);
    // Found by the finding's path, not only by its look.
    expect(
      await page.locator('mark.masked[title^="/card/number: confidential, mask"]').textContent(),
    ).toBe(`**** **** **** ${CARD.slice(-4)}`);
    expect(await page.locator('main').textContent()).not.toContain(CARD);
    await page.getByRole('button', { name: /replay/i }).click();
    await page.locator('#replay pre').waitFor();
    const curl = (await page.locator('#replay pre').textContent()) ?? '';
    expect(curl).toMatch(/^curl /);
    expect(curl).toContain('/functions/pay');
    await screenshot(page, 'session-detail');
  });

  it('works on a narrow window', async () => {
    await page.setViewportSize({ width: 390, height: 800 });
    expect(await page.locator('mark.masked').first().isVisible()).toBe(true);
    await screenshot(page, 'session-detail-narrow');
    await page.setViewportSize({ width: 1280, height: 900 });
    expect(errors).toEqual([]);
  });
});

describe('a reviewer', () => {
  let ctx: BrowserContext;
  let page: Page;

  beforeAll(async () => {
    ctx = await browser.newContext({ viewport: { width: 1280, height: 900 } });
    page = await signIn(ctx, 'mark', 'Mark Manager');
  }, 60_000);
  afterAll(async () => ctx?.close());

  it('cannot read sessions', async () => {
    await page.goto(`${admin}/#/sessions`);
    await page.locator('[role=alert]').waitFor();
    expect(await page.locator('[role=alert]').first().textContent()).toMatch(/not allowed/i);
    expect(await page.getByRole('link', { name: 'Sessions' }).count()).toBe(0);
  });

  it('approves a held call in the inbox, and the retried call goes through', async () => {
    await page.goto(`${admin}/#/approvals`);
    const card = page.locator(`article.ticket[data-id="${approvalId}"]`);
    await card.waitFor();
    const text = (await card.textContent()) ?? '';
    expect(text).toContain('/functions/transfer_funds');
    expect(text).toContain('/to_iban');
    expect(text).toContain('********************00');
    expect(text).not.toContain(IBAN);
    await screenshot(page, 'approvals-inbox');

    // Not yet approved: the retry is refused.
    const early = await postJson(`${stack.url}/functions/transfer_funds`, TRANSFER, {
      ...agent('alice'),
      'x-callguard-approval': approvalId,
    });
    expect(early.status).toBe(403);

    await card.getByLabel('Reason').fill('known supplier');
    await card.getByRole('button', { name: 'Approve' }).click();
    await page.locator('#history tbody tr', { hasText: approvalId }).waitFor();
    const row =
      (await page.locator('#history tbody tr', { hasText: approvalId }).textContent()) ?? '';
    expect(row).toContain('approved');
    expect(row).toContain('mark');
    expect(row).toContain('known supplier');
    await screenshot(page, 'approvals-history');

    const before = stack.upstream.received.length;
    const retry = await postJson(`${stack.url}/functions/transfer_funds`, TRANSFER, {
      ...agent('alice'),
      'x-callguard-approval': approvalId,
    });
    expect(retry.status, retry.text).toBe(200);
    expect(stack.upstream.received.length).toBe(before + 1);
  });
});

describe('cookie sessions: CSRF and authorization on state-changing calls', () => {
  let ctx: BrowserContext;
  let auditorCtx: BrowserContext;
  let cookie = '';
  let csrf = '';
  let auditorCookie = '';
  let auditorCsrf = '';
  let ticket = '';

  const cookieOf = async (c: BrowserContext) =>
    (await c.cookies(admin))
      .filter((x) => x.name === 'cg_session')
      .map((x) => `cg_session=${x.value}`)[0]!;
  const csrfOf = async (c: string) =>
    (await http(`${admin}/ui/me`, { headers: { cookie: c } })).json<{ csrf_token: string }>()
      .csrf_token;

  beforeAll(async () => {
    ctx = await browser.newContext();
    await (await signIn(ctx, 'mark', 'Mark Manager')).close();
    cookie = await cookieOf(ctx);
    csrf = await csrfOf(cookie);
    auditorCtx = await browser.newContext();
    await (await signIn(auditorCtx, 'audrey', 'Audrey Auditor')).close();
    auditorCookie = await cookieOf(auditorCtx);
    auditorCsrf = await csrfOf(auditorCookie);
    const held = await postJson(
      `${stack.url}/functions/transfer_funds`,
      TRANSFER.replace('ui test', 'csrf'),
      agent('carol'),
    );
    expect(held.status).toBe(403);
    ticket = held.json<{ error: { approval_id: string } }>().error.approval_id;
  }, 60_000);
  afterAll(async () => {
    await ctx?.close();
    await auditorCtx?.close();
  });

  const post = (path: string, headers: Record<string, string>, body = '{"reason":"x"}') =>
    postJson(`${admin}${path}`, body, headers);
  const state = async () =>
    (await http(`${admin}/api/approvals/${ticket}`, { headers: { cookie } })).json<{
      state: string;
    }>().state;

  it('refuses a cookie POST without the CSRF token', async () => {
    const r = await post(`/api/approvals/${ticket}/approve`, { cookie, origin: admin });
    expect([r.status, r.json<{ error: { code: string } }>().error.code]).toEqual([403, 'csrf']);
    expect(await state()).toBe('pending');
  });

  it('refuses a wrong CSRF token', async () => {
    const r = await post(`/api/approvals/${ticket}/reject`, {
      cookie,
      origin: admin,
      'x-csrf-token': auditorCsrf,
    });
    expect(r.status).toBe(403);
    expect(await state()).toBe('pending');
  });

  it('refuses a cross-origin (or origin-less) POST even with the token', async () => {
    for (const origin of ['http://evil.example', 'null', undefined]) {
      const h: Record<string, string> = { cookie, 'x-csrf-token': csrf };
      if (origin) h.origin = origin;
      const r = await post(`/api/approvals/${ticket}/approve`, h);
      expect(r.status, String(origin)).toBe(403);
    }
    const site = await post(`/api/approvals/${ticket}/approve`, {
      cookie,
      'x-csrf-token': csrf,
      origin: admin,
      'sec-fetch-site': 'cross-site',
    });
    expect(site.status).toBe(403);
    expect(await state()).toBe('pending');
  });

  it('refuses search-by-value and logout without the token', async () => {
    const s = await post(
      '/api/sessions/search-by-value',
      { cookie: auditorCookie, origin: admin },
      JSON.stringify({ value: CARD }),
    );
    expect(s.status).toBe(403);
    const ok = await post(
      '/api/sessions/search-by-value',
      { cookie: auditorCookie, origin: admin, 'x-csrf-token': auditorCsrf },
      JSON.stringify({ value: CARD }),
    );
    expect(ok.status).toBe(200);
    const out = await post(
      '/ui/logout',
      { cookie: auditorCookie, origin: 'http://evil.example', 'x-csrf-token': auditorCsrf },
      '',
    );
    expect(out.status).toBe(403);
    expect((await http(`${admin}/ui/me`, { headers: { cookie: auditorCookie } })).status).toBe(200);
  });

  it('a non-auditor cookie cannot read sessions; an auditor cannot approve', async () => {
    for (const path of [
      '/api/sessions',
      `/api/sessions/${sessions.alice}`,
      '/api/sessions/histogram',
    ]) {
      const r = await http(`${admin}${path}`, { headers: { cookie } });
      expect(r.status, path).toBe(403);
    }
    const v = await post(
      '/api/sessions/search-by-value',
      { cookie, origin: admin, 'x-csrf-token': csrf },
      JSON.stringify({ value: CARD }),
    );
    expect(v.status).toBe(403);
    const a = await post(`/api/approvals/${ticket}/approve`, {
      cookie: auditorCookie,
      origin: admin,
      'x-csrf-token': auditorCsrf,
    });
    expect(a.status).toBe(403);
    expect(await state()).toBe('pending');
  });

  it('with the token and the page origin, a reviewer decides; Bearer calls work as before', async () => {
    const r = await post(`/api/approvals/${ticket}/reject`, {
      cookie,
      origin: admin,
      'x-csrf-token': csrf,
    });
    expect(r.status, r.text).toBe(200);
    expect(r.json<{ state: string }>().state).toBe('rejected');
    const viaBearer = await http(`${admin}/api/sessions/${sessions.bob}`, {
      headers: await bearer(['auditors']),
    });
    expect(viaBearer.status).toBe(200);
    // A Bearer header wins over a cookie: a bad token is refused even with a good cookie.
    const bad = await http(`${admin}/api/sessions`, {
      headers: { cookie: auditorCookie, authorization: 'Bearer not-a-jwt' },
    });
    expect(bad.status).toBe(401);
    expect(
      (await http(`${admin}/api/sessions`, { headers: { cookie: 'cg_session=forged' } })).status,
    ).toBe(401);
  });

  it('logout ends the session server side', async () => {
    const out = await post(
      '/ui/logout',
      { cookie: auditorCookie, origin: admin, 'x-csrf-token': auditorCsrf },
      '',
    );
    expect(out.status).toBe(204);
    expect(
      (await http(`${admin}/api/sessions`, { headers: { cookie: auditorCookie } })).status,
    ).toBe(401);
  });
});
