// Detectors: find sensitive values in free text and in untagged JSON string values.
//
// compileDetectors turns the policy's detector settings into one object whose scan() runs
// every enabled detector over a string: all regexes (built-in and RE2) are built here,
// once, none per scan. scan() is pure and synchronous and returns hits sorted by start
// and non-overlapping. Where candidates overlap, the winner is chosen deterministically:
// higher level, then longer span, then earlier start, then detector id (lexicographic).
// See docs/detectors.md.

import { DEFAULT_LEVELS } from '../policy/levels.js';
import { BUILTIN_SPECS } from './builtin.js';
import { CHAR_DIGIT, charBit } from './chars.js';
import { contextRegExp, digitWindows, nearContext, normalizeKey } from './context.js';
import type { Emit, FindEnv, Finder } from './context.js';
import { compileCustom } from './custom.js';
import type { CustomDetectorConfig } from './custom.js';

export type { CustomDetectorConfig } from './custom.js';

export interface DetectorHit {
  /** Detector id, e.g. 'card', 'ssn', 'email'. */
  detector: string;
  /** Classification level (after per-route overrides). */
  level: string;
  /** UTF-16 offsets into the scanned text, [start, end). */
  start: number;
  end: number;
  /** 0..1 confidence after context. */
  score: number;
}

/** Enclosing JSON key names, outermost first; the innermost one is context for the value. */
export interface ScanContext {
  keys: readonly string[];
  /**
   * Which of the prefilter characters (chars.ts) the text holds, when the caller read them
   * already (JsonString.chars); undefined or -1: not known, the scan looks for itself.
   */
  chars?: number | undefined;
}

export interface CompiledDetectors {
  /** Hits sorted by start, non-overlapping. */
  scan(text: string, ctx: ScanContext): DetectorHit[];
  /** The detectors this set runs, with their levels (for policy lint). */
  readonly active: readonly { id: string; level: string }[];
}

export interface BuiltinDetector {
  id: string;
  level: string;
  description: string;
}

export const BUILTIN_DETECTORS: readonly BuiltinDetector[] = Object.freeze(
  BUILTIN_SPECS.map((s) => Object.freeze({ id: s.id, level: s.level, description: s.description })),
);

export interface CompileDetectorsOptions {
  /** Only these ids (built-in or custom); default: every built-in and every custom. */
  enabled?: readonly string[];
  disabled?: readonly string[];
  /** Per-detector level overrides. */
  levels?: Readonly<Record<string, string>>;
  /**
   * A built-in detector's default level name (`internal`, `confidential`, `restricted`) →
   * the level it has on the policy's ladder; a `levels` entry for the detector wins.
   */
  levelMap?: Readonly<Record<string, string>>;
  custom: readonly CustomDetectorConfig[];
  /**
   * The level ladder, lowest first, used to rank overlapping hits (and to check level
   * names when given). Default: public < internal < confidential < restricted; a level
   * not on the default ladder then ranks below all of them.
   */
  ladder?: readonly string[];
  /**
   * Default true: the detectors of numbers scan only the windows around a text's digits.
   * false: they scan the whole text (the tests check both give the same hits).
   */
  digitWindows?: boolean;
  /**
   * Default true: a detector whose every value holds some literal (`@` for e-mail, `sk-` for
   * OpenAI keys…) is not run on a text without it. false: every detector runs on every text
   * (the tests check both give the same hits).
   */
  prefilter?: boolean;
}

/** A detector whose level is not on the ladder the detectors were compiled for. */
export class DetectorLevelError extends Error {
  constructor(
    readonly detector: string,
    readonly level: string,
    ladder: readonly string[],
  ) {
    super(`detector "${detector}": level "${level}" is not one of ${ladder.join(', ')}`);
  }
}

interface Active {
  id: string;
  level: string;
  rank: number;
  contextRe: RegExp | null;
  finder: Finder;
  minScore: number;
  needsDigit: boolean;
  /** Literals every value it finds holds (BuiltinSpec.requires); empty: no gate. */
  requires: readonly string[];
  /** The chars.ts bits of its digit and of the first characters of its literals. */
  bits: number;
}

interface Candidate {
  d: Active;
  start: number;
  end: number;
  score: number;
}

const DIGIT = /[0-9]/;
/** Distinct key names whose normalized form is kept. */
const KEY_CACHE_SIZE = 1024;

/** Built-in hits below this score are never reported. */
const BUILTIN_MIN_SCORE = 0.5;

