// The data path through the real Envoy: masking, redaction, prohibited fields, routes,
// identity (development header), byte preservation and the session record. Runs on the
// default Envoy and again on the oldest supported one (vitest.config.ts, `envoy-oldest`).

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { framing, http, logLines, postJson, sessionRecord, startStack } from './stack.js';
import type { LoggedSession, Stack } from './stack.js';
import { DEMO_RESPONSES } from '../../src/cli/demo-upstream.js';
import { envoyVersion } from '../../src/cli/envoy.js';

let stack: Stack;
const agents = { 'x-callguard-dev-groups': 'agents' };

beforeAll(async () => {
  stack = await startStack();
});
afterAll(async () => {
  await stack?.stop();
});

it('runs on the Envoy version this project run names', async () => {
  const info = JSON.parse((await http(`${stack.envoyAdmin}/server_info`)).body.toString()) as {
    version: string;
  };
  expect(info.version).toContain(`/${envoyVersion()}/`);
});

function lastReceived() {
  return stack.upstream.received.at(-1);
}

describe('request masking and redaction (charge_card contract)', () => {
  it('masks the card, redacts the SSN, and forwards every other byte unchanged', async () => {
    const before = stack.upstream.received.length;
    const body =
      '{ "amount" :12.50,"currency":"EUR",\n\t"card": {"number": "4242 4242 4242 4242", "holder": "Ada", "expiry": "12/29"},\r\n' +
      '  "customer": {"email": "ada@example.com", "ssn": "078-05-1120"},  "metadata": {"order": 12345678901234567890, "ratio": 1.0, "esc": "caf\\u00e9 \\ud83d\\ude00"} }  ';
    const r = await postJson(`${stack.url}/functions/charge_card`, body, agents);
    expect(r.status).toBe(200);
    expect(stack.upstream.received.length).toBe(before + 1);
    const got = lastReceived();
    const expected = body
      .replace('"4242 4242 4242 4242"', '"**** **** **** 4242"')
      .replace('"12/29"', '"**/**"')
      .replace('"078-05-1120"', '"[REDACTED:restricted:ssn]"');
    expect(got?.body.toString('utf8')).toBe(expected);
    expect(['length', 'chunked']).toContain(framing(got!.headers, Buffer.byteLength(expected)));
    expect(got?.headers['x-callguard-dev-groups']).toBeUndefined();

    const id = r.headers['x-callguard-session'] as string;
    const rec = await sessionRecord(stack, id);
    expect(rec.outcome).toBe('modified');
    expect(rec.route).toBe('charge_card');
    expect(rec.route_via).toBe('metadata');
    expect(rec.request?.action).toBe('redact');
    expect(rec.request?.findings.map((f) => [f.path, f.level, f.action, f.rule])).toEqual([
      ['/card/number', 'confidential', 'mask', 'confidential-masked'],
      ['/card/holder', 'internal', 'allow', 'internal-allowed'],
      ['/card/expiry', 'confidential', 'mask', 'confidential-masked'],
      ['/customer/email', 'internal', 'allow', 'internal-allowed'],
      ['/customer/ssn', 'restricted', 'redact', 'restricted-redacted'],
    ]);
  });

  it('lets payments-admins see confidential values in clear, but never restricted ones', async () => {
    const body =
      '{"amount":1,"currency":"EUR","card":{"number":"4242424242424242"},"customer":{"ssn":"078-05-1120"}}';
    const r = await postJson(`${stack.url}/functions/charge_card`, body, {
      'x-callguard-dev-groups': 'payments-admins',
    });
    expect(r.status).toBe(200);
    expect(lastReceived()?.body.toString()).toBe(
      '{"amount":1,"currency":"EUR","card":{"number":"4242424242424242"},"customer":{"ssn":"[REDACTED:restricted:ssn]"}}',
    );
  });

  it('forwards a body with no classified values byte for byte, without replacing it', async () => {
    const body = '{"amount":  1e2 , "currency":"USD","card":{"number":"", "holder":"\\u0041da"}}';
    // number is confidential but empty: masking leaves "" unchanged
    const r = await postJson(`${stack.url}/functions/charge_card`, body, agents);
    expect(r.status).toBe(200);
    expect(lastReceived()?.body.toString()).toBe(body);
  });
});

