// LLM function calling through the real Envoy, with the providers' official clients pointed
// at it and a local fake provider as the upstream, so the wire shapes (streaming included)
// are the SDKs' own. Canaries in every position; what the provider received and what the
// client got are both checked.

import Anthropic from '@anthropic-ai/sdk';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { Tokenizer } from '../../src/enforce/tokenize.js';
import { postJson, sessionRecord, startStack, TEST_TOKEN_KEY } from './stack.js';
import type { Stack } from './stack.js';
import { matching } from '../support/matchers.js';

const CARD = '4242 4242 4242 4242';
const SSN = '536-22-1847';
const EMAIL = 'ada.lovelace@example.com';
const AWS_KEY = 'AKIAZ7VQH3KXWB4TNE2M';
const tokenizer = new Tokenizer([{ id: 'test1', secret: TEST_TOKEN_KEY }]);
const CARD_TOKEN = tokenizer.tokenize(CARD, 'card');
const agents = { 'x-callguard-dev-groups': 'agents' };

let stack: Stack;
beforeAll(async () => {
  stack = await startStack();
});
afterAll(async () => {
  await stack?.stop();
});

const lastBody = (path: string) => {
  const r = [...stack.upstream.received].reverse().find((x) => x.path === path);
  if (!r) throw new Error(`upstream received nothing at ${path}`);
  return r.body.toString('utf8');
};

const sse = (events: string[], delayMs = 30) => ({
  status: 200,
  headers: { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' },
  body: '',
  chunks: events.map((data) => ({ data, delayMs })),
});

/** The official OpenAI client, pointed at Envoy instead of the provider. */
const openai = () =>
  new OpenAI({
    baseURL: `${stack.url}/v1`,
    apiKey: 'sk-test',
    defaultHeaders: agents,
    maxRetries: 0,
  });

describe('OpenAI Chat Completions (openai SDK)', () => {
  it('the model gets tokens and masks; the client gets the answer; the function gets the real card', async () => {
    stack.upstream.respond('/v1/chat/completions', {
      status: 200,
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        id: 'chatcmpl-1',
        object: 'chat.completion',
        created: 1,
        model: 'gpt-4o',
        choices: [
          {
            index: 0,
            finish_reason: 'tool_calls',
            message: {
              role: 'assistant',
              content: `I will pay it. Receipt to ${EMAIL}.`,
              tool_calls: [
                {
                  id: 'call_1',
                  type: 'function',
                  function: {
                    name: 'pay_invoice',
                    arguments: JSON.stringify({ invoice_id: 'inv_7', card_number: CARD_TOKEN }),
                  },
                },
              ],
            },
          },
        ],
      }),
    });
    const completion = await openai().chat.completions.create({
      model: 'gpt-4o',
      messages: [
        { role: 'system', content: 'You pay invoices.' },
        {
          role: 'user',
          content: `Pay inv_7 with ${CARD}. My SSN is ${SSN}, mail ${EMAIL}, key ${AWS_KEY}.`,
        },
        {
          role: 'assistant',
          content: null,
          tool_calls: [
            {
              id: 'call_0',
              type: 'function',
              function: { name: 'lookup', arguments: JSON.stringify({ ssn: SSN }) },
            },
          ],
        },
        {
          role: 'tool',
          tool_call_id: 'call_0',
          content: JSON.stringify({ card: CARD, email: EMAIL }),
        },
      ],
      tools: [
        { type: 'function', function: { name: 'pay_invoice', parameters: { type: 'object' } } },
      ],
    });
    const sent = lastBody('/v1/chat/completions');
    for (const canary of [CARD, SSN, EMAIL, AWS_KEY]) expect(sent).not.toContain(canary);
    expect(sent).toContain(CARD_TOKEN);
    expect(sent).toMatch(/tok_ssn_/);
    expect(sent).toContain('[REDACTED:restricted:');
    const msg = completion.choices[0]!.message;
    expect(msg.content).toBe('I will pay it. Receipt to a**.********@*******.***.');
    const call = msg.tool_calls![0]!;
    if (call.type !== 'function') throw new Error('expected a function call');
    // The client runs the tool call through callguard: the function gets the real number.
    const r = await postJson(`${stack.url}/functions/pay_invoice`, call.function.arguments, agents);
    expect(r.status).toBe(200);
    expect(JSON.parse(lastBody('/functions/pay_invoice'))).toEqual({
      invoice_id: 'inv_7',
      card_number: CARD,
    });
  });

  it('a streamed answer is masked event by event; a card split across events is caught', async () => {
    const chunk = (content: string, finish: string | null = null) =>
      `data: ${JSON.stringify({ id: 'c', object: 'chat.completion.chunk', created: 1, model: 'gpt-4o', choices: [{ index: 0, delta: { content }, finish_reason: finish }] })}\n\n`;
    stack.upstream.respond(
      '/v1/chat/completions',
      sse([
        chunk('Your card '),
        chunk('4242 4242 42'),
        chunk('42 4242 and '),
        chunk(`${EMAIL} are on file.`, 'stop'),
        'data: [DONE]\n\n',
      ]),
    );
    const stream = await openai().chat.completions.create({
      model: 'gpt-4o',
      stream: true,
      messages: [{ role: 'user', content: 'what do you know?' }],
    });
    let text = '';
    let events = 0;
    for await (const c of stream) {
      events++;
      text += c.choices[0]?.delta.content ?? '';
    }
    expect(events).toBe(4);
    expect(text).toBe(`Your card ${CARD_TOKEN} and a**.********@*******.*** are on file.`);
  });
});

