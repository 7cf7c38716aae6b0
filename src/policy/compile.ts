// Policy documents (already parsed and validated) → one CompiledPolicy: per-route plans,
// compiled contracts and rules. Everything a request needs is built here, once per load;
// a request walks the compiled policy, never a document.

import { compileContract, ContractCompileError, createAjv } from './contract.js';
import type { CompiledContract } from './contract.js';
import type { CompiledRule, DecisionDefaults } from './decide.js';
import { CLEAR_THRESHOLD_LEVEL, DEFAULT_LEVELS, Levels } from './levels.js';
import type { ActionDoc, AnalyzerDoc, HoldDoc, PolicyDocument, RuleDoc } from './schema.js';
import type { Action, Direction } from './types.js';
import { BUILTIN_DETECTORS, compileDetectors, DetectorLevelError } from '../detect/index.js';
import type { CompiledDetectors, CustomDetectorConfig } from '../detect/index.js';
import type { FormatName } from '../payload/formats/types.js';
import { refusedHeader } from './headers.js';

export interface FunctionPlan {
  name: string;
  request?: CompiledContract;
  response?: CompiledContract;
}

/** What an analyzer's entity type becomes: a detector id and a level, as a detector hit. */
export interface EntityMapping {
  detector: string;
  level: string;
  /** Spans of this type scoring below are ignored. */
  minScore: number;
}

/**
 * An external analyzer (docs/analyzers.md): an HTTP service that finds entity spans in the
 * texts the detectors read. The policy only describes it; src/analyze calls it.
 */
export interface AnalyzerPlan {
  name: string;
  kind: 'presidio' | 'webhook';
  url: string;
  /** By entity type as the service names it. */
  entities: ReadonlyMap<string, EntityMapping>;
  /** presidio: the texts' language. */
  language: string;
  /** The lowest score asked for (presidio's score_threshold; the webhook's min_score). */
  scoreThreshold: number;
  /** For one body's analysis, waiting for a free slot included. */
  timeoutMs: number;
  maxConcurrency: number;
  onError: 'block' | 'allow_with_record';
  /** Its findings are recorded, never acted on. */
  monitor: boolean;
  cache: { ttlMs: number; maxEntries: number };
  /**
   * The settings above as one string: a reload that keeps them keeps the analyzer's client
   * (its connections, concurrency slots and cache).
   */
  key: string;
}

export const ANALYZER_DEFAULTS = {
  language: 'en',
  scoreThreshold: 0.5,
  timeoutMs: 200,
  maxConcurrency: 8,
  onError: 'block',
  cacheTtlMs: 30_000,
  cacheMaxEntries: 10_000,
} as const;

/** Longest analyzer timeout: far below Envoy's max_message_timeout (30 s shipped). */
export const ANALYZER_MAX_TIMEOUT_MS = 20_000;
/** Longest cache time: the cache is for a conversation's repeated turns, not for storage. */
const ANALYZER_MAX_CACHE_TTL_MS = 3_600_000;

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
  format: FormatName;
  /** The detectors this route runs over free text and untagged fields (none: undefined). */
  detectors?: CompiledDetectors;
  /** Groups whose requests get tokens restored (detokenize). */
  detokenize?: ReadonlySet<string>;
  /** Request and response headers whose values the detectors read (lower case). */
  inspectHeaders: readonly string[];
  /** External analyzers run over the texts the detectors read (none: undefined). */
  analyzers?: readonly AnalyzerPlan[];
  /** `mode: monitor`: findings are recorded, nothing is changed or refused. */
  monitor: boolean;
}

export interface CompiledPolicy {
  levels: Levels;
  routes: readonly RoutePlan[];
  routesByName: ReadonlyMap<string, RoutePlan>;
  functions: ReadonlyMap<string, FunctionPlan>;
  /** External analyzers by name (routes hold the ones they run). */
  analyzers: ReadonlyMap<string, AnalyzerPlan>;
  rules: readonly CompiledRule[];
  defaults: DecisionDefaults;
  /** Some rule tokenizes or some route detokenizes: token keys are required. */
  needsTokenKeys: boolean;
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
  const ladderDoc = withLevels[0];
  const ladder: readonly string[] = ladderDoc?.doc.levels ?? DEFAULT_LEVELS;
  const onLadder = new Set(ladder);

