// Finding the classified values of a parsed document: the route's format locates the calls,
// each call's document is checked and classified by its function's contract, and every other
// text goes to the detectors. The walk that lists the texts (walkTree) is apart from the one
// function that scans a text at its place (scanText), which is the only caller of the
// detectors besides the stream's channels (detectText).

import { CallguardError } from '../errors.js';
import { sortSmall } from '../detect/index.js';
import type { DetectorHit } from '../detect/index.js';
import { ADAPTERS } from '../payload/formats/index.js';
import { parseJson, pointerOf, toPlainValue, walkJson } from '../payload/json.js';
import type { JsonLoc, JsonNode, JsonString } from '../payload/json.js';
import type { CompiledContract } from '../policy/contract.js';
import type { Levels } from '../policy/levels.js';
import type { Direction, Finding } from '../policy/types.js';
import type {
  AnalyzerHit,
  AnalyzerHits,
  Collected,
  InspectInput,
  Scope,
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
 * format locates, the detectors over every other string. Strings under `exclude` are left
 * to the caller (streamed deltas).
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
      visit(stringSite(top, str, site.path, undefined, fnName));
      continue;
    }
    const scope: Scope = {
      bytes: inner,
      parent: { scope: top, node: str },
      prefix: `${site.path}#`,
    };
    classifyDocument(input, scope, doc, '', contract, fnName, dir, out, visit);
  }
  eachString(root, stop, (node, loc) => visit(stringSite(top, node, '', loc, undefined)));
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
      out.targets.push({ kind: 'value', scope, node });
      covered.add(node);
    }
  }
  // Untagged strings go to the detectors, with their key names as context.
  eachString(doc, covered, (node, loc) => visit(stringSite(scope, node, basePath, loc, fnName)));
}

function stringSite(
  scope: Scope,
  node: JsonString,
  base: string,
  loc: JsonLoc | undefined,
  fn: string | undefined,
): TextSite {
  return { kind: 'string', scope, node, text: node.value, base, loc, fn };
}

/** Every string under `node` not under a node of `stop`, with its location. */
function eachString(
  node: JsonNode,
  stop: ReadonlySet<JsonNode>,
  visit: (n: JsonString, loc: JsonLoc | undefined) => void,
): void {
  walkJson(node, (n, loc) => {
    if (stop.size > 0 && stop.has(n)) return false;
    if (n.kind === 'string') visit(n, loc);
  });
}

/** The nearest CONTEXT_KEYS member names above `loc`, outermost first. */
function keysOf(loc: JsonLoc | undefined): string[] {
  const keys: string[] = [];
  for (let l = loc; l && keys.length < CONTEXT_KEYS; l = l.up)
    if (typeof l.seg === 'string') keys.push(l.seg);
  return keys.reverse();
}

/** The nearest member name above `loc`; '' when there is none. */
function innermostKey(loc: JsonLoc | undefined): string {
  for (let l = loc; l; l = l.up) if (typeof l.seg === 'string') return l.seg;
  return '';
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
): readonly DetectorHit[] {
  const detectors = input.route.detectors;
  if (!detectors || text.length === 0) return NO_HITS;
  const hits = detectors.scan(text, { keys, chars });
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
  input: InspectInput,
  site: TextSite,
  out: Collected,
  extra?: readonly AnalyzerHit[],
): void {
  const text = site.text;
  if (text.length === 0) return;
  let hits: readonly (DetectorHit | AnalyzerHit)[] = NO_HITS;
  if (input.route.detectors) hits = builtinHits(input, site, out);
  if (extra && extra.length > 0) hits = mergeHits(hits, extra, input.policy.levels);
  if (hits.length === 0) return;
  const at = site.scope.prefix + pointerOf(site.loc, site.base);
  const { node, scope } = site;
  for (const h of hits) {
    const f: Finding = {
      direction: input.direction,
      path: at,
      level: h.level,
      source: 'detector',
      detector: h.detector,
      span: { start: node.start, end: node.end },
    };
    if (site.fn !== undefined) f.function = site.fn;
    if ('analyzer' in h) f.analyzer = h.analyzer;
    out.findings.push(f);
    out.targets.push({ kind: 'span', scope, node, start: h.start, end: h.end });
  }
}

/** The built-in detectors' hits in a site's text (short texts memoized per call). */
function builtinHits(input: InspectInput, site: TextSite, out: Collected): readonly DetectorHit[] {
  const text = site.text;
  const chars = site.node.chars;
  let hits: readonly DetectorHit[];
  if (out.memo && text.length <= MEMO_MAX_LENGTH) {
    // Only the innermost key is context to the detectors.
    const key = innermostKey(site.loc);
    let byText = out.memo.get(key);
    if (!byText) out.memo.set(key, (byText = new Map()));
    const known = byText.get(text);
    if (known) hits = known;
    else byText.set(text, (hits = detectText(input, text, keysOf(site.loc), chars)));
  } else hits = detectText(input, text, keysOf(site.loc), chars);
  return hits;
}
