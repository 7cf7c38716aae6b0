// Property-based tests run with a fixed seed in `npm test`, so a failure reproduces; with
// CALLGUARD_LONG=1 they run fifty times as many cases (and a seed from CALLGUARD_SEED, when
// set, to explore further). fast-check prints the seed and path of any counterexample.
import fc from 'fast-check';

export const LONG = process.env.CALLGUARD_LONG === '1';
export const FUZZ_SEED = Number(process.env.CALLGUARD_SEED ?? 20261128);

/** The number of runs for a property: `n` in npm test, 50 × n with CALLGUARD_LONG=1. */
export function runs(n: number): number {
  return LONG ? n * 50 : n;
}

/** Every fc.assert without its own settings: the fixed seed, 100 runs (5,000 when long). */
export function configureFuzz(): void {
  fc.configureGlobal({ seed: FUZZ_SEED, numRuns: runs(100) });
}

/** Deterministic PRNG (mulberry32): seeded samples for campaigns and benchmark corpora. */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
