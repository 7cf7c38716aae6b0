// The audit API on the admin server (docs/audit.md):
//   GET  /api/sessions?user=&from=&to=&level=&decision=&path=&function=&route=&size=&cursor=
//   GET  /api/sessions/histogram?<the same filters>   calls per hour by decision
//   GET  /api/sessions/{id}
//   GET  /api/sessions/{id}/replay
//   POST /api/sessions/search-by-value   {"value": "...", "size"?: n, "cursor"?: "..."}
// Every route needs an auditor (admin/auth.ts). Errors are JSON `{"error":{code,message}}`;
// a submitted value is never logged or echoed.

import type { IncomingMessage, ServerResponse } from 'node:http';
import { apiError, apiErrorBody, CallguardError } from '../errors.js';
import type { ErrorExtra } from '../errors.js';
import type { AdminConfig } from '../config/config.js';
import type { Identifier } from '../identity/identify.js';
import type { Logger } from '../log.js';
import { safeError } from '../log.js';
import type { Fingerprinter } from '../audit/fingerprint.js';
import { replayOf } from '../audit/replay.js';
import { checkFilters, fingerprintQuery, FilterError, parseFilters } from '../audit/search.js';
import type { SessionStore } from '../audit/search.js';
import { requireAuditor } from './auth.js';

export interface SessionApiDeps {
  store: SessionStore | undefined;
  fingerprinter: Fingerprinter | undefined;
  identifier: Identifier;
  admin: AdminConfig;
  log: Logger;
}

const MAX_REQUEST_BYTES = 64 * 1024;
const ID = /^[A-Za-z0-9-]{1,64}$/;

export function sendJson(res: ServerResponse, status: number, body: unknown, extra = {}): void {
  res.writeHead(status, { 'content-type': 'application/json', ...extra });
  res.end(JSON.stringify(body));
}

function fail(res: ServerResponse, err: CallguardError): void {
  const { status, body } = apiErrorBody(err);
  const extra = status === 401 ? { 'www-authenticate': 'Bearer realm="callguard-admin"' } : {};
  sendJson(res, status, body, extra);
}

/** True if the request was an audit API request (answered), false if not ours. */
export async function handleSessions(
  req: IncomingMessage,
  res: ServerResponse,
  url: URL,
  deps: SessionApiDeps,
): Promise<boolean> {
  const parts = url.pathname.split('/').filter((p) => p !== '');
  if (parts[0] !== 'api' || parts[1] !== 'sessions') return false;
  try {
    await requireAuditor(req, deps.identifier, deps.admin);
  } catch (e) {
    if (e instanceof CallguardError) {
      fail(res, e);
      return true;
    }
    throw e;
  }
  const store = deps.store;
  if (!store) {
    fail(
      res,
      apiError('audit_not_configured', 'no Elasticsearch is configured (audit.elasticsearch)'),
    );
    return true;
  }
  try {
    if (req.method === 'GET' && parts.length === 2) {
      sendJson(res, 200, await store.search(parseFilters(url.searchParams)));
    } else if (req.method === 'GET' && parts.length === 3 && parts[2] === 'histogram') {
      sendJson(res, 200, await store.histogram(parseFilters(url.searchParams)));
    } else if (req.method === 'POST' && parts.length === 3 && parts[2] === 'search-by-value') {
      await searchByValue(req, res, store, deps);
    } else if (req.method === 'GET' && (parts.length === 3 || parts[3] === 'replay')) {
      const id = parts[2] as string;
      if (!ID.test(id) || parts.length > 4) {
        fail(res, apiError('bad_request', 'not a session id'));
        return true;
      }
      const doc = await store.get(id);
      if (!doc) fail(res, apiError('not_found', 'no such session'));
      else sendJson(res, 200, parts.length === 4 ? replayOf(doc) : doc);
    } else {
      fail(res, apiError('not_found', 'no such audit endpoint'));
    }
  } catch (e) {
    if (e instanceof FilterError) {
      const problems: ErrorExtra = e.problems;
      fail(res, apiError('bad_filter', 'invalid search filters', { problems }));
    } else {
      deps.log.error({ err: safeError(e) }, 'audit API failed');
      fail(res, apiError('elasticsearch_unavailable', 'the session store did not answer'));
    }
  }
  return true;
}

async function searchByValue(
  req: IncomingMessage,
  res: ServerResponse,
  store: SessionStore,
  deps: SessionApiDeps,
): Promise<void> {
  const fp = deps.fingerprinter;
  if (!fp) {
    fail(res, apiError('audit_not_configured', 'no fingerprint key is configured'));
    return;
  }
  const raw = await readBody(req);
  if (raw === undefined) {
    fail(res, apiError('body_too_large', `request body over ${MAX_REQUEST_BYTES} bytes`));
    return;
  }
  let body: unknown;
  try {
    body = JSON.parse(raw.toString('utf8'));
  } catch {
    fail(res, apiError('malformed_json', 'the request body is not JSON'));
    return;
  }
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    fail(res, apiError('bad_request', 'expected {"value": "..."}'));
    return;
  }
  const { value, ...rest } = body as Record<string, unknown>;
  if (typeof value !== 'string' || value.length === 0 || value.length > 4096) {
    fail(
      res,
      apiError('bad_request', '"value" must be a non-empty string (at most 4096 characters)'),
    );
    return;
  }
  const paging = checkFilters(rest);
  if (Object.keys(paging).some((k) => k !== 'size' && k !== 'cursor')) {
    fail(res, apiError('bad_filter', 'only size and cursor go with a value search'));
    return;
  }
  sendJson(
    res,
    200,
    await store.page(fingerprintQuery(fp.all(value)), paging.size ?? 20, paging.cursor),
  );
}

function readBody(req: IncomingMessage): Promise<Buffer | undefined> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let n = 0;
    let over = false;
    req.on('data', (c: Buffer) => {
      n += c.length;
      if (n > MAX_REQUEST_BYTES) over = true;
      else chunks.push(c);
    });
    req.on('end', () => resolve(over ? undefined : Buffer.concat(chunks)));
    req.on('error', reject);
  });
}
