// Format adapters through the engine, with the shipped example policy (policies/llm.yaml):
// calls found in each provider's request and response shapes get their function's contract,
// every other string the detectors; only the masked values' bytes change.

import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { inspect } from '../../src/engine/index.js';
import type { InspectInput } from '../../src/engine/index.js';
import { Tokenizer } from '../../src/enforce/tokenize.js';
import { CallguardError } from '../../src/errors.js';
import { loadPolicy } from '../../src/policy/load.js';
import type { Direction, Principal } from '../../src/policy/types.js';

const policy = loadPolicy([join(import.meta.dirname, '../../policies')]);
const tokenizer = new Tokenizer([{ id: 'k1', secret: Buffer.alloc(32, 1) }]);
const agent: Principal = { subject: 'u1', groups: ['agents'], authMethod: 'dev-header' };
const CARD = '4242 4242 4242 4242';
const CARD_TOKEN = tokenizer.tokenize(CARD, 'card');

function run(
  routeName: string,
  body: string,
  direction: Direction = 'request',
  extra: Partial<InspectInput> = {},
) {
  const route = policy.routesByName.get(routeName);
  if (!route) throw new Error(`no route ${routeName}`);
  return inspect({
    policy,
    route,
    fn: route.fn,
    principal: agent,
    direction,
    body: Buffer.from(body),
    maxDepth: 64,
    tokenizer,
    ...extra,
  });
}

const text = (r: { body: Uint8Array }) => Buffer.from(r.body).toString('utf8');

describe('OpenAI Chat Completions', () => {
  const args = JSON.stringify({ invoice_id: 'inv_7', card_number: CARD });
  const body = `{"model": "gpt-4o",
  "messages": [
    {"role": "user", "content": "Pay invoice inv_7 with my card ${CARD}, receipt to ada@example.com"},
    {"role": "assistant", "content": null, "tool_calls": [{"id": "call_1", "type": "function", "function": {"name": "pay_invoice", "arguments": ${JSON.stringify(args)}}}]},
    {"role": "tool", "tool_call_id": "call_1", "content": "{\\"status\\": \\"paid\\", \\"email\\": \\"ada@example.com\\"}"},
    {"role": "user", "content": [{"type": "text", "text": "card again: ${CARD}"}]}
  ],
  "tools": [{"type": "function", "function": {"name": "pay_invoice", "description": "mail ada@example.com for help", "parameters": {"type": "object"}}}],
  "temperature": 1.0}`;

  it('tokenizes the card everywhere, masks e-mails, keeps tool definitions and every other byte', () => {
    const r = run('openai_chat', body);
    const out = text(r);
    expect(out).not.toContain(CARD);
    const expected = body
      .replace(
        `card ${CARD}, receipt to ada@example.com`,
        `card ${CARD_TOKEN}, receipt to a**@*******.***`,
      )
      .replace(
        JSON.stringify(args),
        JSON.stringify(JSON.stringify({ invoice_id: 'inv_7', card_number: CARD_TOKEN })),
      )
      .replace('\\"email\\": \\"ada@example.com\\"', '\\"email\\": \\"a**@*******.***\\"')
      .replace(`card again: ${CARD}`, `card again: ${CARD_TOKEN}`);
    expect(out).toBe(expected);
    // Definitions are not data: the e-mail in the tool description is left alone.
    expect(out).toContain('mail ada@example.com for help');
    expect(r.format).toBe('openai-chat');
  });

  it('names each finding by pointer, into the arguments after #, with the function', () => {
    const r = run('openai_chat', body);
    const paths = r.decision.findings.map(
      (f) => `${f.path} ${f.action}${f.function ? ` ${f.function}` : ''}`,
    );
    expect(paths).toEqual(
      expect.arrayContaining([
        '/messages/0/content tokenize',
        '/messages/0/content mask',
        '/messages/1/tool_calls/0/function/arguments#/card_number tokenize pay_invoice',
        '/messages/2/content#/email mask pay_invoice',
        '/messages/3/content/0/text tokenize',
      ]),
    );
  });

  it('the tokens reverse to the values', () => {
    const out = text(run('openai_chat', body));
    const tokens = out.match(/tok_card_[a-z0-9]+_[A-Za-z0-9_-]+/g) ?? [];
    expect(tokens.length).toBe(3);
    for (const t of tokens) expect(tokenizer.detokenize(t)).toEqual({ value: CARD, kind: 'card' });
  });

  it('applies the function contract to arguments: a prohibited field is refused by path', () => {
    const bad = JSON.stringify({ invoice_id: 'inv_7', card_number: CARD, cvv: '737' });
    const b = `{"messages":[{"role":"assistant","tool_calls":[{"id":"c","type":"function","function":{"name":"pay_invoice","arguments":${JSON.stringify(bad)}}}]}]}`;
    try {
      run('openai_chat', b);
      expect.unreachable();
    } catch (e) {
      expect(e).toBeInstanceOf(CallguardError);
      const err = e as CallguardError;
      expect(err.code).toBe('prohibited_field');
      expect(err.paths).toEqual(['/messages/0/tool_calls/0/function/arguments#/cvv']);
      expect(err.message).not.toContain('737');
    }
  });

  it('arguments of a known function that are not JSON are refused; of an unknown one, scanned as text', () => {
    const known = `{"messages":[{"role":"assistant","tool_calls":[{"id":"c","type":"function","function":{"name":"pay_invoice","arguments":"{not json"}}]}]}`;
    expect(() => run('openai_chat', known)).toThrow(/not valid JSON/);
    const unknown = `{"messages":[{"role":"assistant","tool_calls":[{"id":"c","type":"function","function":{"name":"lookup","arguments":"card ${CARD}"}}]}]}`;
    expect(text(run('openai_chat', unknown))).toContain(`card ${CARD_TOKEN}`);
  });

  it('in a response, tool-call arguments and content are scanned', () => {
    const resp = `{"id":"chatcmpl-1","object":"chat.completion","choices":[{"index":0,"message":{"role":"assistant","content":"Your card ${CARD} is on file","tool_calls":[{"id":"call_9","type":"function","function":{"name":"pay_invoice","arguments":"{\\"invoice_id\\":\\"inv_7\\",\\"card_number\\":\\"${CARD}\\"}"}}]},"finish_reason":"tool_calls"}]}`;
    const out = text(run('openai_chat', resp, 'response'));
    expect(out).not.toContain(CARD);
    expect(out.match(/tok_card_/g)?.length).toBe(2);
  });
});

