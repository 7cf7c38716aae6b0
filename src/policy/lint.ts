// `callguard policy lint`: everything `serve` refuses (schema, unknown names, unknown
// levels in contracts: errors, from the loader), plus checks for policies that load but
// do not do what their author meant (warnings). Each diagnostic is located in its file:
// `file:line:col: severity: /json/pointer: message [code]`.
//
// The checks are a table (CHECKS): each entry has a code and a function from the loaded
// policy to problems. A new check, e.g. for detectors a route enables, is one more entry.
// Checks read the compiled policy and the documents; they never guess: a warning is given
// only when the problem holds for every possible request.

import { loadPolicySources, PolicyLoadError } from './load.js';
import type { LoadedPolicy } from './load.js';
import type { CompiledRule } from './decide.js';
import type { Levels } from './levels.js';
import { actionRank } from './types.js';

export type Severity = 'error' | 'warning';

export interface Diagnostic {
  file: string;
  line: number;
  col: number;
  severity: Severity;
  /** Stable id of the check (`load` for what serve refuses). */
  code: string;
  message: string;
}

/** A problem a check found: in which file (absolute), where (JSON Pointer), what. */
export interface Problem {
  source: string;
  pointer: string;
  message: string;
}

export interface LintCheck {
  code: string;
  severity: Severity;
  /** One line, for documentation. */
  summary: string;
  run(loaded: LoadedPolicy): Problem[];
}

export interface LintReport {
  diagnostics: Diagnostic[];
  /** Present when the policy loaded. */
  counts?: { routes: number; functions: number; rules: number };
}

/** Each compiled rule with the document and index it came from (compile keeps the order). */
function sourcedRules(loaded: LoadedPolicy): { rule: CompiledRule; source: string; at: string }[] {
  const out: { rule: CompiledRule; source: string; at: string }[] = [];
  let i = 0;
  for (const d of loaded.documents) {
    (d.doc.rules ?? []).forEach((_, j) => {
      const rule = loaded.policy.rules[i++];
      if (rule) out.push({ rule, source: d.source, at: `/rules/${j}` });
    });
  }
  return out;
}

/** The levels a rule's match admits that can be a finding (the lowest level never is). */
export function findingLevels(rule: CompiledRule, levels: Levels): Set<string> {
  const out = new Set<string>();
  for (const name of levels.names.slice(1)) {
    if (rule.levels && !rule.levels.has(name)) continue;
    if (rule.minRank !== undefined && levels.rankOf(name) < rule.minRank) continue;
    out.add(name);
  }
  return out;
}

const subset = <T>(a: ReadonlySet<T>, b: ReadonlySet<T>) => [...a].every((x) => b.has(x));

/** Why a rule can match no finding at all, or undefined if it can match one. */
export function matchesNothing(
  rule: CompiledRule,
  levels: Levels,
  isPublic: (route: string) => boolean,
): string | undefined {
  if (findingLevels(rule, levels).size === 0) {
    return `matches no level a value can be classified at (the lowest level, "${levels.lowest}", is never a finding)`;
  }
  if (rule.groups && rule.notGroups && subset(rule.groups, rule.notGroups)) {
    return 'matches no caller: every group in "groups" is also in "not_groups"';
  }
  if (rule.routes && [...rule.routes].every(isPublic)) {
    return 'names only public routes, whose bodies callguard never inspects';
  }
  return undefined;
}

/**
 * Does `s` match every (finding, caller, route) that `r` matches? Sound, not complete: true
 * only when it holds for every request.
 */
export function covers(s: CompiledRule, r: CompiledRule, levels: Levels): boolean {
  if (!subset(findingLevels(r, levels), findingLevels(s, levels))) return false;
  if (s.directions && !(r.directions && subset(r.directions, s.directions))) return false;
  if (s.routes && !(r.routes && subset(r.routes, s.routes))) return false;
  if (s.functions && !(r.functions && subset(r.functions, s.functions))) return false;
  if (s.groups) {
    // A caller r matches is in some group of r.groups that is not in r.notGroups.
    if (!r.groups) return false;
    const possible = new Set([...r.groups].filter((g) => !r.notGroups?.has(g)));
    if (!subset(possible, s.groups)) return false;
  }
  if (s.notGroups && !(r.notGroups && subset(s.notGroups, r.notGroups))) return false;
  return true;
}

