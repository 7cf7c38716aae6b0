// OpenAI Chat Completions. Request: `messages[]`, where assistant messages carry
// `tool_calls[].function.arguments` (JSON in a string) and `role: tool` messages carry what a
// function returned, linked to its call by `tool_call_id`; `tools[]` / `functions[]` are
// definitions. Response: `choices[].message` with the same `tool_calls`. Content text (strings
// and text parts) is free text, scanned like every string outside a site.

import { appendPointer } from '../json.js';
import type { JsonNode } from '../json.js';
import { eachItem, idOf, member, stringMember } from './tree.js';
import { ScanBuilder } from './tree.js';
import type { FormatAdapter } from './types.js';

export const openaiChatAdapter: FormatAdapter = {
  name: 'openai-chat',
  scan(root, direction, ctx) {
    const b = new ScanBuilder(ctx.names);
    for (const key of ['tools', 'functions', 'tool_choice', 'response_format']) {
      b.definitions(member(root, key));
    }
    if (direction === 'request') {
      // Assistant messages first, so a tool message can name the function it answers.
      eachItem(member(root, 'messages'), '/messages', (m, path) => assistantCalls(b, m, path));
      eachItem(member(root, 'messages'), '/messages', (m, path) => {
        const role = stringMember(m, 'role');
        if (role === 'tool') toolResult(b, b.nameOf(idOf(member(m, 'tool_call_id'))), m, path);
        else if (role === 'function') toolResult(b, stringMember(m, 'name'), m, path);
      });
    } else {
      eachItem(member(root, 'choices'), '/choices', (c, path) =>
        assistantCalls(b, member(c, 'message'), appendPointer(path, 'message')),
      );
    }
    return b;
  },
};

/** `tool_calls[].function.arguments` and the legacy `function_call.arguments`. */
export function assistantCalls(b: ScanBuilder, message: JsonNode | undefined, path: string): void {
  eachItem(member(message, 'tool_calls'), appendPointer(path, 'tool_calls'), (call, callPath) => {
    const fn = member(call, 'function');
    const name = stringMember(fn, 'name');
    b.name(idOf(member(call, 'id')), name);
    b.encoded(name, member(fn, 'arguments'), `${callPath}/function/arguments`, 'call');
  });
  const legacy = member(message, 'function_call');
  b.encoded(
    stringMember(legacy, 'name'),
    member(legacy, 'arguments'),
    `${path}/function_call/arguments`,
    'call',
  );
}

/** A tool message's content: a string, or text parts; a JSON document in it is a result. */
function toolResult(b: ScanBuilder, name: string | undefined, m: JsonNode, path: string): void {
  const content = member(m, 'content');
  const contentPath = appendPointer(path, 'content');
  if (content?.kind === 'string') b.output(name, content, contentPath);
  eachItem(content, contentPath, (part, partPath) => {
    if (stringMember(part, 'type') === 'text')
      b.output(name, member(part, 'text'), `${partPath}/text`);
  });
}
