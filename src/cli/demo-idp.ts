// DEMO ONLY: a minimal OIDC issuer for the docker-compose demo (`callguard demo idp`). It
// serves discovery and a JWKS, and hands out RS256 access tokens to anyone who asks, for
// any subject and groups: it shows callguard verifying real signed tokens against a real
// discovery document and JWKS, and nothing more. Never run it anywhere but a demo.
// The signing key is generated at start and lives in memory only.

import { randomUUID } from 'node:crypto';
import { createServer } from 'node:http';
import type { ServerResponse } from 'node:http';
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

  const send = (res: ServerResponse, status: number, body: unknown) => {
    res.writeHead(status, { 'content-type': 'application/json', 'cache-control': 'no-store' });
    res.end(JSON.stringify(body));
  };

  const server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    if (req.method === 'GET' && path === '/.well-known/openid-configuration') {
      send(res, 200, {
        issuer,
        jwks_uri: `${issuer}/jwks`,
        token_endpoint: `${issuer}/token`,
        grant_types_supported: ['client_credentials'],
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
