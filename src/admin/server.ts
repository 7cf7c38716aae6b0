// The admin HTTP server: /healthz (liveness and readiness with the loaded policy's shape and
// the audit sink's status) and the audit API (admin/sessions.ts). The review page and
// /metrics come with later issues.

import { createServer } from 'node:http';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { CompiledPolicy } from '../policy/compile.js';
import { handleApprovals } from './approvals.js';
import type { ApprovalApiDeps } from './approvals.js';
import type { AuditStatus } from '../audit/es-sink.js';
import { handleSessions } from './sessions.js';
import type { SessionApiDeps } from './sessions.js';

export interface AdminHandle {
  port: number;
  close(): Promise<void>;
}

export interface AdminDeps {
  addr: string;
  policy(): CompiledPolicy;
  draining(): boolean;
  approvals?: ApprovalApiDeps;
  /** The Elasticsearch sink's status, when one is configured. */
  audit?: () => AuditStatus;
  sessions?: SessionApiDeps;
}

export async function startAdmin(deps: AdminDeps): Promise<AdminHandle> {
  const server = createServer((req, res) => {
    void route(req, res).catch(() => {
      if (!res.headersSent) res.writeHead(500, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ error: { code: 'internal', message: 'admin server error' } }));
    });
  });
  const route = async (req: IncomingMessage, res: ServerResponse) => {
    const url = new URL(req.url ?? '/', 'http://admin');
    if (deps.approvals && (await handleApprovals(req, res, url, deps.approvals))) return;
    if (deps.sessions && (await handleSessions(req, res, url, deps.sessions))) return;
    if (req.method === 'GET' && url.pathname === '/healthz') {
      const p = deps.policy();
      const draining = deps.draining();
      res.writeHead(draining ? 503 : 200, { 'content-type': 'application/json' });
      res.end(
        JSON.stringify({
          status: draining ? 'draining' : 'ok',
          policy: { routes: p.routes.length, functions: p.functions.size, rules: p.rules.length },
          ...(deps.audit ? { audit: deps.audit() } : {}),
        }),
      );
      return;
    }
    res.writeHead(404, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ error: { code: 'not_found', message: 'no such admin endpoint' } }));
  };
  const i = deps.addr.lastIndexOf(':');
  const host = deps.addr.slice(0, i);
  const port = Number(deps.addr.slice(i + 1));
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => resolve());
  });
  return {
    port: (server.address() as AddressInfo).port,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
