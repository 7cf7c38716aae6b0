// Policy documents (already parsed and validated) → one CompiledPolicy: per-route plans,
// compiled contracts and rules. Everything a request needs is built here, once per load;
// a request walks the compiled policy, never a document.

import { compileContract, ContractCompileError, createAjv } from './contract.js';
import type { CompiledContract } from './contract.js';
import type { CompiledRule, DecisionDefaults } from './decide.js';
import { DEFAULT_LEVELS, Levels } from './levels.js';
import type { ActionDoc, PolicyDocument, RuleDoc } from './schema.js';
import type { Action, Direction } from './types.js';

export interface FunctionPlan {
  name: string;
  request?: CompiledContract;
  response?: CompiledContract;
}

export interface RoutePlan {
  name: string;
  path?: string;
  pathPrefix?: string;
  methods?: ReadonlySet<string>;
  public: boolean;
  fn?: FunctionPlan;
  anonymous: boolean;
  requireGroups: readonly string[];
  /** Identity sources this route accepts (undefined = any configured). */
  sources?: ReadonlySet<string>;
  /** Remove the caller's `authorization` before the upstream. */
  stripAuthorization: boolean;
  /** Add x-callguard-subject / -groups / -auth-method for the upstream. */
  identityHeaders: boolean;
}

export interface CompiledPolicy {
  levels: Levels;
  routes: readonly RoutePlan[];
  routesByName: ReadonlyMap<string, RoutePlan>;
  functions: ReadonlyMap<string, FunctionPlan>;
  rules: readonly CompiledRule[];
  defaults: DecisionDefaults;
}

/** A compile problem, located by document and JSON Pointer; the loader adds file:line. */
export class PolicyCompileError extends Error {
  constructor(
    message: string,
    readonly source: string,
    readonly pointer: string,
  ) {
    super(message);
  }
}

export interface SourcedDocument {
  /** The file (or name) it came from. */
  source: string;
  doc: PolicyDocument;
}

/** Contract documents, by the reference a policy uses for them (resolved by the loader). */
export type ContractResolver = (
  ref: string,
  from: string,
) => { source: string; schema: Record<string, unknown> };

export function compilePolicy(
  docs: readonly SourcedDocument[],
  resolveContract: ContractResolver,
): CompiledPolicy {
  const withLevels = docs.filter((d) => d.doc.levels);
  if (withLevels.length > 1) {
    const second = withLevels[1] as SourcedDocument;
    throw new PolicyCompileError(
      'levels may be set in one policy file only',
      second.source,
      '/levels',
    );
  }
  const levels = new Levels(withLevels[0]?.doc.levels ?? DEFAULT_LEVELS);
  const ajv = createAjv();

  const functions = new Map<string, FunctionPlan>();
  for (const { source, doc } of docs) {
    for (const [name, f] of Object.entries(doc.functions ?? {})) {
      if (functions.has(name)) {
        throw new PolicyCompileError(
          `function "${name}" is defined twice`,
          source,
          `/functions/${name}`,
        );
      }
      const plan: FunctionPlan = { name };
      for (const dir of ['request', 'response'] as const) {
        const ref = f[dir];
        if (ref === undefined) continue;
        const c = resolveContract(ref, source);
        try {
          plan[dir] = compileContract(ajv, c.schema, `${name} ${dir} contract`, levels);
        } catch (e) {
          if (e instanceof ContractCompileError) {
            throw new PolicyCompileError(e.message, c.source, e.pointer);
          }
          throw e;
        }
      }
      functions.set(name, plan);
    }
  }

  const routes: RoutePlan[] = [];
  const routesByName = new Map<string, RoutePlan>();
  for (const { source, doc } of docs) {
    (doc.routes ?? []).forEach((r, i) => {
      const at = `/routes/${i}`;
      if (routesByName.has(r.name)) {
        throw new PolicyCompileError(`route "${r.name}" is defined twice`, source, `${at}/name`);
      }
      let fn: FunctionPlan | undefined;
      if (r.function !== undefined) {
        fn = functions.get(r.function);
        if (!fn) {
          throw new PolicyCompileError(
            `unknown function "${r.function}"`,
            source,
            `${at}/function`,
          );
        }
      }
      const plan: RoutePlan = {
        name: r.name,
        public: r.public ?? false,
        anonymous: r.access?.anonymous ?? false,
        requireGroups: r.access?.require_groups ?? [],
        stripAuthorization: r.upstream_headers?.strip_authorization ?? false,
        identityHeaders: r.upstream_headers?.identity ?? false,
      };
      if (r.access?.sources) plan.sources = new Set(r.access.sources);
      if (r.match.path !== undefined) plan.path = r.match.path;
      if (r.match.path_prefix !== undefined) plan.pathPrefix = r.match.path_prefix;
      if (r.match.methods) plan.methods = new Set(r.match.methods);
      if (fn) plan.fn = fn;
      routes.push(plan);
      routesByName.set(r.name, plan);
    });
  }

  const rules: CompiledRule[] = [];
  const ruleNames = new Set<string>();
  let defaults: DecisionDefaults = { action: { type: 'block' }, record: 'masked' };
  for (const { source, doc } of docs) {
    if (doc.defaults) {
      defaults = {
        action: doc.defaults.action
          ? toAction(doc.defaults.action, source, '/defaults/action')
          : defaults.action,
        record: doc.defaults.record ?? defaults.record,
      };
    }
    (doc.rules ?? []).forEach((r, i) => {
      if (ruleNames.has(r.name)) {
        throw new PolicyCompileError(
          `rule "${r.name}" is defined twice`,
          source,
          `/rules/${i}/name`,
        );
      }
      ruleNames.add(r.name);
      rules.push(compileRule(r, levels, routesByName, functions, source, `/rules/${i}`));
    });
  }
  return { levels, routes, routesByName, functions, rules, defaults };
}

