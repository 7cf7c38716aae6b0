// The admin HTTP server: /healthz (liveness and readiness, with the policy in force and
// the last refused reload) and /metrics (Prometheus text format). The audit API and the
// review page come with later issues.

import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { CallguardMetrics } from '../metrics.js';
import type { PolicyStatus } from '../policy/reload.js';

export interface AdminHandle {
  port: number;
  close(): Promise<void>;
}

export interface AdminDeps {
  addr: string;
  policy(): PolicyStatus;
  draining(): boolean;
  metrics: Pick<CallguardMetrics, 'exposition' | 'contentType'>;
}

export async function startAdmin(deps: AdminDeps): Promise<AdminHandle> {
  const server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://admin');
    if (req.method === 'GET' && url.pathname === '/healthz') {
      const draining = deps.draining();
      // A refused reload leaves the last good policy serving: still 200, with last_error.
      res.writeHead(draining ? 503 : 200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ status: draining ? 'draining' : 'ok', policy: deps.policy() }));
      return;
    }
    if (req.method === 'GET' && url.pathname === '/metrics') {
      deps.metrics.exposition().then(
        (text) => {
          res.writeHead(200, { 'content-type': deps.metrics.contentType });
          res.end(text);
        },
        () => {
          res.writeHead(500, { 'content-type': 'application/json' });
          res.end(JSON.stringify({ error: { code: 'internal', message: 'metrics failed' } }));
        },
      );
      return;
    }
    res.writeHead(404, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ error: { code: 'not_found', message: 'no such admin endpoint' } }));
  });
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
