// The classification engine's public face: parse a body, find every classified value
// (function contracts wherever a format adapter finds a call, detectors over free text and
// untagged fields), decide, and apply the decision by splicing replacements into the
// original bytes. Pure: bytes and plain objects in, bytes and plain objects out; no gRPC,
// no Envoy, no I/O.

import { CallguardError } from './errors.js';
import { fieldLabel, maskText, redactPlaceholder } from './enforce/actions.js';
import { TOKEN_IN_TEXT, TokenError } from './enforce/tokenize.js';
import type { Tokenizer } from './enforce/tokenize.js';
import { ADAPTERS } from './payload/formats/index.js';
import type { FormatName } from './payload/formats/index.js';
import {
  appendPointer,
  applyEdits,
  encodeJsonString,
  parseJson,
  toPlainValue,
} from './payload/json.js';
import type { Edit, JsonNode, JsonString } from './payload/json.js';
import { sortSmall } from './detect/index.js';
import type { DetectorHit } from './detect/index.js';
import type { CompiledContract } from './policy/contract.js';
import type { CompiledPolicy, FunctionPlan, RoutePlan } from './policy/compile.js';
import { decide } from './policy/decide.js';
import { combineHolds } from './policy/types.js';
import type {
  HoldSpec,
  Action,
  Decision,
  Direction,
  Finding,
  FindingDecision,
  Principal,
} from './policy/types.js';

export { loadPolicy, PolicyLoadError } from './policy/load.js';
export type { CompiledPolicy } from './policy/compile.js';

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

/** Where a finding's value sits, so its action can be applied. */
export interface Target {
  scope: Scope;
  node: JsonNode;
  /** For a detector hit inside a string: UTF-16 offsets in the decoded value. */
  sub?: { start: number; end: number };
}

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

/** How many enclosing key names the detectors get as context. */
const CONTEXT_KEYS = 3;
/** Strings up to this length are scanned once per call per innermost key (Collected.memo). */
const MEMO_MAX_LENGTH = 64;

/**
 * Parse (strictly), locate calls with the route's format, validate each call against its
 * function's contract, classify, run the detectors over every other string, decide and
 * apply. Throws CallguardError for bad input, a prohibited field, a contract violation or a
 * block decision; the error names paths and rules, never values.
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

  const root = parseJson(body, { maxDepth: input.maxDepth });
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

/** What one parsed document holds: its findings, where they sit, and the call ids it names. */
export interface TreeScan {
  top: Scope;
  collected: Collected;
  names: ReadonlyMap<string, string>;
}

/**
 * Finds every classified value in a parsed document: contracts at the call sites the route's
 * format locates, the detectors over every other string. Strings under `exclude` are left
 * to the caller (streamed deltas).
 */
export function classifyTree(
  input: InspectInput,
  root: JsonNode,
  bytes: Uint8Array,
  exclude: Iterable<JsonNode> = [],
): TreeScan {
  const { policy, route } = input;
  const format = route.format;
  const scan = ADAPTERS[format].scan(root, input.direction, { names: input.names });
  const top: Scope = { bytes, prefix: '' };
  const out: Collected = { findings: [], targets: [], memo: new Map() };
  // Nodes already handled (call sites) or not data (definitions): the free-text walk stops there.
  const stop = new Set<JsonNode>([...scan.skip, ...exclude]);

  for (const site of scan.calls) {
    stop.add(site.args);
    const fn =
      site.name !== undefined
        ? policy.functions.get(site.name)
        : format === 'json'
          ? input.fn
          : undefined;
    const fnName = site.name ?? fn?.name;
    const dir: Direction = site.kind === 'call' ? 'request' : 'response';
    const contract = fn?.[dir];
    if (!site.encoded) {
      classifyDocument(input, top, site.args, site.path, contract, fnName, dir, out);
      continue;
    }
    const str = site.args as JsonString;
    const inner = Buffer.from(str.value, 'utf8');
    let doc: JsonNode;
    try {
      doc = parseJson(inner, { maxDepth: input.maxDepth });
    } catch (e) {
      if (!(e instanceof CallguardError)) throw e;
      if (contract) {
        // A function with a contract must get a document it can check: fail closed.
        throw new CallguardError(
          'contract_violation',
          `arguments of ${contract.name} are not valid JSON (${e.code})`,
          {
            paths: [site.path],
            rule: `contract:${fnName}:${dir}:json`,
          },
        );
      }
      // Arguments that are not JSON are text: the detectors still see them.
      scanText(input, top, str, site.path, undefined, fnName, out);
      continue;
    }
    const scope: Scope = {
      bytes: inner,
      parent: { scope: top, node: str },
      prefix: `${site.path}#`,
    };
    classifyDocument(input, scope, doc, '', contract, fnName, dir, out);
  }
  walkStrings(root, stop, (node, loc) => scanText(input, top, node, '', loc, undefined, out));
  return { top, collected: out, names: scan.names };
}