export function compileDetectors(opts: CompileDetectorsOptions): CompiledDetectors {
  const custom = opts.custom ?? [];
  const builtinIds = new Set(BUILTIN_SPECS.map((s) => s.id));
  const compiledCustom = new Map<string, ReturnType<typeof compileCustom>>();
  for (const c of custom) {
    const compiled = compileCustom(c);
    if (builtinIds.has(c.id))
      throw new Error(`custom detector "${c.id}": the id is taken by a built-in detector`);
    if (compiledCustom.has(c.id)) throw new Error(`custom detector "${c.id}" is defined twice`);
    compiledCustom.set(c.id, compiled);
  }
  const known = (id: string): boolean => builtinIds.has(id) || compiledCustom.has(id);
  const checkIds = (what: string, ids: Iterable<string>): void => {
    for (const id of ids) if (!known(id)) throw new Error(`${what}: unknown detector "${id}"`);
  };
  if (opts.enabled) checkIds('detectors.enabled', opts.enabled);
  if (opts.disabled) checkIds('detectors.disabled', opts.disabled);
  if (opts.levels) checkIds('detectors.levels', Object.keys(opts.levels));

  const ladder = opts.ladder ?? DEFAULT_LEVELS;
  const rankOf = (id: string, level: string): number => {
    const r = ladder.indexOf(level);
    if (r < 0 && opts.ladder) throw new DetectorLevelError(id, level, ladder);
    return r;
  };

  const enabled = opts.enabled ? new Set(opts.enabled) : undefined;
  const disabled = new Set(opts.disabled ?? []);
  const on = (id: string): boolean => (enabled ? enabled.has(id) : true) && !disabled.has(id);
  const levelFor = (id: string, dflt: string, builtin: boolean): string => {
    const l = opts.levels && Object.hasOwn(opts.levels, id) ? opts.levels[id] : undefined;
    if (l !== undefined && (typeof l !== 'string' || l.length === 0))
      throw new Error(`detectors.levels: level of "${id}" must be a non-empty string`);
    const mapped =
      builtin && opts.levelMap && Object.hasOwn(opts.levelMap, dflt)
        ? opts.levelMap[dflt]
        : undefined;
    return l ?? mapped ?? dflt;
  };

  const active: Active[] = [];
  for (const s of BUILTIN_SPECS) {
    if (!on(s.id)) continue;
    const level = levelFor(s.id, s.level, true);
    active.push({
      id: s.id,
      level,
      rank: rankOf(s.id, level),
      contextRe: contextRegExp(s.context),
      finder: s.compile(),
      minScore: BUILTIN_MIN_SCORE,
      needsDigit: s.needsDigit === true,
      requires: opts.prefilter === false ? [] : (s.requires ?? []),
      bits: 0,
    });
  }
  for (const c of custom) {
    if (!on(c.id)) continue;
    const cc = compiledCustom.get(c.id);
    if (!cc) continue;
    const level = levelFor(c.id, c.level, false);
    active.push({
      id: c.id,
      level,
      rank: rankOf(c.id, level),
      contextRe: contextRegExp(c.context ?? []),
      finder: cc.finder,
      minScore: cc.minScore,
      needsDigit: false,
      requires: [],
      bits: 0,
    });
  }

  // The same few key names come back in every payload: normalize each once, and test it
  // against every detector's context words once. Bounded, since key names come from request
  // data.
  const keyCache = new Map<string, Uint8Array>();
  const noKey = new Uint8Array(active.length);
  const keyContexts = (k: string): Uint8Array => {
    let flags = keyCache.get(k);
    if (flags === undefined) {
      if (keyCache.size >= KEY_CACHE_SIZE) keyCache.clear();
      const n = normalizeKey(k);
      flags = new Uint8Array(active.length);
      if (n !== '')
        for (let i = 0; i < active.length; i++) {
          const re = active[i]!.contextRe;
          if (re !== null && re.test(n)) flags[i] = 1;
        }
      keyCache.set(k, flags);
    }
    return flags;
  };
  const anyDigit = active.some((d) => d.needsDigit);
  for (const d of active) {
    d.bits = d.needsDigit ? CHAR_DIGIT : 0;
    for (const l of d.requires) d.bits |= charBit(l.charCodeAt(0));
  }

  return {
    active: active.map((d) => ({ id: d.id, level: d.level })),
    scan(text: string, ctx: ScanContext): DetectorHit[] {
      if (typeof text !== 'string' || text.length === 0) return [];
      const keys = ctx?.keys ?? [];
      const keyFlags = keys.length > 0 ? keyContexts(String(keys[keys.length - 1])) : noKey;
      // Most prose has no digit: the detectors of numbers (cards, IBANs, SSNs, phones, IPs,
      // dates) then have nothing to find, and are not run.
      // Where there are digits, those detectors only scan the windows around them.
      // A caller that read the text already says which prefilter characters it holds.
      const chars = ctx?.chars !== undefined && ctx.chars >= 0 ? ctx.chars : -1;
      const firstDigit =
        anyDigit && (chars < 0 || (chars & CHAR_DIGIT) !== 0) ? text.search(DIGIT) : -1;
      const windows =
        firstDigit >= 0 && opts.digitWindows !== false ? digitWindows(text, firstDigit) : undefined;
      const cands: Candidate[] = [];
      // One environment and one emit per scan, pointed at each detector in turn (finders
      // are synchronous and keep neither).
      let d = active[0]!;
      const env = new Env(text);
      const emit: Emit = (start, end, score) => {
        if (start >= 0 && end > start && end <= text.length && score >= d.minScore)
          cands.push({ d, start, end, score });
      };
      for (let i = 0; i < active.length; i++) {
        d = active[i]!;
        if (d.needsDigit && firstDigit < 0) continue;
        if (chars >= 0 && (d.bits & chars) !== d.bits) continue;
        if (!holdsAll(text, d.requires)) continue;
        env.reset(keyFlags[i] === 1, d.contextRe, d.needsDigit ? windows : undefined);
        d.finder(env, emit);
      }
      return resolveOverlaps(cands);
    },
  };
}

