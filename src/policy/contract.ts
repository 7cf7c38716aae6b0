// Function contracts: JSON Schema 2020-12 documents whose properties carry
// `x-classification`. A contract is compiled once, at policy load, into (1) an ajv
// validator, the single authority on what the contract admits (prohibited fields,
// types, required), and (2) a classification tree walked beside the document to find
// every classified value.

import { Ajv2020 } from 'ajv/dist/2020.js';
import type { ErrorObject, ValidateFunction } from 'ajv';
import { appendPointer } from '../payload/json.js';
import type { JsonNode } from '../payload/json.js';
import type { Direction, Finding } from './types.js';
import type { Levels } from './levels.js';

type Schema = Record<string, unknown>;

interface SchemaView {
  level?: string;
  detector?: string;
  properties: Map<string, SchemaView>;
  patterns: [RegExp, SchemaView][];
  additional?: SchemaView;
  items?: SchemaView;
  prefixItems: SchemaView[];
  /** Schemas that also apply to the same value: $ref, allOf, anyOf, oneOf, if/then/else. */
  alts: SchemaView[];
  /** This view and all its alts, transitively (computed once, on first use). */
  flat?: SchemaView[];
}

export interface ContractViolation {
  kind: 'prohibited_field' | 'contract_violation';
  path: string;
  keyword: string;
}

/** A classified value: the finding, and the node it was found at (to apply its action). */
export interface Classified extends Finding {
  node: JsonNode;
}

export interface CompiledContract {
  /** Where the contract came from, for messages: `<function> <direction> contract`. */
  name: string;
  /** The x-detector names the contract uses (rules may match them). */
  detectors: ReadonlySet<string>;
  validate(value: unknown): ContractViolation[];
  classify(root: JsonNode, direction: Direction, levels: Levels): Classified[];
}

export class ContractCompileError extends Error {
  constructor(
    message: string,
    readonly pointer: string,
  ) {
    super(message);
  }
}

const CLASSIFICATION_KEYWORDS = ['x-classification', 'x-detector', 'x-token-format'];

/** One ajv instance per policy load: every contract of the policy compiles into it. */
export function createAjv(): Ajv2020 {
  const ajv = new Ajv2020({
    allErrors: true,
    strict: true,
    strictTypes: false,
    strictTuples: false,
    // `format` is documentation in a contract; classification is by x-classification.
    validateFormats: false,
    // Contracts are trusted configuration; allErrors is still bounded by the body limit.
  });
  for (const keyword of CLASSIFICATION_KEYWORDS) ajv.addKeyword({ keyword, schemaType: 'string' });
  return ajv;
}

export function compileContract(
  ajv: Ajv2020,
  schema: Schema,
  name: string,
  levels: Levels,
): CompiledContract {
  let validator: ValidateFunction;
  try {
    validator = ajv.compile(schema);
  } catch (e) {
    throw new ContractCompileError((e as Error).message, '');
  }
  const memo = new Map<object, SchemaView>();
  const root = buildView(schema, schema, '', levels, memo);
  const detectors = new Set<string>();
  for (const v of memo.values()) if (v.detector !== undefined) detectors.add(v.detector);
  return {
    name,
    detectors,
    validate(value: unknown): ContractViolation[] {
      if (validator(value)) return [];
      return (validator.errors ?? []).map(toViolation);
    },
    classify(node: JsonNode, direction: Direction, lv: Levels): Classified[] {
      const out: Classified[] = [];
      walk(node, [root], undefined, undefined, '', direction, lv, out);
      return out;
    },
  };
}

function toViolation(e: ErrorObject): ContractViolation {
  const params = e.params as Record<string, unknown>;
  switch (e.keyword) {
    case 'additionalProperties':
      return {
        kind: 'prohibited_field',
        path: appendPointer(e.instancePath, String(params.additionalProperty)),
        keyword: e.keyword,
      };
    case 'unevaluatedProperties':
      return {
        kind: 'prohibited_field',
        path: appendPointer(e.instancePath, String(params.unevaluatedProperty)),
        keyword: e.keyword,
      };
    case 'required':
      return {
        kind: 'contract_violation',
        path: appendPointer(e.instancePath, String(params.missingProperty)),
        keyword: e.keyword,
      };
    default:
      return { kind: 'contract_violation', path: e.instancePath, keyword: e.keyword };
  }
}