/**
 * Decides every finding of a scan and applies the actions. Throws CallguardError `blocked`
 * when a value's action is block. `body` is undefined when nothing changed.
 */
export function settle(
  input: InspectInput,
  scan: TreeScan,
): {
  decision: Decision;
  body: Uint8Array | undefined;
  previews: ReadonlyMap<FindingDecision, string>;
} {
  const { policy, route, direction } = input;
  const out = scan.collected;
  const { decision, actions } = decide(
    out.findings,
    policy.rules,
    policy.defaults,
    { route: route.name, fn: input.fn?.name, principal: input.principal },
    policy.levels,
  );
  if (input.fingerprint) {
    const fp = input.fingerprint;
    decision.findings.forEach((f, i) => {
      const t = out.targets[i];
      if (t) f.fingerprint = fp(valueOf(t));
    });
  }
  if (decision.action === 'block') {
    const blocked = decision.findings.filter((f) => f.action === 'block');
    throw new CallguardError('blocked', `${direction} carries values the policy blocks`, {
      paths: [...new Set(blocked.map((f) => f.path))],
      rule: [...new Set(blocked.map((f) => f.rule))].join(','),
      decision, // for the audit record: the findings of a refused body
    });
  }
  const previews = new Map<FindingDecision, string>();
  if (decision.action === 'hold') {
    const holds: HoldSpec[] = [];
    for (const a of actions.values()) if (a.type === 'hold') holds.push(a);
    const hold = combineHolds(holds);
    if (hold) decision.hold = hold;
    // Reviewers see what they approve, masked: enough to recognise, not to reuse.
    decision.findings.forEach((f, i) => {
      const t = out.targets[i];
      if (t && f.action === 'hold') {
        previews.set(
          f,
          maskText(valueOf(t), { type: 'mask', keep_first: 0, keep_last: 2, mask_char: '*' }),
        );
      }
    });
  }
  return {
    decision,
    body: applyActions(input, scan.top, out.targets, decision.findings, actions),
    previews,
  };
}

/** Validate a call's document against its contract, classify it, and scan what is untagged. */
function classifyDocument(
  input: InspectInput,
  scope: Scope,
  doc: JsonNode,
  basePath: string,
  contract: CompiledContract | undefined,
  fnName: string | undefined,
  dir: Direction,
  out: Collected,
): void {
  const covered = new Set<JsonNode>();
  if (contract) {
    const violations = contract.validate(toPlainValue(doc));
    if (violations.length > 0) {
      const prohibited = violations.filter((v) => v.kind === 'prohibited_field');
      const chosen = prohibited.length > 0 ? prohibited : violations;
      const paths = [...new Set(chosen.map((v) => scope.prefix + basePath + v.path))];
      const keyword = chosen[0]?.keyword ?? 'contract';
      throw new CallguardError(
        prohibited.length > 0 ? 'prohibited_field' : 'contract_violation',
        prohibited.length > 0
          ? `field not allowed by the ${contract.name}`
          : `${dir} does not satisfy the ${contract.name} (${keyword})`,
        { paths, rule: `contract:${fnName ?? input.route.name}:${dir}:${keyword}` },
      );
    }
    for (const { node, ...f } of contract.classify(doc, input.direction, input.policy.levels)) {
      const finding: Finding = { ...f, path: scope.prefix + basePath + f.path };
      if (fnName !== undefined) finding.function = fnName;
      out.findings.push(finding);
      out.targets.push({ scope, node });
      covered.add(node);
    }
  }
  // Untagged strings go to the detectors, with their key names as context.
  walkStrings(doc, covered, (node, loc) =>
    scanText(input, scope, node, basePath, loc, fnName, out),
  );
}

