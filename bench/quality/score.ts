// Scoring the evaluation set: our engine's findings (through inspect(), the real engine)
// and any other analyzer's (Presidio's), each as (detector, value) pairs per case, counted
// the same way: precision and recall per detector, per pack, per channel and per format,
// and how many traps pass untouched.

import { join } from 'node:path';
import { BUILTIN_SPECS } from '../../src/detect/builtin.js';
import { PACK_NAMES } from '../../src/detect/index.js';
import { inspect } from '../../src/engine/index.js';
import { loadPolicy } from '../../src/policy/load.js';
import type { Principal } from '../../src/policy/types.js';
import { CHANNELS, FORMATS } from './generate.js';
import type { Channel, EvalCase, Format } from './generate.js';

export interface Found {
  detector: string;
  value: string;
}

/** Found values by case id. */
export type Findings = ReadonlyMap<string, readonly Found[]>;

export interface Counts {
  tp: number;
  fp: number;
  fn: number;
}

export interface Score {
  byDetector: Map<string, Counts>;
  byPack: Map<string, Counts>;
  /** Labels found by the right detector / by any detector (the value is masked), per channel. */
  byChannel: Map<Channel, { labels: number; right: number; any: number }>;
  byFormat: Map<Format, { labels: number; right: number; any: number }>;
  total: Counts;
  traps: { values: number; passed: number; failedKinds: Map<string, number> };
}

/** A finding covers a label: it holds the whole value (a few characters of slack either way). */
export function covers(found: string, label: string): boolean {
  const f = found.trim();
  const l = label.trim();
  if (f.includes(l)) return f.length <= l.length + 12;
  return l.includes(f) && f.length >= l.length - 3;
}

const zero = (): Counts => ({ tp: 0, fp: 0, fn: 0 });

export function score(
  cases: readonly EvalCase[],
  findings: Findings,
  detectors?: ReadonlySet<string>,
): Score {
  const byDetector = new Map<string, Counts>();
  const counts = (d: string): Counts => {
    let c = byDetector.get(d);
    if (!c) byDetector.set(d, (c = zero()));
    return c;
  };
  const byChannel = new Map(CHANNELS.map((c) => [c, { labels: 0, right: 0, any: 0 }]));
  const byFormat = new Map(FORMATS.map((f) => [f, { labels: 0, right: 0, any: 0 }]));
  const trapValues = new Map<string, { kind: string; passed: boolean }>();
  for (const c of cases) {
    const found = [...(findings.get(c.id) ?? [])].filter(
      (f) => !detectors || detectors.has(f.detector),
    );
    const used = new Set<number>();
    for (const label of c.labels) {
      const ch = byChannel.get(c.channel)!;
      const fm = byFormat.get(c.format)!;
      ch.labels++;
      fm.labels++;
      const right = found.findIndex(
        (f, i) => !used.has(i) && f.detector === label.detector && covers(f.value, label.value),
      );
      if (right >= 0) {
        used.add(right);
        counts(label.detector).tp++;
        ch.right++;
        fm.right++;
      } else counts(label.detector).fn++;
      if (right >= 0 || found.some((f) => covers(f.value, label.value))) {
        ch.any++;
        fm.any++;
      }
    }
    found.forEach((f, i) => {
      if (!used.has(i)) counts(f.detector).fp++;
    });
    if (c.trap !== undefined) {
      const key = `${c.trap}\0${c.trapValue}`;
      const t = trapValues.get(key) ?? { kind: c.trap, passed: true };
      if (found.length > 0) t.passed = false;
      trapValues.set(key, t);
    }
  }
  const byPack = new Map<string, Counts>();
  for (const p of PACK_NAMES) {
    const c = zero();
    for (const s of BUILTIN_SPECS.filter((s) => s.packs.includes(p))) {
      const d = byDetector.get(s.id);
      if (!d) continue;
      c.tp += d.tp;
      c.fp += d.fp;
      c.fn += d.fn;
    }
    byPack.set(p, c);
  }
  const total = zero();
  for (const d of byDetector.values()) {
    total.tp += d.tp;
    total.fp += d.fp;
    total.fn += d.fn;
  }
  const failedKinds = new Map<string, number>();
  for (const t of trapValues.values())
    if (!t.passed) failedKinds.set(t.kind, (failedKinds.get(t.kind) ?? 0) + 1);
  return {
    byDetector,
    byPack,
    byChannel,
    byFormat,
    total,
    traps: {
      values: trapValues.size,
      passed: [...trapValues.values()].filter((t) => t.passed).length,
      failedKinds,
    },
  };
}

export const precision = (c: Counts): number => (c.tp + c.fp === 0 ? NaN : c.tp / (c.tp + c.fp));
export const recall = (c: Counts): number => (c.tp + c.fn === 0 ? NaN : c.tp / (c.tp + c.fn));

/**
 * Our findings: each case through the real engine (inspect) with every pack on; a finding's
 * value is its text (the fingerprint function sees it).
 */
export function runOurs(cases: readonly EvalCase[]): Map<string, Found[]> {
  const policy = loadPolicy([join(import.meta.dirname, 'policy.yaml')], import.meta.dirname);
  const principal: Principal = { subject: 'quality', groups: [], authMethod: 'dev-header' };
  const out = new Map<string, Found[]>();
  for (const c of cases) {
    const route = policy.routesByName.get(c.format)!;
    const r = inspect({
      policy,
      route,
      fn: undefined,
      principal,
      direction: c.direction,
      body: Buffer.from(c.body),
      maxDepth: 64,
      fingerprint: (value) => value,
    });
    out.set(
      c.id,
      r.decision.findings
        .filter((f) => f.detector !== undefined && f.fingerprint !== undefined)
        .map((f) => ({ detector: f.detector!, value: f.fingerprint! })),
    );
  }
  return out;
}