describe('OpenAI Responses (openai SDK)', () => {
  const response = (output: unknown[]) => ({
    id: 'resp_1',
    object: 'response',
    created_at: 1,
    status: 'completed',
    model: 'gpt-4.1',
    output,
    parallel_tool_calls: true,
    tool_choice: 'auto',
    tools: [],
  });

  it('input items reach the model tokenized; the answer is masked', async () => {
    stack.upstream.respond('/v1/responses', {
      status: 200,
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(
        response([
          {
            type: 'message',
            id: 'msg_1',
            status: 'completed',
            role: 'assistant',
            content: [{ type: 'output_text', text: `Mail sent to ${EMAIL}.`, annotations: [] }],
          },
        ]),
      ),
    });
    const r = await openai().responses.create({
      model: 'gpt-4.1',
      input: [
        { role: 'user', content: `card ${CARD}, ssn ${SSN}` },
        {
          type: 'function_call',
          call_id: 'fc_1',
          name: 'pay_invoice',
          arguments: JSON.stringify({ invoice_id: 'i1', card_number: CARD }),
        },
        {
          type: 'function_call_output',
          call_id: 'fc_1',
          output: JSON.stringify({ receipt_to: EMAIL, key: AWS_KEY }),
        },
      ],
    });
    const sent = lastBody('/v1/responses');
    for (const canary of [CARD, SSN, EMAIL, AWS_KEY]) expect(sent).not.toContain(canary);
    const input = (JSON.parse(sent) as { input: { arguments?: string }[] }).input;
    expect(JSON.parse(input[1]!.arguments!)).toEqual({ invoice_id: 'i1', card_number: CARD_TOKEN });
    expect(r.output_text).toBe('Mail sent to a**.********@*******.***.');
  });

  it('a streamed answer: deltas joined per output item, done events masked the same way', async () => {
    const ev = (type: string, data: object) =>
      `event: ${type}\ndata: ${JSON.stringify({ type, ...data })}\n\n`;
    const full = `Card ${CARD} noted.`;
    const item = {
      type: 'message',
      id: 'msg_2',
      status: 'completed',
      role: 'assistant',
      content: [{ type: 'output_text', text: full, annotations: [] }],
    };
    stack.upstream.respond(
      '/v1/responses',
      sse([
        ev('response.created', {
          sequence_number: 0,
          response: { ...response([]), status: 'in_progress' },
        }),
        ev('response.output_text.delta', {
          sequence_number: 1,
          item_id: 'msg_2',
          output_index: 0,
          content_index: 0,
          delta: 'Card 4242 42',
        }),
        ev('response.output_text.delta', {
          sequence_number: 2,
          item_id: 'msg_2',
          output_index: 0,
          content_index: 0,
          delta: '42 4242 4242 noted.',
        }),
        ev('response.output_text.done', {
          sequence_number: 3,
          item_id: 'msg_2',
          output_index: 0,
          content_index: 0,
          text: full,
        }),
        ev('response.output_item.done', { sequence_number: 4, output_index: 0, item }),
        ev('response.completed', { sequence_number: 5, response: response([item]) }),
      ]),
    );
    const stream = await openai().responses.create({ model: 'gpt-4.1', input: 'go', stream: true });
    let deltas = '';
    let done = '';
    let completed = '';
    for await (const e of stream) {
      if (e.type === 'response.output_text.delta') deltas += e.delta;
      if (e.type === 'response.output_text.done') done = e.text;
      if (e.type === 'response.completed') completed = JSON.stringify(e.response.output);
    }
    const masked = `Card ${CARD_TOKEN} noted.`;
    expect([deltas, done]).toEqual([masked, masked]);
    expect(completed).toContain(JSON.stringify(masked));
    expect(completed).not.toContain('4242');
  });
});

