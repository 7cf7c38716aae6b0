// inspect(): one whole body. Parse (strictly), locate calls with the route's format,
// validate each call against its function's contract, classify, run the detectors over
// every other string, decide and apply, splicing replacements into the original bytes.

import { CallguardError } from '../errors.js';
import { parseJson } from '../payload/json.js';
import type { JsonNode } from '../payload/json.js';
import type { FindingDecision } from '../policy/types.js';
import { classifyTree, safeParseError } from './classify.js';
import { detokenize } from './detokenize.js';
import { settle } from './settle.js';
import type { InspectInput, Inspection } from './types.js';

/**
 * Throws CallguardError for bad input, a prohibited field, a contract violation or a block
 * decision; the error names paths and rules, never values.
 */
export function inspect(input: InspectInput): Inspection {
  const { policy, route, direction } = input;
  let body = input.body;
  const preTrace: string[] = [];
  const preFindings: FindingDecision[] = [];

  if (
    direction === 'request' &&
    route.detokenize &&
    input.principal.groups.some((g) => route.detokenize?.has(g))
  ) {
    if (!input.tokenizer) throw new TypeError('detokenize route without a tokenizer');
    const d = detokenize(
      body,
      input.maxDepth,
      input.tokenizer,
      policy.levels.names[1] ?? policy.levels.lowest,
    );
    body = d.body;
    preTrace.push(...d.trace);
    preFindings.push(...d.invalid);
  }

  let root: JsonNode;
  try {
    root = parseJson(body, { maxDepth: input.maxDepth });
  } catch (e) {
    // An error's path is made of keys, and a key can be the value (a duplicate e-mail key).
    throw e instanceof CallguardError ? safeParseError(input, e) : e;
  }
  const scan = classifyTree(input, root, body);
  const done = settle(input, scan);
  done.decision.findings.unshift(...preFindings);
  done.decision.trace.unshift(...preTrace);
  const result = done.body ?? body;
  return {
    decision: done.decision,
    body: result,
    changed: result !== input.body,
    format: route.format,
    names: scan.names,
    previews: done.previews,
  };
}
