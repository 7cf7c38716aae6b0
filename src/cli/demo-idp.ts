// DEMO ONLY: a minimal OIDC issuer for the docker-compose demo (`callguard demo idp`) and
// the local stack (`npm start`). It serves discovery and a JWKS, and hands out RS256 access
// tokens to anyone who asks, for any subject and groups: it shows callguard verifying real
// signed tokens against a real discovery document and JWKS, and nothing more. For the admin
// page it also runs the authorization code flow with PKCE (S256 required) for one public
// client: its sign-in page lets you pick one of the demo users (no password). Never run it
// anywhere but a demo. The signing key is generated at start and lives in memory only.

import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { createServer } from 'node:http';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { calculateJwkThumbprint, exportJWK, generateKeyPair, SignJWT } from 'jose';

export interface DemoIdpOptions {
  host?: string;
  /** 0 picks a free port. */
  port?: number;
  /** The issuer URL as callguard reaches it (default: http://<host>:<port>). */
  issuer?: string;
  audience?: string;
  ttlSeconds?: number;
  /** The admin page's client (public, PKCE): its id and its exact redirect URIs. */
  client?: { id: string; redirectUris: string[] };
  users?: DemoUser[];
}

export interface DemoUser {
  sub: string;
  name: string;
  groups: string[];
}

/** Who can sign in to the demo: an auditor, two reviewers, and an agent owner. */
export const DEMO_USERS: DemoUser[] = [
  { sub: 'audrey', name: 'Audrey Auditor', groups: ['auditors'] },
  { sub: 'mark', name: 'Mark Manager', groups: ['managers'] },
  { sub: 'mary', name: 'Mary Manager', groups: ['managers'] },
  { sub: 'ada', name: 'Ada Agent-Owner', groups: ['agents'] },
];

export const DEMO_CLIENT = {
  id: 'callguard-admin',
  redirectUris: ['http://127.0.0.1:9090/ui/callback'],
};

interface AuthRequest {
  redirectUri: string;
  state: string;
  nonce?: string;
  challenge: string;
  expires: number;
}

interface Code extends AuthRequest {
  sub: string;
}

const escapeHtml = (s: string) => s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

function readForm(req: IncomingMessage): Promise<URLSearchParams | undefined> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size <= TOKEN_FORM_MAX) chunks.push(c);
    });
    req.on('end', () =>
      resolve(
        size > TOKEN_FORM_MAX
          ? undefined
          : new URLSearchParams(Buffer.concat(chunks).toString('utf8')),
      ),
    );
  });
}

export interface DemoIdp {
  port: number;
  issuer: string;
  close(): Promise<void>;
}

const TOKEN_FORM_MAX = 4096;

