// Small, total helpers the format adapters share. They never throw on unexpected shapes: a
// missing member or a node of the wrong kind is `undefined`, and a site is only added when
// its node has the kind the site needs.

import { appendPointer, isJsonDocument } from '../json.js';
import type { JsonNode } from '../json.js';
import type { FormatScan, ToolCallSite } from './types.js';

/** The value of `key` when `node` is an object that has it. */
export function member(node: JsonNode | undefined, key: string): JsonNode | undefined {
  if (node?.kind !== 'object') return undefined;
  for (const m of node.members) if (m.key === key) return m.value;
  return undefined;
}

/** The decoded string when `node` is a string. */
export function stringOf(node: JsonNode | undefined): string | undefined {
  return node?.kind === 'string' ? node.value : undefined;
}

/** The string value of `node[key]`, when there is one. */
export function stringMember(node: JsonNode | undefined, key: string): string | undefined {
  return stringOf(member(node, key));
}

/** A JSON-RPC id or a call id as a map key: strings as they are, numbers by spelling. */
export function idOf(node: JsonNode | undefined): string | undefined {
  if (node?.kind === 'string') return `s:${node.value}`;
  if (node?.kind === 'number') return `n:${node.raw}`;
  return undefined;
}

/** Calls `visit` with each item of `node` (when it is an array) and the item's pointer. */
export function eachItem(
  node: JsonNode | undefined,
  path: string,
  visit: (item: JsonNode, path: string) => void,
): void {
  if (node?.kind !== 'array') return;
  const items = node.items;
  for (let i = 0; i < items.length; i++) visit(items[i]!, appendPointer(path, i));
}

/** Accumulates the sites of one scan; each method checks the node's kind first. */
export class ScanBuilder implements FormatScan {
  readonly calls: ToolCallSite[] = [];
  readonly skip: JsonNode[] = [];
  readonly names = new Map<string, string>();

  constructor(private readonly known: ReadonlyMap<string, string> = new Map()) {}

  /** Remembers that call `id` is a call of function `name`. */
  name(id: string | undefined, name: string | undefined): void {
    if (id !== undefined && name !== undefined) this.names.set(id, name);
  }

  /** The function name of call `id`, from this body or the request. */
  nameOf(id: string | undefined): string | undefined {
    if (id === undefined) return undefined;
    return this.names.get(id) ?? this.known.get(id);
  }

  /** A definitions subtree: left as it is, not scanned. */
  definitions(node: JsonNode | undefined): void {
    if (node) this.skip.push(node);
  }

  /** Arguments (or a result) given as a document: an object or an array. */
  document(
    name: string | undefined,
    node: JsonNode | undefined,
    path: string,
    kind: 'call' | 'result',
  ): void {
    if (node?.kind === 'object' || node?.kind === 'array') {
      this.calls.push({ name, path, args: node, encoded: false, kind });
    }
  }

  /** Arguments given as JSON text in a string (OpenAI `arguments`), whatever the text is. */
  encoded(
    name: string | undefined,
    node: JsonNode | undefined,
    path: string,
    kind: 'call' | 'result',
  ): void {
    if (node?.kind === 'string') this.calls.push({ name, path, args: node, encoded: true, kind });
  }

  /**
   * A string a function returned: an encoded result site when it holds a JSON object or
   * array; otherwise it stays free text (the engine scans every string not in a site).
   */
  output(name: string | undefined, node: JsonNode | undefined, path: string): void {
    if (node?.kind === 'string' && isJsonDocument(node.value)) {
      this.calls.push({ name, path, args: node, encoded: true, kind: 'result' });
    }
  }
}