describe('Anthropic Messages (@anthropic-ai/sdk)', () => {
  const anthropic = () =>
    new Anthropic({
      baseURL: stack.url,
      apiKey: 'sk-ant-test',
      defaultHeaders: agents,
      maxRetries: 0,
    });

  it('tool_use input and tool_result content reach the model tokenized', async () => {
    stack.upstream.respond('/v1/messages', {
      status: 200,
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        id: 'msg_1',
        type: 'message',
        role: 'assistant',
        model: 'claude-sonnet-4-5',
        content: [{ type: 'text', text: `Noted ${SSN}.` }],
        stop_reason: 'end_turn',
        stop_sequence: null,
        usage: { input_tokens: 1, output_tokens: 1 },
      }),
    });
    const msg = await anthropic().messages.create({
      model: 'claude-sonnet-4-5',
      max_tokens: 100,
      messages: [
        { role: 'user', content: `card ${CARD}` },
        {
          role: 'assistant',
          content: [
            {
              type: 'tool_use',
              id: 'toolu_1',
              name: 'pay_invoice',
              input: { invoice_id: 'inv_1', card_number: CARD },
            },
          ],
        },
        {
          role: 'user',
          content: [
            { type: 'tool_result', tool_use_id: 'toolu_1', content: `paid, receipt to ${EMAIL}` },
          ],
        },
      ],
    });
    const sent = lastBody('/v1/messages');
    for (const canary of [CARD, EMAIL]) expect(sent).not.toContain(canary);
    const { messages } = JSON.parse(sent) as {
      messages: { content: { input?: Record<string, unknown> }[] }[];
    };
    expect(messages[1]?.content[0]?.input?.card_number).toBe(CARD_TOKEN);
    expect(msg.content[0]).toMatchObject({
      type: 'text',
      text: matching(/^Noted tok_ssn_[^ ]+\.$/),
    });
  });

  it('a streamed answer (text_delta, input_json_delta) is masked as it arrives', async () => {
    const ev = (type: string, data: object) =>
      `event: ${type}\ndata: ${JSON.stringify({ type, ...data })}\n\n`;
    stack.upstream.respond(
      '/v1/messages',
      sse([
        ev('message_start', {
          message: {
            id: 'msg_2',
            type: 'message',
            role: 'assistant',
            model: 'claude-sonnet-4-5',
            content: [],
            stop_reason: null,
            stop_sequence: null,
            usage: { input_tokens: 1, output_tokens: 0 },
          },
        }),
        ev('content_block_start', { index: 0, content_block: { type: 'text', text: '' } }),
        ev('content_block_delta', {
          index: 0,
          delta: { type: 'text_delta', text: 'Card 4242 4242 ' },
        }),
        ev('content_block_delta', {
          index: 0,
          delta: { type: 'text_delta', text: '4242 4242, key ' },
        }),
        ev('content_block_delta', {
          index: 0,
          delta: { type: 'text_delta', text: `${AWS_KEY} done.` },
        }),
        ev('content_block_stop', { index: 0 }),
        ev('content_block_start', {
          index: 1,
          content_block: { type: 'tool_use', id: 'toolu_2', name: 'pay_invoice', input: {} },
        }),
        ev('content_block_delta', {
          index: 1,
          delta: {
            type: 'input_json_delta',
            partial_json: '{"invoice_id": "inv_9", "card_number": "4242 4242',
          },
        }),
        ev('content_block_delta', {
          index: 1,
          delta: { type: 'input_json_delta', partial_json: ' 4242 4242"}' },
        }),
        ev('content_block_stop', { index: 1 }),
        ev('message_delta', {
          delta: { stop_reason: 'tool_use', stop_sequence: null },
          usage: { output_tokens: 5 },
        }),
        ev('message_stop', {}),
      ]),
    );
    const stream = anthropic().messages.stream({
      model: 'claude-sonnet-4-5',
      max_tokens: 100,
      messages: [{ role: 'user', content: 'go' }],
    });
    const final = await stream.finalMessage();
    expect(final.content[0]).toMatchObject({
      type: 'text',
      text: `Card ${CARD_TOKEN}, key [REDACTED:restricted:aws_access_key] done.`,
    });
    expect(final.content[1]).toMatchObject({
      type: 'tool_use',
      name: 'pay_invoice',
      input: { invoice_id: 'inv_9', card_number: CARD_TOKEN },
    });
  });
});

