// Finding the classified values of a parsed document: the route's format locates the calls,
// each call's document is checked and classified by its function's contract, and every other
// text goes to the detectors: string values, number literals (their digit text) and object
// keys. The walk that lists the texts (walkTree) is apart from the one function that scans a
// text at its place (scanText), which is the only caller of the detectors besides the
// stream's channels (detectText); hits become findings in one place (addHits).

import { CallguardError } from '../errors.js';
import { charBit } from '../detect/chars.js';
import { sortSmall } from '../detect/index.js';
import type { CompiledDetectors, DetectorHit } from '../detect/index.js';
import { ADAPTERS } from '../payload/formats/index.js';
import {
  appendPointer,
  keySegment,
  memberSegment,
  parseJson,
  pointerOf,
  toPlainValue,
  walkJson,
} from '../payload/json.js';
import type { JsonLoc, JsonNode, JsonNumber, JsonString } from '../payload/json.js';
import type { CompiledContract } from '../policy/contract.js';
import type { Levels } from '../policy/levels.js';
import type { Direction, Finding } from '../policy/types.js';
import type {
  AnalyzerHit,
  AnalyzerHits,
  Collected,
  InspectInput,
  Scope,
  Target,
  TextSite,
} from './types.js';

/** How many enclosing key names the detectors get as context. */
const CONTEXT_KEYS = 3;
/** Strings up to this length are scanned once per call per innermost key (Collected.memo). */
const MEMO_MAX_LENGTH = 64;

/** What one parsed document holds: its findings, where they sit, and the call ids it names. */
export interface TreeScan {
  top: Scope;
  collected: Collected;
  names: ReadonlyMap<string, string>;
}

/**
 * Finds every classified value in a parsed document: contracts at the call sites the route's
 * format locates, the detectors over every other text. Nodes under `exclude` are left to
 * the caller (streamed deltas).
 */
export function classifyTree(
  input: InspectInput,
  root: JsonNode,
  bytes: Uint8Array,
  exclude: Iterable<JsonNode> = [],
): TreeScan {
  const out: Collected = { findings: [], targets: [], memo: new Map() };
  const { top, names } = walkTree(input, root, bytes, exclude, out, (site) =>
    scanText(input, site, out),
  );
  if (out.hidden) hidePaths(out.findings, out.hidden);
  return { top, collected: out, names };
}

/**
 * A parsed document whose texts are listed but not yet scanned: what the external analyzers
 * are given (planInspection), before scanTree scans them with the analyzers' hits.
 */
export interface TreePlan {
  top: Scope;
  names: ReadonlyMap<string, string>;
  /** The contract findings and their targets, in document order. */
  contract: Collected;
  /** The texts the detectors read, in document order. */
  sites: TextSite[];
  /** For each site, how many contract findings come before it (to keep document order). */
  at: number[];
}

/** Lists the texts of a parsed document; contract checks and findings as classifyTree makes. */
export function planTree(
  input: InspectInput,
  root: JsonNode,
  bytes: Uint8Array,
  exclude: Iterable<JsonNode> = [],
): TreePlan {
  const contract: Collected = { findings: [], targets: [] };
  const sites: TextSite[] = [];
  const at: number[] = [];
  const { top, names } = walkTree(input, root, bytes, exclude, contract, (site) => {
    sites.push(site);
    at.push(contract.findings.length);
  });
  return { top, names, contract, sites, at };
}

/**
 * Scans a planned document's texts, each with the analyzers' hits in it: the same scan, and
 * findings in the same order, as classifyTree (which is this without analyzers).
 */
export function scanTree(
  input: InspectInput,
  plan: TreePlan,
  hits: AnalyzerHits | undefined,
): TreeScan {
  const out: Collected = { findings: [], targets: [], memo: new Map() };
  const { findings, targets } = plan.contract;
  let c = 0;
  const upTo = (n: number) => {
    for (; c < n; c++) {
      out.findings.push(findings[c]!);
      out.targets.push(targets[c]!);
    }
  };
  plan.sites.forEach((site, i) => {
    upTo(plan.at[i]!);
    scanText(input, site, out, hits?.get(site));
  });
  upTo(findings.length);
  return { top: plan.top, collected: out, names: plan.names };
}

/**
 * Walks a parsed document: contract findings go to `out` (a contract violation throws), and
 * each text the detectors are to read is handed to `visit`, in document order.
 */
