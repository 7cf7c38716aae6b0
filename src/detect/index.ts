// Detectors: find sensitive values in free text and in untagged JSON string values.
//
// compileDetectors turns the policy's detector settings into one object whose scan() runs
// every enabled detector over a string: all regexes (built-in and RE2) are built here,
// once, none per scan. scan() is pure and synchronous and returns hits sorted by start
// and non-overlapping. Where candidates overlap, the winner is chosen deterministically:
// higher level, then longer span, then earlier start, then detector id (lexicographic).
// See docs/detectors.md.

import { DEFAULT_LEVELS } from '../policy/levels.js';
import { BUILTIN_SPECS, PACK_NAMES } from './builtin.js';
import { CHAR_DIGIT, CHAR_NON_ASCII, charBit } from './chars.js';
import { cleanWords, contextRegExp, digitLayout, nearContext, normalizeKey } from './context.js';
import type { DigitLayout, Emit, FindEnv, Part } from './context.js';
import { compileCustom } from './custom.js';
import type { CustomDetectorConfig } from './custom.js';
import { normalizeText, PERCENT } from './normalize.js';
import type { NormalizedText } from './normalize.js';
import { LONG_TOKEN, UPPER_RUN } from './spec.js';
import type { BuiltinSpec, PackName } from './spec.js';

export type { CustomDetectorConfig, CustomValidator } from './custom.js';
export { CUSTOM_VALIDATORS } from './custom.js';
export type { BuiltinSpec, PackName } from './spec.js';
export { PACK_NAMES, PACKS } from './spec.js';

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
  /** The text is an object key, not the value of the field `keys` ends with. */
  key?: boolean | undefined;
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
  packs: readonly PackName[];
  description: string;
}

export const BUILTIN_DETECTORS: readonly BuiltinDetector[] = Object.freeze(
  BUILTIN_SPECS.map((s) =>
    Object.freeze({ id: s.id, level: s.level, packs: s.packs, description: s.description }),
  ),
);

/** `all` in a pack list: every pack. */
export const ALL_PACKS = 'all';

