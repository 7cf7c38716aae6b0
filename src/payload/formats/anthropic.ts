// Anthropic Messages. Content blocks: `text` (free text), `tool_use` (`input`: the argument
// document, linked by `id`), `tool_result` (`content`: a string or text blocks, linked by
// `tool_use_id`), and the server/MCP tool-use blocks. Requests carry them in `messages[]`,
// responses in `content[]`. `tools` are definitions.

import { appendPointer } from '../json.js';
import type { JsonNode } from '../json.js';
import { eachItem, idOf, member, stringMember } from './tree.js';
import { ScanBuilder } from './tree.js';
import type { FormatAdapter } from './types.js';

const TOOL_USE = new Set(['tool_use', 'server_tool_use', 'mcp_tool_use']);
const TOOL_RESULT = new Set(['tool_result', 'mcp_tool_result']);

export const anthropicAdapter: FormatAdapter = {
  name: 'anthropic',
  scan(root, direction, ctx) {
    const b = new ScanBuilder(ctx.names);
    b.definitions(member(root, 'tools'));
    b.definitions(member(root, 'tool_choice'));
    const blocks: [JsonNode, string][] = [];
    if (direction === 'request') {
      eachItem(member(root, 'messages'), '/messages', (m, path) =>
        eachItem(member(m, 'content'), appendPointer(path, 'content'), (blk, p) =>
          blocks.push([blk, p]),
        ),
      );
    } else {
      eachItem(member(root, 'content'), '/content', (blk, p) => blocks.push([blk, p]));
    }
    for (const [blk, path] of blocks) {
      if (!TOOL_USE.has(stringMember(blk, 'type') ?? '')) continue;
      const name = stringMember(blk, 'name');
      b.name(idOf(member(blk, 'id')), name);
      b.document(name, member(blk, 'input'), appendPointer(path, 'input'), 'call');
    }
    for (const [blk, path] of blocks) {
      if (!TOOL_RESULT.has(stringMember(blk, 'type') ?? '')) continue;
      const name = b.nameOf(idOf(member(blk, 'tool_use_id')));
      const content = member(blk, 'content');
      const contentPath = appendPointer(path, 'content');
      if (content?.kind === 'string') b.output(name, content, contentPath);
      eachItem(content, contentPath, (part, partPath) => {
        if (stringMember(part, 'type') === 'text')
          b.output(name, member(part, 'text'), `${partPath}/text`);
      });
    }
    return b;
  },
};