export function walkTree(
  input: InspectInput,
  root: JsonNode,
  bytes: Uint8Array,
  exclude: Iterable<JsonNode>,
  out: Collected,
  visit: (site: TextSite) => void,
): { top: Scope; names: ReadonlyMap<string, string> } {
  const { policy } = input;
  const format = input.route.format;
  const scan = ADAPTERS[format].scan(root, input.direction, { names: input.names });
  const top: Scope = { bytes, prefix: '' };
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
      classifyDocument(input, top, site.args, site.path, contract, fnName, dir, out, visit);
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
      visit({
        kind: 'string',
        scope: top,
        node: str,
        text: str.value,
        base: site.path,
        loc: undefined,
        fn: fnName,
      });
      continue;
    }
    const scope: Scope = {
      bytes: inner,
      parent: { scope: top, node: str },
      prefix: `${site.path}#`,
    };
    classifyDocument(input, scope, doc, '', contract, fnName, dir, out, visit);
  }
  eachText(root, stop, top, '', undefined, visit);
  return { top, names: scan.names };
}

/** Validate a call's document against its contract, classify it, and list what is untagged. */
function classifyDocument(
  input: InspectInput,
  scope: Scope,
  doc: JsonNode,
  basePath: string,
  contract: CompiledContract | undefined,
  fnName: string | undefined,
  dir: Direction,
  out: Collected,
  visit: (site: TextSite) => void,
): void {
  const covered = new Set<JsonNode>();
  if (contract) {
    const violations = contract.validate(toPlainValue(doc));
    if (violations.length > 0) {
      const prohibited = violations.filter((v) => v.kind === 'prohibited_field');
      const chosen = prohibited.length > 0 ? prohibited : violations;
      const paths = [
        ...new Set(chosen.map((v) => scope.prefix + basePath + safePointer(input, doc, v.path))),
      ];
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
      out.targets.push({ kind: 'value', scope, node });
      covered.add(node);
    }
  }
  // Untagged texts go to the detectors, with their key names as context.
  eachText(doc, covered, scope, basePath, fnName, visit);
}

/**
 * Every text under `node` not under a node of `stop`, in document order: string values,
 * number literals and object keys (an object's keys come before its members' values).
 */
function eachText(
  node: JsonNode,
  stop: ReadonlySet<JsonNode>,
  scope: Scope,
  base: string,
  fn: string | undefined,
  visit: (site: TextSite) => void,
): void {
  walkJson(node, (n, loc) => {
    if (stop.size > 0 && stop.has(n)) return false;
    switch (n.kind) {
      case 'string':
        visit({ kind: 'string', scope, node: n, text: n.value, base, loc, fn });
        break;
      case 'number':
        visit({ kind: 'number', scope, node: n, text: digitText(n), base, loc, fn });
        break;
      case 'object': {
        const members = n.members;
        for (let i = 0; i < members.length; i++)
          visit({ kind: 'key', scope, object: n, index: i, text: members[i]!.key, base, loc, fn });
        break;
      }
    }
  });
}

/**
 * The digit text of a number: its spelling up to any fraction or exponent. Identifiers are
 * integers; `4111111111111111.0` is read as its integer part, `0.4111…` is not a card.
 */
function digitText(n: JsonNumber): string {
  const raw = n.raw;
  for (let i = 1; i < raw.length; i++) {
    const c = raw.charCodeAt(i);
    if (c === 0x2e || c === 0x65 || c === 0x45) return raw.slice(0, i);
  }
  return raw;
}

/** The nearest CONTEXT_KEYS member names above `loc`, outermost first. */
function keysOf(loc: JsonLoc | undefined): string[] {
  const keys: string[] = [];
  for (let l = loc; l && keys.length < CONTEXT_KEYS; l = l.up)
    if (typeof l.seg === 'string') keys.push(l.seg);
  return keys.reverse();
}

/**
 * What a text's detector verdict depends on besides the text: the nearest member name above
 * `loc` and the one above it (a `name` is a person's under `customer`, not under `tool`),
 * NUL-separated; '' when there is none.
 */
function verdictKey(loc: JsonLoc | undefined): string {
  let inner: string | undefined;
  for (let l = loc; l; l = l.up)
    if (typeof l.seg === 'string') {
      if (inner !== undefined) return `${l.seg}\0${inner}`;
      inner = l.seg;
    }
  return inner ?? '';
}

