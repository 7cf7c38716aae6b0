// The approvals API on the admin server (docs/approvals.md):
//   GET  /api/approvals?state=&route=&function=&requester=&size=&cursor=
//   GET  /api/approvals/{id}
//   POST /api/approvals/{id}/approve   {"reason"?: "..."}
//   POST /api/approvals/{id}/reject    {"reason"?: "..."}
// Every call is authenticated with the data path's verifiers. Reviewers (members of a
// ticket's approver or break-glass groups) see and decide the tickets they may review; a
// requester may read their own tickets; nobody else sees a ticket.

import type { IncomingMessage, ServerResponse } from 'node:http';
import { apiError, apiErrorBody, CallguardError } from '../errors.js';
import type { Identifier } from '../identity/identify.js';
import type { Logger } from '../log.js';
import type { Principal } from '../policy/types.js';
import type { ApprovalService } from '../approval/service.js';
import { CursorError } from '../approval/store.js';
import type { TicketQuery } from '../approval/store.js';
import { ApprovalError } from '../approval/ticket.js';
import type { Ticket, TicketState } from '../approval/ticket.js';
import { sessionPrincipals } from './auth.js';

export interface ApprovalApiDeps {
  service: ApprovalService | undefined;
  identifier: Identifier;
  /** Identity sources the admin API accepts. */
  sources: readonly string[];
  log: Logger;
}

const ID = /^[A-Za-z0-9_-]{1,80}$/;
const STATES = new Set<TicketState>(['pending', 'approved', 'rejected', 'expired', 'used']);
const MAX_BODY = 16 * 1024;

function send(
  res: ServerResponse,
  status: number,
  body: unknown,
  extra: Record<string, string> = {},
): void {
  res.writeHead(status, {
    'content-type': 'application/json',
    'cache-control': 'no-store',
    ...extra,
  });
  res.end(JSON.stringify(body));
}

function fail(res: ServerResponse, err: CallguardError): void {
  const { status, body } = apiErrorBody(err);
  send(
    res,
    status,
    body,
    status === 401 ? { 'www-authenticate': 'Bearer realm="callguard-admin"' } : {},
  );
}

/** The verified caller of an admin request; a CallguardError (401/503) when there is none. */
export async function adminPrincipal(
  req: IncomingMessage,
  identifier: Identifier,
  sources: readonly string[],
): Promise<Principal> {
  const headers = new Map<string, string>();
  for (const [k, v] of Object.entries(req.headers)) {
    if (typeof v === 'string') headers.set(k.toLowerCase(), v);
    else if (Array.isArray(v)) headers.set(k.toLowerCase(), v.join(','));
  }
  const p = sessionPrincipals.get(req) ?? (await identifier.identify({ headers }));
  if (p.authMethod === 'anonymous')
    throw new CallguardError('unauthenticated', 'a bearer token is required');
  if (!sources.includes(p.authMethod)) {
    throw new CallguardError(
      'unauthenticated',
      `the admin API does not accept ${p.authMethod} identities`,
    );
  }
  return p;
}

function mayReview(t: Ticket, p: Principal): boolean {
  return p.groups.some((g) => t.hold.approvers.includes(g) || t.hold.break_glass.includes(g));
}

function isRequester(t: Ticket, p: Principal): boolean {
  return t.requester.subject === p.subject && (t.requester.issuer ?? '') === (p.issuer ?? '');
}

async function readJson(req: IncomingMessage): Promise<Record<string, unknown>> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const c of req) {
    size += (c as Buffer).length;
    if (size > MAX_BODY) throw new CallguardError('body_too_large', 'request body too large');
    chunks.push(c as Buffer);
  }
  if (size === 0) return {};
  try {
    const v = JSON.parse(Buffer.concat(chunks).toString('utf8')) as unknown;
    if (typeof v === 'object' && v !== null && !Array.isArray(v))
      return v as Record<string, unknown>;
  } catch {
    // fall through
  }
  throw new CallguardError('malformed_json', 'the body must be a JSON object');
}

/** True if the request was an approvals API request (answered), false if not ours. */
export async function handleApprovals(
  req: IncomingMessage,
  res: ServerResponse,
  url: URL,
  deps: ApprovalApiDeps,
): Promise<boolean> {
  const parts = url.pathname.split('/').filter((p) => p !== '');
  if (parts[0] !== 'api' || parts[1] !== 'approvals') return false;
  let who: Principal;
  try {
    who = await adminPrincipal(req, deps.identifier, deps.sources);
  } catch (e) {
    if (e instanceof CallguardError) {
      fail(res, e);
      return true;
    }
    throw e;
  }
  const service = deps.service;
  if (!service) {
    fail(
      res,
      apiError(
        'approvals_not_configured',
        'no approval store is configured (approvals.elasticsearch_url)',
      ),
    );
    return true;
  }
  try {
    if (req.method === 'GET' && parts.length === 2) {
      await list(res, url, service, who);
      return true;
    }
    const id = parts[2] ?? '';
    if (!ID.test(id) || parts.length > 4) {
      fail(res, apiError('bad_request', 'not an approval id'));
      return true;
    }
    if (req.method === 'GET' && parts.length === 3) {
      const t = await service.get(id);
      if (!t) fail(res, apiError('approval_unknown', 'no such approval'));
      else if (!mayReview(t, who) && !isRequester(t, who))
        fail(res, apiError('forbidden', 'not a reviewer or the requester of this ticket'));
      else send(res, 200, t);
      return true;
    }
    const verb = parts[3];
    if (req.method === 'POST' && (verb === 'approve' || verb === 'reject')) {
      const body = await readJson(req);
      const reason = typeof body.reason === 'string' ? body.reason.slice(0, 500) : undefined;
      const t =
        verb === 'approve'
          ? await service.approve(id, who, reason)
          : await service.reject(id, who, reason);
      if (!t) fail(res, apiError('approval_unknown', 'no such approval'));
      else {
        deps.log.info(
          { approval_id: id, reviewer: who.subject, decision: verb, state: t.state },
          'approval reviewed',
        );
        send(res, 200, t);
      }
      return true;
    }
    fail(res, apiError('not_found', 'no such approvals endpoint'));
  } catch (e) {
    if (e instanceof ApprovalError) fail(res, apiError(e.code, e.message));
    else if (e instanceof CursorError) fail(res, apiError('bad_request', e.message));
    else if (e instanceof CallguardError) fail(res, e);
    else throw e;
  }
  return true;
}

async function list(
  res: ServerResponse,
  url: URL,
  service: ApprovalService,
  who: Principal,
): Promise<void> {
  const q = url.searchParams;
  const state = q.get('state') ?? undefined;
  if (state !== undefined && !STATES.has(state as TicketState)) {
    fail(res, apiError('bad_request', `state must be one of ${[...STATES].join(', ')}`));
    return;
  }
  const size = Number(q.get('size') ?? 50);
  if (!Number.isInteger(size) || size < 1 || size > 200) {
    fail(res, apiError('bad_request', 'size must be an integer from 1 to 200'));
    return;
  }
  const query: TicketQuery = {
    state: state as TicketState | undefined,
    route: q.get('route') ?? undefined,
    function: q.get('function') ?? undefined,
    requester: q.get('requester') ?? undefined,
    size,
    cursor: q.get('cursor') ?? undefined,
  };
  // Reviewers see what their groups may decide; `mine=true` lists the caller's own tickets.
  const mine = q.get('mine') === 'true';
  const page = await service.list(
    mine ? { ...query, requester: who.subject } : { ...query, reviewableBy: who.groups },
  );
  send(res, 200, { approvals: page.tickets, cursor: page.cursor });
}