/** Where a node sits: its parent's location and its own segment (member key or index). */
interface Loc {
  up: Loc | undefined;
  seg: string | number;
}

/** The JSON Pointer of `loc` below `base`; built only when a finding needs it. */
function pointerOf(base: string, loc: Loc | undefined): string {
  const segs: (string | number)[] = [];
  for (let l = loc; l; l = l.up) segs.push(l.seg);
  let p = base;
  for (let i = segs.length - 1; i >= 0; i--) p = appendPointer(p, segs[i]!);
  return p;
}

/** The nearest CONTEXT_KEYS member names above `loc`, outermost first. */
function keysOf(loc: Loc | undefined): string[] {
  const keys: string[] = [];
  for (let l = loc; l && keys.length < CONTEXT_KEYS; l = l.up)
    if (typeof l.seg === 'string') keys.push(l.seg);
  return keys.reverse();
}

/** The nearest member name above `loc`; '' when there is none. */
function innermostKey(loc: Loc | undefined): string {
  for (let l = loc; l; l = l.up) if (typeof l.seg === 'string') return l.seg;
  return '';
}

/**
 * Every string under `node` not under a node of `stop`, with its location (its pointer is
 * built from it only when needed: most strings have no finding).
 */
function walkStrings(
  node: JsonNode,
  stop: ReadonlySet<JsonNode>,
  visit: (n: JsonString, loc: Loc | undefined) => void,
): void {
  // Iterative: depth is bounded by the parser, but a wide body must not recurse per item.
  const nodes: JsonNode[] = [node];
  const locs: (Loc | undefined)[] = [undefined];
  for (;;) {
    const n = nodes.pop();
    if (n === undefined) return;
    const loc = locs.pop();
    if (stop.size > 0 && stop.has(n)) continue;
    if (n.kind === 'string') visit(n, loc);
    else if (n.kind === 'object') {
      const members = n.members;
      for (let i = members.length - 1; i >= 0; i--) {
        const m = members[i]!;
        nodes.push(m.value);
        locs.push({ up: loc, seg: m.key });
      }
    } else if (n.kind === 'array') {
      const items = n.items;
      for (let i = items.length - 1; i >= 0; i--) {
        nodes.push(items[i]!);
        locs.push({ up: loc, seg: i });
      }
    }
  }
}

function scanText(
  input: InspectInput,
  scope: Scope,
  node: JsonString,
  base: string,
  loc: Loc | undefined,
  fnName: string | undefined,
  out: Collected,
): void {
  const detectors = input.route.detectors;
  const text = node.value;
  if (!detectors || text.length === 0) return;
  let hits: readonly DetectorHit[];
  if (out.memo && text.length <= MEMO_MAX_LENGTH) {
    // Only the innermost key is context to the detectors.
    const key = innermostKey(loc);
    let byText = out.memo.get(key);
    if (!byText) out.memo.set(key, (byText = new Map()));
    const known = byText.get(text);
    if (known) hits = known;
    else byText.set(text, (hits = detectors.scan(text, { keys: keysOf(loc), chars: node.chars })));
  } else hits = detectors.scan(text, { keys: keysOf(loc), chars: node.chars });
  if (hits.length === 0) return;
  const at = scope.prefix + pointerOf(base, loc);
  for (const h of hits) {
    if (h.level === input.policy.levels.lowest) continue;
    const f: Finding = {
      direction: input.direction,
      path: at,
      level: h.level,
      source: 'detector',
      detector: h.detector,
      span: { start: node.start, end: node.end },
    };
    if (fnName !== undefined) f.function = fnName;
    out.findings.push(f);
    out.targets.push({ scope, node, sub: { start: h.start, end: h.end } });
  }
}

/** The text of a finding's value: a hit's substring, a string's value, a scalar's spelling. */
function valueOf(t: Target): string {
  if (t.node.kind === 'string')
    return t.sub ? t.node.value.slice(t.sub.start, t.sub.end) : t.node.value;
  return scalarText(t.scope.bytes, t.node);
}