/**
 * The detectors' hits in `text` above the policy's lowest level: the one call of the
 * detectors, for texts in a document and for a stream's channels alike.
 */
export function detectText(
  input: Pick<InspectInput, 'route' | 'policy'>,
  text: string,
  keys: readonly string[],
  chars?: number,
  key?: boolean,
): readonly DetectorHit[] {
  const detectors = input.route.detectors;
  if (!detectors || text.length === 0) return NO_HITS;
  const hits = detectors.scan(text, { keys, chars, key });
  return hits.length === 0 ? hits : aboveLowest(hits, input.policy.levels.lowest);
}

const NO_HITS: readonly DetectorHit[] = [];

function aboveLowest(hits: DetectorHit[], lowest: string): readonly DetectorHit[] {
  for (let i = 0; i < hits.length; i++)
    if (hits[i]!.level === lowest) return hits.filter((h) => h.level !== lowest);
  return hits;
}

/**
 * The detectors' hits and the analyzers' in one text, non-overlapping, sorted by start. Where
 * spans overlap the detectors' own precedence decides (src/detect): higher level, then longer
 * span, then earlier start, then detector id, then score; a tie keeps the built-in detector's.
 * Analyzer hits at the lowest level are never findings, like the detectors'.
 */
export function mergeHits(
  builtin: readonly DetectorHit[],
  extra: readonly AnalyzerHit[],
  levels: Levels,
): readonly (DetectorHit | AnalyzerHit)[] {
  const cands: (DetectorHit | AnalyzerHit)[] = [...builtin];
  for (const h of extra) if (h.level !== levels.lowest && h.end > h.start) cands.push(h);
  if (cands.length === builtin.length) return builtin;
  const rank = (h: DetectorHit) => (levels.has(h.level) ? levels.rankOf(h.level) : -1);
  sortSmall(
    cands,
    (a, b) =>
      rank(b) - rank(a) ||
      b.end - b.start - (a.end - a.start) ||
      a.start - b.start ||
      (a.detector < b.detector ? -1 : a.detector > b.detector ? 1 : 0) ||
      b.score - a.score,
  );
  // Accepted spans, sorted by start; none overlaps another.
  const kept: (DetectorHit | AnalyzerHit)[] = [];
  for (const c of cands) {
    let lo = 0;
    let hi = kept.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (kept[mid]!.start < c.start) lo = mid + 1;
      else hi = mid;
    }
    if ((lo > 0 && kept[lo - 1]!.end > c.start) || (lo < kept.length && kept[lo]!.start < c.end))
      continue;
    kept.splice(lo, 0, c);
  }
  return kept;
}

/**
 * Scans one text at its place: each hit becomes a finding and the target its action edits.
 * `extra`: the external analyzers' hits in this text, merged with the detectors'.
 */
export function scanText(
  input: Pick<InspectInput, 'route' | 'policy' | 'direction'>,
  site: TextSite,
  out: Collected,
  extra?: readonly AnalyzerHit[],
): void {
  if (site.text.length === 0) return;
  let hits: readonly (DetectorHit | AnalyzerHit)[] = NO_HITS;
  if (input.route.detectors) hits = builtinHits(input, input.route.detectors, site, out);
  if (extra && extra.length > 0) hits = mergeHits(hits, extra, input.policy.levels);
  if (hits.length > 0) addHits(input, site, hits, out);
}

/** The built-in detectors' hits in a site's text (short texts remembered, see below). */
function builtinHits(
  input: Pick<InspectInput, 'route' | 'policy' | 'direction'>,
  detectors: CompiledDetectors,
  site: TextSite,
  out: Collected,
): readonly DetectorHit[] {
  const text = site.text;
  const chars = charsOf(site);
  const field = site.kind === 'field';
  const isKey = site.kind === 'key';
  if (
    (isKey && text.length <= MEMO_MAX_LENGTH) ||
    (site.kind === 'number' && text.length <= PLAIN_NUMBER_MAX_LENGTH)
  ) {
    // Only the detectors' verdict is remembered: hits from any other source join after.
    // A key and a value of one text are apart: `123` is a card code under `cvv`, not as a
    // key there.
    const plain = plainTexts(detectors);
    const context = isKey ? `\0key\0${verdictKey(site.loc)}` : verdictKey(site.loc);
    if (plain.byContext.get(context)?.has(text)) return NO_HITS;
    const hits = detectText(input, text, keysOf(site.loc), chars, isKey);
    if (hits.length === 0) remember(plain, context, text);
    return hits;
  }
  if (out.memo && text.length <= MEMO_MAX_LENGTH) {
    // Only the two innermost keys are context to the detectors' verdict.
    const key = field ? site.keys.slice(-2).join('\0') : verdictKey(site.loc);
    let byText = out.memo.get(key);
    if (!byText) out.memo.set(key, (byText = new Map<string, readonly DetectorHit[]>()));
    const known = byText.get(text);
    if (known) return known;
    const hits = detectText(input, text, field ? site.keys : keysOf(site.loc), chars);
    byText.set(text, hits);
    return hits;
  }
  return detectText(input, text, field ? site.keys : keysOf(site.loc), chars, isKey);
}

