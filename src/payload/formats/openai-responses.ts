// OpenAI Responses API. Request `input` is a string or a list of items: messages (free
// text), `function_call` items (`arguments`: JSON in a string, linked by `call_id`),
// `function_call_output` items (`output`: what the function returned, a string or parts), and
// `mcp_call` items (`arguments` and `output`). The response's `output` holds the same item
// types. `tools` and the structured-output schema under `text.format` are definitions.

import { appendPointer } from '../json.js';
import type { JsonNode } from '../json.js';
import { eachItem, idOf, member, stringMember } from './tree.js';
import { ScanBuilder } from './tree.js';
import type { FormatAdapter } from './types.js';

export const openaiResponsesAdapter: FormatAdapter = {
  name: 'openai-responses',
  scan(root, direction, ctx) {
    const b = new ScanBuilder(ctx.names);
    b.definitions(member(root, 'tools'));
    b.definitions(member(root, 'tool_choice'));
    b.definitions(member(member(root, 'text'), 'format'));
    const key = direction === 'request' ? 'input' : 'output';
    const items = member(root, key);
    // Calls first, so an output item can name the function it answers.
    eachItem(items, `/${key}`, (item, path) => {
      const type = stringMember(item, 'type');
      if (type === 'function_call' || type === 'mcp_call') {
        const name = stringMember(item, 'name');
        b.name(idOf(member(item, 'call_id')), name);
        b.encoded(name, member(item, 'arguments'), appendPointer(path, 'arguments'), 'call');
        if (type === 'mcp_call')
          output(b, name, member(item, 'output'), appendPointer(path, 'output'));
      }
    });
    eachItem(items, `/${key}`, (item, path) => {
      if (stringMember(item, 'type') !== 'function_call_output') return;
      const name = b.nameOf(idOf(member(item, 'call_id')));
      output(b, name, member(item, 'output'), appendPointer(path, 'output'));
    });
    return b;
  },
};

function output(
  b: ScanBuilder,
  name: string | undefined,
  node: JsonNode | undefined,
  path: string,
): void {
  if (node?.kind === 'string') b.output(name, node, path);
  eachItem(node, path, (part, partPath) => {
    const type = stringMember(part, 'type');
    if (type === 'input_text' || type === 'output_text' || type === 'text') {
      b.output(name, member(part, 'text'), `${partPath}/text`);
    }
  });
}
