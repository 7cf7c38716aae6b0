// The payload an approval is bound to: SHA-256 of a canonical form of the JSON document, so
// the same call sent again with other whitespace, key order or escapes is the same call, and
// any other value is another call. Keys sorted by UTF-16 code units (as RFC 8785), strings
// re-encoded minimally, numbers kept as spelled (no precision lost: 1.0 and 1 differ).

import { createHash } from 'node:crypto';
import type { JsonNode } from '../payload/json.js';

export function canonicalJson(node: JsonNode): string {
  switch (node.kind) {
    case 'object': {
      const members = [...node.members].sort((a, b) =>
        a.key < b.key ? -1 : a.key > b.key ? 1 : 0,
      );
      return `{${members.map((m) => `${JSON.stringify(m.key)}:${canonicalJson(m.value)}`).join(',')}}`;
    }
    case 'array':
      return `[${node.items.map(canonicalJson).join(',')}]`;
    case 'string':
      return JSON.stringify(node.value);
    case 'number':
      return node.raw;
    case 'true':
    case 'false':
    case 'null':
      return node.kind;
  }
}

export function payloadHash(node: JsonNode): string {
  return createHash('sha256').update(canonicalJson(node), 'utf8').digest('hex');
}

/**
 * The hash a held call is bound to when values are held in its head (the URL, a named
 * header): the head as received (`head`, its target and headers) and the body's canonical
 * form, if it has one, so another value in the URL is another call. Without held head
 * values, payloadHash alone (the hash of a body-only hold stays what it was).
 */
export function callHash(body: JsonNode | undefined, head: string | undefined): string {
  if (head === undefined) {
    if (!body) throw new TypeError('callHash: a call with neither a body nor a head');
    return payloadHash(body);
  }
  return createHash('sha256')
    .update(`${head}\n${body ? canonicalJson(body) : ''}`, 'utf8')
    .digest('hex');
}