/** Which prefilter characters a site's text holds, when its reader knows (detect/chars.ts). */
function charsOf(site: TextSite): number | undefined {
  switch (site.kind) {
    case 'string':
      return site.node.chars;
    case 'key':
      return site.object.members[site.index]!.keyChars;
    case 'number': {
      // Digits, and a sign: ASCII, a few characters.
      let bits = 0;
      for (let i = 0; i < site.text.length; i++) bits |= charBit(site.text.charCodeAt(i));
      return bits;
    }
    case 'field':
      return undefined;
  }
}

/**
 * Key names, and short numbers, in which a route's detectors found nothing, by innermost
 * enclosing key: the same names ("role", "content", "type") and small numbers (an index, a
 * count, `max_tokens`) come back in every body, and a text without a hit is not a classified
 * value (a text with a hit is never kept). The detectors' verdict depends only on the text
 * and its context, so this changes no result. Per compiled detectors, so a policy reload
 * starts afresh; bounded, since the texts come from request data.
 */
interface PlainTexts {
  byContext: Map<string, Set<string>>;
  count: number;
}
const PLAIN_TEXTS = new WeakMap<CompiledDetectors, PlainTexts>();
const PLAIN_TEXTS_MAX = 4096;
/** Numbers up to this many characters (`-12345`) are remembered without a hit. */
const PLAIN_NUMBER_MAX_LENGTH = 6;

/** The texts remembered for `detectors`; a key and a number of one text and context are one scan. */
function plainTexts(detectors: CompiledDetectors): PlainTexts {
  let plain = PLAIN_TEXTS.get(detectors);
  if (!plain) PLAIN_TEXTS.set(detectors, (plain = { byContext: new Map(), count: 0 }));
  return plain;
}

/** Notes a text without a hit (never one with a hit); a full memory starts afresh. */
function remember(plain: PlainTexts, context: string, text: string): void {
  if (++plain.count > PLAIN_TEXTS_MAX) {
    plain.byContext.clear();
    plain.count = 0;
    return;
  }
  let names = plain.byContext.get(context);
  if (!names) plain.byContext.set(context, (names = new Set()));
  names.add(text);
}

/** A hit in a site's text, from the detectors or from any other source of hits. */
export interface TextHit {
  detector: string;
  level: string;
  /** UTF-16 offsets in the site's text. */
  start: number;
  end: number;
  /** The external analyzer that found it (src/analyze), when not a detector. */
  analyzer?: string;
}

/**
 * Turns hits in one site's text into findings and the targets their actions edit: the one
 * place this happens, for every kind of site and whatever found the hits.
 */
export function addHits(
  input: Pick<InspectInput, 'direction'>,
  site: TextSite,
  hits: readonly TextHit[],
  out: Collected,
): void {
  const at = sitePath(site, out);
  const span = siteSpan(site);
  for (const h of hits) {
    const f: Finding = {
      direction: input.direction,
      path: at,
      level: h.level,
      source: 'detector',
      detector: h.detector,
      span: span ?? { start: h.start, end: h.end },
    };
    if (site.fn !== undefined) f.function = site.fn;
    if ('analyzer' in h) f.analyzer = h.analyzer;
    out.findings.push(f);
    out.targets.push(targetAt(site, h.start, h.end));
  }
}

/** The target of the part [start, end) of a site's text. */
function targetAt(site: TextSite, start: number, end: number): Target {
  switch (site.kind) {
    case 'string':
      return { kind: 'span', scope: site.scope, node: site.node, start, end };
    case 'number':
      return { kind: 'number', scope: site.scope, node: site.node, start, end };
    case 'key':
      return {
        kind: 'key',
        scope: site.scope,
        object: site.object,
        index: site.index,
        start,
        end,
      };
    case 'field':
      return { kind: 'field', site, start, end };
  }
}