describe('response masking (lookup_customer response contract)', () => {
  it('masks and redacts values in the function result before the client sees them', async () => {
    const r = await postJson(
      `${stack.url}/functions/lookup_customer`,
      '{"customer_id":"cus_42"}',
      agents,
    );
    expect(r.status).toBe(200);
    expect(lastReceived()?.body.toString()).toBe('{"customer_id":"cus_42"}');
    const out = r.json<Record<string, unknown>>();
    expect(out).toEqual({
      customer_id: 'cus_42',
      name: 'Ada Lovelace',
      email: 'ada@example.com',
      ssn: '[REDACTED:restricted:ssn]',
      cards: [{ number: '**** **** **** 4444', expiry: '**/**' }],
    });
    expect(r.text).not.toContain('078-05-1120');
    expect(r.text).not.toContain('5555 5555 5555 4444');
    // Only the values changed: the upstream's pretty-printing survives.
    expect(r.text).toContain('{\n  "customer_id": "cus_42",\n  "name": "Ada Lovelace"');
    expect(['length', 'chunked']).toContain(framing(r.headers, r.body.length));
  });

  it('refuses a response whose content-type is not JSON when a response contract applies', async () => {
    stack.upstream.respond('/functions/lookup_customer', {
      status: 200,
      headers: { 'content-type': 'text/plain' },
      body: 'ssn 078-05-1120',
    });
    try {
      const r = await postJson(
        `${stack.url}/functions/lookup_customer`,
        '{"customer_id":"x"}',
        agents,
      );
      expect(r.status).toBe(502);
      expect(r.json()).toMatchObject({ error: { code: 'unsupported_media_type' } });
      expect(r.text).not.toContain('078-05-1120');
    } finally {
      stack.upstream.respond(
        '/functions/lookup_customer',
        DEMO_RESPONSES['/functions/lookup_customer']!,
      );
    }
  });
});

describe('prohibited fields and contract violations', () => {
  it('refuses a field the contract does not allow with 403 naming the path and rule', async () => {
    const before = stack.upstream.received.length;
    const r = await postJson(
      `${stack.url}/functions/charge_card`,
      '{"amount":1,"currency":"EUR","card":{"number":"4242424242424242","cvv":"737"}}',
      agents,
    );
    expect(r.status).toBe(403);
    expect(r.headers['content-type']).toBe('application/json');
    const e = r.json<{ error: Record<string, unknown> }>().error;
    expect(e.code).toBe('prohibited_field');
    expect(e.paths).toEqual(['/card/cvv']);
    expect(e.rule).toBe('contract:charge_card:request:additionalProperties');
    expect(e.session_id).toBe(r.headers['x-callguard-session']);
    // The session id is random hex: it may hold the digits 737 by chance.
    expect(r.text.replace(String(e.session_id), '')).not.toContain('737');
    expect(r.text).not.toContain('4242424242424242');
    expect(stack.upstream.received.length).toBe(before);
  });

  it('refuses a body that breaks the contract (wrong type) with 400 and the path', async () => {
    const before = stack.upstream.received.length;
    const r = await postJson(
      `${stack.url}/functions/charge_card`,
      '{"amount":"lots","currency":"EUR","card":{"number":"4242424242424242"}}',
      agents,
    );
    expect(r.status).toBe(400);
    expect(r.json()).toMatchObject({ error: { code: 'contract_violation', paths: ['/amount'] } });
    expect(r.text).not.toContain('lots');
    expect(stack.upstream.received.length).toBe(before);
  });
});

describe('routes and identity', () => {
  it('skips bodies on a public route (mode_override) and records the call', async () => {
    const r = await http(`${stack.url}/public/status`);
    expect(r.status).toBe(200);
    expect(r.json()).toEqual({ status: 'ok' });
    expect(r.headers['x-callguard-session']).toBeUndefined(); // response headers were skipped
    const rec = await waitForLogged((s) => s.route === 'public' && s.path === '/public/status');
    expect(rec.outcome).toBe('public');
  });

  it('never consults callguard on a route where the filter is disabled', async () => {
    const r = await http(`${stack.url}/healthz`);
    expect(r.status).toBe(200);
  });

  it('refuses a path no policy route covers (fail closed)', async () => {
    const before = stack.upstream.received.length;
    const r = await postJson(`${stack.url}/functions/unknown`, '{}', agents);
    expect(r.status).toBe(403);
    expect(r.json()).toMatchObject({ error: { code: 'no_policy' } });
    expect(stack.upstream.received.length).toBe(before);
  });

  it('answers a header-only request with a decision and a record, and masks its response', async () => {
    const r = await http(`${stack.url}/customers/cus_42`, { headers: agents });
    expect(r.status).toBe(200);
    expect(r.json()).toMatchObject({ ssn: '[REDACTED:restricted:ssn]' });
    const rec = await sessionRecord(stack, r.headers['x-callguard-session'] as string);
    expect(rec).toMatchObject({
      outcome: 'modified',
      method: 'GET',
      route: 'customer_profile',
      route_via: 'path',
    });
    expect(rec.request).toBeUndefined();
    expect(rec.response?.action).toBe('redact');
  });

  it('refuses a method the policy route does not allow, even when Envoy names the route', async () => {
    const before = stack.upstream.received.length;
    const r = await http(`${stack.url}/functions/charge_card`, { method: 'GET', headers: agents });
    expect(r.status).toBe(403);
    const rec = await sessionRecord(stack, r.headers['x-callguard-session'] as string);
    expect(rec).toMatchObject({ outcome: 'denied', method: 'GET', error: { code: 'no_policy' } });
    expect(stack.upstream.received.length).toBe(before);
  });

  it('requires an identity, and one of the route groups', async () => {
    const body = '{"amount":1,"currency":"EUR","card":{"number":"4242424242424242"}}';
    const before = stack.upstream.received.length;
    const anon = await postJson(`${stack.url}/functions/charge_card`, body);
    expect(anon.status).toBe(401);
    expect(anon.headers['www-authenticate']).toContain('Bearer');
    expect(anon.json()).toMatchObject({ error: { code: 'unauthenticated' } });
    const outsider = await postJson(`${stack.url}/functions/charge_card`, body, {
      'x-callguard-dev-groups': 'marketing',
    });
    expect(outsider.status).toBe(403);
    expect(outsider.json()).toMatchObject({ error: { code: 'forbidden' } });
    expect(stack.upstream.received.length).toBe(before);
  });

  it('selects the route by path and method when the Envoy route carries no metadata', async () => {
    // The catch-all Envoy route has no callguard metadata; the policy route matches by path.
    const r = await http(`${stack.url}/public/other`);
    expect(r.status).toBe(404); // the demo upstream's own 404, reached through the public route
    const rec = await waitForLogged((s) => s.path === '/public/other');
    expect(rec.route_via).toBe('path');
  });
});

