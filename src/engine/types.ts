// The engine's data: what goes in (InspectInput), what comes out (Inspection), and the
// internal picture of a body in between: byte documents (Scope), the texts the detectors
// read (TextSite) and the places a finding's action edits (Target).

import type { DetectorHit } from '../detect/index.js';
import type { Tokenizer } from '../enforce/tokenize.js';
import type { FormatName } from '../payload/formats/index.js';
import type { JsonLoc, JsonNode, JsonNumber, JsonObject, JsonString } from '../payload/json.js';
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
 * value; a detector hit is a span of the text the detectors read, in a string, a number
 * literal's spelling, an object key, or a text outside the body (the URL, a header).
 */
export type Target =
  /** A whole value (string, number, literal): replaced by a JSON string. */
  | { kind: 'value'; scope: Scope; node: JsonNode }
  /** Part of a string value: UTF-16 offsets in its decoded text. */
  | { kind: 'span'; scope: Scope; node: JsonString; start: number; end: number }
  /**
   * Part of a number literal's spelling (offsets in `raw`): the whole literal becomes a JSON
   * string holding the spelling with the part replaced (a number cannot hold a mask).
   */
  | { kind: 'number'; scope: Scope; node: JsonNumber; start: number; end: number }
  /**
   * Part of the key of `object`'s member `index` (offsets in the decoded key): the key
   * literal is rewritten where it is, and made unique in its object.
   */
  | {
      kind: 'key';
      scope: Scope;
      object: JsonObject;
      index: number;
      start: number;
      end: number;
    }
  /** Part of a text outside the body (FieldSite): its channel applies the replacement. */
  | { kind: 'field'; site: FieldSite; start: number; end: number };

/** What every text the detectors read has: the text, and the function it travels to. */
interface SiteBase {
  /** The text itself. */
  text: string;
  /** The function whose call (or result) holds the text. */
  fn: string | undefined;
}

/** A text in a JSON document, located by its scope and a lazily built location. */
interface JsonSiteBase extends SiteBase {
  scope: Scope;
  /** Pointer of the site = scope.prefix + pointerOf(loc, base). */
  base: string;
  /** For a key: the location of its object. */
  loc: JsonLoc | undefined;
}

/** A string value. */
export interface StringSite extends JsonSiteBase {
  kind: 'string';
  node: JsonString;
}

/**
 * A number literal, read as its digit text: the spelling up to any fraction or exponent
 * (sign included), never through Number, so no digit is lost.
 */
export interface NumberSite extends JsonSiteBase {
  kind: 'number';
  node: JsonNumber;
}

/** An object key: the key of `object`'s member `index`. */
export interface KeySite extends JsonSiteBase {
  kind: 'key';
  object: JsonObject;
  index: number;
}

/** A text outside the body: a URL part or a header value, with its own path and context. */
export interface FieldSite extends SiteBase {
  kind: 'field';
  /** The finding path (`:path/1`, `:path?contact`, `:headers/x-user-email`). */
  path: string;
  /** Context names for the detectors, outermost first (a parameter's name). */
  keys: readonly string[];
}

/**
 * One text the detectors read, and where it sits. The walk that lists the texts of a body is
 * apart from the detector call (classify.ts), so texts can be listed without scanning them,
 * and hits from any source become findings the same way for every kind (addHits).
 */
export type TextSite = StringSite | NumberSite | KeySite | FieldSite;

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
  /**
   * Members whose key the detectors flagged: every path through one is rewritten to name the
   * member by position (`~value<i>`), since a path must never carry a value.
   */
  hidden?: { plain: string; safe: string }[];
}
