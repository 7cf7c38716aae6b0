// The admin HTTP server: /healthz (liveness and readiness, with the policy in force, the
// last refused reload and the audit sink's status), /metrics (Prometheus text format), the
// audit API (admin/sessions.ts), the approvals API (admin/approvals.ts) and the web page
// (admin/ui/), whose sign-in session may stand in for a Bearer token on those APIs.

import { createServer } from 'node:http';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { apiError, apiErrorBody } from '../errors.js';
import type { CallguardMetrics } from '../metrics.js';
import type { PolicyStatus } from '../policy/reload.js';
import type { AuditStatus } from '../audit/es-sink.js';
import { handleApprovals } from './approvals.js';
import type { ApprovalApiDeps } from './approvals.js';
import { handleSessions } from './sessions.js';
import type { SessionApiDeps } from './sessions.js';
import { SECURITY_HEADERS } from './ui/pages.js';
import type { AdminUi } from './ui/pages.js';

export interface AdminHandle {
  port: number;
  close(): Promise<void>;
}

export interface AdminDeps {
  addr: string;
  policy(): PolicyStatus;
  draining(): boolean;
  metrics: Pick<CallguardMetrics, 'exposition' | 'contentType'>;
  approvals?: ApprovalApiDeps;
  /** The Elasticsearch sink's status, when one is configured. */
  audit?: () => AuditStatus;
  sessions?: SessionApiDeps;
  /** The web page and its cookie sessions (admin/ui/pages.ts). */
  ui?: AdminUi;
}

export async function startAdmin(deps: AdminDeps): Promise<AdminHandle> {
  const server = createServer((req, res) => {
    void route(req, res).catch(() => {
      const { status, body } = apiErrorBody(undefined); // internal: no detail leaves
      if (!res.headersSent) res.writeHead(status, { 'content-type': 'application/json' });
      res.end(JSON.stringify(body));
    });
  });
  const route = async (req: IncomingMessage, res: ServerResponse) => {
    const url = new URL(req.url ?? '/', 'http://admin');
    for (const [k, v] of Object.entries(SECURITY_HEADERS)) res.setHeader(k, v);
    if (deps.ui) {
      if (await deps.ui.handle(req, res, url)) return;
      // A session cookie stands in for a Bearer token on the API (with CSRF checks).
      if (url.pathname.startsWith('/api/') && !deps.ui.gate(req, res)) return;
    }
    if (deps.approvals && (await handleApprovals(req, res, url, deps.approvals))) return;
    if (deps.sessions && (await handleSessions(req, res, url, deps.sessions))) return;
    if (req.method === 'GET' && url.pathname === '/healthz') {
      const draining = deps.draining();
      // A refused reload leaves the last good policy serving: still 200, with last_error.
      res.writeHead(draining ? 503 : 200, { 'content-type': 'application/json' });
      res.end(
        JSON.stringify({
          status: draining ? 'draining' : 'ok',
          policy: deps.policy(),
          ...(deps.audit ? { audit: deps.audit() } : {}),
        }),
      );
      return;
    }
    if (req.method === 'GET' && url.pathname === '/metrics') {
      try {
        const text = await deps.metrics.exposition();
        res.writeHead(200, { 'content-type': deps.metrics.contentType });
        res.end(text);
      } catch {
        const { status, body } = apiErrorBody(apiError('internal', 'metrics failed'));
        res.writeHead(status, { 'content-type': 'application/json' });
        res.end(JSON.stringify(body));
      }
      return;
    }
    const { status, body } = apiErrorBody(apiError('not_found', 'no such admin endpoint'));
    res.writeHead(status, { 'content-type': 'application/json' });
    res.end(JSON.stringify(body));
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