describe('OpenAI Responses', () => {
  it('input items: messages, function_call arguments, function_call_output', () => {
    const body = `{"model":"gpt-4.1","instructions":"be brief","input":[
      {"role":"user","content":[{"type":"input_text","text":"pay with ${CARD}"}]},
      {"type":"function_call","call_id":"fc_1","name":"pay_invoice","arguments":"{\\"invoice_id\\":\\"inv_1\\",\\"card_number\\":\\"${CARD}\\"}"},
      {"type":"function_call_output","call_id":"fc_1","output":"{\\"receipt_to\\":\\"ada@example.com\\"}"}
    ],"tools":[{"type":"function","name":"pay_invoice","description":"ada@example.com","parameters":{}}]}`;
    const r = run('openai_responses', body);
    const out = text(r);
    expect(out).not.toContain(CARD);
    expect(out).toContain('"description":"ada@example.com"');
    expect(out).toContain('a**@*******.***');
    expect(r.decision.findings.map((f) => f.path)).toEqual(
      expect.arrayContaining([
        '/input/0/content/0/text',
        '/input/1/arguments#/card_number',
        '/input/2/output#/receipt_to',
      ]),
    );
    expect(
      r.decision.findings.find((f) => f.path === '/input/2/output#/receipt_to')?.function,
    ).toBe('pay_invoice');
  });
});

describe('Anthropic Messages', () => {
  it('tool_use input gets the contract, tool_result content and text blocks the detectors', () => {
    const body = `{"model":"claude-sonnet-4-5","max_tokens":1024,"system":"You pay invoices.",
      "messages":[
        {"role":"user","content":"my card is ${CARD}"},
        {"role":"assistant","content":[{"type":"text","text":"Paying."},{"type":"tool_use","id":"toolu_1","name":"pay_invoice","input":{"invoice_id":"inv_2","card_number":"${CARD}"}}]},
        {"role":"user","content":[{"type":"tool_result","tool_use_id":"toolu_1","content":[{"type":"text","text":"paid; receipt sent to ada@example.com"}]}]}
      ]}`;
    const r = run('anthropic_messages', body);
    const out = text(r);
    expect(out).not.toContain(CARD);
    expect(out).not.toContain('ada@example.com');
    const paths = r.decision.findings.map((f) => f.path);
    expect(paths).toContain('/messages/1/content/1/input/card_number');
    expect(paths).toContain('/messages/0/content');
    expect(paths).toContain('/messages/2/content/0/content/0/text');
    expect(
      r.decision.findings.find((f) => f.path === '/messages/1/content/1/input/card_number')?.source,
    ).toBe('contract');
  });
});