describe('MCP (@modelcontextprotocol/sdk) over streamable HTTP', () => {
  it('tools/call arguments get the contract, the result is masked, through a real MCP server', async () => {
    let argsSeen: unknown;
    stack.upstream.handle('/mcp', (req, res, body) => {
      const server = new McpServer({ name: 'payments', version: '1.0.0' });
      server.registerTool(
        'pay_invoice',
        { inputSchema: { invoice_id: z.string(), card_number: z.string() } },
        (args) => {
          argsSeen = args;
          return { content: [{ type: 'text', text: `charged card ${CARD}, receipt to ${EMAIL}` }] };
        },
      );
      const transport = new StreamableHTTPServerTransport({ sessionIdGenerator: undefined });
      res.on('close', () => void transport.close());
      void server
        .connect(transport)
        .then(() =>
          transport.handleRequest(
            req,
            res,
            body.length > 0 ? JSON.parse(body.toString('utf8')) : undefined,
          ),
        );
    });
    const client = new Client({ name: 'agent', version: '1.0.0' });
    await client.connect(
      new StreamableHTTPClientTransport(new URL(`${stack.url}/mcp`), {
        requestInit: { headers: agents },
      }),
    );
    const result = await client.callTool({
      name: 'pay_invoice',
      arguments: { invoice_id: 'inv_5', card_number: CARD },
    });
    await client.close();
    // The MCP server (a function endpoint behind the gateway) got the token, not the number.
    expect(argsSeen).toEqual({ invoice_id: 'inv_5', card_number: CARD_TOKEN });
    const text = (result.content as { type: string; text: string }[])[0]!.text;
    expect(text).toBe(`charged card ${CARD_TOKEN}, receipt to a**.********@*******.***`);
  });
});

describe('records and logs', () => {
  it('no canary reaches a log line; the record names the format', async () => {
    const r = await postJson(
      `${stack.url}/v1/chat/completions`,
      JSON.stringify({
        model: 'm',
        messages: [{ role: 'user', content: `ssn ${SSN} card ${CARD}` }],
      }),
      agents,
    );
    const id = r.headers['x-callguard-session'] as string;
    const rec = await sessionRecord(stack, id);
    expect(rec).toMatchObject({ route: 'openai_chat' });
    expect((rec as unknown as { format: string }).format).toBe('openai-chat');
    const out = stack.callguardOutput();
    for (const canary of [CARD, SSN, EMAIL, AWS_KEY, CARD_TOKEN.slice(0, 30)])
      expect(out).not.toContain(canary);
  });
});