/** Applies each finding's action; returns the new body, or undefined if nothing changed. */
function applyActions(
  input: InspectInput,
  top: Scope,
  targets: readonly Target[],
  findings: readonly FindingDecision[],
  actions: ReadonlyMap<FindingDecision, Action>,
): Uint8Array | undefined {
  // Whole-value edits by scope; hits inside a string grouped by string, to become one edit.
  const valueEdits = new Map<Scope, Edit[]>();
  const subEdits = new Map<
    Scope,
    Map<JsonString, { start: number; end: number; text: string }[]>
  >();
  // A token costs an HMAC and an AES-GCM encryption; the same value often comes back many
  // times in one body (a chat resends its history every turn). Tokens are deterministic, so
  // one per distinct value and kind; kept for this call only (no values outlive it).
  const tokens = new Map<string, string>();
  const replace = (action: Action, f: FindingDecision, original: string): string => {
    if (action.type !== 'tokenize') return replacementFor(action, f, original, input.tokenizer);
    const key = `${tokenKind(f)}\0${original}`;
    let text = tokens.get(key);
    if (text === undefined)
      tokens.set(key, (text = replacementFor(action, f, original, input.tokenizer)));
    return text;
  };
  findings.forEach((f, i) => {
    const action = actions.get(f);
    const t = targets[i];
    // A held value goes on as it is once approved: the approval is for exactly this value.
    if (!action || !t || action.type === 'allow' || action.type === 'hold') return;
    if (t.sub && t.node.kind === 'string') {
      const original = t.node.value.slice(t.sub.start, t.sub.end);
      const text = replace(action, f, original);
      if (text === original) return;
      let byNode = subEdits.get(t.scope);
      if (!byNode) subEdits.set(t.scope, (byNode = new Map()));
      const list = byNode.get(t.node) ?? [];
      list.push({ start: t.sub.start, end: t.sub.end, text });
      byNode.set(t.node, list);
      return;
    }
    const bytes = encodeJsonString(replace(action, f, valueOf(t)));
    // An edit that changes nothing (say, an empty string masked) is no edit: the body then
    // stays the original, and is forwarded as it came (even compressed).
    if (Buffer.compare(bytes, t.scope.bytes.subarray(t.node.start, t.node.end)) === 0) return;
    const list = valueEdits.get(t.scope) ?? [];
    list.push({ start: t.node.start, end: t.node.end, replacement: bytes });
    valueEdits.set(t.scope, list);
  });

  for (const [scope, byNode] of subEdits) {
    const list = valueEdits.get(scope) ?? [];
    for (const [node, subs] of byNode) {
      sortSmall(subs, (a, b) => a.start - b.start);
      if (spliceSubEdits(node, subs, list)) continue;
      let text = '';
      let at = 0;
      for (const s of subs) {
        if (s.start < at) continue; // the detectors never overlap; guard anyway
        text += node.value.slice(at, s.start) + s.text;
        at = s.end;
      }
      text += node.value.slice(at);
      list.push({ start: node.start, end: node.end, replacement: encodeJsonString(text) });
    }
    valueEdits.set(scope, list);
  }
  // Inner documents: each becomes one edit of its string in the enclosing scope.
  for (const scope of [...valueEdits.keys()]) {
    if (!scope.parent) continue;
    const edited = applyEdits(scope.bytes, valueEdits.get(scope) ?? []);
    const { scope: parent, node } = scope.parent;
    const list = valueEdits.get(parent) ?? [];
    list.push({
      start: node.start,
      end: node.end,
      replacement: encodeJsonString(Buffer.from(edited).toString('utf8')),
    });
    valueEdits.set(parent, list);
  }
  const edits = valueEdits.get(top);
  return edits && edits.length > 0 ? applyEdits(top.bytes, edits) : undefined;
}

/**
 * Edits for hits inside a string literal that is plain ASCII without escapes (byte length
 * = UTF-16 length, the common case): each hit's bytes are replaced where they are, instead
 * of re-encoding the whole string. The result is byte-identical to re-encoding it: such a
 * literal's bytes are exactly what encodeJsonString gives for its value, and the encoding of
 * well-formed text is the concatenation of its parts' encodings. False (nothing pushed):
 * the caller re-encodes the string.
 */
function spliceSubEdits(
  node: JsonString,
  subs: readonly { start: number; end: number; text: string }[],
  list: Edit[],
): boolean {
  if (node.end - node.start - 2 !== node.value.length) return false;
  for (const s of subs) if (!isWellFormed(s.text)) return false;
  let at = 0;
  const base = node.start + 1;
  for (const s of subs) {
    if (s.start < at) continue; // the detectors never overlap; guard anyway
    list.push({ start: base + s.start, end: base + s.end, replacement: literalContent(s.text) });
    at = s.end;
  }
  return true;
}

