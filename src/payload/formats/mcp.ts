// MCP over JSON-RPC 2.0 (one message or a batch). A `tools/call` request carries
// `params.name` and the argument document `params.arguments`; its result (matched by the
// JSON-RPC id, from the request) carries `structuredContent` (a document) and `content[]`
// (text items, a JSON document in one is a result document). A `tools/list` result holds
// definitions.

import { appendPointer } from '../json.js';
import type { JsonNode } from '../json.js';
import { eachItem, idOf, member, stringMember } from './tree.js';
import { ScanBuilder } from './tree.js';
import type { FormatAdapter } from './types.js';

export const mcpAdapter: FormatAdapter = {
  name: 'mcp',
  scan(root, _direction, ctx) {
    const b = new ScanBuilder(ctx.names);
    if (root.kind === 'array') eachItem(root, '', (m, path) => message(b, m, path));
    else message(b, root, '');
    return b;
  },
};

function message(b: ScanBuilder, m: JsonNode, path: string): void {
  const method = stringMember(m, 'method');
  if (method === 'tools/call') {
    const params = member(m, 'params');
    const name = stringMember(params, 'name');
    b.name(idOf(member(m, 'id')), name);
    b.document(name, member(params, 'arguments'), `${path}/params/arguments`, 'call');
    return;
  }
  const result = member(m, 'result');
  if (method !== undefined || !result) return;
  b.definitions(member(result, 'tools'));
  const name = b.nameOf(idOf(member(m, 'id')));
  b.document(
    name,
    member(result, 'structuredContent'),
    `${path}/result/structuredContent`,
    'result',
  );
  eachItem(
    member(result, 'content'),
    appendPointer(`${path}/result`, 'content'),
    (item, itemPath) => {
      if (stringMember(item, 'type') === 'text')
        b.output(name, member(item, 'text'), `${itemPath}/text`);
    },
  );
}
