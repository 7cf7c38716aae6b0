// The evaluation set: every labelled value of corpus.ts placed in payloads of each format
// (plain JSON, OpenAI chat, OpenAI responses, Anthropic, MCP) and channel (prose, tool-call
// arguments, tool results, object keys, JSON numbers), and every trap likewise.
// Deterministic (a fixed seed): the same set on every run.

import { POSITIVES, REALISTIC, SECRET_CONTEXTS, TRAPS } from './corpus.js';
import { prng } from '../../test/support/fuzz.js';

export type Format = 'json' | 'openai-chat' | 'openai-responses' | 'anthropic' | 'mcp';
export type Channel = 'prose' | 'args' | 'result' | 'key' | 'number';
export const FORMATS: readonly Format[] = [
  'json',
  'openai-chat',
  'openai-responses',
  'anthropic',
  'mcp',
];
export const CHANNELS: readonly Channel[] = ['prose', 'args', 'result', 'key', 'number'];

export interface Label {
  detector: string;
  /** The value as the payload holds it (decoded), whole. */
  value: string;
}

export interface EvalCase {
  id: string;
  format: Format;
  channel: Channel;
  direction: 'request' | 'response';
  /** The JSON body. */
  body: string;
  labels: Label[];
  /** For a trap case: what kind of look-alike it holds (its findings are all wrong). */
  trap?: string;
  /** For a trap case: the trap value itself. */
  trapValue?: string;
}

/** A JSON number literal written as its digits (a JS number would lose precision). */
class RawNumber {
  constructor(readonly digits: string) {}
}

/** JSON text, with RawNumber values written as number literals. */
function toJson(v: unknown): string {
  if (v instanceof RawNumber) return v.digits;
  if (Array.isArray(v)) return `[${v.map(toJson).join(',')}]`;
  if (v !== null && typeof v === 'object')
    return `{${Object.entries(v)
      .map(([k, x]) => `${JSON.stringify(k)}:${toJson(x)}`)
      .join(',')}}`;
  return JSON.stringify(v);
}

const ALNUM = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';
const HEX = '0123456789abcdef';

/** Secrets: the published prefix and shape, with a random body. */
function secrets(rand: () => number): Record<string, string[]> {
  const pick = (alphabet: string, n: number): string => {
    let s = '';
    for (let i = 0; i < n; i++) s += alphabet[Math.floor(rand() * alphabet.length)];
    return s;
  };
  const b64 = `${ALNUM}+/`;
  const b64url = `${ALNUM}-_`;
  const many = (f: () => string, n = 3): string[] => Array.from({ length: n }, f);
  const pem = (label: string) =>
    [`-----BEGIN ${label}-----`, ...many(() => pick(b64, 64), 6), `-----END ${label}-----`].join(
      '\n',
    );
  return {
    aws_access_key: many(() => `AKIA${pick('ABCDEFGHIJKLMNOPQRSTUVWXYZ234567', 16)}`),
    aws_secret_key: many(() => pick(b64, 40)),
    github_token: many(() => `ghp_${pick(ALNUM, 36)}`),
    gitlab_token: many(() => `glpat-${pick(b64url, 20)}`),
    stripe_key: many(() => `sk_live_${pick(ALNUM, 24)}`),
    openai_key: many(() => `sk-proj-${pick(b64url, 48)}`),
    anthropic_key: many(() => `sk-ant-api03-${pick(b64url, 80)}AA`),
    slack_token: many(
      () => `xoxb-${pick('0123456789', 12)}-${pick('0123456789', 13)}-${pick(ALNUM, 24)}`,
    ),
    slack_webhook: many(
      () =>
        `https://hooks.slack.com/services/T${pick('ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789', 8)}/B${pick('ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789', 10)}/${pick(ALNUM, 24)}`,
    ),
    google_api_key: many(() => `AIza${pick(b64url, 35)}`),
    google_oauth_secret: many(() => `GOCSPX-${pick(b64url, 28)}`),
    azure_storage_key: many(() => `${pick(b64, 86)}==`),
    twilio_key: many(() => `SK${pick(HEX, 32)}`),
    sendgrid_key: many(() => `SG.${pick(b64url, 22)}.${pick(b64url, 43)}`),
    mailgun_key: many(() => `key-${pick(HEX, 32)}`),
    npm_token: many(() => `npm_${pick(ALNUM, 36)}`),
    pypi_token: many(() => `pypi-AgEIcHlwaS5vcmc${pick(b64url, 70)}`),
    huggingface_token: many(
      () => `hf_${pick('ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz', 34)}`,
    ),
    datadog_key: many(() => pick(HEX, 32)),
    digitalocean_token: many(() => `dop_v1_${pick(HEX, 64)}`),
    shopify_token: many(() => `shpat_${pick(HEX, 32)}`),
    url_credentials: many(() => `${pick(ALNUM, 10)}!${pick(ALNUM, 4)}`),
    private_key: [pem('RSA PRIVATE KEY'), pem('PRIVATE KEY'), pem('OPENSSH PRIVATE KEY')],
    jwt: many(() => {
      const enc = (o: unknown) => Buffer.from(JSON.stringify(o)).toString('base64url');
      const header = enc({ alg: 'HS256', typ: 'JWT' });
      const payload = enc({
        sub: pick('0123456789', 8),
        iat: 1710512525 + Math.floor(rand() * 1e6),
      });
      return `${header}.${payload}.${pick(b64url, 43)}`;
    }),
    secret: many(() => `${pick(ALNUM, 6)}#${pick(ALNUM, 9)}`),
  };
}