export const CHECKS: readonly LintCheck[] = [
  {
    code: 'rule-matches-nothing',
    severity: 'warning',
    summary: 'a rule whose match no finding can satisfy',
    run(loaded) {
      const { policy } = loaded;
      const isPublic = (n: string) => policy.routesByName.get(n)?.public ?? false;
      return sourcedRules(loaded).flatMap(({ rule, source, at }) => {
        const why = matchesNothing(rule, policy.levels, isPublic);
        return why
          ? [{ source, pointer: `${at}/match`, message: `rule "${rule.name}" ${why}` }]
          : [];
      });
    },
  },
  {
    code: 'shadowed-rule',
    severity: 'warning',
    summary:
      'a rule that never decides: another rule matches every value it matches and wins (stricter action, or the same action earlier)',
    run(loaded) {
      const { policy } = loaded;
      const isPublic = (n: string) => policy.routesByName.get(n)?.public ?? false;
      const rules = sourcedRules(loaded);
      const out: Problem[] = [];
      rules.forEach((r, ri) => {
        if (matchesNothing(r.rule, policy.levels, isPublic)) return;
        for (const [si, s] of rules.entries()) {
          if (si === ri) continue;
          const sr = actionRank(s.rule.action.type);
          const rr = actionRank(r.rule.action.type);
          const wins = sr < rr || (sr === rr && si < ri);
          if (!wins || !covers(s.rule, r.rule, policy.levels)) continue;
          out.push({
            source: r.source,
            pointer: r.at,
            message:
              sr < rr
                ? `rule "${r.rule.name}" never decides: rule "${s.rule.name}" matches every value it matches and its action (${s.rule.action.type}) is stricter than ${r.rule.action.type}`
                : `rule "${r.rule.name}" never decides: rule "${s.rule.name}" comes first, matches every value it matches, with the same action (${s.rule.action.type})`,
          });
          return;
        }
      });
      return out;
    },
  },
  {
    code: 'detector-never-fires',
    severity: 'warning',
    summary:
      'an x-detector on a contract field classified at the lowest level, which is never a finding',
    run(loaded) {
      const lowest = loaded.policy.levels.lowest;
      const out: Problem[] = [];
      for (const [source, schema] of loaded.contracts) {
        walk(schema, '', (node, pointer) => {
          if (typeof node['x-detector'] === 'string' && node['x-classification'] === lowest) {
            out.push({
              source,
              pointer: `${pointer}/x-detector`,
              message: `detector "${node['x-detector']}" never fires: the field is classified "${lowest}", the lowest level, which is never a finding`,
            });
          }
        });
      }
      return out;
    },
  },
  {
    code: 'route-detector-never-fires',
    severity: 'warning',
    summary: 'a detector a route runs at the lowest level, whose hits are never findings',
    run(loaded) {
      const lowest = loaded.policy.levels.lowest;
      const out: Problem[] = [];
      for (const d of loaded.documents) {
        (d.doc.routes ?? []).forEach((r, i) => {
          const plan = loaded.policy.routesByName.get(r.name);
          for (const a of plan?.detectors?.active ?? []) {
            if (a.level !== lowest) continue;
            out.push({
              source: d.source,
              pointer: `/routes/${i}/detectors`,
              message: `route "${r.name}" runs detector "${a.id}" at "${lowest}", the lowest level: its hits are never findings (disable it instead)`,
            });
          }
        });
      }
      return out;
    },
  },
  {
    code: 'rule-detector-never-fires',
    severity: 'warning',
    summary: 'a rule naming detectors that no route it applies to runs and no contract names',
    run(loaded) {
      const { policy } = loaded;
      const fromContracts = new Set<string>();
      for (const fn of policy.functions.values()) {
        for (const c of [fn.request, fn.response])
          for (const id of c?.detectors ?? []) fromContracts.add(id);
      }
      const out: Problem[] = [];
      for (const { rule, source, at } of sourcedRules(loaded)) {
        if (!rule.detectors) continue;
        const routes = policy.routes.filter((r) => !rule.routes || rule.routes.has(r.name));
        const running = new Set(
          routes.flatMap((r) => [
            ...(r.detectors?.active ?? []).map((a) => a.id),
            ...(r.analyzers ?? []).flatMap((a) => [...a.entities.values()].map((e) => e.detector)),
          ]),
        );
        const dead = [...rule.detectors].filter((id) => !running.has(id) && !fromContracts.has(id));
        if (dead.length === rule.detectors.size) {
          out.push({
            source,
            pointer: `${at}/match/detectors`,
            message: `rule "${rule.name}" matches detectors (${dead.join(', ')}) that no route it applies to runs and no contract names: it never decides`,
          });
        }
      }
      return out;
    },
  },
  {
    code: 'analyzer-unused',
    severity: 'warning',
    summary: 'an analyzer no route runs',
    run(loaded) {
      const used = new Set(
        loaded.policy.routes.flatMap((r) => (r.analyzers ?? []).map((a) => a.name)),
      );
      const out: Problem[] = [];
      for (const d of loaded.documents) {
        for (const name of Object.keys(d.doc.analyzers ?? {})) {
          if (used.has(name)) continue;
          out.push({
            source: d.source,
            pointer: `/analyzers/${name}`,
            message: `analyzer "${name}" is defined, but no route runs it (routes[].analyzers)`,
          });
        }
      }
      return out;
    },
  },
];

