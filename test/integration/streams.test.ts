// ext_proc side streams under sustained load: Envoy must close them gracefully (half-close,
// then callguard's trailers), not reset each one. Reset streams trip Node's HTTP/2
// rapid-reset defence after about a thousand, and Envoy then answers 500 for refused
// streams (seen as ~1 in 1,000 calls before envoy.yaml turned graceful close on).

import { afterAll, beforeAll, expect, it } from 'vitest';
import { postJson, startStack } from './stack.js';
import type { Stack } from './stack.js';

let stack: Stack;
beforeAll(async () => {
  stack = await startStack();
});
afterAll(async () => {
  await stack?.stop();
});

it('2,400 calls, 16 at a time: every one answered by callguard, none refused', async () => {
  const statuses: Record<number, number> = {};
  const body = '{"amount": 1, "currency": "EUR", "card": {"number": "4242 4242 4242 4242"}}';
  await Promise.all(
    Array.from({ length: 16 }, async () => {
      for (let i = 0; i < 150; i++) {
        const r = await postJson(`${stack.url}/functions/charge_card`, body, {
          'x-callguard-dev-groups': 'agents',
        });
        statuses[r.status] = (statuses[r.status] ?? 0) + 1;
      }
    }),
  );
  expect(statuses).toEqual({ 200: 2400 });
});
