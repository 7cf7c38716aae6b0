// Replay: the exchange as forwarded (method, path, non-secret headers, masked body), ready
// to send again, also as a curl command. Headers are an allow-list: credentials
// (authorization, cookies, SAML and identity headers, API keys) are never recorded, so they
// can never be replayed.

import type { SessionDocument } from './record.js';

/** The only request headers a record keeps. */
export const REPLAY_HEADERS = [
  'content-type',
  'accept',
  'accept-language',
  'user-agent',
  'x-request-id',
] as const;

export function replayHeaders(h: ReadonlyMap<string, string>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const name of REPLAY_HEADERS) {
    const v = h.get(name);
    if (v !== undefined) out[name] = v;
  }
  return out;
}

export interface Replay {
  session_id: string;
  method: string;
  url: string;
  path: string;
  headers: Record<string, string>;
  /** The request body as forwarded (masked); absent when none was forwarded or kept. */
  body?: string;
  /** Why the body is missing, when it is. */
  body_note?: string;
  curl: string;
}

/** POSIX shell single-quoting. */
export function shellQuote(s: string): string {
  return `'${s.replaceAll("'", `'\\''`)}'`;
}

export function replayOf(doc: SessionDocument): Replay {
  const cg = doc.callguard;
  const method = doc.http?.request.method ?? 'GET';
  const path = doc.url?.path ?? '/';
  const url = `http://${doc.url?.domain ?? '127.0.0.1:10000'}${path}`;
  const headers: Record<string, string> = {};
  for (const name of REPLAY_HEADERS) {
    const v = cg.request.headers?.[name];
    if (v !== undefined && name !== 'x-request-id') headers[name] = v;
  }
  const r: Replay = { session_id: cg.session_id, method, url, path, headers, curl: '' };
  if (cg.request.body !== undefined && !cg.request.body_truncated) r.body = cg.request.body;
  else if (cg.request.body_truncated) r.body_note = 'the recorded body was truncated';
  else if (cg.request.body_withheld) r.body_note = `body withheld: ${cg.request.body_withheld}`;
  else if (cg.record_mode !== 'masked') r.body_note = `record mode ${cg.record_mode}: no body`;
  const parts = ['curl', '-sS', '-X', method, shellQuote(url)];
  for (const [k, v] of Object.entries(headers)) parts.push('-H', shellQuote(`${k}: ${v}`));
  if (r.body !== undefined) parts.push('--data-binary', shellQuote(r.body));
  r.curl = parts.join(' ');
  return r;
}
