// Detokenize routes: the tokens in a request are turned back into their values before the
// request is inspected, for callers in the route's groups (the model only ever saw the
// token; the function gets the value).

import { TOKEN_IN_TEXT, TokenError } from '../enforce/tokenize.js';
import type { Tokenizer } from '../enforce/tokenize.js';
import {
  applyEdits,
  encodeJsonString,
  isJsonDocument,
  keySegment,
  parseJson,
  pointerOf,
  uniqueKey,
  walkJson,
} from '../payload/json.js';
import type { Edit, Span } from '../payload/json.js';
import type { FindingDecision } from '../policy/types.js';

/**
 * Restores the values of tokens in every string and object key of a request. A token that
 * does not verify is left as it is and reported. A token that stood for a number literal
 * comes back as a JSON string of its digits (the token replaced the number's literal).
 */
export function detokenize(
  body: Uint8Array,
  maxDepth: number,
  tokenizer: Tokenizer,
  /** The level an unverifiable token is reported at. */
  level: string,
): { body: Uint8Array; trace: string[]; invalid: FindingDecision[] } {
  const root = parseJson(body, { maxDepth });
  const edits: Edit[] = [];
  const trace: string[] = [];
  const invalid: FindingDecision[] = [];
  const restore = (text: string, path: string, inJson: boolean, span: Span) => {
    let changed = false;
    const out = text.replace(TOKEN_IN_TEXT, (tok) => {
      try {
        const { value, kind } = tokenizer.detokenize(tok);
        changed = true;
        trace.push(`detokenized ${path} (${kind})`);
        return inJson ? JSON.stringify(value).slice(1, -1) : value;
      } catch (e) {
        if (!(e instanceof TokenError)) throw e;
        trace.push(`token at ${path} does not verify: left as it is`);
        invalid.push({
          direction: 'request',
          path,
          level,
          source: 'detector',
          detector: 'invalid_token',
          span: { start: span.start, end: span.end },
          action: 'allow',
          rule: 'detokenize',
          record: 'metadata',
        });
        return tok;
      }
    });
    return changed ? out : undefined;
  };
  walkJson(root, (node, loc) => {
    if (node.kind === 'object') {
      // Tokens in keys (a map keyed by a tokenized e-mail address) are restored too; a
      // restored key that another key of the object already is gets a suffix (uniqueKey).
      const members = node.members;
      let taken: Set<string> | undefined;
      for (let i = 0; i < members.length; i++) {
        const m = members[i]!;
        if (!m.key.includes('tok_')) continue;
        const key = restore(m.key, `${pointerOf(loc)}/${keySegment(i)}`, false, m.keySpan);
        if (key === undefined) continue;
        taken ??= new Set(members.map((x) => x.key));
        taken.delete(m.key);
        const unique = uniqueKey(taken, key);
        taken.add(unique);
        edits.push({
          start: m.keySpan.start,
          end: m.keySpan.end,
          replacement: encodeJsonString(unique),
        });
      }
      return;
    }
    if (node.kind !== 'string' || !node.value.includes('tok_')) return;
    const path = pointerOf(loc);
    // A token inside JSON carried in a string (tool-call arguments) sits in an inner JSON
    // string literal, so its value is escaped for one. Whether the string is JSON is the
    // strict reader's verdict, the one the format adapters and the rest of the engine use.
    const inJson = isJsonDocument(node.value);
    const text = restore(node.value, path, inJson, node);
    if (text !== undefined)
      edits.push({ start: node.start, end: node.end, replacement: encodeJsonString(text) });
  });
  return { body: edits.length > 0 ? applyEdits(body, edits) : body, trace, invalid };
}