/** A look-alike spelling: full-width or other-script digits, odd spaces and dashes, invisibles. */
function lookAlike(value: string, rand: () => number): string {
  const style = Math.floor(rand() * 4);
  let out = '';
  for (const c of value) {
    if (c >= '0' && c <= '9') {
      const d = c.charCodeAt(0) - 48;
      out +=
        style === 0
          ? String.fromCodePoint(0xff10 + d)
          : style === 1
            ? String.fromCodePoint(0x660 + d)
            : c;
    } else if (c === ' ') out += style === 2 ? '\u00a0' : '\u2009';
    else if (c === '-') out += '\u2013';
    else out += c;
    if (style === 3 && c !== ' ') out += '\u200b';
  }
  return style === 3 ? out.slice(0, -1) : out;
}

/** Neutral sentences a value is not in, and harmless noise around the values. */
const NOISE = [
  'Thanks, that works.',
  'Can you summarise the thread for the 10am stand-up?',
  'The build finished in 4m 32s.',
  'Noted — I will follow up on Monday.',
];

/** The payload of one format with `slot` (prose, arguments or a result) in place. */
function payload(
  format: Format,
  channel: 'prose' | 'args' | 'result',
  slot: { text?: string; obj?: Record<string, unknown> },
  rand: () => number,
): { body: string; direction: 'request' | 'response' } {
  const noise = NOISE[Math.floor(rand() * NOISE.length)]!;
  const args = slot.obj ?? { note: slot.text ?? '' };
  const argsText = toJson(args);
  const resultText = slot.text ?? toJson(slot.obj ?? {});
  const fn = 'lookup_customer';
  switch (format) {
    case 'json':
      if (channel === 'prose')
        return { body: toJson({ message: slot.text, locale: 'en-GB' }), direction: 'request' };
      return { body: argsText, direction: channel === 'args' ? 'request' : 'response' };
    case 'openai-chat': {
      const messages: unknown[] = [
        { role: 'system', content: 'You are a helpful assistant.' },
        { role: 'user', content: channel === 'prose' ? slot.text : noise },
      ];
      if (channel !== 'prose')
        messages.push({
          role: 'assistant',
          tool_calls: [
            {
              id: 'call_1',
              type: 'function',
              function: {
                name: fn,
                arguments: channel === 'args' ? argsText : '{"q":"last order"}',
              },
            },
          ],
        });
      if (channel === 'result')
        messages.push({ role: 'tool', tool_call_id: 'call_1', content: resultText });
      return { body: toJson({ model: 'gpt-4o', messages }), direction: 'request' };
    }
    case 'openai-responses': {
      const input: unknown[] = [
        {
          role: 'user',
          content: [{ type: 'input_text', text: channel === 'prose' ? slot.text : noise }],
        },
      ];
      if (channel !== 'prose')
        input.push({
          type: 'function_call',
          call_id: 'call_1',
          name: fn,
          arguments: channel === 'args' ? argsText : '{"q":"last order"}',
        });
      if (channel === 'result')
        input.push({ type: 'function_call_output', call_id: 'call_1', output: resultText });
      return { body: toJson({ model: 'gpt-4.1', input }), direction: 'request' };
    }
    case 'anthropic': {
      const messages: unknown[] = [
        {
          role: 'user',
          content: [{ type: 'text', text: channel === 'prose' ? slot.text : noise }],
        },
      ];
      if (channel !== 'prose')
        messages.push({
          role: 'assistant',
          content: [
            {
              type: 'tool_use',
              id: 'toolu_1',
              name: fn,
              input: channel === 'args' ? args : { q: 'last order' },
            },
          ],
        });
      if (channel === 'result')
        messages.push({
          role: 'user',
          content: [{ type: 'tool_result', tool_use_id: 'toolu_1', content: resultText }],
        });
      return {
        body: toJson({ model: 'claude-sonnet-4-5', max_tokens: 1024, messages }),
        direction: 'request',
      };
    }
    case 'mcp':
      if (channel === 'result')
        return {
          body: toJson({
            jsonrpc: '2.0',
            id: 7,
            result: {
              content: [{ type: 'text', text: resultText }],
              ...(slot.obj ? { structuredContent: slot.obj } : {}),
            },
          }),
          direction: 'response',
        };
      return {
        body: toJson({
          jsonrpc: '2.0',
          id: 7,
          method: 'tools/call',
          params: { name: fn, arguments: channel === 'prose' ? { message: slot.text } : args },
        }),
        direction: 'request',
      };
  }
}