  const custom: CustomDetectorConfig[] = [];
  for (const { source, doc } of docs) {
    (doc.detectors?.custom ?? []).forEach((c, i) => {
      if (!onLadder.has(c.level)) {
        throw new PolicyCompileError(
          `unknown level "${c.level}"`,
          source,
          `/detectors/custom/${i}/level`,
        );
      }
      if (BUILTIN_LEVELS.has(c.id)) {
        throw new PolicyCompileError(
          `custom detector "${c.id}": the id is a built-in level name (detectors.levels would be ambiguous)`,
          source,
          `/detectors/custom/${i}/id`,
        );
      }
      custom.push(c);
    });
  }
  const analyzers = new Map<string, AnalyzerPlan>();
  for (const { source, doc } of docs) {
    for (const [name, a] of Object.entries(doc.analyzers ?? {})) {
      if (analyzers.has(name)) {
        throw new PolicyCompileError(
          `analyzer "${name}" is defined twice`,
          source,
          `/analyzers/${name}`,
        );
      }
      analyzers.set(name, compileAnalyzer(name, a, onLadder, source));
    }
  }
  const detectorIds = new Set([
    ...BUILTIN_DETECTORS.map((d) => d.id),
    ...custom.map((c) => c.id),
    ...[...analyzers.values()].flatMap((a) => [...a.entities.values()].map((e) => e.detector)),
  ]);
  const { levelMap, idLevels } = detectorLevels(docs, onLadder, detectorIds);
  const withPacks = docs.filter((d) => d.doc.detectors?.packs);
  if (withPacks.length > 1) {
    throw new PolicyCompileError(
      'detectors.packs may be set in one policy file only',
      (withPacks[1] as SourcedDocument).source,
      '/detectors/packs',
    );
  }
  const policyPacks = withPacks[0]?.doc.detectors?.packs;
  const levels = new Levels(ladder, levelMap[CLEAR_THRESHOLD_LEVEL]);
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

  try {
    // Custom patterns are compiled here (RE2): a bad one is a load error, not a request error.
    compileDetectors({ enabled: [], custom });
  } catch (e) {
    throw new PolicyCompileError(
      `custom detector: ${(e as Error).message}`,
      docs[0]?.source ?? '',
      '/detectors/custom',
    );
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
        format: r.format ?? 'json',
        inspectHeaders: r.inspect_headers ?? [],
        monitor: r.mode === 'monitor',
      };
      (r.inspect_headers ?? []).forEach((h, j) => {
        const why = refusedHeader(h);
        if (why) throw new PolicyCompileError(why, source, `${at}/inspect_headers/${j}`);
      });
      if (r.analyzers && r.analyzers.length > 0) {
        plan.analyzers = r.analyzers.map((name, j) => {
          const a = analyzers.get(name);
          if (!a)
            throw new PolicyCompileError(
              `unknown analyzer "${name}"`,
              source,
              `${at}/analyzers/${j}`,
            );
          return a;
        });
      }
      if (r.detokenize) plan.detokenize = new Set(r.detokenize.groups);
      const enabled = r.detectors?.enabled;
      if (enabled === undefined || enabled.length > 0) {
        for (const [id, level] of Object.entries(r.detectors?.levels ?? {})) {
          if (!levels.has(level)) {
            throw new PolicyCompileError(
              `unknown level "${level}"`,
              source,
              `${at}/detectors/levels/${id}`,
            );
          }
        }
        for (const id of [...(enabled ?? []), ...(r.detectors?.disabled ?? [])]) {
          if (!BUILTIN_IDS.has(id) && !custom.some((c) => c.id === id)) {
            throw new PolicyCompileError(`unknown detector "${id}"`, source, `${at}/detectors`);
          }
        }
        try {
          const packs = r.detectors?.packs ?? policyPacks;
          plan.detectors = compileDetectors({
            ...(enabled ? { enabled } : {}),
            ...(packs ? { packs } : {}),
            disabled: r.detectors?.disabled ?? [],
            levels: { ...idLevels, ...r.detectors?.levels },
            levelMap,
            ladder,
            custom,
          });
        } catch (e) {
          if (!(e instanceof DetectorLevelError)) throw e;
          throw unmappedLevel(e, ladder, levelMap, ladderDoc?.source ?? source);
        }
      }
      if (r.access?.sources) plan.sources = new Set(r.access.sources);
      if (r.match.path !== undefined) plan.path = r.match.path;
      if (r.match.path_prefix !== undefined) plan.pathPrefix = r.match.path_prefix;
      if (r.match.methods) plan.methods = new Set(r.match.methods);
      if (fn) plan.fn = fn;
      routes.push(plan);
      routesByName.set(r.name, plan);
    });
  }

  const contractDetectors = new Set<string>();
  for (const fn of functions.values()) {
    for (const c of [fn.request, fn.response])
      for (const d of c?.detectors ?? []) contractDetectors.add(d);
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
      rules.push(
        compileRule(
          r,
          levels,
          routesByName,
          functions,
          detectorIds,
          contractDetectors,
          source,
          `/rules/${i}`,
        ),
      );
    });
  }
  const needsTokenKeys =
    rules.some((r) => r.action.type === 'tokenize') ||
    defaults.action.type === 'tokenize' ||
    routes.some((r) => r.detokenize !== undefined);
  return {
    levels,
    routes,
    routesByName,
    functions,
    analyzers,
    rules,
    defaults,
    needsTokenKeys,
  };
}

