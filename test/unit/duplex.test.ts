// DuplexFlow: FULL_DUPLEX_STREAMED in front of a real Exchange (policies/, dev-header
// identity). Envoy's pipelined messages are played in the order Envoy sends them; the
// answers must come in Envoy's order (headers, body, trailers), with the headers answer held
// until the body is judged, and nothing of a refused body answered but the refusal.

import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/config.js';
import { DuplexFlow } from '../../src/extproc/duplex.js';
import { Exchange } from '../../src/extproc/exchange.js';
import type { ProcessingRequest, ProcessingResponse } from '../../src/extproc/protos.js';
import { Identifier } from '../../src/identity/identify.js';
import { createLogger } from '../../src/log.js';
import { loadPolicy } from '../../src/policy/load.js';
import type { SessionRecord } from '../../src/audit/record.js';

const ROOT = join(import.meta.dirname, '../..');
const policy = loadPolicy([join(ROOT, 'policies')]);
const config = loadConfig('/nonexistent/callguard.yaml', [], { optional: true });
config.dev.groups_header = 'x-dev-groups';
config.limits.max_body_bytes = 4096;
const CARD = '4242424242424242';

function flow(): { flow: DuplexFlow; records: SessionRecord[] } {
  const records: SessionRecord[] = [];
  const exchange = new Exchange({
    policy: () => policy,
    config,
    log: createLogger('silent'),
    sink: { submit: (r) => records.push(r) },
    identifier: new Identifier(config.identity, config.dev.groups_header),
  });
  return { flow: new DuplexFlow(exchange, config.limits.max_body_bytes), records };
}

const DUPLEX = {
  protocol_config: {
    request_body_mode: 'FULL_DUPLEX_STREAMED',
    response_body_mode: 'FULL_DUPLEX_STREAMED',
  },
} as const;

function headers(
  h: Record<string, string>,
  endOfStream = false,
): ProcessingRequest['request_headers'] {
  return {
    headers: {
      headers: Object.entries(h).map(([key, v]) => ({ key, raw_value: Buffer.from(v) })),
    },
    end_of_stream: endOfStream,
  };
}

const CALL = headers({
  ':method': 'POST',
  ':path': '/functions/charge_card',
  'content-type': 'application/json',
  'x-dev-groups': 'agents',
});

function body(s: string, endOfStream: boolean): { body: Buffer; end_of_stream: boolean } {
  return { body: Buffer.from(s), end_of_stream: endOfStream };
}

/** What kind of answer each is, and a streamed body's text. */
function shape(answers: ProcessingResponse[]): string[] {
  return answers.map((a) => {
    if (a.immediate_response) return `immediate ${String(a.immediate_response.status?.code)}`;
    const b = a.request_body ?? a.response_body;
    const s = b?.response?.body_mutation?.streamed_response;
    if (s) return `body ${Buffer.from(s.body ?? []).toString()}${s.end_of_stream ? ' (end)' : ''}`;
    return Object.keys(a)[0]!;
  });
}

const noInterim = () => {};

describe('FULL_DUPLEX_STREAMED', () => {
  it('holds the request headers answer until the gathered body is judged, then sends both', async () => {
    const { flow: f } = flow();
    const json = `{"amount":1,"currency":"EUR","card":{"number":"${CARD}","holder":"Ada","expiry":"12/29"}}`;
    expect(await f.handle({ ...DUPLEX, request_headers: CALL }, noInterim)).toEqual([]);
    expect(await f.handle({ request_body: body(json.slice(0, 30), false) }, noInterim)).toEqual([]);
    const answers = await f.handle({ request_body: body(json.slice(30), true) }, noInterim);
    expect(shape(answers)).toEqual([
      'request_headers',
      `body ${json.replace(CARD, '************4242').replace('12/29', '**/**')} (end)`,
    ]);
    // No mode override: Envoy has already streamed the body when it reads the answer.
    expect(answers[0]!.mode_override).toBeUndefined();
  });

  it('answers a refused body with the refusal alone, and nothing after it', async () => {
    const { flow: f, records } = flow();
    expect(await f.handle({ ...DUPLEX, request_headers: CALL }, noInterim)).toEqual([]);
    const answers = await f.handle({ request_body: body('{"amount":', true) }, noInterim);
    expect(shape(answers)).toEqual(['immediate 400']);
    expect(await f.handle({ request_trailers: {} }, noInterim)).toEqual([]);
    expect(records).toEqual([]); // the server records at the stream's end
  });

  it('refuses a body past limits.max_body_bytes as the chunks arrive, before its end', async () => {
    const { flow: f } = flow();
    await f.handle({ ...DUPLEX, request_headers: CALL }, noInterim);
    expect(await f.handle({ request_body: body('x'.repeat(4000), false) }, noInterim)).toEqual([]);
    const answers = await f.handle({ request_body: body('x'.repeat(200), false) }, noInterim);
    expect(shape(answers)).toEqual(['immediate 413']);
  });

  it('judges a body that trailers end, then answers the trailers', async () => {
    const { flow: f } = flow();
    const json = '{"amount":1,"currency":"EUR","card":{"number":""}}';
    await f.handle({ ...DUPLEX, request_headers: CALL }, noInterim);
    expect(await f.handle({ request_body: body(json, false) }, noInterim)).toEqual([]);
    const answers = await f.handle({ request_trailers: {} }, noInterim);
    expect(shape(answers)).toEqual(['request_headers', `body ${json}`, 'request_trailers']);
  });

  it('keeps the public mode override when the request has no body (nothing was streamed)', async () => {
    const { flow: f } = flow();
    const answers = await f.handle(
      { ...DUPLEX, request_headers: headers({ ':method': 'GET', ':path': '/public/x' }, true) },
      noInterim,
    );
    expect(answers).toHaveLength(1);
    expect(answers[0]!.mode_override?.response_body_mode).toBe('NONE');
  });

  it('in BUFFERED mode answers every message one to one', async () => {
    const { flow: f } = flow();
    const buffered = { protocol_config: { request_body_mode: 'BUFFERED' as const } };
    expect(shape(await f.handle({ ...buffered, request_headers: CALL }, noInterim))).toEqual([
      'request_headers',
    ]);
    const json = `{"amount":1,"currency":"EUR","card":{"number":"${CARD}"}}`;
    const answers = await f.handle({ request_body: body(json, true) }, noInterim);
    expect(answers).toHaveLength(1);
    // A buffered body answer: the whole edited body replaces it (not a streamed response).
    const r = answers[0]!.request_body?.response;
    expect(r?.status).toBe('CONTINUE_AND_REPLACE');
    expect(r?.body_mutation?.streamed_response).toBeUndefined();
    expect(Buffer.from(r!.body_mutation!.body!).toString()).toBe(
      json.replace(CARD, '************4242'),
    );
  });
});
