// inspect(): one whole body. Parse (strictly), locate calls with the route's format,
// validate each call against its function's contract, classify, run the detectors over
// every other string, decide and apply, splicing replacements into the original bytes.
//
// A route with external analyzers takes two steps around the analyzers' I/O, which is the
// caller's: planInspection() reads the body and lists the texts the detectors will read;
// completeInspection() scans them with the analyzers' hits merged in, decides and applies.

import { CallguardError } from '../errors.js';
import { parseJson } from '../payload/json.js';
import type { JsonNode } from '../payload/json.js';
import type { FindingDecision } from '../policy/types.js';
import { classifyTree, planTree, safeParseError, scanTree } from './classify.js';
import type { TreePlan, TreeScan } from './classify.js';
import { detokenize } from './detokenize.js';
import { settle } from './settle.js';
import type { AnalyzerHits, InspectInput, Inspection, TextSite } from './types.js';

/** A body read: detokenized (on such routes) and parsed. */
interface Read {
  body: Uint8Array;
  root: JsonNode;
  preTrace: string[];
  preFindings: FindingDecision[];
}

/**
 * Throws CallguardError for bad input, a prohibited field, a contract violation or a block
 * decision; the error names paths and rules, never values.
 */
export function inspect(input: InspectInput): Inspection {
  const read = readBody(input);
  return finish(input, read, classifyTree(input, read.root, read.body));
}

/** A body read and walked, waiting for the analyzers' hits in its texts. */
export interface PlannedInspection {
  /**
   * Every text the detectors will read, in document order (the same text may come more
   * than once): what the route's analyzers are to be given, and the keys of their hits.
   */
  readonly sites: readonly TextSite[];
}

class Planned implements PlannedInspection {
  constructor(
    readonly input: InspectInput,
    readonly read: Read,
    readonly tree: TreePlan,
  ) {}

  get sites(): readonly TextSite[] {
    return this.tree.sites;
  }
}

/**
 * The first step of an inspection with analyzers: reads the body and lists its texts.
 * Throws what inspect() throws for bad input, a prohibited field or a contract violation.
 */
export function planInspection(input: InspectInput): PlannedInspection {
  const read = readBody(input);
  return new Planned(input, read, planTree(input, read.root, read.body));
}

/**
 * The second step: the planned texts scanned with `hits` (by site) merged into the
 * detectors' hits, decided and applied. Throws what inspect() throws for a block decision.
 */
export function completeInspection(plan: PlannedInspection, hits: AnalyzerHits): Inspection {
  if (!(plan instanceof Planned)) throw new TypeError('not a plan of planInspection()');
  return finish(plan.input, plan.read, scanTree(plan.input, plan.tree, hits));
}

function readBody(input: InspectInput): Read {
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
  return { body, root, preTrace, preFindings };
}

function finish(input: InspectInput, read: Read, scan: TreeScan): Inspection {
  const done = settle(input, scan);
  done.decision.findings.unshift(...read.preFindings);
  done.decision.trace.unshift(...read.preTrace);
  const result = done.body ?? read.body;
  return {
    decision: done.decision,
    body: result,
    changed: result !== input.body,
    format: input.route.format,
    names: scan.names,
    previews: done.previews,
  };
}