export async function startDemoIdp(opts: DemoIdpOptions = {}): Promise<DemoIdp> {
  const host = opts.host ?? '127.0.0.1';
  const audience = opts.audience ?? 'callguard-demo';
  const ttl = opts.ttlSeconds ?? 600;
  const { publicKey, privateKey } = await generateKeyPair('RS256', { extractable: true });
  const jwk = { ...(await exportJWK(publicKey)), alg: 'RS256', use: 'sig' };
  const kid = await calculateJwkThumbprint(jwk);
  let issuer = opts.issuer ?? '';
  const client = opts.client ?? DEMO_CLIENT;
  const users = opts.users ?? DEMO_USERS;
  const pending = new Map<string, AuthRequest>();
  const codes = new Map<string, Code>();
  const sweep = () => {
    const now = Date.now();
    for (const [k, v] of pending) if (v.expires <= now) pending.delete(k);
    for (const [k, v] of codes) if (v.expires <= now) codes.delete(k);
  };
  const sign = (claims: Record<string, unknown>, sub: string, aud: string) =>
    new SignJWT(claims)
      .setProtectedHeader({ alg: 'RS256', kid, typ: 'JWT' })
      .setIssuer(issuer)
      .setAudience(aud)
      .setSubject(sub)
      .setJti(randomUUID())
      .setIssuedAt()
      .setExpirationTime(`${ttl}s`)
      .sign(privateKey);

  const page = (res: ServerResponse, status: number, body: string) => {
    res.writeHead(status, {
      'content-type': 'text/html; charset=utf-8',
      'cache-control': 'no-store',
      'content-security-policy': "default-src 'none'; frame-ancestors 'none'",
      'x-content-type-options': 'nosniff',
    });
    res.end(
      `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Demo sign-in</title></head><body>${body}</body></html>`,
    );
  };

  // GET /authorize: check the request, then show the user picker.
  const authorize = (res: ServerResponse, q: URLSearchParams) => {
    const redirectUri = q.get('redirect_uri') ?? '';
    if (q.get('client_id') !== client.id || !client.redirectUris.includes(redirectUri)) {
      page(res, 400, '<p>Unknown client or redirect URI.</p>');
      return;
    }
    const back = (error: string) => {
      const u = new URL(redirectUri);
      u.searchParams.set('error', error);
      const state = q.get('state');
      if (state) u.searchParams.set('state', state);
      res.writeHead(302, { location: u.toString() }).end();
    };
    const challenge = q.get('code_challenge') ?? '';
    if (q.get('response_type') !== 'code') return back('unsupported_response_type');
    if (!(q.get('scope') ?? '').split(' ').includes('openid')) return back('invalid_scope');
    if (q.get('code_challenge_method') !== 'S256' || !/^[A-Za-z0-9_-]{43}$/.test(challenge))
      return back('invalid_request');
    sweep();
    const id = randomBytes(24).toString('base64url');
    pending.set(id, {
      redirectUri,
      state: q.get('state') ?? '',
      nonce: q.get('nonce') ?? undefined,
      challenge,
      expires: Date.now() + 600_000,
    });
    const options = users
      .map(
        (u, i) =>
          `<p><label><input type="radio" name="user" value="${escapeHtml(u.sub)}"${i === 0 ? ' checked' : ''}> ${escapeHtml(u.name)} (${escapeHtml(u.groups.join(', '))})</label></p>`,
      )
      .join('');
    page(
      res,
      200,
      `<h1>callguard demo identity provider</h1><p>DEMO ONLY: choose who you are (no password).</p><form method="post" action="/authorize"><input type="hidden" name="request" value="${id}"><fieldset><legend>Demo user</legend>${options}</fieldset><button type="submit">Sign in</button></form>`,
    );
  };

  // POST /authorize: the user picked; redirect back with a one-time code.
  const decide = async (req: IncomingMessage, res: ServerResponse) => {
    const form = await readForm(req);
    const id = form?.get('request') ?? '';
    const ar = pending.get(id);
    pending.delete(id);
    const user = users.find((u) => u.sub === form?.get('user'));
    if (!ar || ar.expires <= Date.now() || !user) {
      page(res, 400, '<p>This sign-in expired or is unknown; start again.</p>');
      return;
    }
    const code = randomBytes(32).toString('base64url');
    codes.set(code, { ...ar, sub: user.sub, expires: Date.now() + 60_000 });
    const u = new URL(ar.redirectUri);
    u.searchParams.set('code', code);
    if (ar.state) u.searchParams.set('state', ar.state);
    res.writeHead(302, { location: u.toString(), 'cache-control': 'no-store' }).end();
  };

  // POST /token, grant_type=authorization_code: PKCE, one use, same client and redirect.
  const exchange = async (res: ServerResponse, form: URLSearchParams) => {
    const code = codes.get(form.get('code') ?? '');
    codes.delete(form.get('code') ?? '');
    const verifier = form.get('code_verifier') ?? '';
    if (
      !code ||
      code.expires <= Date.now() ||
      form.get('client_id') !== client.id ||
      form.get('redirect_uri') !== code.redirectUri ||
      createHash('sha256').update(verifier).digest('base64url') !== code.challenge
    ) {
      send(res, 400, { error: 'invalid_grant' });
      return;
    }
    const user = users.find((u) => u.sub === code.sub) as DemoUser;
    const claims = {
      groups: user.groups,
      name: user.name,
      email: `${user.sub}@demo.invalid`,
    };
    try {
      const idToken = await sign(
        { ...claims, ...(code.nonce ? { nonce: code.nonce } : {}) },
        user.sub,
        client.id,
      );
      const accessToken = await sign(claims, user.sub, audience);
      send(res, 200, {
        access_token: accessToken,
        id_token: idToken,
        token_type: 'Bearer',
        expires_in: ttl,
      });
    } catch {
      send(res, 500, { error: 'server_error' });
    }
  };

  const send = (res: ServerResponse, status: number, body: unknown) => {
    res.writeHead(status, { 'content-type': 'application/json', 'cache-control': 'no-store' });
    res.end(JSON.stringify(body));
  };

  const server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://idp');
    const path = url.pathname;
    if (req.method === 'GET' && path === '/authorize') {
      authorize(res, url.searchParams);
      return;
    }
    if (req.method === 'POST' && path === '/authorize') {
      void decide(req, res);
      return;
    }
    if (req.method === 'GET' && path === '/.well-known/openid-configuration') {
      send(res, 200, {
        issuer,
        jwks_uri: `${issuer}/jwks`,
        token_endpoint: `${issuer}/token`,
        authorization_endpoint: `${issuer}/authorize`,
        response_types_supported: ['code'],
        subject_types_supported: ['public'],
        scopes_supported: ['openid', 'email', 'profile', 'groups'],
        code_challenge_methods_supported: ['S256'],
        token_endpoint_auth_methods_supported: ['none'],
        grant_types_supported: ['client_credentials', 'authorization_code'],
        id_token_signing_alg_values_supported: ['RS256'],
      });
      return;
    }
    if (req.method === 'GET' && path === '/jwks') {
      send(res, 200, { keys: [{ ...jwk, kid }] });
      return;
    }
    if (req.method === 'GET' && path === '/healthz') {
      send(res, 200, { status: 'ok' });
      return;
    }
    if (req.method === 'POST' && path === '/token') {
      const chunks: Buffer[] = [];
      let size = 0;
      req.on('data', (c: Buffer) => {
        size += c.length;
        if (size <= TOKEN_FORM_MAX) chunks.push(c);
      });
      req.on('end', () => {
        if (size > TOKEN_FORM_MAX) return send(res, 413, { error: 'invalid_request' });
        const form = new URLSearchParams(Buffer.concat(chunks).toString('utf8'));
        if (form.get('grant_type') === 'authorization_code') {
          void exchange(res, form);
          return;
        }
        const subject = form.get('subject') ?? 'demo-user';
        const groups = (form.get('groups') ?? '')
          .split(',')
          .map((g) => g.trim())
          .filter(Boolean);
        new SignJWT({ groups, email: `${subject}@demo.invalid` })
          .setProtectedHeader({ alg: 'RS256', kid, typ: 'JWT' })
          .setIssuer(issuer)
          .setAudience(audience)
          .setSubject(subject)
          .setJti(randomUUID())
          .setIssuedAt()
          .setExpirationTime(`${ttl}s`)
          .sign(privateKey)
          .then(
            (token) =>
              send(res, 200, { access_token: token, token_type: 'Bearer', expires_in: ttl }),
            () => send(res, 500, { error: 'server_error' }),
          );
      });
      return;
    }
    send(res, 404, { error: 'not_found' });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port ?? 8082, host, () => resolve());
  });
  const port = (server.address() as AddressInfo).port;
  if (!issuer) issuer = `http://${host}:${port}`;
  return {
    port,
    issuer,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
