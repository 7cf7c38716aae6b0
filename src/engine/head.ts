// The head of an exchange: the request target's path segments and query parameters, and the
// headers a route names (inspect_headers), read by the detectors like the texts of a body,
// decided by the same rules, and masked by rewriting the target and setting the headers.
// Two steps, so a transport can record a safe target whatever happens after the reading:
// readHead (parse and scan; bad input throws) and decideHead (the policy's actions). Pure:
// strings in, strings out.

import { compileDetectors } from '../detect/index.js';
import type { CompiledDetectors } from '../detect/index.js';
import { fieldLabel, maskText, redactPlaceholder } from '../enforce/actions.js';
import { CallguardError } from '../errors.js';
import { keySegment, memberSegment } from '../payload/json.js';
import { parseTarget, rewriteTarget } from '../payload/url.js';
import type { ParsedTarget, UrlPart } from '../payload/url.js';
import type { RoutePlan } from '../policy/compile.js';
import { combineHolds } from '../policy/types.js';
import type { Decision, FindingDecision, HoldSpec } from '../policy/types.js';
import { replacer, spliceText, valueOf } from './apply.js';
import { scanText } from './classify.js';
import { judge } from './settle.js';
import type { Collected, FieldSite, InspectInput } from './types.js';

export interface HeadInput extends Omit<InspectInput, 'body' | 'maxDepth' | 'names'> {
  /** The request target (`:path` with its query): the request side only. */
  target?: string | undefined;
  /** The values of the headers the route names, by lower-case name. */
  headers: readonly (readonly [name: string, value: string])[];
  /** limits.max_url_bytes: a longer target is malformed_url. */
  maxUrlBytes: number;
  /** limits.max_header_bytes: a longer inspected header is header_too_large. */
  maxHeaderBytes: number;
}

/** What readHead found: the texts, their findings, and where they sit. */
export interface HeadScan {
  parsed: ParsedTarget | undefined;
  headers: readonly (readonly [string, string])[];
  collected: Collected;
  /** The target part or header name of each field site. */
  places: Map<FieldSite, UrlPart | string>;
}

/** Record forms: every value a detector found, as forwarded or else redacted. */
export interface HeadRecord {
  /** The target as a record may keep it (undefined: there was none). */
  target: string | undefined;
  /** The inspected headers as a record may keep them. */
  headers: Map<string, string>;
}

export interface HeadInspection {
  decision: Decision;
  /** The target to forward, when it changed. */
  target?: string;
  /** The inspected headers whose forwarded values changed. */
  headers: [name: string, value: string][];
  record: HeadRecord;
  /** For a held call: each held value masked for reviewers (keep last 2), by finding. */
  previews: ReadonlyMap<FindingDecision, string>;
}

/** Reads the target and the named headers; throws malformed_url or header_too_large. */
export function readHead(input: HeadInput): HeadScan {
  const out: Collected = { findings: [], targets: [], memo: new Map() };
  const places = new Map<FieldSite, UrlPart | string>();
  const fn = input.fn?.name;
  let parsed: ParsedTarget | undefined;
  if (input.target !== undefined) {
    parsed = parseTarget(input.target, input.maxUrlBytes);
    let previous: string | undefined;
    const names: string[] = [];
    const flagged = new Set<number>();
    for (const part of parsed.parts) {
      let path: string;
      let keys: string[];
      if (part.kind === 'segment') {
        // The segment before is the context (`/ssn/284565351`, `/customers/…/orders`).
        path = `:path/${part.index}`;
        keys = previous ? [previous] : [];
        previous = part.text;
      } else if (part.kind === 'name') {
        names[part.index] = part.text;
        path = `:path?${keySegment(part.index)}`;
        keys = [];
      } else {
        // A parameter is named by its name, unless the detectors flagged the name itself.
        path = flagged.has(part.index)
          ? `:path?${memberSegment(part.index)}`
          : `:path?${names[part.index] ?? ''}`;
        keys = [names[part.index] ?? ''];
      }
      const site: FieldSite = { kind: 'field', path, keys, text: part.text, fn };
      places.set(site, part);
      const before = out.findings.length;
      scanText(input, site, out);
      if (part.kind === 'name' && out.findings.length > before) flagged.add(part.index);
    }
  }
  for (const [name, value] of input.headers) {
    if (value.length > input.maxHeaderBytes) {
      throw new CallguardError(
        'header_too_large',
        `header ${name} is longer than ${input.maxHeaderBytes} bytes`,
        { rule: 'limits.max_header_bytes' },
      );
    }
    const site: FieldSite = {
      kind: 'field',
      path: `:headers/${name}`,
      keys: [name],
      text: value,
      fn,
    };
    places.set(site, name);
    scanText(input, site, out);
  }
  return { parsed, headers: input.headers, collected: out, places };
}

/**
 * Decides the findings of a scan and applies the actions. Throws CallguardError `blocked`
 * (carrying the decision) when a value's action is block.
 */