async function waitForLogged(pred: (s: LoggedSession) => boolean) {
  const until = Date.now() + 5_000;
  for (;;) {
    const found = logLines(stack.callguardOutput())
      .filter((l) => l.msg === 'session')
      .map((l) => l.session as LoggedSession)
      .find(pred);
    if (found) return found;
    if (Date.now() > until) throw new Error('no matching session record');
    await new Promise((r) => setTimeout(r, 25));
  }
}

describe('streamed bodies (FULL_DUPLEX_STREAMED on protected routes)', () => {
  it('passes an answer it does not inspect on chunk by chunk, to its empty last chunk', async () => {
    // text/plain, no response contract: callguard echoes each chunk as it comes; the
    // upstream's end arrives as a chunk of its own, with no bytes.
    stack.upstream.handle('/v1/chat/completions', (_req, res) => {
      res.writeHead(200, { 'content-type': 'text/plain' });
      res.write('first part, ');
      setTimeout(() => res.end('second part'), 50);
    });
    const r = await http(`${stack.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { ...agents, 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'm', messages: [{ role: 'user', content: 'hi' }] }),
    });
    expect(r.status).toBe(200);
    expect(r.text).toBe('first part, second part');
    expect(r.headers['x-callguard-session']).toBeDefined();
  });

  it('refuses a request body past limits.max_body_bytes while it streams in (413)', async () => {
    // Envoy's own count of requests it started to the upstream: with the headers answer
    // held until the body is judged, a refused request starts none.
    const started = async () => {
      const r = await http(
        `${stack.envoyAdmin}/stats?filter=cluster.demo_upstream.upstream_rq_total$`,
      );
      return Number(/: (\d+)/.exec(r.text)?.[1] ?? NaN);
    };
    const before = await started();
    const big = `{"amount":1,"currency":"EUR","card":{"number":""},"metadata":{"note":"${'x'.repeat(1_100_000)}"}}`;
    const r = await postJson(`${stack.url}/functions/charge_card`, big, agents);
    expect(r.status).toBe(413);
    expect(r.json<{ error: { code: string } }>().error.code).toBe('body_too_large');
    expect(Number.isInteger(before)).toBe(true);
    expect(await started()).toBe(before);
    // The counter counts: an accepted call moves it.
    const ok = await postJson(
      `${stack.url}/functions/charge_card`,
      '{"amount":1,"currency":"EUR","card":{"number":""}}',
      agents,
    );
    expect(ok.status).toBe(200);
    expect(await started()).toBe(before + 1);
  });
});

describe('nothing sensitive in logs', () => {
  it('a canary planted in a restricted field appears in no log line, even at debug level', async () => {
    const canary = '219-09-9999';
    const r = await postJson(
      `${stack.url}/functions/charge_card`,
      `{"amount":1,"currency":"EUR","card":{"number":"4242424242424242"},"customer":{"ssn":"${canary}"}}`,
      agents,
    );
    expect(r.status).toBe(200);
    expect(lastReceived()?.body.toString()).not.toContain(canary);
    await sessionRecord(stack, r.headers['x-callguard-session'] as string);
    const out = stack.callguardOutput();
    expect(out).toContain('"level":20'); // debug lines are being written
    expect(out).not.toContain(canary);
    expect(out).not.toContain('4242424242424242');
    expect(stack.envoyOutput()).not.toContain(canary);
  });
});
