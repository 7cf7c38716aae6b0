// Payload formats: where, in a parsed body, the function calls and the free text are.
// An adapter only locates; the engine classifies and edits. Adapters are pure functions of
// the parsed tree.

import type { JsonNode, JsonString } from '../json.js';
import type { Direction } from '../../policy/types.js';

export const FORMAT_NAMES = [
  'json',
  'openai-chat',
  'openai-responses',
  'anthropic',
  'mcp',
] as const;
export type FormatName = (typeof FORMAT_NAMES)[number];

/** One function call (or its result) found in a payload. */
export interface ToolCallSite {
  /** The function's name as the payload gives it; undefined when it cannot be known. */
  name: string | undefined;
  /** JSON Pointer of the arguments (or result) value. */
  path: string;
  /** The argument document: an object/array node, or a string node holding JSON text. */
  args: JsonNode;
  /** True when `args` is a JSON string whose content is the document (OpenAI `arguments`). */
  encoded: boolean;
  /** `call`: arguments going to a function; `result`: what a function returned. */
  kind: 'call' | 'result';
}

/** A string value that is free text for the detectors (a message, a tool result's text). */
export interface TextSite {
  path: string;
  node: JsonString;
}

export interface FormatScan {
  calls: ToolCallSite[];
  texts: TextSite[];
}

export interface FormatAdapter {
  name: FormatName;
  scan(root: JsonNode, direction: Direction): FormatScan;
}
