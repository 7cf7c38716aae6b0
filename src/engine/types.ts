// The engine's data: what goes in (InspectInput), what comes out (Inspection), and the
// internal picture of a body in between: byte documents (Scope), the texts the detectors
// read (TextSite) and the places a finding's action edits (Target).

import type { DetectorHit } from '../detect/index.js';
import type { Tokenizer } from '../enforce/tokenize.js';
import type { FormatName } from '../payload/formats/index.js';
import type { JsonLoc, JsonNode, JsonString } from '../payload/json.js';
import type { CompiledPolicy, FunctionPlan, RoutePlan } from '../policy/compile.js';
import type { Decision, Direction, Finding, FindingDecision, Principal } from '../policy/types.js';

export interface InspectInput {
  policy: CompiledPolicy;
  route: RoutePlan;
  /** The route's function: the contract of a plain JSON body. */
  fn: FunctionPlan | undefined;
  principal: Principal;
  direction: Direction;
  body: Uint8Array;
  maxDepth: number;
  /** Needed for the tokenize action and for detokenize routes. */
  tokenizer?: Tokenizer | undefined;
  /** Call ids → function names learnt from the request (for the response). */
  names?: ReadonlyMap<string, string> | undefined;
  /** Keyed fingerprint of a finding's value, kept in the decision (audit search by value). */
  fingerprint?: ((value: string) => string) | undefined;
}

export interface Inspection {
  decision: Decision;
  /** The body to forward: the input itself when nothing changes. */
  body: Uint8Array;
  changed: boolean;
  format: FormatName;
  /** Call ids → function names found in this body. */
  names: ReadonlyMap<string, string>;
  /** For a held call: each held value masked for reviewers (keep last 2), by finding. */
  previews: ReadonlyMap<FindingDecision, string>;
}

/** A byte document edits apply to: the body, or a JSON document carried in a string. */
export interface Scope {
  bytes: Uint8Array;
  /** For a document in a string: the string in the enclosing scope. */
  parent?: { scope: Scope; node: JsonString };
  /** Pointer prefix for paths inside this scope (`/messages/3/…/arguments#`). */
  prefix: string;
}

/**
 * Where a finding's value sits, so its action can be applied. A contract finding is a whole
 * value; a detector hit is a span of the text the detectors read. (Number literals and
 * object keys, read as text, will be targets of their own kinds.)
 */
export type Target =
  /** A whole value (string, number, literal): replaced by a JSON string. */
  | { kind: 'value'; scope: Scope; node: JsonNode }
  /** Part of a string value: UTF-16 offsets in its decoded text. */
  | { kind: 'span'; scope: Scope; node: JsonString; start: number; end: number };

/**
 * One text the detectors read, and where it sits: a string value today (number literals,
 * object keys and other channels are texts of their own kinds). The walk that lists the
 * texts of a body is apart from the detector call (classify.ts), so texts can be listed
 * without scanning them.
 */
export interface TextSite {
  kind: 'string';
  scope: Scope;
  node: JsonString;
  /** The text itself. */
  text: string;
  /** Pointer of the site = scope.prefix + pointerOf(loc, base). */
  base: string;
  loc: JsonLoc | undefined;
  /** The function whose call (or result) holds the text. */
  fn: string | undefined;
}

/**
 * A span an external analyzer (src/analyze) found in a text: a detector hit whose detector
 * and level come from the analyzer's entity mapping, in UTF-16 offsets of the text.
 */
export interface AnalyzerHit extends DetectorHit {
  /** The analyzer's name in the policy. */
  analyzer: string;
}

/** A text an analyzer is given: a TextSite of a body, or a text of a streamed answer. */
export interface AnalyzedText {
  readonly text: string;
}

/** The analyzers' hits, by the text they were found in (an item of the plan). */
export type AnalyzerHits = ReadonlyMap<AnalyzedText, readonly AnalyzerHit[]>;

/** Findings and their targets, index for index. */
export interface Collected {
  findings: Finding[];
  targets: Target[];
  /**
   * Detector hits of the short strings already scanned in this call, by innermost key and
   * text: `"user"`, `"text"`, `"tool_use"` come back hundreds of times in a chat. Per call
   * only, so no value outlives the request.
   */
  memo?: Map<string, Map<string, readonly DetectorHit[]>>;
}
