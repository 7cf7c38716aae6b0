// The admin HTTP server. For now: /healthz (liveness and readiness with the loaded policy's
// shape). The audit API, review page and /metrics come with later issues.

import { createServer } from 'node:http';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { CompiledPolicy } from '../policy/compile.js';
import { handleApprovals } from './approvals.js';
import type { ApprovalApiDeps } from './approvals.js';

export interface AdminHandle {
  port: number;
  close(): Promise<void>;
}

export interface AdminDeps {
  addr: string;
  policy(): CompiledPolicy;
  draining(): boolean;
  approvals?: ApprovalApiDeps;
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
    if (req.method === 'GET' && url.pathname === '/healthz') {
      const p = deps.policy();
      const draining = deps.draining();
      res.writeHead(draining ? 503 : 200, { 'content-type': 'application/json' });
      res.end(
        JSON.stringify({
          status: draining ? 'draining' : 'ok',
          policy: { routes: p.routes.length, functions: p.functions.size, rules: p.rules.length },
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