const BUILTIN_IDS = new Set(BUILTIN_DETECTORS.map((d) => d.id));

function compileAnalyzer(
  name: string,
  a: AnalyzerDoc,
  onLadder: ReadonlySet<string>,
  source: string,
): AnalyzerPlan {
  const at = `/analyzers/${name}`;
  if (a.language !== undefined && a.kind !== 'presidio') {
    throw new PolicyCompileError(
      'language applies to presidio analyzers only',
      source,
      `${at}/language`,
    );
  }
  const scoreThreshold = a.score_threshold ?? ANALYZER_DEFAULTS.scoreThreshold;
  const entities = new Map<string, EntityMapping>();
  for (const [type, e] of Object.entries(a.entities)) {
    if (!onLadder.has(e.level)) {
      throw new PolicyCompileError(
        `unknown level "${e.level}"`,
        source,
        `${at}/entities/${type}/level`,
      );
    }
    entities.set(type, {
      detector: e.detector,
      level: e.level,
      minScore: Math.max(scoreThreshold, e.min_score ?? 0),
    });
  }
  const timeoutMs = durationMs(a.timeout ?? ANALYZER_DEFAULTS.timeoutMs);
  if (timeoutMs < 1 || timeoutMs > ANALYZER_MAX_TIMEOUT_MS) {
    throw new PolicyCompileError(
      `timeout must be between 1ms and ${ANALYZER_MAX_TIMEOUT_MS / 1000}s`,
      source,
      `${at}/timeout`,
    );
  }
  const ttlMs = durationMs(a.cache?.ttl ?? ANALYZER_DEFAULTS.cacheTtlMs);
  if (ttlMs > ANALYZER_MAX_CACHE_TTL_MS) {
    throw new PolicyCompileError('cache.ttl must be at most 1h', source, `${at}/cache/ttl`);
  }
  const plan: Omit<AnalyzerPlan, 'key'> = {
    name,
    kind: a.kind,
    url: a.url,
    entities,
    language: a.language ?? ANALYZER_DEFAULTS.language,
    scoreThreshold,
    timeoutMs,
    maxConcurrency: a.max_concurrency ?? ANALYZER_DEFAULTS.maxConcurrency,
    onError: a.on_error ?? ANALYZER_DEFAULTS.onError,
    monitor: a.mode === 'monitor',
    cache: { ttlMs, maxEntries: a.cache?.max_entries ?? ANALYZER_DEFAULTS.cacheMaxEntries },
  };
  return { ...plan, key: JSON.stringify({ ...plan, entities: [...entities] }) };
}

/** The level names the built-in detectors use (on the default ladder). */
const BUILTIN_LEVELS: ReadonlySet<string> = new Set(
  DEFAULT_LEVELS.filter((l) => BUILTIN_DETECTORS.some((d) => d.level === l)),
);