function walk(
  node: unknown,
  pointer: string,
  visit: (node: Record<string, unknown>, pointer: string) => void,
): void {
  if (Array.isArray(node)) {
    node.forEach((v, i) => walk(v, `${pointer}/${i}`, visit));
    return;
  }
  if (typeof node !== 'object' || node === null) return;
  const obj = node as Record<string, unknown>;
  visit(obj, pointer);
  for (const [k, v] of Object.entries(obj)) {
    walk(v, `${pointer}/${k.replace(/~/g, '~0').replace(/\//g, '~1')}`, visit);
  }
}

/** Load the policy as serve does, then run every check. */
export function lintPolicy(
  paths: readonly string[],
  cwd = process.cwd(),
  checks: readonly LintCheck[] = CHECKS,
): LintReport {
  let loaded: LoadedPolicy;
  try {
    loaded = loadPolicySources(paths, cwd);
  } catch (e) {
    if (!(e instanceof PolicyLoadError)) throw e;
    return {
      diagnostics: [
        {
          file: e.file,
          line: e.line,
          col: e.col,
          severity: 'error',
          code: 'load',
          message: e.problem,
        },
      ],
    };
  }
  const diagnostics: Diagnostic[] = [];
  for (const check of checks) {
    for (const p of check.run(loaded)) {
      const at = loaded.locate(p.source, p.pointer);
      diagnostics.push({
        ...at,
        severity: check.severity,
        code: check.code,
        message: `${p.pointer}: ${p.message}`,
      });
    }
  }
  diagnostics.sort((a, b) =>
    a.file === b.file ? a.line - b.line || a.col - b.col : a.file < b.file ? -1 : 1,
  );
  const { policy } = loaded;
  return {
    diagnostics,
    counts: {
      routes: policy.routes.length,
      functions: policy.functions.size,
      rules: policy.rules.length,
    },
  };
}

export function formatDiagnostic(d: Diagnostic): string {
  return `${d.file}:${d.line}:${d.col}: ${d.severity}: ${d.message} [${d.code}]`;
}
