// The docker-compose demo's extra processes, as the image runs them: `callguard demo idp`
// issues tokens that callguard verifies through discovery and JWKS (end to end through
// Envoy), and `callguard demo endpoint` serves the demo function endpoint.

import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PROJECT_ROOT } from '../../src/cli/envoy.js';
import { http, postJson, startStack } from './stack.js';
import type { Stack } from './stack.js';

const children: ChildProcess[] = [];

/** Start `callguard demo <what> --port 0` and wait for the line saying where it listens. */
function demo(what: string, line: RegExp): Promise<RegExpExecArray> {
  const child = spawn(
    process.execPath,
    [join(PROJECT_ROOT, 'dist/cli/main.js'), 'demo', what, '--port', '0'],
    {
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  children.push(child);
  let out = '';
  return new Promise((resolve, reject) => {
    child.stdout?.on('data', (c: Buffer) => {
      out += c.toString('utf8');
      const m = line.exec(out);
      if (m) resolve(m);
    });
    child.once('exit', (code) => reject(new Error(`demo ${what} exited with ${code}: ${out}`)));
  });
}

async function token(issuer: string, groups: string): Promise<string> {
  const r = await http(`${issuer}/token`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ subject: 'ada', groups }).toString(),
  });
  expect(r.status).toBe(200);
  return r.json<{ access_token: string }>().access_token;
}

let stack: Stack;
let issuer: string;

beforeAll(async () => {
  issuer = (await demo('idp', /identity provider (\S+) on port \d+/))[1] as string;
  stack = await startStack({
    config: {
      dev: { groups_header: '' },
      identity: { oidc: [{ issuer, audiences: ['callguard-demo'] }] },
    },
  });
});
afterAll(async () => {
  await stack?.stop();
  for (const c of children) c.kill('SIGTERM');
});

describe('compose demo processes', () => {
  it('the demo IdP serves discovery and its tokens pass callguard through Envoy', async () => {
    const disco = (await http(`${issuer}/.well-known/openid-configuration`)).json<{
      issuer: string;
      jwks_uri: string;
    }>();
    expect(disco.issuer).toBe(issuer);
    expect(disco.jwks_uri).toBe(`${issuer}/jwks`);

    const body = '{"amount":1,"currency":"EUR","card":{"number":"4242424242424242"}}';
    const agents = await postJson(`${stack.url}/functions/charge_card`, body, {
      authorization: `Bearer ${await token(issuer, 'agents')}`,
    });
    expect(agents.status).toBe(200);
    expect(stack.upstream.received.at(-1)?.body.toString()).toContain('"************4242"');

    const outsider = await postJson(`${stack.url}/functions/charge_card`, body, {
      authorization: `Bearer ${await token(issuer, 'marketing')}`,
    });
    expect(outsider.status).toBe(403);
    const none = await postJson(`${stack.url}/functions/charge_card`, body);
    expect(none.status).toBe(401);
  });

  it('the demo endpoint answers as the local stack does', async () => {
    const ep = await demo('endpoint', /demo endpoint on \S+:(\d+)/);
    const r = await http(`http://127.0.0.1:${ep[1]}/healthz`);
    expect(r.status).toBe(200);
    expect(r.json()).toEqual({ status: 'ok' });
  });
});