function list(v: string | string[] | undefined): string[] | undefined {
  return v === undefined ? undefined : Array.isArray(v) ? v : [v];
}

function compileRule(
  r: RuleDoc,
  levels: Levels,
  routes: ReadonlyMap<string, RoutePlan>,
  functions: ReadonlyMap<string, FunctionPlan>,
  source: string,
  at: string,
): CompiledRule {
  const m = r.match ?? {};
  const rule: CompiledRule = {
    name: r.name,
    action: toAction(r.action, source, `${at}/action`),
    record: r.record ?? 'masked',
  };
  const lv = list(m.level);
  if (lv) {
    for (const l of lv) {
      if (!levels.has(l))
        throw new PolicyCompileError(`unknown level "${l}"`, source, `${at}/match/level`);
    }
    rule.levels = new Set(lv);
  }
  if (m.min_level !== undefined) {
    if (!levels.has(m.min_level)) {
      throw new PolicyCompileError(
        `unknown level "${m.min_level}"`,
        source,
        `${at}/match/min_level`,
      );
    }
    rule.minRank = levels.rankOf(m.min_level);
  }
  const dirs =
    m.direction === undefined
      ? undefined
      : Array.isArray(m.direction)
        ? m.direction
        : [m.direction];
  if (dirs) rule.directions = new Set<Direction>(dirs);
  const groups = list(m.groups);
  if (groups) rule.groups = new Set(groups);
  const notGroups = list(m.not_groups);
  if (notGroups) rule.notGroups = new Set(notGroups);
  const rs = list(m.routes);
  if (rs) {
    for (const n of rs) {
      if (!routes.has(n))
        throw new PolicyCompileError(`unknown route "${n}"`, source, `${at}/match/routes`);
    }
    rule.routes = new Set(rs);
  }
  const fs = list(m.functions);
  if (fs) {
    for (const n of fs) {
      if (!functions.has(n)) {
        throw new PolicyCompileError(`unknown function "${n}"`, source, `${at}/match/functions`);
      }
    }
    rule.functions = new Set(fs);
  }
  return rule;
}

function toAction(a: ActionDoc, source: string, at: string): Action {
  const type = typeof a === 'string' ? a : a.type;
  switch (type) {
    case 'allow':
    case 'redact':
    case 'block':
      return { type };
    case 'mask': {
      const o = typeof a === 'object' && a.type === 'mask' ? a : { type: 'mask' as const };
      return {
        type: 'mask',
        keep_first: o.keep_first ?? 0,
        keep_last: o.keep_last ?? 4,
        mask_char: o.mask_char ?? '*',
      };
    }
    case 'tokenize':
    case 'hold':
      // Planned actions: refusing them now is safer than silently treating them as allow.
      throw new PolicyCompileError(`action "${type}" is not available in this version`, source, at);
  }
}