function buildView(
  schema: unknown,
  root: Schema,
  pointer: string,
  levels: Levels,
  memo: Map<object, SchemaView>,
): SchemaView {
  const view: SchemaView = { properties: new Map(), patterns: [], prefixItems: [], alts: [] };
  if (typeof schema !== 'object' || schema === null) return view; // `true`/`false` schemas
  const known = memo.get(schema);
  if (known) return known;
  memo.set(schema, view);
  const s = schema as Schema;
  const sub = (v: unknown, p: string) => buildView(v, root, p, levels, memo);

  const level = s['x-classification'];
  if (typeof level === 'string') {
    if (!levels.has(level)) {
      throw new ContractCompileError(
        `unknown level "${level}" (levels: ${levels.names.join(', ')})`,
        `${pointer}/x-classification`,
      );
    }
    view.level = level;
  }
  if (typeof s['x-detector'] === 'string') view.detector = s['x-detector'];

  if (isObject(s.properties)) {
    for (const [k, v] of Object.entries(s.properties)) {
      view.properties.set(k, sub(v, `${pointer}/properties/${escape(k)}`));
    }
  }
  if (isObject(s.patternProperties)) {
    for (const [k, v] of Object.entries(s.patternProperties)) {
      view.patterns.push([new RegExp(k, 'u'), sub(v, `${pointer}/patternProperties/${escape(k)}`)]);
    }
  }
  if (isObject(s.additionalProperties)) {
    view.additional = sub(s.additionalProperties, `${pointer}/additionalProperties`);
  }
  if (Array.isArray(s.prefixItems)) {
    s.prefixItems.forEach((v, i) => view.prefixItems.push(sub(v, `${pointer}/prefixItems/${i}`)));
  }
  if (isObject(s.items)) view.items = sub(s.items, `${pointer}/items`);
  for (const key of ['allOf', 'anyOf', 'oneOf'] as const) {
    const list = s[key];
    if (Array.isArray(list))
      list.forEach((v, i) => view.alts.push(sub(v, `${pointer}/${key}/${i}`)));
  }
  for (const key of ['then', 'else'] as const) {
    if (isObject(s[key])) view.alts.push(sub(s[key], `${pointer}/${key}`));
  }
  if (typeof s.$ref === 'string') {
    view.alts.push(sub(resolveRef(root, s.$ref, pointer), s.$ref.slice(1)));
  }
  return view;
}

function resolveRef(root: Schema, ref: string, at: string): unknown {
  if (!ref.startsWith('#')) {
    throw new ContractCompileError(`only local $ref ("#/...") is supported, got "${ref}"`, at);
  }
  let cur: unknown = root;
  for (const raw of ref.slice(1).split('/').slice(1)) {
    const seg = decodeURIComponent(raw).replace(/~1/g, '/').replace(/~0/g, '~');
    if (!isObject(cur) || !(seg in cur)) {
      throw new ContractCompileError(`$ref "${ref}" does not resolve`, at);
    }
    cur = cur[seg];
  }
  return cur;
}

function flatten(view: SchemaView): SchemaView[] {
  if (view.flat) return view.flat;
  const seen = new Set<SchemaView>();
  const stack = [view];
  while (stack.length > 0) {
    const v = stack.pop() as SchemaView;
    if (seen.has(v)) continue;
    seen.add(v);
    stack.push(...v.alts);
  }
  view.flat = [...seen];
  return view.flat;
}

function walk(
  node: JsonNode,
  views: SchemaView[],
  inherited: string | undefined,
  inheritedDetector: string | undefined,
  path: string,
  direction: Direction,
  levels: Levels,
  out: Classified[],
): void {
  let level = inherited;
  let detector = inheritedDetector;
  const all: SchemaView[] = [];
  for (const v of views) all.push(...flatten(v));
  for (const v of all) {
    if (v.level !== undefined) level = level === undefined ? v.level : levels.max(level, v.level);
    if (v.detector !== undefined && detector === undefined) detector = v.detector;
  }

  switch (node.kind) {
    case 'object':
      for (const m of node.members) {
        const child: SchemaView[] = [];
        for (const v of all) {
          const p = v.properties.get(m.key);
          if (p) child.push(p);
          let matched = p !== undefined;
          for (const [re, pv] of v.patterns) {
            if (re.test(m.key)) {
              child.push(pv);
              matched = true;
            }
          }
          if (!matched && v.additional) child.push(v.additional);
        }
        walk(m.value, child, level, detector, appendPointer(path, m.key), direction, levels, out);
      }
      return;
    case 'array':
      node.items.forEach((item, i) => {
        const child: SchemaView[] = [];
        for (const v of all) {
          const p = v.prefixItems[i] ?? v.items;
          if (p) child.push(p);
        }
        walk(item, child, level, detector, appendPointer(path, i), direction, levels, out);
      });
      return;
    case 'null':
      return; // a null carries no value to protect
    default:
      if (level !== undefined && level !== levels.lowest) {
        const f: Classified = {
          direction,
          path,
          level,
          source: 'contract',
          span: { start: node.start, end: node.end },
          node,
        };
        if (detector !== undefined) f.detector = detector;
        out.push(f);
      }
  }
}

function isObject(v: unknown): v is Schema {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function escape(seg: string): string {
  return seg.replace(/~/g, '~0').replace(/\//g, '~1');
}
