// The demo function endpoint of the local stack (and of the integration tests): it keeps
// what it received, byte for byte, so anyone can see what got past callguard, and answers
// with fixed JSON that carries sensitive values of its own (so response masking shows).

import { createServer } from 'node:http';
import type { IncomingHttpHeaders, IncomingMessage, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface Received {
  method: string;
  path: string;
  /** The request target as received, query included. */
  url: string;
  headers: IncomingHttpHeaders;
  body: Buffer;
}

export interface CannedResponse {
  status: number;
  headers: Record<string, string>;
  body: string | Buffer;
  /** Answer only after this long (tests of streams held open). */
  delayMs?: number;
  /** A streamed answer (text/event-stream): these pieces, written one by one. */
  chunks?: { data: string; delayMs: number }[];
}

export type Handler = (req: IncomingMessage, res: ServerResponse, body: Buffer) => void;

export interface DemoUpstream {
  port: number;
  received: Received[];
  /** Override the answer for a path (tests). */
  respond(path: string, r: CannedResponse): void;
  /** Answer a path with code (tests: a real MCP server behind Envoy). */
  handle(path: string, h: Handler): void;
  close(): Promise<void>;
}

const json = (status: number, value: unknown): CannedResponse => ({
  status,
  headers: { 'content-type': 'application/json' },
  body: JSON.stringify(value, null, 2),
});

export const DEMO_RESPONSES: Record<string, CannedResponse> = {
  '/functions/charge_card': json(200, {
    charge_id: 'ch_1001',
    status: 'approved',
    card: { number: '4111 1111 1111 1111' },
  }),
  '/functions/lookup_customer': json(200, {
    customer_id: 'cus_42',
    name: 'Ada Lovelace',
    email: 'ada@example.com',
    ssn: '078-05-1120',
    cards: [{ number: '5555 5555 5555 4444', expiry: '12/29' }],
  }),
  '/customers/cus_42': json(200, {
    customer_id: 'cus_42',
    name: 'Ada Lovelace',
    email: 'ada@example.com',
    ssn: '078-05-1120',
    cards: [{ number: '5555 5555 5555 4444', expiry: '12/29' }],
  }),
  '/functions/pay_invoice': json(200, { invoice_id: 'inv_7', status: 'paid' }),
  '/functions/transfer_funds': json(200, { transfer_id: 'tr_1001', status: 'sent' }),
  '/public/status': json(200, { status: 'ok' }),
  '/healthz': json(200, { status: 'ok' }),
};

export async function startDemoUpstream(
  port: number,
  onReceive?: (r: Received) => void,
  host = '127.0.0.1',
): Promise<DemoUpstream> {
  const received: Received[] = [];
  const responses = new Map(Object.entries(DEMO_RESPONSES));
  const handlers = new Map<string, Handler>();
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const path = (req.url ?? '/').split('?')[0] as string;
      const got = {
        method: req.method ?? '',
        path,
        url: req.url ?? '/',
        headers: req.headers,
        body: Buffer.concat(chunks),
      };
      received.push(got);
      onReceive?.(got);
      const handler = handlers.get(path);
      if (handler) {
        handler(req, res, got.body);
        return;
      }
      const r =
        path === '/v1/chat/completions' && !responses.has(path)
          ? demoCompletion(got.body)
          : path === '/whoami'
            ? json(200, {
                subject: req.headers['x-callguard-subject'] ?? null,
                groups: req.headers['x-callguard-groups'] ?? null,
                auth_method: req.headers['x-callguard-auth-method'] ?? null,
              })
            : (responses.get(path) ?? json(404, { error: 'no such function' }));
      const answer = () => {
        res.writeHead(r.status, r.headers);
        if (!r.chunks) {
          res.end(r.body);
          return;
        }
        const pieces = [...r.chunks];
        const next = () => {
          const p = pieces.shift();
          if (!p) {
            res.end();
            return;
          }
          setTimeout(() => {
            res.write(p.data);
            next();
          }, p.delayMs);
        };
        next();
      };
      if (r.delayMs) setTimeout(answer, r.delayMs);
      else answer();
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => resolve());
  });
  return {
    port: (server.address() as AddressInfo).port,
    received,
    respond: (path, r) => responses.set(path, r),
    handle: (path, h) => handlers.set(path, h),
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

/**
 * The demo "model": a chat completion that repeats the last user message, so the local stack
 * shows what a model behind callguard gets to see.
 */
function demoCompletion(body: Buffer): CannedResponse {
  let said = '';
  try {
    const req = JSON.parse(body.toString('utf8')) as {
      messages?: { role?: string; content?: unknown }[];
    };
    const last = [...(req.messages ?? [])].reverse().find((m) => m.role === 'user');
    said = typeof last?.content === 'string' ? last.content : JSON.stringify(last?.content ?? '');
  } catch {
    said = '(not JSON)';
  }
  return json(200, {
    id: 'chatcmpl-demo',
    object: 'chat.completion',
    created: 0,
    model: 'demo',
    choices: [
      {
        index: 0,
        finish_reason: 'stop',
        message: { role: 'assistant', content: `The model saw: ${said}` },
      },
    ],
  });
}