const fill = (template: string, value: string): string => template.replace('{v}', value);

/** The evaluation set. */
export function generateEvalSet(seed = 20261205): EvalCase[] {
  const rand = prng(seed);
  const pickOf = <T>(xs: readonly T[]): T => xs[Math.floor(rand() * xs.length)]!;
  const cases: EvalCase[] = [];
  let n = 0;
  const add = (
    format: Format,
    channel: Channel,
    slot: { text?: string; obj?: Record<string, unknown> },
    labels: (count: number) => Label[],
    trap?: { kind: string; value: string },
  ): void => {
    // Keys and numbers travel in arguments: a parsed JSON document in every format.
    const base = channel === 'key' || channel === 'number' ? 'args' : channel;
    const p = payload(format, base, slot, rand);
    // An MCP result carries a structured result twice: as text and as structuredContent.
    const twice = format === 'mcp' && base === 'result' && slot.obj !== undefined;
    cases.push({
      id: `c${++n}`,
      format,
      channel,
      direction: p.direction,
      body: p.body,
      labels: labels(twice ? 2 : 1),
      ...(trap ? { trap: trap.kind, trapValue: trap.value } : {}),
    });
  };

  const sets = [
    ...POSITIVES,
    ...Object.entries(secrets(rand)).map(([detector, values]) => ({
      detector,
      values,
      prose: SECRET_CONTEXTS[detector]!.prose,
      keys: SECRET_CONTEXTS[detector]!.keys,
      number: false,
      asKey: false,
    })),
  ];
  for (const set of sets) {
    set.values.forEach((raw, i) => {
      const secret = set.detector in SECRET_CONTEXTS;
      const f = (k: number): Format => FORMATS[(i + k) % FORMATS.length]!;
      // Prose: a sentence with the value, sometimes written with look-alike characters.
      const value = !secret && i % 3 === 2 ? lookAlike(raw, rand) : raw;
      const sentence = fill(pickOf(set.prose), value);
      const text = rand() < 0.5 ? `${pickOf(NOISE)} ${sentence}` : sentence;
      const one = (v: string) => (count: number) =>
        Array.from({ length: count }, () => ({ detector: set.detector, value: v }));
      add(f(0), 'prose', { text }, one(value));
      // Arguments: the value under one of its keys (or its sentence under a neutral key).
      const key = pickOf(set.keys);
      const argValue = set.detector === 'url_credentials' ? fill(set.prose[0]!, raw) : raw;
      add(f(1), 'args', { obj: { customer_id: 'cus_1042', [key]: argValue } }, one(raw));
      // Results: a structured tool result, or its text.
      add(
        f(2),
        'result',
        rand() < 0.5
          ? { obj: { status: 'ok', record: { name: 'A. Lovelace', [key]: argValue } } }
          : { text: fill(pickOf(set.prose), raw) },
        one(raw),
      );
      if (set.asKey)
        add(
          f(3),
          'key',
          { obj: { by_value: { [raw]: { visits: 3, last_seen: '2024-03-15' } } } },
          one(raw),
        );
      // A JSON number has no leading zero: such an identifier never travels as one.
      const digits = raw.replace(/\D/g, '');
      if (set.number && /^[1-9]/.test(digits)) {
        add(
          f(4),
          'number',
          { obj: { [key]: new RawNumber(digits) as unknown as string } },
          one(digits),
        );
      }
    });
  }

  // Longer texts: as a message, and as a tool's text result, in rotating formats.
  REALISTIC.forEach((r, i) => {
    const labels = () => r.labels.map((l) => ({ ...l }));
    add(FORMATS[i % FORMATS.length]!, 'prose', { text: r.text }, labels);
    add(FORMATS[(i + 2) % FORMATS.length]!, 'result', { text: r.text }, labels);
  });

  for (const trap of TRAPS) {
    trap.values.forEach((value, i) => {
      const f = (k: number): Format => FORMATS[(i + k) % FORMATS.length]!;
      const none = () => [];
      const t = { kind: trap.kind, value };
      add(f(0), 'prose', { text: `${pickOf(NOISE)} ${fill(pickOf(trap.prose), value)}` }, none, t);
      add(f(1), 'args', { obj: { [pickOf(trap.keys)]: value } }, none, t);
      add(f(2), 'result', { obj: { status: 'ok', [pickOf(trap.keys)]: value } }, none, t);
      if (trap.number && /^[1-9]\d*$/.test(value))
        add(
          f(3),
          'number',
          { obj: { [pickOf(trap.keys)]: new RawNumber(value) as unknown as string } },
          none,
          t,
        );
    });
  }
  return cases;
}
