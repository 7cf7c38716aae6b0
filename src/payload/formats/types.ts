// Payload formats: where, in a parsed body, the function calls and their results are, and
// which parts are definitions rather than data. An adapter only locates; the engine
// classifies and edits. Adapters are pure functions of the parsed tree.
//
// Every string an adapter does not place in a call site or a skipped subtree is free text for
// the detectors, so a field a provider adds tomorrow is still scanned (fail closed).

import type { JsonNode } from '../json.js';
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
  /**
   * The function's name as the payload gives it; undefined when it cannot be known. For the
   * plain `json` format it is always undefined: the route's function applies.
   */
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

export interface FormatScan {
  calls: ToolCallSite[];
  /** Subtrees that are definitions, not data (tool schemas): neither classified nor scanned. */
  skip: JsonNode[];
  /** Call ids seen (tool_call ids, JSON-RPC ids) → function names, for the other direction. */
  names: Map<string, string>;
}

/** What the request taught about the exchange: call ids → function names. */
export interface ScanContext {
  names?: ReadonlyMap<string, string> | undefined;
}

export interface FormatAdapter {
  name: FormatName;
  scan(root: JsonNode, direction: Direction, ctx: ScanContext): FormatScan;
}
