// Payloads for the benchmarks: one generator per format, of about a given size, with or
// without findings. Shared by the engine measure and the data path measure, so both load the
// same bytes. With findings: about one card number and one e-mail address per ~2 KB.

export type BenchFormat = 'json' | 'openai-chat' | 'anthropic' | 'mcp';

/** The policy route (shipped policies/) each format is inspected with. */
export const ROUTE_OF: Record<BenchFormat, string> = {
  json: 'charge_card',
  'openai-chat': 'openai_chat',
  anthropic: 'anthropic_messages',
  mcp: 'mcp',
};

/** The request path of that route through Envoy. */
export const PATH_OF: Record<BenchFormat, string> = {
  json: '/functions/charge_card',
  'openai-chat': '/v1/chat/completions',
  anthropic: '/v1/messages',
  mcp: '/mcp',
};

const PROSE =
  'The quarterly report shows revenue growth in three regions, and the team asked the assistant to summarise the numbers for the board meeting next Tuesday. ';
export const CARD = '4242 4242 4242 4242';

function text(i: number, findings: boolean): string {
  let t = PROSE.repeat(12);
  if (findings) t += ` Pay with ${CARD} and mail ada${i}@example.com.`;
  return t;
}

/** Grows a list with `item(i)` until its JSON reaches about `size` bytes. */
function fill(size: number, item: (i: number) => unknown, overhead = 100): unknown[] {
  const out: unknown[] = [];
  let bytes = overhead;
  for (let i = 0; bytes < size; i++) {
    const m = item(i);
    out.push(m);
    bytes += JSON.stringify(m).length + 1;
  }
  return out;
}

/**
 * A charge_card call (the payments contract): card number (tagged confidential, masked),
 * and free-text notes under `metadata` (untagged: the detectors read them). Without findings
 * the card number is empty and the notes hold no sensitive value.
 */
function chargeCard(size: number, findings: boolean): unknown {
  const notes = fill(size, (i) => ({
    note: PROSE.repeat(i === 0 ? 6 : 12) + (findings && i > 0 ? ` mail ada${i}@example.com` : ''),
    ref: `order-${i}`,
  }));
  return {
    amount: 129.5,
    currency: 'EUR',
    card: { number: findings ? CARD : '', holder: 'Ada Lovelace' },
    metadata: { notes },
  };
}

function openaiChat(size: number, findings: boolean): unknown {
  const messages = [
    { role: 'system', content: 'You are a helpful assistant.' },
    ...fill(size, (i) =>
      i % 3 === 2
        ? {
            role: 'assistant',
            tool_calls: [
              {
                id: `call_${i}`,
                type: 'function',
                function: {
                  name: findings ? 'pay_invoice' : 'summarise',
                  arguments: JSON.stringify(
                    findings
                      ? { invoice_id: `inv_${i}`, card_number: CARD }
                      : { topic: `report ${i}` },
                  ),
                },
              },
            ],
          }
        : { role: i % 3 === 0 ? 'user' : 'assistant', content: text(i, findings) },
    ),
  ];
  return { model: 'gpt-4o', messages, temperature: 0.2 };
}

function anthropic(size: number, findings: boolean): unknown {
  const messages = fill(size, (i) =>
    i % 3 === 2
      ? {
          role: 'assistant',
          content: [
            { type: 'text', text: 'Paying it now.' },
            {
              type: 'tool_use',
              id: `toolu_${i}`,
              name: findings ? 'pay_invoice' : 'summarise',
              input: findings ? { invoice_id: `inv_${i}`, card_number: CARD } : { topic: `r${i}` },
            },
          ],
        }
      : {
          role: i % 3 === 0 ? 'user' : 'assistant',
          content: [{ type: 'text', text: text(i, findings) }],
        },
  );
  return { model: 'claude-sonnet-4-5', max_tokens: 1024, messages };
}

/** An MCP tools/call whose arguments carry a list of notes (a batch past 2 KB would also do). */
function mcp(size: number, findings: boolean): unknown {
  const notes = fill(size, (i) => ({ text: text(i, findings), id: i }));
  return {
    jsonrpc: '2.0',
    id: 7,
    method: 'tools/call',
    params: { name: 'summarise', arguments: { notes } },
  };
}

export function payload(format: BenchFormat, size: number, findings: boolean): Buffer {
  const make = { json: chargeCard, 'openai-chat': openaiChat, anthropic, mcp }[format];
  return Buffer.from(JSON.stringify(make(size, findings)));
}

export const SIZES = [
  ['2 KB', 2 * 1024],
  ['64 KB', 64 * 1024],
  ['1 MB', 1000 * 1024],
] as const;
