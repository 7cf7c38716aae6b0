// The evaluation set (bench/quality/) through the real engine, every detector pack on: the
// bars `npm run bench:quality` reports beside Presidio, kept by the unit tier. Object keys
// and JSON numbers are channels the engine does not read yet (their recall is reported,
// not asserted here).
import { describe, expect, it } from 'vitest';
import { generateEvalSet } from '../../bench/quality/generate.js';
import { precision, recall, runOurs, score } from '../../bench/quality/score.js';

const cases = generateEvalSet();
const read = cases.filter((c) => c.channel !== 'key' && c.channel !== 'number');
const all = score(cases, runOurs(cases));
const onRead = score(read, runOurs(read));

describe('evaluation set, every pack on', () => {
  it('is broad: every format and channel, traps of every kind the issue names', () => {
    expect(new Set(cases.map((c) => c.format)).size).toBe(5);
    expect(new Set(cases.map((c) => c.channel)).size).toBe(5);
    expect(cases.filter((c) => c.trap).length).toBeGreaterThan(150);
    expect(
      new Set(cases.flatMap((c) => c.labels.map((l) => l.detector))).size,
    ).toBeGreaterThanOrEqual(70);
  });

  it('precision at least 0.99, and at least 0.99 of the trap values untouched', () => {
    expect(precision(all.total)).toBeGreaterThanOrEqual(0.99);
    expect(all.traps.passed / all.traps.values).toBeGreaterThanOrEqual(0.99);
  });

  it('recall in prose, tool-call arguments and tool results', () => {
    for (const ch of ['prose', 'args', 'result'] as const) {
      const c = all.byChannel.get(ch)!;
      expect(c.right / c.labels, ch).toBeGreaterThanOrEqual(0.97);
    }
    const weak: string[] = [];
    for (const [d, c] of onRead.byDetector)
      if (c.tp + c.fn > 0 && recall(c) < 0.9) weak.push(`${d} ${recall(c).toFixed(2)}`);
    expect(weak).toEqual([]);
  });
});
