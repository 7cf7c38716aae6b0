// callguard's process lifecycle under a real Envoy: a stream in flight is drained on
// SIGTERM, and once callguard is gone Envoy fails closed.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as grpc from '@grpc/grpc-js';
import { DEMO_RESPONSES } from '../../src/cli/demo-upstream.js';
import { loadServices } from '../../src/extproc/protos.js';
import { postJson, startStack } from './stack.js';
import type { Stack } from './stack.js';

let stack: Stack;
const agents = { 'x-callguard-dev-groups': 'agents' };

beforeAll(async () => {
  stack = await startStack();
});
afterAll(async () => {
  await stack?.stop();
});

function healthCheck(addr: string): Promise<string> {
  const Health = grpc.makeGenericClientConstructor(loadServices().health, 'Health');
  const client = new Health(addr, grpc.credentials.createInsecure()) as unknown as grpc.Client & {
    Check(
      req: object,
      cb: (err: grpc.ServiceError | null, res?: { status?: string }) => void,
    ): void;
  };
  return new Promise((resolve, reject) => {
    client.Check({}, (err, res) => {
      client.close();
      if (err) reject(err);
      else resolve(res?.status ?? '');
    });
  });
}

describe('lifecycle', () => {
  it('serves the standard gRPC health service', async () => {
    expect(await healthCheck(stack.grpcAddr)).toBe('SERVING');
  });

  it('drains an open stream on SIGTERM: the held response is still masked', async () => {
    const canned = DEMO_RESPONSES['/functions/lookup_customer']!;
    stack.upstream.respond('/functions/lookup_customer', { ...canned, delayMs: 800 });
    const pending = postJson(
      `${stack.url}/functions/lookup_customer`,
      '{"customer_id":"cus_42"}',
      agents,
    );
    // Wait until the upstream has the request: callguard's stream is open, response owed.
    const until = Date.now() + 5_000;
    while (stack.upstream.received.length === 0 && Date.now() < until) {
      await new Promise((r) => setTimeout(r, 10));
    }
    expect(stack.upstream.received.length).toBe(1);
    const stopped = stack.stopCallguard();
    const r = await pending;
    expect(r.status).toBe(200);
    expect(r.json()).toMatchObject({ ssn: '[REDACTED:restricted:ssn]' });
    expect(r.text).not.toContain('078-05-1120');
    await stopped;
    expect(stack.callguardOutput()).toContain('"msg":"draining"');
    expect(stack.callguardOutput()).toContain('"msg":"stopped"');
  });

  it('with callguard down, Envoy fails closed: 5xx and nothing reaches the upstream', async () => {
    const before = stack.upstream.received.length;
    const r = await postJson(
      `${stack.url}/functions/charge_card`,
      '{"amount":1,"currency":"EUR","card":{"number":"4242424242424242"}}',
      agents,
    );
    expect(r.status).toBeGreaterThanOrEqual(500);
    expect(r.status).toBeLessThan(600);
    expect(r.text).not.toContain('4242424242424242');
    expect(stack.upstream.received.length).toBe(before);
  });
});
