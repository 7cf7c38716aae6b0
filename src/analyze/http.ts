// One JSON POST to an analyzer, bounded: a deadline for the whole exchange (connecting,
// sending, the answer), and a cap on the answer's size. Only our own headers go out: never
// a caller's credentials or any of its headers.

import { Agent as HttpAgent, request as httpRequest } from 'node:http';
import type { IncomingMessage } from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';

/** Largest answer read: an answer is offsets and types, far smaller than the texts. */
const MAX_ANSWER_BYTES = 16 * 1024 * 1024;

/** Why a request to an analyzer failed (a metric label and a record field: a fixed set). */
export type FailureKind =
  /** No free concurrency slot before the deadline (no request was made). */
  | 'saturated'
  /** No complete answer before the deadline. */
  | 'timeout'
  /** The connection failed (refused, reset, DNS). */
  | 'unavailable'
  /** An HTTP status other than 200. */
  | 'bad_status'
  /** An answer that is not the JSON the protocol says. */
  | 'bad_answer';

export class RequestFailed extends Error {
  constructor(
    readonly kind: FailureKind,
    /** The HTTP status, for bad_status. */
    readonly status?: number,
  ) {
    super(`analyzer request failed: ${kind}${status !== undefined ? ` ${status}` : ''}`);
    this.name = 'RequestFailed';
  }
}

export type Agent = HttpAgent | HttpsAgent;

export function agentFor(url: string, maxSockets: number): Agent {
  const opts = { keepAlive: true, maxSockets, maxFreeSockets: maxSockets };
  return url.startsWith('https:') ? new HttpsAgent(opts) : new HttpAgent(opts);
}

/** POSTs `body` (JSON) to `url`; resolves with the parsed answer or rejects RequestFailed. */
export function postJson(
  url: string,
  body: string,
  agent: Agent,
  timeoutMs: number,
): Promise<unknown> {
  const send = url.startsWith('https:') ? httpsRequest : httpRequest;
  const payload = Buffer.from(body, 'utf8');
  return new Promise((resolve, reject) => {
    let settled = false;
    const fail = (e: RequestFailed) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      req.destroy();
      reject(e);
    };
    const timer = setTimeout(() => fail(new RequestFailed('timeout')), Math.max(0, timeoutMs));
    const req = send(
      url,
      {
        method: 'POST',
        agent,
        headers: {
          'content-type': 'application/json',
          'content-length': String(payload.length),
          accept: 'application/json',
        },
      },
      (res: IncomingMessage) => {
        if (res.statusCode !== 200) {
          res.resume();
          fail(new RequestFailed('bad_status', res.statusCode));
          return;
        }
        const chunks: Buffer[] = [];
        let size = 0;
        res.on('data', (c: Buffer) => {
          size += c.length;
          if (size > MAX_ANSWER_BYTES) fail(new RequestFailed('bad_answer'));
          else chunks.push(c);
        });
        res.on('end', () => {
          if (settled) return;
          let json: unknown;
          try {
            json = JSON.parse(Buffer.concat(chunks).toString('utf8'));
          } catch {
            fail(new RequestFailed('bad_answer'));
            return;
          }
          settled = true;
          clearTimeout(timer);
          resolve(json);
        });
        res.on('error', () => fail(new RequestFailed('unavailable')));
      },
    );
    req.on('error', () => fail(new RequestFailed('unavailable')));
    req.end(payload);
  });
}
