// The admin web page (docs/ui.md): sign-in through the identity provider, a server-side
// session behind an HttpOnly cookie, and the static page. The page calls the same admin
// APIs as Bearer clients; a cookie only stands in for the Bearer token, so every
// authorization check stays the API's own.
//
//   GET  /                 the page (no data; it asks /ui/me who is signed in)
//   GET  /ui/app.js        the page's script (compiled from src/admin/ui/web/)
//   GET  /ui/style.css
//   GET  /ui/login         → the identity provider (authorization code + PKCE)
//   GET  /ui/callback      ← the identity provider; sets the session cookie
//   GET  /ui/me            who is signed in, and the session's CSRF token
//   POST /ui/logout        ends the session (CSRF token and same Origin required)

import { createHash, timingSafeEqual } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { apiError, apiErrorBody, CallguardError } from '../../errors.js';
import type { AdminConfig, AdminUiConfig } from '../../config/config.js';
import { prefixedSource, readSecret } from '../../config/secret.js';
import type { Logger } from '../../log.js';
import { safeError } from '../../log.js';
import type { Principal } from '../../policy/types.js';
import { sessionPrincipals } from '../auth.js';
import { INDEX_HTML, STYLE_CSS } from './assets.js';
import { b64url, UiOidcClient } from './oidc-client.js';

export const SESSION_COOKIE = 'cg_session';
const LOGIN_COOKIE = 'cg_login';
const CSRF_HEADER = 'x-csrf-token';
const LOGIN_TTL_MS = 10 * 60_000;
const MAX_SESSIONS = 10_000;
const MAX_LOGINS = 1_000;

/** Headers on every admin response: the page may load only its own script and style. */
export const SECURITY_HEADERS: Record<string, string> = {
  'content-security-policy':
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; " +
    "connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; " +
    "frame-ancestors 'none'",
  'x-content-type-options': 'nosniff',
  'x-frame-options': 'DENY',
  'referrer-policy': 'no-referrer',
  'cross-origin-opener-policy': 'same-origin',
};

interface PageSession {
  principal: Principal;
  csrf: string;
  expires: number;
}

interface PendingLogin {
  verifier: string;
  nonce: string;
  expires: number;
}

export interface UiDeps {
  admin: AdminConfig;
  log: Logger;
  now?: () => number;
}

function cookies(req: IncomingMessage): Map<string, string> {
  const out = new Map<string, string>();
  for (const part of (req.headers.cookie ?? '').split(';')) {
    const i = part.indexOf('=');
    if (i > 0) {
      const k = part.slice(0, i).trim();
      if (!out.has(k)) out.set(k, part.slice(i + 1).trim());
    }
  }
  return out;
}

const digest = (s: string) => createHash('sha256').update(s).digest('base64url');

