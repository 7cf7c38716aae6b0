import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { postJson, startStack } from './stack.js';
import type { Stack } from './stack.js';

let stack: Stack;
beforeAll(async () => {
  stack = await startStack();
});
afterAll(async () => {
  await stack?.stop();
});

describe('smoke', () => {
  it('masks', async () => {
    const body = '{"amount": 12.50, "currency": "EUR", "card": {"number": "4242 4242 4242 4242"}, "customer": {"ssn": "078-05-1120"}}';
    const r = await postJson(`${stack.url}/functions/charge_card`, body, { 'x-callguard-dev-groups': 'agents' });
    console.log(r.status, r.text, stack.upstream.received.map((x) => x.body.toString()));
    console.log(stack.callguardOutput());
    expect(r.status).toBe(200);
  });
});