describe('MCP JSON-RPC', () => {
  const call = `{"jsonrpc":"2.0","id":7,"method":"tools/call","params":{"name":"pay_invoice","arguments":{"invoice_id":"inv_3","card_number":"${CARD}"}}}`;

  it('tools/call arguments get the contract; the result is matched to the call by id', () => {
    const req = run('mcp', call);
    expect(text(req)).toBe(call.replace(CARD, CARD_TOKEN));
    expect([...req.names.values()]).toEqual(['pay_invoice']);
    const result = `{"jsonrpc":"2.0","id":7,"result":{"content":[{"type":"text","text":"charged ${CARD}"}],"structuredContent":{"charged":"${CARD}"},"isError":false}}`;
    const res = run('mcp', result, 'response', { names: req.names });
    expect(text(res)).not.toContain(CARD);
    const structured = res.decision.findings.find(
      (f) => f.path === '/result/structuredContent/charged',
    );
    expect(structured?.function).toBe('pay_invoice');
  });

  it('batches: each message is read', () => {
    const batch = `[${call},{"jsonrpc":"2.0","method":"notifications/progress","params":{"message":"mail ada@example.com"}}]`;
    const out = text(run('mcp', batch));
    expect(out).not.toContain(CARD);
    expect(out).not.toContain('ada@example.com');
  });

  it('a tools/list result is definitions: left alone', () => {
    const list = `{"jsonrpc":"2.0","id":1,"result":{"tools":[{"name":"pay_invoice","description":"card ${CARD}","inputSchema":{"type":"object"}}]}}`;
    const r = run('mcp', list, 'response');
    expect(r.changed).toBe(false);
  });
});

describe('detokenize (pay_invoice, agents)', () => {
  it('restores the card for an agent; the function gets the number', () => {
    const body = `{"invoice_id": "inv_7", "card_number": "${CARD_TOKEN}", "amount": 10.50}`;
    const r = run('pay_invoice', body);
    expect(text(r)).toBe(body.replace(CARD_TOKEN, CARD));
    expect(r.decision.trace.some((t) => t.startsWith('detokenized /card_number'))).toBe(true);
  });

  it('a tampered token is left as it is and reported', () => {
    const bad = CARD_TOKEN.slice(0, -2) + (CARD_TOKEN.endsWith('A') ? 'BB' : 'AA');
    const body = `{"invoice_id": "inv_7", "card_number": "${bad}"}`;
    const r = run('pay_invoice', body);
    expect(text(r)).toContain(bad);
    expect(r.decision.findings.some((f) => f.detector === 'invalid_token')).toBe(true);
  });

  // Whether a string is a JSON document (its token's value then escaped for an inner string
  // literal) is the strict reader's verdict, as for the format adapters: a document the
  // native JSON.parse would accept but the gateway refuses (a duplicate key, a lone
  // surrogate escape) is text here too, never read two ways.
  it('a token in JSON carried in a string is escaped for it; in text the strict reader refuses, it is not', () => {
    const quoted = tokenizer.tokenize('12"34', 'note');
    const asBody = (invoiceId: string) =>
      `{"invoice_id": ${JSON.stringify(invoiceId)}, "card_number": "${CARD_TOKEN}"}`;
    const invoiceOf = (r: { body: Uint8Array }) =>
      (JSON.parse(text(r)) as { invoice_id: string }).invoice_id;

    const doc = `{"ref": "${quoted}"}`;
    expect(invoiceOf(run('pay_invoice', asBody(doc)))).toBe('{"ref": "12\\"34"}');
    for (const notJson of [
      `{"ref": "${quoted}", "ref": 1}`,
      `{"ref": "${quoted}", "x": "\\ud800"}`,
    ]) {
      expect(invoiceOf(run('pay_invoice', asBody(notJson)))).toBe(notJson.replace(quoted, '12"34'));
    }
  });

  it('callers outside the groups get no detokenize (and no rule: blocked, fail closed)', () => {
    const body = `{"invoice_id": "inv_7", "card_number": "${CARD_TOKEN}"}`;
    const other: Principal = { subject: 'u2', groups: ['engineers'], authMethod: 'dev-header' };
    expect(() => run('pay_invoice', body, 'request', { principal: other })).toThrow(
      expect.objectContaining({ code: 'blocked', paths: ['/card_number'] }),
    );
  });
});