/** The byte span of a site's literal in its scope (a field's hit is its own span). */
function siteSpan(site: TextSite): { start: number; end: number } | undefined {
  switch (site.kind) {
    case 'string':
    case 'number':
      return { start: site.node.start, end: site.node.end };
    case 'key': {
      const k = site.object.members[site.index]!.keySpan;
      return { start: k.start, end: k.end };
    }
    case 'field':
      return undefined;
  }
}

/**
 * A site's finding path. A key is named by its position (`/by_contact/~key0`), never by
 * itself; its member is noted in `out.hidden`, so that paths through it get rewritten.
 */
function sitePath(site: TextSite, out: Collected): string {
  if (site.kind === 'field') return site.path;
  const at = site.scope.prefix + pointerOf(site.loc, site.base);
  if (site.kind !== 'key') return at;
  (out.hidden ??= []).push({
    plain: appendPointer(at, site.object.members[site.index]!.key),
    safe: `${at}/${memberSegment(site.index)}`,
  });
  return `${at}/${keySegment(site.index)}`;
}

/**
 * Rewrites every path through a member whose key was flagged to name the member by position
 * instead. Innermost members first: an outer member's plain pointer is a prefix of an inner
 * one's, and stays one after the inner one is rewritten.
 */
function hidePaths(findings: Finding[], hidden: readonly { plain: string; safe: string }[]): void {
  const order = [...hidden].sort((a, b) => b.plain.length - a.plain.length);
  for (const f of findings) {
    for (const h of order) {
      const p = f.path;
      if (
        p.startsWith(h.plain) &&
        (p.length === h.plain.length || p[h.plain.length] === '/' || p[h.plain.length] === '#')
      )
        f.path = h.safe + p.slice(h.plain.length);
    }
  }
}

/**
 * `pointer` (into `doc`) with each member whose key the detectors flag named by position: the
 * paths of an error, which a client and the record see. Steps the document does not have
 * (a missing required property: a contract's name) stay as they are.
 */
function safePointer(input: InspectInput, doc: JsonNode, pointer: string): string {
  if (pointer === '' || !input.route.detectors) return pointer;
  const segs = pointer.slice(1).split('/');
  let node: JsonNode | undefined = doc;
  const keys: string[] = [];
  let out = '';
  for (const raw of segs) {
    if (node?.kind === 'object') {
      const key = raw.replaceAll('~1', '/').replaceAll('~0', '~');
      const index = node.members.findIndex((m) => m.key === key);
      if (
        index >= 0 &&
        detectText(input, key, keys.slice(-CONTEXT_KEYS), undefined, true).length > 0
      ) {
        out += `/${memberSegment(index)}`;
      } else out += `/${raw}`;
      keys.push(key);
      node = index >= 0 ? node.members[index]!.value : undefined;
    } else {
      out += `/${raw}`;
      node = node?.kind === 'array' ? node.items[Number(raw)] : undefined;
    }
  }
  return out;
}

/**
 * A parse error's paths and message with every segment the detectors flag written `~hidden`:
 * the document could not be read, so its members have no position to name them by.
 */
export function safeParseError(input: InspectInput, e: CallguardError): CallguardError {
  if (!input.route.detectors || e.paths.length === 0) return e;
  let message = e.message;
  let changed = false;
  const paths = e.paths.map((p) => {
    if (p === '') return p;
    const keys: string[] = [];
    const safe =
      '/' +
      p
        .slice(1)
        .split('/')
        .map((raw) => {
          const seg = raw.replaceAll('~1', '/').replaceAll('~0', '~');
          const hit = detectText(input, seg, keys.slice(-CONTEXT_KEYS), undefined, true).length > 0;
          keys.push(seg);
          return hit ? HIDDEN_SEGMENT : raw;
        })
        .join('/');
    if (safe !== p) {
      changed = true;
      message = message.replaceAll(p, safe);
    }
    return safe;
  });
  if (!changed) return e;
  return new CallguardError(e.code, message, {
    paths,
    rule: e.rule,
    status: e.status,
    extra: e.extra,
    decision: e.decision,
  });
}

/** A flagged key in the path of a document that could not be read. */
const HIDDEN_SEGMENT = '~hidden';
