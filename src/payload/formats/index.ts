// The format adapters by name (policy `routes[].format`).

import { anthropicAdapter } from './anthropic.js';
import { jsonAdapter } from './json.js';
import { mcpAdapter } from './mcp.js';
import { openaiChatAdapter } from './openai-chat.js';
import { openaiResponsesAdapter } from './openai-responses.js';
import type { FormatAdapter, FormatName } from './types.js';

export const ADAPTERS: Readonly<Record<FormatName, FormatAdapter>> = {
  json: jsonAdapter,
  'openai-chat': openaiChatAdapter,
  'openai-responses': openaiResponsesAdapter,
  anthropic: anthropicAdapter,
  mcp: mcpAdapter,
};

export type { FormatAdapter, FormatName, FormatScan, ScanContext, ToolCallSite } from './types.js';
export { FORMAT_NAMES } from './types.js';