export interface CompileDetectorsOptions {
  /**
   * The built-in packs to run (PACKS; `all`: every one). Default: every pack. A custom
   * detector runs whatever the packs.
   */
  packs?: readonly string[];
  /** Only these ids (built-in or custom), whatever the packs. */
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
   * Default true: a detector is not run on a text that cannot hold what it finds (no digit,
   * no digit cluster as large as its values', no long token, a missing literal). false:
   * every detector runs on every text (the tests check both give the same hits).
   */
  prefilter?: boolean;
  /**
   * Default true: detectors other than the secrets' read the normalized view of a text
   * (normalize.ts). false: every detector reads the text as it is.
   */
  normalize?: boolean;
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
  /** Key-name words that take the key's context away (BuiltinSpec.antiContext). */
  antiRe: RegExp | null;
  finder: ReturnType<BuiltinSpec['compile']>;
  minScore: number;
  /** Reads the normalized view. */
  normalized: boolean;
  /** BuiltinSpec.generic: loses ties to specific detectors. */
  generic: boolean;
  needsDigit: boolean;
  minRun: number;
  /** Scans the tight windows (BuiltinSpec.nearDigits). */
  nearDigits: boolean;
  /** Index among the context-gated detectors (contextRequired and needsDigit), or -1. */
  gate: number;
  minDigits: number;
  longToken: boolean;
  upperRun: boolean;
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
/** A character outside ASCII. */
const NON_ASCII = /[^\0-\x7f]/;
/** Distinct key names whose normalized form is kept. */
const KEY_CACHE_SIZE = 1024;

/**
 * Texts up to this length skip the context gate: one regex of every gated detector's words
 * costs more than those detectors' own regexes over a short text.
 */
const GATE_MIN_LENGTH = 256;

/** Built-in hits below this score are never reported. */
const BUILTIN_MIN_SCORE = 0.5;

/** The characters of a long token (BuiltinSpec.longToken): A-Z a-z 0-9 _ - + / =. */
const TOKEN_CHAR = new Uint8Array(65536);
for (let c = 0; c < 128; c++)
  if (/[A-Za-z0-9_+/=-]/.test(String.fromCharCode(c))) TOKEN_CHAR[c] = 1;
/** Upper-case ASCII letters (BuiltinSpec.upperRun). */
const UPPER_CHAR = new Uint8Array(65536);
for (let c = 65; c <= 90; c++) UPPER_CHAR[c] = 1;

/** Whether `text` holds a run of LONG_TOKEN token characters. */
export function hasLongToken(text: string): boolean {
  return hasRun(text, TOKEN_CHAR, LONG_TOKEN);
}

/**
 * Whether `text` holds `run` characters of `table` in a row. Such a run covers one of the
 * positions run − 1, 2·run − 1, …: only those are looked at first.
 */
function hasRun(text: string, table: Uint8Array, run: number): boolean {
  const n = text.length;
  const half = run >> 1;
  for (let i = run - 1; i < n; i += run) {
    if (table[text.charCodeAt(i)] !== 1) continue;
    // A run of `run` around i also holds i − half or i + half: most words end before.
    if (table[text.charCodeAt(i - half)] !== 1 && table[text.charCodeAt(i + half)] !== 1) continue;
    let a = i;
    while (a > i - run + 1 && table[text.charCodeAt(a - 1)] === 1) a--;
    let b = i + 1;
    while (b < n && b - a < run && table[text.charCodeAt(b)] === 1) b++;
    if (b - a >= run) return true;
  }
  return false;
}

/** A built-in detector's regexes and finder: built once per process, shared by every set. */
interface CompiledBuiltin {
  contextRe: RegExp | null;
  antiRe: RegExp | null;
  finder: ReturnType<BuiltinSpec['compile']>;
}

const COMPILED = new Map<string, CompiledBuiltin>();

/**
 * The compiled form of `s`, shared: finders keep no state between calls (their global
 * regexes' lastIndex is reset on each use, and a scan is synchronous), so every route's
 * set uses the same regexes, which V8 compiles once.
 */
function compiledBuiltin(s: BuiltinSpec): CompiledBuiltin {
  let c = COMPILED.get(s.id);
  if (c === undefined)
    COMPILED.set(
      s.id,
      (c = {
        contextRe: contextRegExp(s.context),
        antiRe: contextRegExp(s.antiContext ?? []),
        finder: s.compile(),
      }),
    );
  return c;
}

let warmed = false;

/**
 * Runs every built-in detector over texts that reach its regexes, once per process, when
 * the first set is compiled (at policy load): V8 compiles a regex on its first run, and
 * the built-in detectors' regexes cost the first request ~150 ms otherwise.
 */
function warmUp(): void {
  if (warmed) return;
  warmed = true;
  const all = compileDetectors({ custom: [] });
  const token = 'Ab1'.repeat(14);
  const text = [
    ...BUILTIN_SPECS.flatMap((s) => [s.example, `${s.context[0] ?? ''} ${s.example}`]),
    ...BUILTIN_SPECS.flatMap((s) => s.requires ?? []).map((l) => `${l}${token}`),
    '４１１１ １１１１ １１１１ １１１１ 284–56–5351',
  ].join(' | ');
  for (let i = 0; i < 3; i++)
    for (const keys of [['note'], ['ssn'], ['password']]) all.scan(text, { keys });
}

export function compileDetectors(opts: CompileDetectorsOptions): CompiledDetectors {
  const set = compileSet(opts);
  warmUp();
  return set;
}

function compileSet(opts: CompileDetectorsOptions): CompiledDetectors {
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
  for (const p of opts.packs ?? [])
    if (p !== ALL_PACKS && !(PACK_NAMES as readonly string[]).includes(p))
      throw new Error(`detectors.packs: unknown pack "${p}" (packs: ${PACK_NAMES.join(', ')})`);

  const ladder = opts.ladder ?? DEFAULT_LEVELS;
  const rankOf = (id: string, level: string): number => {
    const r = ladder.indexOf(level);
    if (r < 0 && opts.ladder) throw new DetectorLevelError(id, level, ladder);
    return r;
  };

  const enabled = opts.enabled ? new Set(opts.enabled) : undefined;
  const disabled = new Set(opts.disabled ?? []);
  const packs =
    opts.packs === undefined || opts.packs.includes(ALL_PACKS) ? undefined : new Set(opts.packs);
  const builtinOn = (s: BuiltinSpec): boolean =>
    (enabled ? enabled.has(s.id) : !packs || s.packs.some((p) => packs.has(p))) &&
    !disabled.has(s.id);
  const customOn = (id: string): boolean => (enabled ? enabled.has(id) : true) && !disabled.has(id);
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
  const normalizeOn = opts.normalize !== false;
  const gates = opts.prefilter !== false;

  const active: Active[] = [];
  for (const s of BUILTIN_SPECS) {
    if (!builtinOn(s)) continue;
    const level = levelFor(s.id, s.level, true);
    active.push({
      id: s.id,
      level,
      rank: rankOf(s.id, level),
      ...compiledBuiltin(s),
      minScore: BUILTIN_MIN_SCORE,
      normalized: normalizeOn && s.view !== 'original',
      generic: s.generic === true,
      needsDigit: s.needsDigit === true,
      minRun: gates ? (s.minRun ?? 0) : 0,
      nearDigits: s.needsDigit === true && s.nearDigits === true,
      gate: gates && s.contextRequired === true && s.needsDigit === true ? 0 : -1,
      minDigits: gates ? (s.minDigits ?? 0) : 0,
      longToken: gates && s.longToken === true,
      upperRun: gates && s.upperRun === true,
      requires: gates ? (s.requires ?? []) : [],
      bits: 0,
    });
  }
  for (const c of custom) {
    if (!customOn(c.id)) continue;
    const cc = compiledCustom.get(c.id);
    if (!cc) continue;
    const level = levelFor(c.id, c.level, false);
    active.push({
      id: c.id,
      level,
      rank: rankOf(c.id, level),
      contextRe: contextRegExp(c.context ?? []),
      antiRe: null,
      finder: cc.finder,
      minScore: cc.minScore,
      normalized: normalizeOn,
      generic: false,
      needsDigit: false,
      minRun: 0,
      nearDigits: false,
      gate: -1,
      minDigits: 0,
      longToken: false,
      upperRun: false,
      requires: [],
      bits: 0,
    });
  }

  // The same few key names come back in every payload: normalize each once, and test it
  // against every detector's context words once. Bounded, since key names come from request
  // data.
  const keyCache = new Map<string, Uint8Array>();
  const noKey = new Uint8Array(active.length);
  let lastKey = '';
  let lastFlags: Uint8Array = noKey;
  const keyContexts = (k: string): Uint8Array => {
    // Consecutive strings mostly sit under the same key (`content`, `text`).
    if (k === lastKey) return lastFlags;
    let flags = keyCache.get(k);
    if (flags === undefined) {
      if (keyCache.size >= KEY_CACHE_SIZE) keyCache.clear();
      const n = normalizeKey(k);
      flags = new Uint8Array(active.length);
      if (n !== '')
        for (let i = 0; i < active.length; i++) {
          const { contextRe, antiRe } = active[i]!;
          // 1: the key is context; 2: the key says the value is something else.
          if (antiRe !== null && antiRe.test(n)) flags[i] = 2;
          else if (contextRe !== null && contextRe.test(n)) flags[i] = 1;
        }
      keyCache.set(k, flags);
    }
    lastKey = k;
    return (lastFlags = flags);
  };
  for (const d of active) {
    d.bits = d.needsDigit ? CHAR_DIGIT : 0;
    for (const l of d.requires) d.bits |= charBit(l.charCodeAt(0));
  }
  // The detectors a text with given prefilter bits can need (an ASCII text whose bits the
  // JSON reader recorded): most strings are short, and most detectors need a digit or a
  // character they lack. Indexes into `active`; 128 combinations at most, built on demand.
  // The digit detectors come apart by view, fewest digits first, so a scan stops at the
  // first that needs more digits in a row than the text has.
  const byBits = new Map<number, Plan>();
  const planOf = (keep: (d: Active) => boolean): Plan => {
    const all = [...active.keys()].filter((i) => keep(active[i]!));
    const digits = (normalized: boolean) =>
      Uint16Array.from(
        all
          .filter((i) => active[i]!.needsDigit && active[i]!.normalized === normalized)
          .sort((a, b) => active[a]!.minDigits - active[b]!.minDigits),
      );
    return {
      other: Uint16Array.from(all.filter((i) => !active[i]!.needsDigit)),
      digitsOriginal: digits(false),
      digitsNormalized: digits(true),
    };
  };
  const fullPlan = planOf(() => true);
  const planFor = (chars: number): Plan => {
    if (chars < 0 || (chars & CHAR_NON_ASCII) !== 0) return fullPlan;
    let plan = byBits.get(chars);
    if (plan === undefined) byBits.set(chars, (plan = planOf((d) => (d.bits & chars) === d.bits)));
    return plan;
  };
  const anyNormalized = active.some((d) => d.normalized);
  // The context-gated detectors: one regex holds all their words, so one pass over a text's
  // digit windows says which of them can find anything there.
  const gated = active.filter((d) => d.gate >= 0);
  gated.forEach((d, i) => (d.gate = i));
  const gate = contextGate(gated);
  const windowsOn = opts.digitWindows !== false;

  // The state of one scan, kept between scans (scan is synchronous: one at a time), so a
  // scan allocates no views, environment or closure: a short string costs little.
  const original = new View(windowsOn, gate);
  const normalizedView = new View(windowsOn, gate);
  const env = new Env();
  let norm: NormalizedText | undefined;
  let cands: Candidate[] = [];
  let d = active[0]!;
  let view = original;
  let flags: Uint8Array = noKey;
  const run = (i: number): void => {
    d = active[i]!;
    // normalizedView holds a text only while a scan has a normalized view.
    view = d.normalized && normalizedView.text !== '' ? normalizedView : original;
    if (!view.admits(d, flags[i] === 1)) return;
    env.reset(view, flags[i]!, d.contextRe, d);
    d.finder(env, emit);
  };
  /** The digit detectors of one view, fewest digits first, while the text has as many. */
  const runDigits = (list: Uint16Array, v: View): void => {
    if (list.length === 0 || v.text === '' || v.firstDigit() < 0) return;
    const most = v.maxCluster();
    for (let k = 0; k < list.length; k++) {
      const i = list[k]!;
      if (active[i]!.minDigits > most) return;
      run(i);
    }
  };
  const emit: Emit = (start, end, score) => {
    if (!(start >= 0 && end > start && end <= view.text.length && score >= d.minScore)) return;
    if (view !== original && norm) [start, end] = norm.original(start, end);
    cands.push({ d, start, end, score });
  };

  return {
    active: active.map((d) => ({ id: d.id, level: d.level })),
    scan(text: string, ctx: ScanContext): DetectorHit[] {
      if (typeof text !== 'string' || text.length === 0) return [];
      const keys = ctx?.keys ?? [];
      const keyFlags = keys.length > 0 ? keyContexts(String(keys[keys.length - 1])) : noKey;
      // A caller that read the text already says which prefilter characters it holds.
      const chars = ctx?.chars !== undefined && ctx.chars >= 0 ? ctx.chars : -1;
      original.reset(text, chars);
      // Look-alike characters are folded only where there are characters outside ASCII, and
      // percent-encoded ones decoded where there is a `%`: the view may then hold
      // characters (`@`) the text's own bits do not, so every detector runs.
      norm = undefined;
      const percent = anyNormalized && text.includes('%') && PERCENT.test(text);
      if (
        anyNormalized &&
        (percent || (chars >= 0 ? (chars & CHAR_NON_ASCII) !== 0 : NON_ASCII.test(text)))
      )
        norm = normalizeText(text);
      const normalized = norm ? normalizedView.reset(norm.text, -1) : original;
      cands = [];
      const plan = planFor(percent ? -1 : chars);
      flags = keyFlags;
      env.keys = keys;
      env.isKey = ctx?.key === true;
      for (let k = 0; k < plan.other.length; k++) run(plan.other[k]!);
      runDigits(plan.digitsOriginal, original);
      runDigits(plan.digitsNormalized, normalized);
      const hits = resolveOverlaps(cands);
      // Nothing of this text outlives the scan.
      cands = [];
      norm = undefined;
      original.reset('', -1);
      normalizedView.reset('', -1);
      env.keys = [];
      return hits;
    },
  };
}

/** A scan's detectors, as indexes into the active list (see planFor). */
interface Plan {
  other: Uint16Array;
  /** Digit detectors by view, fewest digits first. */
  digitsOriginal: Uint16Array;
  digitsNormalized: Uint16Array;
}

/** The context words of the context-gated detectors, in one regex (contextWordsRegExp). */
interface ContextGate {
  /** Lower-case first word of a context phrase → the gated detectors (gate indexes) it may serve. */
  firstWords: ReadonlyMap<string, readonly number[]>;
  /** The longest first word (and its plural): longer words are not looked up. */
  maxWord: number;
  /** Phrases in scripts written without spaces: found by `includes`, not by words. */
  unspaced: readonly { phrase: string; detectors: readonly number[] }[];
  size: number;
}

/** A run of letters and digits: the words of a text, as the gate reads them. */
const WORD = /[\p{L}\p{N}]+/gu;

/**
 * The gate of the context-gated detectors: the first word of each of their context
 * phrases. A word of the text that starts a phrase may be context (the detector's own
 * regex then checks the phrase and its boundaries): a superset, so nothing is skipped that
 * a detector would find; one pass over the words instead of a regex of every phrase.
 */
function contextGate(gated: readonly Active[]): ContextGate | undefined {
  if (gated.length === 0) return undefined;
  const firstWords = new Map<string, number[]>();
  const unspaced: { phrase: string; detectors: number[] }[] = [];
  for (const d of gated) {
    const spec = BUILTIN_SPECS.find((s) => s.id === d.id)!;
    for (const phrase of cleanWords(spec.context)) {
      const lower = phrase.toLowerCase();
      if (UNSPACED_SCRIPT.test(lower)) {
        unspaced.push({ phrase: lower, detectors: [d.gate] });
        continue;
      }
      const first = lower.split(/[^\p{L}\p{N}]+/u).find((w) => w.length > 0);
      if (first === undefined) continue;
      const list = firstWords.get(first) ?? [];
      if (!list.includes(d.gate)) list.push(d.gate);
      firstWords.set(first, list);
    }
  }
  const maxWord = Math.max(0, ...[...firstWords.keys()].map((w) => w.length)) + 1;
  return { firstWords, unspaced, size: gated.length, maxWord };
}

const UNSPACED_SCRIPT = /[\p{sc=Han}\p{sc=Hiragana}\p{sc=Katakana}\p{sc=Thai}\p{sc=Hangul}]/u;

/** One text a scan reads (the original or its normalized view), and what its gates know. */
class View {
  text = '';
  /** chars.ts bits of the text, or -1: not known. */
  private chars = -1;
  private first = -2;
  private layout: DigitLayout | undefined;
  private digitPartsCache: readonly Part[] | undefined;
  private tightPartsCache: readonly Part[] | undefined;
  private wholeCache: readonly Part[] | undefined;
  private longToken: boolean | undefined;
  private longDigitToken: boolean | undefined;
  private upperRun: boolean | undefined;
  private contextSeen: Uint8Array | undefined;

  constructor(
    private readonly windowsOn: boolean,
    private readonly gate: ContextGate | undefined,
  ) {}

  /** Points the view at the next text (forgetting all it knew of the last one). */
  reset(text: string, chars: number): this {
    this.text = text;
    this.chars = chars;
    this.first = -2;
    this.layout = undefined;
    this.digitPartsCache = undefined;
    this.tightPartsCache = undefined;
    this.wholeCache = undefined;
    this.longToken = undefined;
    this.longDigitToken = undefined;
    this.upperRun = undefined;
    this.contextSeen = undefined;
    return this;
  }

  /** The whole text as one part. */
  get whole(): readonly Part[] {
    return (this.wholeCache ??= [{ from: 0, text: this.text }]);
  }

  /**
   * Which context-gated detectors may have one of their words in the digit windows (word
   * boundaries are the detectors' own check). A finder looks for context at most 48
   * characters before and 32 after a candidate, and every candidate lies in a window that
   * reaches 64 characters around its digits: a word it could see is in a window.
   */
  private seen(): Uint8Array {
    if (this.contextSeen !== undefined) return this.contextSeen;
    const { firstWords, unspaced, size, maxWord } = this.gate!;
    const seen = new Uint8Array(size);
    for (const { text } of this.digitParts()) {
      WORD.lastIndex = 0;
      for (let m = WORD.exec(text); m !== null; m = WORD.exec(text)) {
        if (m[0].length > maxWord) continue;
        const w = m[0].toLowerCase();
        // A plural (`passports`) starts its phrase too.
        const ds =
          firstWords.get(w) ?? (w.endsWith('s') ? firstWords.get(w.slice(0, -1)) : undefined);
        if (ds) for (const i of ds) seen[i] = 1;
      }
      for (const u of unspaced)
        if (text.includes(u.phrase)) for (const i of u.detectors) seen[i] = 1;
    }
    return (this.contextSeen = seen);
  }

  /** Index of the first ASCII digit, -1 when none. */
  firstDigit(): number {
    if (this.first === -2)
      this.first =
        this.chars >= 0 && (this.chars & CHAR_DIGIT) === 0 ? -1 : this.text.search(DIGIT);
    return this.first;
  }

  /** The most digits in one cluster (context.ts CLUSTER_GAP); the text holds a digit. */
  maxCluster(): number {
    return this.digitLayout().maxCluster;
  }

  private digitLayout(): DigitLayout {
    return (this.layout ??= digitLayout(this.text, this.firstDigit()));
  }

  /** The parts a digit detector scans: the windows around the digits, or the whole text. */
  digitParts(): readonly Part[] {
    return (this.digitPartsCache ??= this.parts(this.digitLayout().windows));
  }

  /** The parts a nearDigits detector scans: the tight windows. */
  tightParts(): readonly Part[] {
    return (this.tightPartsCache ??= this.parts(this.digitLayout().tight));
  }

  private parts(w: readonly (readonly [number, number])[] | undefined): readonly Part[] {
    if (w === undefined || !this.windowsOn) return this.whole;
    return w.map(([from, to]) => ({ from, text: this.text.slice(from, to) }));
  }

  private longTokenAnywhere(): boolean {
    return (this.longToken ??= hasLongToken(this.text));
  }

  /** A long token in the digit windows: where a needsDigit detector's values are. */
  private longTokenNearDigits(): boolean {
    if (this.longDigitToken === undefined)
      this.longDigitToken = this.longToken ?? this.digitParts().some((p) => hasLongToken(p.text));
    return this.longDigitToken;
  }

  /** Whether detector `d` can find anything here (its gates, cheapest first). */
  admits(d: Active, keyContext: boolean): boolean {
    if (this.chars >= 0 && (d.bits & this.chars) !== d.bits) return false;
    if (d.needsDigit && this.firstDigit() < 0) return false;
    if (d.minDigits > 0 && this.digitLayout().maxCluster < d.minDigits) return false;
    if (d.minRun > 0 && this.digitLayout().maxRun < d.minRun) return false;
    for (let i = 0; i < d.requires.length; i++)
      if (!this.text.includes(d.requires[i]!)) return false;
    if (
      d.gate >= 0 &&
      !keyContext &&
      this.text.length > GATE_MIN_LENGTH &&
      this.seen()[d.gate] === 0
    )
      return false;
    if (d.longToken && !(d.needsDigit ? this.longTokenNearDigits() : this.longTokenAnywhere()))
      return false;
    if (d.upperRun && !(this.upperRun ??= hasRun(this.text, UPPER_CHAR, UPPER_RUN))) return false;
    return true;
  }
}

/** What one detector sees of one scan (FindEnv), without a closure per scan. */
class Env implements FindEnv {
  text = '';
  keys: readonly string[] = [];
  isKey = false;
  keyContext = false;
  keyAnti = false;
  parts: readonly Part[] = [];
  private re: RegExp | null = null;
  private any: boolean | undefined = undefined;

  /** Points the environment at the next detector of the scan. */
  reset(view: View, keyFlags: number, re: RegExp | null, d: Active): void {
    this.text = view.text;
    this.keyContext = keyFlags === 1;
    this.keyAnti = keyFlags === 2;
    this.re = re;
    this.parts = d.nearDigits ? view.tightParts() : d.needsDigit ? view.digitParts() : view.whole;
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

/**
 * Higher level, then longer, then earlier, then specific over generic, then id: negative
 * when a beats b.
 */
function precedence(a: Candidate, b: Candidate): number {
  return (
    b.d.rank - a.d.rank ||
    b.end - b.start - (a.end - a.start) ||
    a.start - b.start ||
    Number(a.d.generic) - Number(b.d.generic) ||
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