/** Whether `text` holds every one of `literals`. */
function holdsAll(text: string, literals: readonly string[]): boolean {
  for (let i = 0; i < literals.length; i++) if (!text.includes(literals[i]!)) return false;
  return true;
}

/** What one detector sees of one scan (FindEnv), without a closure per scan. */
class Env implements FindEnv {
  keyContext = false;
  digitWindows: readonly (readonly [number, number])[] | undefined = undefined;
  private re: RegExp | null = null;
  private any: boolean | undefined = undefined;

  constructor(readonly text: string) {}

  /** Points the environment at the next detector of the scan. */
  reset(
    keyContext: boolean,
    re: RegExp | null,
    digitWindows: readonly (readonly [number, number])[] | undefined,
  ): void {
    this.keyContext = keyContext;
    this.re = re;
    this.digitWindows = digitWindows;
    this.any = undefined;
  }

  anyContext(): boolean {
    return (this.any ??= this.keyContext || (this.re !== null && this.re.test(this.text)));
  }

  context(start: number, end: number, lo?: number, hi?: number): boolean {
    return (
      this.keyContext || (this.re !== null && nearContext(this.re, this.text, start, end, lo, hi))
    );
  }
}

/** Higher level, then longer, then earlier, then id: negative when a beats b. */
function precedence(a: Candidate, b: Candidate): number {
  return (
    b.d.rank - a.d.rank ||
    b.end - b.start - (a.end - a.start) ||
    a.start - b.start ||
    (a.d.id < b.d.id ? -1 : a.d.id > b.d.id ? 1 : 0) ||
    b.score - a.score
  );
}

/**
 * Sorts in place, stable, like Array.prototype.sort (which it calls for long arrays): a
 * scan has a handful of candidates, and the built-in sort allocates its work space on
 * every call.
 */
export function sortSmall<T>(a: T[], cmp: (x: T, y: T) => number): void {
  if (a.length > 16) {
    a.sort(cmp);
    return;
  }
  for (let i = 1; i < a.length; i++) {
    const x = a[i]!;
    let j = i - 1;
    for (; j >= 0 && cmp(a[j]!, x) > 0; j--) a[j + 1] = a[j]!;
    a[j + 1] = x;
  }
}

function resolveOverlaps(cands: Candidate[]): DetectorHit[] {
  if (cands.length === 0) return [];
  sortSmall(cands, precedence);
  // Accepted spans, kept sorted by start; they never overlap each other.
  const kept: Candidate[] = [];
  for (const c of cands) {
    let lo = 0;
    let hi = kept.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if ((kept[mid] as Candidate).start < c.start) lo = mid + 1;
      else hi = mid;
    }
    const prev = kept[lo - 1];
    const next = kept[lo];
    if (prev && prev.end > c.start) continue;
    if (next && next.start < c.end) continue;
    kept.splice(lo, 0, c);
  }
  return kept.map((c) => ({
    detector: c.d.id,
    level: c.d.level,
    start: c.start,
    end: c.end,
    score: Math.round(c.score * 1000) / 1000,
  }));
}
