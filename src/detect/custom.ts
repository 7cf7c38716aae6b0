// Custom detectors from the policy (`detectors.custom[]`). Their patterns are user input, so
// they are compiled with RE2 (the `re2` addon: linear-time matching, no look-around, no
// back-references) and never with V8's backtracking engine. Everything is checked and
// compiled here, when the policy loads; a bad pattern is an Error then, never at request time.

import { createRequire } from 'node:module';
import type { Finder } from './context.js';
import {
  damm,
  ibanValid,
  iso7064Mod11_10,
  iso7064Mod11_2,
  iso7064Mod97_10,
  luhn,
  verhoeff,
} from './validators.js';

// `re2` is a CommonJS addon (`export =`), loaded on first use: a policy without custom
// detectors does not need the native module at all.
// eslint-disable-next-line @typescript-eslint/consistent-type-imports -- a type-only default import of an `export =` module needs allowSyntheticDefaultImports
type RE2Constructor = typeof import('re2');
type RE2 = InstanceType<RE2Constructor>;
let re2Constructor: RE2Constructor | undefined;
function loadRe2(): RE2Constructor {
  return (re2Constructor ??= createRequire(import.meta.url)('re2') as RE2Constructor);
}

export interface CustomDetectorConfig {
  id: string;
  level: string;
  /** RE2 syntax. */
  pattern?: string;
  /** Deny-list of words or phrases: case-insensitive, on word boundaries. */
  dictionary?: string[];
  /** Words that raise the score when near the match or in the JSON key name. */
  context?: string[];
  /** Only a hit when a context word is present. */
  context_required?: boolean;
  /** 0..1; hits scoring lower are dropped. */
  min_score?: number;
  /**
   * A check the match must pass, over its letters and digits (spaces, `-`, `.` and `/`
   * dropped, letters upper-cased): see CUSTOM_VALIDATORS.
   */
  validate?: CustomValidator;
  /** Values never reported (compared without spaces, `-`, `.`, `/`, case-insensitively). */
  exclude?: string[];
  /** RE2: a match this pattern matches whole is never reported. */
  exclude_pattern?: string;
}

/** The checks a custom detector's `validate` names, over the match's compacted characters. */
export const CUSTOM_VALIDATORS = {
  /** Luhn (mod 10), digits only: cards, IMEIs, many account numbers. */
  luhn: (s: string) => /^\d+$/.test(s) && luhn(s),
  /** Verhoeff, digits only. */
  verhoeff: (s: string) => verhoeff(s),
  /** Damm, digits only. */
  damm: (s: string) => damm(s),
  /** ISO 7064 MOD 11-2: digits and a final check character 0–9 or X. */
  mod11: (s: string) => iso7064Mod11_2(s),
  /** ISO 7064 MOD 11,10, digits only. */
  mod11_10: (s: string) => iso7064Mod11_10(s),
  /** ISO 7064 MOD 97-10 over digits and letters (A = 10 … Z = 35): remainder 1. */
  mod97: (s: string) => iso7064Mod97_10(s),
  /** A whole IBAN: country length and ISO 13616 mod-97. */
  iban: (s: string) => ibanValid(s),
} as const satisfies Record<string, (compact: string) => boolean>;
export type CustomValidator = keyof typeof CUSTOM_VALIDATORS;

/** A value as exclusions compare it: no separators, one case. */
function exclusionKey(s: string): string {
  return s.replace(/[\s./-]/g, '').toLowerCase();
}

/** Score of a custom hit without and with context. */
export const CUSTOM_SCORE = 0.6;
export const CUSTOM_SCORE_WITH_CONTEXT = 0.9;

export const DETECTOR_ID = /^[a-z][a-z0-9_]{0,63}$/;

export interface CompiledCustom {
  finder: Finder;
  minScore: number;
}

function fail(id: string, msg: string): never {
  throw new Error(`custom detector "${id}": ${msg}`);
}

function compileRe2(id: string, what: string, source: string, nonEmpty = true): RE2 {
  const RE2 = loadRe2();
  let re: RE2;
  try {
    re = new RE2(source, 'gu');
  } catch (e) {
    fail(id, `${what} is not valid RE2 syntax: ${(e as Error).message}`);
  }
  if (nonEmpty && re.test('')) fail(id, `${what} matches the empty string`);
  re.lastIndex = 0;
  return re;
}

