// Streamed answers: which strings of one SSE event are fragments of a longer text (a
// "delta"), and to which text they belong (the channel). The engine joins a channel's
// fragments, so a value split across events is still found. Everything else in an event is
// scanned whole, like any body.

import type { JsonNode, JsonString } from '../json.js';
import { eachItem, member, stringMember } from './tree.js';
import type { FormatName } from './types.js';

export interface Delta {
  /** Which text the fragment continues: per choice, content block, output item, tool call. */
  channel: string;
  path: string;
  node: JsonString;
  /** The channel's text is JSON (tool-call arguments), not prose. */
  json: boolean;
}

export interface EventDeltas {
  deltas: Delta[];
  /** The event ends the texts it belongs to (a finish reason, a block stop, a done event). */
  ends: boolean;
}

function add(
  out: Delta[],
  channel: string,
  node: JsonNode | undefined,
  path: string,
  json = false,
): void {
  if (node?.kind === 'string') out.push({ channel, path, node, json });
}

function numberText(node: JsonNode | undefined): string {
  return node?.kind === 'number' ? node.raw : '0';
}

export function eventDeltas(format: FormatName, root: JsonNode): EventDeltas {
  const deltas: Delta[] = [];
  let ends = false;
  switch (format) {
    case 'openai-chat':
      eachItem(member(root, 'choices'), '/choices', (choice, path) => {
        const i = numberText(member(choice, 'index'));
        const delta = member(choice, 'delta');
        add(deltas, `c${i}`, member(delta, 'content'), `${path}/delta/content`);
        add(deltas, `c${i}r`, member(delta, 'refusal'), `${path}/delta/refusal`);
        eachItem(member(delta, 'tool_calls'), `${path}/delta/tool_calls`, (call, callPath) => {
          const t = numberText(member(call, 'index'));
          add(
            deltas,
            `c${i}t${t}`,
            member(member(call, 'function'), 'arguments'),
            `${callPath}/function/arguments`,
            true,
          );
        });
        const finish = member(choice, 'finish_reason');
        if (finish !== undefined && finish.kind !== 'null') ends = true;
      });
      break;
    case 'anthropic': {
      const type = stringMember(root, 'type');
      if (type === 'content_block_delta') {
        const i = numberText(member(root, 'index'));
        const delta = member(root, 'delta');
        for (const key of ['text', 'partial_json', 'thinking']) {
          add(deltas, `b${i}`, member(delta, key), `/delta/${key}`, key === 'partial_json');
        }
      }
      ends = type === 'content_block_stop' || type === 'message_delta' || type === 'message_stop';
      break;
    }
    case 'openai-responses': {
      const type = stringMember(root, 'type') ?? '';
      if (type.endsWith('.delta')) {
        const channel = `${numberText(member(root, 'output_index'))}.${numberText(member(root, 'content_index'))}:${type}`;
        // function_call_arguments, mcp_call_arguments: JSON text.
        add(deltas, channel, member(root, 'delta'), '/delta', type.includes('arguments'));
      }
      ends = type.endsWith('.done') || type === 'response.completed' || type === 'response.failed';
      break;
    }
    case 'json':
    case 'mcp':
      // Each event is a whole message (MCP streamable HTTP): nothing is split across events.
      break;
  }
  return { deltas, ends };
}