/**
 * The policy's `detectors.levels`, from every document: built-in level names → a level of
 * this ladder (levelMap), and detector ids → a level (idLevels).
 */
function detectorLevels(
  docs: readonly SourcedDocument[],
  onLadder: ReadonlySet<string>,
  detectorIds: ReadonlySet<string>,
): { levelMap: Record<string, string>; idLevels: Record<string, string> } {
  const levelMap: Record<string, string> = {};
  const idLevels: Record<string, string> = {};
  for (const { source, doc } of docs) {
    for (const [key, level] of Object.entries(doc.detectors?.levels ?? {})) {
      const at = `/detectors/levels/${key.replace(/~/g, '~0').replace(/\//g, '~1')}`;
      if (!onLadder.has(level))
        throw new PolicyCompileError(`unknown level "${level}"`, source, at);
      const isLevel = BUILTIN_LEVELS.has(key);
      if (!isLevel && !detectorIds.has(key)) {
        throw new PolicyCompileError(
          `"${key}" is neither a built-in level (${[...BUILTIN_LEVELS].join(', ')}) nor a detector`,
          source,
          at,
        );
      }
      const into = isLevel ? levelMap : idLevels;
      if (Object.hasOwn(into, key))
        throw new PolicyCompileError(`"${key}" is given a level twice`, source, at);
      into[key] = level;
    }
  }
  return { levelMap, idLevels };
}

/** A built-in detector's level that the policy's own ladder leaves out: a load error. */
function unmappedLevel(
  e: DetectorLevelError,
  ladder: readonly string[],
  levelMap: Readonly<Record<string, string>>,
  source: string,
): PolicyCompileError {
  const unmapped = [...BUILTIN_LEVELS].filter(
    (l) => !ladder.includes(l) && !Object.hasOwn(levelMap, l),
  );
  return new PolicyCompileError(
    `detector "${e.detector}" has level "${e.level}", which is not on this policy's ladder ` +
      `(${ladder.join(', ')}): map the built-in levels under detectors.levels ` +
      `(unmapped: ${unmapped.join(', ')}), e.g. ${e.level}: ${ladder[ladder.length - 1] ?? ''}`,
    source,
    '/levels',
  );
}

function list(v: string | string[] | undefined): string[] | undefined {
  return v === undefined ? undefined : Array.isArray(v) ? v : [v];
}

function compileRule(
  r: RuleDoc,
  levels: Levels,
  routes: ReadonlyMap<string, RoutePlan>,
  functions: ReadonlyMap<string, FunctionPlan>,
  detectorIds: ReadonlySet<string>,
  contractDetectors: ReadonlySet<string>,
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
  const ds = list(m.detectors);
  if (ds) {
    // Contract fields name their detector with x-detector, so any name can match a
    // contract finding; a name that is neither built in nor custom is still most likely a typo.
    for (const d of ds) {
      if (!detectorIds.has(d) && !contractDetectors.has(d)) {
        throw new PolicyCompileError(`unknown detector "${d}"`, source, `${at}/match/detectors`);
      }
    }
    rule.detectors = new Set(ds);
  }
  if (m.source !== undefined) rule.source = m.source;
  return rule;
}

/** `30m` → 1_800_000; integers are milliseconds already (the schema checked the form). */
export function durationMs(d: number | string): number {
  if (typeof d === 'number') return d;
  const m = /^(\d+)(ms|s|m|h)$/.exec(d);
  if (!m) throw new TypeError(`not a duration: ${d}`);
  const unit = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 }[m[2] as 'ms' | 's' | 'm' | 'h'];
  return Number(m[1]) * unit;
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
      return { type };
    case 'hold': {
      const h = a as HoldDoc;
      const expires = durationMs(h.expires ?? '30m');
      const wait = durationMs(h.wait ?? 0);
      if (expires < 1000)
        throw new PolicyCompileError('hold: expires must be at least 1s', source, `${at}/expires`);
      return {
        type: 'hold',
        approvers: h.approvers,
        min_approvals: h.min_approvals ?? 1,
        break_glass: h.break_glass ?? [],
        expires_ms: expires,
        wait_ms: wait,
      };
    }
  }
}