export function decideHead(input: HeadInput, scan: HeadScan): HeadInspection {
  const { findings, targets } = scan.collected;
  const { decision, actions } = judge(
    input,
    findings,
    (i) => valueOf(targets[i]!),
    'the request URL or headers',
  );
  const previews = new Map<FindingDecision, string>();
  if (decision.action === 'hold') {
    const holds: HoldSpec[] = [];
    for (const a of actions.values()) if (a.type === 'hold') holds.push(a);
    const hold = combineHolds(holds);
    if (hold) decision.hold = hold;
  }
  const replace = replacer(input.tokenizer);
  const forwarded = new Map<FieldSite, { start: number; end: number; text: string }[]>();
  const recorded = new Map<FieldSite, { start: number; end: number; text: string }[]>();
  decision.findings.forEach((f, i) => {
    const t = targets[i];
    const action = actions.get(f);
    if (!t || t.kind !== 'field' || !action) return;
    const original = valueOf(t);
    if (action.type === 'hold') {
      // Reviewers see what they approve, masked: enough to recognise, not to reuse.
      previews.set(
        f,
        maskText(original, { type: 'mask', keep_first: 0, keep_last: 2, mask_char: '*' }),
      );
    }
    const text =
      action.type === 'allow' || action.type === 'hold' ? original : replace(action, f, original);
    const sub = { start: t.start, end: t.end };
    if (text !== original) push(forwarded, t.site, { ...sub, text });
    // A value forwarded as it is (allowed, held) is recorded redacted.
    push(recorded, t.site, {
      ...sub,
      text: text !== original ? text : redactPlaceholder(f.level, fieldLabel(f.path, f.detector)),
    });
  });
  const edited = edit(scan, forwarded);
  const out: HeadInspection = {
    decision,
    headers: edited.headers,
    record: recordOf(scan, recorded),
    previews,
  };
  if (edited.target !== undefined && edited.target !== scan.parsed?.target)
    out.target = edited.target;
  return out;
}

/** The record forms of a scan whose findings were never decided: every value redacted. */
export function redactedHead(scan: HeadScan): HeadRecord {
  const recorded = new Map<FieldSite, { start: number; end: number; text: string }[]>();
  scan.collected.findings.forEach((f, i) => {
    const t = scan.collected.targets[i];
    if (t?.kind === 'field')
      push(recorded, t.site, {
        start: t.start,
        end: t.end,
        text: redactPlaceholder(f.level, fieldLabel(f.path, f.detector)),
      });
  });
  return recordOf(scan, recorded);
}

/** Built-in detectors, for a target no route covers (its record still hides values). */
let defaults: CompiledDetectors | undefined;

/**
 * A target as a record may keep it when it was never read on its route (the call was
 * refused first, or no route covers it): every value the route's detectors (else the
 * built-in ones) find redacted; undefined when the target cannot be read.
 */
export function redactedTarget(
  target: string,
  route: RoutePlan | undefined,
  input: Pick<InspectInput, 'policy'>,
  maxUrlBytes: number,
): string | undefined {
  const plan: RoutePlan = route ?? {
    name: '',
    public: false,
    anonymous: false,
    requireGroups: [],
    stripAuthorization: false,
    identityHeaders: false,
    format: 'json',
    inspectHeaders: [],
    monitor: false,
    detectors: (defaults ??= compileDetectors({ custom: [] })),
  };
  try {
    const scan = readHead({
      policy: input.policy,
      route: plan,
      fn: undefined,
      principal: { subject: '', groups: [], authMethod: 'anonymous' },
      direction: 'request',
      target,
      headers: [],
      maxUrlBytes,
      maxHeaderBytes: 0,
    });
    return redactedHead(scan).target;
  } catch (e) {
    if (e instanceof CallguardError) return undefined;
    throw e;
  }
}

function push<K, V>(map: Map<K, V[]>, key: K, v: V): void {
  const list = map.get(key);
  if (list) list.push(v);
  else map.set(key, [v]);
}

/** The target and headers with each site's parts replaced. */
function edit(
  scan: HeadScan,
  subs: Map<FieldSite, { start: number; end: number; text: string }[]>,
): { target: string | undefined; headers: [string, string][] } {
  const parts = new Map<UrlPart, string>();
  const headers: [string, string][] = [];
  for (const [site, list] of subs) {
    list.sort((a, b) => a.start - b.start);
    const text = spliceText(site.text, list);
    const place = scan.places.get(site);
    if (typeof place === 'string') headers.push([place, text]);
    else if (place) parts.set(place, text);
  }
  return { target: scan.parsed && rewriteTarget(scan.parsed, parts), headers };
}

function recordOf(
  scan: HeadScan,
  subs: Map<FieldSite, { start: number; end: number; text: string }[]>,
): HeadRecord {
  const edited = edit(scan, subs);
  const headers = new Map(scan.headers.map(([k, v]) => [k, v]));
  for (const [k, v] of edited.headers) headers.set(k, v);
  return { target: edited.target, headers };
}