function same(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

function sendJson(res: ServerResponse, status: number, body: unknown, extra = {}): void {
  res.writeHead(status, {
    'content-type': 'application/json',
    'cache-control': 'no-store',
    ...extra,
  });
  res.end(JSON.stringify(body));
}

function fail(res: ServerResponse, err: CallguardError, extra = {}): void {
  const { status, body } = apiErrorBody(err);
  sendJson(res, status, body, extra);
}

function isLoopback(host: string): boolean {
  return host === '127.0.0.1' || host === 'localhost' || host === '[::1]' || host === '::1';
}

export class AdminUi {
  /** Sessions by SHA-256 of the cookie value: the map alone cannot be replayed as cookies. */
  private readonly sessions = new Map<string, PageSession>();
  private readonly logins = new Map<string, PendingLogin>();
  private readonly client: UiOidcClient | undefined;
  private readonly cfg: AdminUiConfig | undefined;
  /** The page's origin: Origin of every state-changing cookie request must be this. */
  readonly origin: string | undefined;
  private readonly secure: boolean;
  private script: Buffer | undefined;

  constructor(private readonly deps: UiDeps) {
    this.cfg = deps.admin.ui;
    if (this.cfg) {
      const o = this.cfg.oidc;
      const secret = readSecret(prefixedSource(o, 'client_'), 'admin.ui.oidc');
      this.client = new UiOidcClient(o, secret);
      const redirect = new URL(o.redirect_uri);
      this.origin = redirect.origin;
      this.secure = redirect.protocol === 'https:' || !isLoopback(redirect.hostname);
    } else {
      this.secure = true;
    }
  }

  private now(): number {
    return (this.deps.now ?? Date.now)();
  }

  private cookie(name: string, value: string, path: string, maxAgeS: number): string {
    return `${name}=${value}; Path=${path}; Max-Age=${maxAgeS}; HttpOnly; SameSite=Lax${this.secure ? '; Secure' : ''}`;
  }

  private session(req: IncomingMessage): PageSession | undefined {
    const id = cookies(req).get(SESSION_COOKIE);
    if (!id || !/^[A-Za-z0-9_-]{43}$/.test(id)) return undefined;
    const key = digest(id);
    const s = this.sessions.get(key);
    if (s && s.expires <= this.now()) {
      this.sessions.delete(key);
      return undefined;
    }
    return s;
  }

  private sweep(): void {
    const now = this.now();
    for (const [k, s] of this.sessions) if (s.expires <= now) this.sessions.delete(k);
    for (const [k, l] of this.logins) if (l.expires <= now) this.logins.delete(k);
  }

  /**
   * Before an /api/ request: a request without an `authorization` header but with a live
   * session cookie acts as the session's principal — for state-changing methods only with
   * the session's CSRF token and the page's own Origin (403 otherwise). False if answered.
   */
  gate(req: IncomingMessage, res: ServerResponse): boolean {
    if (req.headers.authorization !== undefined) return true;
    const s = this.session(req);
    if (!s) return true; // no session: the API answers 401 as for any anonymous call
    const method = req.method ?? 'GET';
    if (method !== 'GET' && method !== 'HEAD') {
      const problem = this.csrfProblem(req, s);
      if (problem) {
        fail(res, apiError('csrf', problem));
        return false;
      }
    }
    sessionPrincipals.set(req, s.principal);
    return true;
  }

  private csrfProblem(req: IncomingMessage, s: PageSession): string | undefined {
    const origin = req.headers.origin;
    if (origin === undefined || origin !== this.origin) return 'cross-origin request refused';
    const site = req.headers['sec-fetch-site'];
    if (site !== undefined && site !== 'same-origin') return 'cross-site request refused';
    const token = req.headers[CSRF_HEADER];
    if (typeof token !== 'string' || !same(token, s.csrf)) return 'missing or wrong CSRF token';
    return undefined;
  }

  /** True if the request was the page's (answered), false if not ours. */
  async handle(req: IncomingMessage, res: ServerResponse, url: URL): Promise<boolean> {
    const p = url.pathname;
    const get = req.method === 'GET' || req.method === 'HEAD';
    if (get && (p === '/' || p === '/index.html')) {
      res.writeHead(200, {
        'content-type': 'text/html; charset=utf-8',
        'cache-control': 'no-store',
      });
      res.end(INDEX_HTML);
      return true;
    }
    if (!p.startsWith('/ui/')) return false;
    if (get && p === '/ui/app.js') {
      this.script ??= readFileSync(new URL('./web/app.js', import.meta.url));
      res.writeHead(200, {
        'content-type': 'text/javascript; charset=utf-8',
        'cache-control': 'no-cache',
      });
      res.end(this.script);
      return true;
    }
    if (get && p === '/ui/style.css') {
      res.writeHead(200, {
        'content-type': 'text/css; charset=utf-8',
        'cache-control': 'no-cache',
      });
      res.end(STYLE_CSS);
      return true;
    }
    if (get && p === '/ui/me') {
      const s = this.session(req);
      if (!s) {
        const { status, body } = apiErrorBody(apiError('unauthenticated', 'not signed in'));
        sendJson(res, status, { ...body, sign_in: this.client !== undefined });
        return true;
      }
      const { subject, name, email, groups } = s.principal;
      sendJson(res, 200, {
        subject,
        name,
        email,
        groups,
        csrf_token: s.csrf,
        auditor: this.deps.admin.auditor_groups.some((g) => groups.includes(g)),
        expires_at: new Date(s.expires).toISOString(),
      });
      return true;
    }
    if (req.method === 'POST' && p === '/ui/logout') {
      const s = this.session(req);
      if (s) {
        const problem = this.csrfProblem(req, s);
        if (problem) {
          fail(res, apiError('csrf', problem));
          return true;
        }
        this.sessions.delete(digest(cookies(req).get(SESSION_COOKIE) as string));
      }
      res.writeHead(204, { 'set-cookie': this.cookie(SESSION_COOKIE, '', '/', 0) });
      res.end();
      return true;
    }
    if (get && p === '/ui/login') {
      await this.login(res);
      return true;
    }
    if (get && p === '/ui/callback') {
      await this.callback(req, res, url);
      return true;
    }
    fail(res, apiError('not_found', 'no such page'));
    return true;
  }

  private async login(res: ServerResponse): Promise<void> {
    if (!this.client) {
      fail(res, apiError('ui_not_configured', 'no sign-in is configured (admin.ui.oidc)'));
      return;
    }
    let start;
    try {
      start = await this.client.start();
    } catch (e) {
      if (e instanceof CallguardError) {
        this.deps.log.warn({ code: e.code }, 'admin page sign-in: identity provider unavailable');
        fail(res, e); // identity_unavailable
        return;
      }
      throw e;
    }
    this.sweep();
    if (this.logins.size >= MAX_LOGINS) {
      fail(res, apiError('busy', 'too many sign-ins in progress'));
      return;
    }
    this.logins.set(digest(start.state), {
      verifier: start.verifier,
      nonce: start.nonce,
      expires: this.now() + LOGIN_TTL_MS,
    });
    res.writeHead(302, {
      location: start.url,
      'cache-control': 'no-store',
      // The state is bound to this browser: a callback from another browser is refused.
      'set-cookie': this.cookie(LOGIN_COOKIE, start.state, '/ui/callback', LOGIN_TTL_MS / 1000),
    });
    res.end();
  }

  private async callback(req: IncomingMessage, res: ServerResponse, url: URL): Promise<void> {
    const clearLogin = this.cookie(LOGIN_COOKIE, '', '/ui/callback', 0);
    const refuse = (err: CallguardError) => fail(res, err, { 'set-cookie': clearLogin });
    if (!this.client || !this.cfg) {
      refuse(apiError('ui_not_configured', 'no sign-in is configured (admin.ui.oidc)'));
      return;
    }
    const state = url.searchParams.get('state') ?? '';
    const bound = cookies(req).get(LOGIN_COOKIE) ?? '';
    const key = digest(state);
    const pending = this.logins.get(key);
    if (!state || !same(state, bound) || !pending || pending.expires <= this.now()) {
      refuse(apiError('bad_state', 'the sign-in is unknown, expired or from another browser'));
      return;
    }
    this.logins.delete(key); // one use
    if (url.searchParams.has('error')) {
      refuse(apiError('unauthenticated', 'the identity provider did not sign you in'));
      return;
    }
    const code = url.searchParams.get('code');
    if (!code) {
      refuse(apiError('bad_request', 'no authorization code'));
      return;
    }
    let signedIn;
    try {
      signedIn = await this.client.finish(code, pending.verifier, pending.nonce);
    } catch (e) {
      if (e instanceof CallguardError) {
        this.deps.log.warn({ code: e.code, err: safeError(e) }, 'admin page sign-in refused');
        refuse(e);
        return;
      }
      throw e;
    }
    if (this.sessions.size >= MAX_SESSIONS) {
      refuse(apiError('busy', 'too many page sessions'));
      return;
    }
    const id = b64url(32);
    const ttlMs = this.cfg.session_ttl_s * 1000;
    this.sessions.set(digest(id), {
      principal: signedIn.principal,
      csrf: b64url(32),
      expires: this.now() + ttlMs,
    });
    this.deps.log.info({ subject: signedIn.principal.subject }, 'admin page sign-in');
    res.writeHead(303, {
      location: '/',
      'cache-control': 'no-store',
      'set-cookie': [clearLogin, this.cookie(SESSION_COOKIE, id, '/', this.cfg.session_ttl_s)],
    });
    res.end();
  }
}