const RE2_META = /[.*+?^${}()|[\]\\]/g;
const WORD_CHAR = /[\p{L}\p{N}_]/u;

/** Step past the code point at `i` (never into the middle of a surrogate pair). */
function nextIndex(text: string, i: number): number {
  const c = text.codePointAt(i);
  return i + (c !== undefined && c > 0xffff ? 2 : 1);
}

export function compileCustom(cfg: CustomDetectorConfig): CompiledCustom {
  const id = cfg.id;
  if (typeof id !== 'string' || !DETECTOR_ID.test(id))
    throw new Error(`custom detector id ${JSON.stringify(id)} must match ${DETECTOR_ID.source}`);
  if (typeof cfg.level !== 'string' || cfg.level.length === 0) fail(id, 'level is required');
  const dictionary = cfg.dictionary ?? [];
  if (cfg.pattern === undefined && dictionary.length === 0)
    fail(id, 'needs a pattern or a non-empty dictionary');
  const minScore = cfg.min_score ?? 0;
  if (typeof minScore !== 'number' || !(minScore >= 0 && minScore <= 1))
    fail(id, 'min_score must be a number from 0 to 1');
  const context = cfg.context ?? [];
  if (cfg.context_required === true && context.length === 0)
    fail(id, 'context_required needs context words');
  const contextRequired = cfg.context_required === true;
  let validate: ((compact: string) => boolean) | undefined;
  if (cfg.validate !== undefined) {
    if (!Object.hasOwn(CUSTOM_VALIDATORS, cfg.validate))
      fail(id, `validate must be one of ${Object.keys(CUSTOM_VALIDATORS).join(', ')}`);
    validate = CUSTOM_VALIDATORS[cfg.validate];
  }
  const excluded = new Set((cfg.exclude ?? []).map(exclusionKey));
  const excludeRe =
    cfg.exclude_pattern !== undefined
      ? compileRe2(id, 'exclude_pattern', `^(?:${cfg.exclude_pattern})$`, false)
      : undefined;
  /** A match that is reported: it passes the check and no exclusion names it. */
  const keep = (value: string): boolean => {
    if (validate && !validate(value.replace(/[\s./-]/g, '').toUpperCase())) return false;
    if (excluded.size > 0 && excluded.has(exclusionKey(value))) return false;
    if (excludeRe) {
      excludeRe.lastIndex = 0;
      if (excludeRe.test(value)) return false;
    }
    return true;
  };

  const matchers: { re: RE2; boundaries: boolean }[] = [];
  if (cfg.pattern !== undefined) {
    if (typeof cfg.pattern !== 'string' || cfg.pattern.length === 0)
      fail(id, 'pattern must be a non-empty string');
    matchers.push({ re: compileRe2(id, 'pattern', cfg.pattern), boundaries: false });
  }
  if (dictionary.length > 0) {
    const words = dictionary.map((w) => (typeof w === 'string' ? w.trim() : ''));
    if (words.some((w) => w.length === 0)) fail(id, 'dictionary entries must be non-empty strings');
    // Longest first: RE2 alternation is leftmost-first, so a phrase wins over its prefix.
    const alts = [...new Set(words)]
      .sort((a, b) => b.length - a.length)
      .map((w) =>
        w
          .split(/\s+/)
          .map((p) => p.replace(RE2_META, '\\$&'))
          .join('\\s+'),
      );
    matchers.push({
      re: compileRe2(id, 'dictionary', `(?i)(?:${alts.join('|')})`),
      boundaries: true,
    });
  }

  const finder: Finder = (env, emit) => {
    const text = env.text;
    for (const { re, boundaries } of matchers) {
      re.lastIndex = 0;
      for (let m = re.exec(text); m !== null; m = re.exec(text)) {
        const start = m.index;
        const end = start + m[0].length;
        if (end === start) {
          re.lastIndex = nextIndex(text, start);
          continue;
        }
        if (boundaries) {
          const before = start > 0 && WORD_CHAR.test(text.slice(start - 1, start));
          const after = end < text.length && WORD_CHAR.test(text.slice(end, end + 1));
          if (before || after) {
            re.lastIndex = nextIndex(text, start);
            continue;
          }
        }
        const ctx = env.context(start, end);
        if (contextRequired && !ctx) continue;
        if (!keep(m[0])) continue;
        emit(start, end, ctx ? CUSTOM_SCORE_WITH_CONTEXT : CUSTOM_SCORE);
      }
    }
  };
  return { finder, minScore };
}