/**
 * The bytes of `text` inside a JSON string literal (without the quotes). A mask, token or
 * placeholder is nearly always printable ASCII without `"` or `\\`: its bytes are its
 * characters, written into a pooled Buffer rather than through TextEncoder.
 */
function literalContent(text: string): Uint8Array {
  let plain = true;
  for (let i = 0; i < text.length && plain; i++) {
    const c = text.charCodeAt(i);
    plain = c >= 0x20 && c < 0x7f && c !== 0x22 && c !== 0x5c;
  }
  if (plain) return Buffer.from(text, 'latin1');
  const literal = encodeJsonString(text);
  return literal.subarray(1, literal.length - 1);
}

/** String.prototype.isWellFormed (ES2024, Node 20): not in the ES2023 lib the build uses. */
function isWellFormed(s: string): boolean {
  return (s as unknown as { isWellFormed(): boolean }).isWellFormed();
}

export function replacementFor(
  action: Action,
  f: Finding,
  original: string,
  tokenizer: Tokenizer | undefined,
): string {
  switch (action.type) {
    case 'mask':
      return maskText(original, action);
    case 'redact':
      return redactPlaceholder(f.level, fieldLabel(f.path, f.detector));
    case 'tokenize': {
      if (!tokenizer) throw new TypeError('tokenize action without a tokenizer');
      // A value that already is one of our tokens (a model passing a token back) stays as
      // it is: tokenizing it again would hide the value behind two layers.
      if (tokenizer.owns(original)) return original;
      return tokenizer.tokenize(original, tokenKind(f));
    }
    case 'allow':
      return original;
    case 'block':
    case 'hold':
      // block is refused before edits; a held value is never replaced.
      throw new TypeError(`action ${action.type} has no replacement`);
  }
}

/** tokenKind of a detector's finding, by detector id (trusted configuration, bounded). */
const DETECTOR_TOKEN_KINDS = new Map<string, string>();

/** `card` in `tok_card_…`: the detector, else the field name, as [a-z0-9]{1,24}. */
function tokenKind(f: Finding): string {
  if (f.detector === undefined) return tokenKindOf(f);
  let kind = DETECTOR_TOKEN_KINDS.get(f.detector);
  if (kind === undefined) DETECTOR_TOKEN_KINDS.set(f.detector, (kind = tokenKindOf(f)));
  return kind;
}

function tokenKindOf(f: Finding): string {
  const kind = fieldLabel(f.path.replace(/^.*#/, ''), f.detector)
    .toLowerCase()
    .replace(/[^a-z0-9]/g, '')
    .slice(0, 24);
  return kind || 'value';
}

/** A scalar's text: a string's decoded value, a number's or literal's source spelling. */
function scalarText(bytes: Uint8Array, node: JsonNode): string {
  if (node.kind === 'string') return node.value;
  return Buffer.from(bytes.buffer, bytes.byteOffset + node.start, node.end - node.start).toString(
    'utf8',
  );
}

/**
 * Restores the values of tokens in every string of a request (a route with `detokenize`, for
 * callers in its groups). A token that does not verify is left as it is and reported.
 */
function detokenize(
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
  walkStrings(root, new Set(), (node, loc) => {
    if (!node.value.includes('tok_')) return;
    const path = pointerOf('', loc);
    // A token inside JSON carried in a string (tool-call arguments) sits in an inner JSON
    // string literal, so its value is escaped for one.
    const inJson = isJsonText(node.value);
    let changed = false;
    const text = node.value.replace(TOKEN_IN_TEXT, (tok) => {
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
          span: { start: node.start, end: node.end },
          action: 'allow',
          rule: 'detokenize',
          record: 'metadata',
        });
        return tok;
      }
    });
    if (changed)
      edits.push({ start: node.start, end: node.end, replacement: encodeJsonString(text) });
  });
  return { body: edits.length > 0 ? applyEdits(body, edits) : body, trace, invalid };
}

function isJsonText(s: string): boolean {
  const c = s.trimStart()[0];
  if (c !== '{' && c !== '[') return false;
  try {
    JSON.parse(s);
    return true;
  } catch {
    return false;
  }
}
