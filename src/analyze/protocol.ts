// What goes over the wire to each kind of analyzer, and what comes back, checked.
//
// presidio (Presidio analyzer's REST API): POST <url>/analyze with
//   {"text": [t1, t2, …], "language": "en", "entities": [types], "score_threshold": 0.5}
// (a list of texts: one request per body), answered with one list of results per text:
//   [[{"entity_type": "PERSON", "start": 0, "end": 12, "score": 0.85, …}, …], …]
// webhook (callguard's own contract, docs/analyzers.md): POST <url> with
//   {"texts": [t1, t2, …], "entities": [types], "score_threshold": 0.5}
// answered with
//   {"results": [[{"type": "PERSON", "start": 0, "end": 12, "score": 0.85}, …], …]}
// In both, start and end count Unicode code points, [start, end), and a text's results are
// at its index. An answer that breaks this is refused whole (bad_answer): spans at the
// wrong place would mask the wrong bytes.

import type { AnalyzerHit } from '../engine/index.js';
import type { AnalyzerPlan } from '../policy/compile.js';
import { codePointOffsets } from './offsets.js';

/** A span as the service reports it (code point offsets). */
interface RawSpan {
  type: string;
  start: number;
  end: number;
  score: number;
}

export class BadAnswer extends Error {
  constructor(why: string) {
    super(why); // a shape, never a text: the message names fields and indices only
    this.name = 'BadAnswer';
  }
}

/** The request's URL and body for `texts`. */
export function requestFor(
  plan: AnalyzerPlan,
  texts: readonly string[],
): { url: string; body: string } {
  const entities = [...plan.entities.keys()];
  if (plan.kind === 'presidio') {
    return {
      url: `${plan.url.replace(/\/+$/, '')}/analyze`,
      body: JSON.stringify({
        text: texts,
        language: plan.language,
        entities,
        score_threshold: plan.scoreThreshold,
      }),
    };
  }
  return {
    url: plan.url,
    body: JSON.stringify({ texts, entities, score_threshold: plan.scoreThreshold }),
  };
}

/**
 * The hits in each text of an answer: spans of a mapped entity type at or above its score,
 * as detector hits in UTF-16 offsets. Throws BadAnswer.
 */
export function hitsOf(
  plan: AnalyzerPlan,
  texts: readonly string[],
  answer: unknown,
): AnalyzerHit[][] {
  const lists = plan.kind === 'presidio' ? answer : resultsOf(answer);
  if (!Array.isArray(lists) || lists.length !== texts.length)
    throw new BadAnswer(`expected ${texts.length} result lists`);
  return lists.map((list: unknown, i) => {
    if (!Array.isArray(list)) throw new BadAnswer(`results ${i}: not a list`);
    const text = texts[i]!;
    const offsets = codePointOffsets(text);
    const hits: AnalyzerHit[] = [];
    list.forEach((item: unknown, j) => {
      const span = spanOf(plan.kind, item, `results ${i}/${j}`);
      const start = offsets.utf16(span.start);
      const end = offsets.utf16(span.end);
      if (start === undefined || end === undefined || end <= start)
        throw new BadAnswer(`results ${i}/${j}: start/end outside the text`);
      const mapped = plan.entities.get(span.type);
      // A type the policy does not map (a service that answers more than it was asked):
      // not a finding of this policy.
      if (!mapped || span.score < mapped.minScore) return;
      hits.push({
        detector: mapped.detector,
        level: mapped.level,
        start,
        end,
        score: Math.round(span.score * 1000) / 1000,
        analyzer: plan.name,
      });
    });
    return hits;
  });
}

function resultsOf(answer: unknown): unknown {
  if (typeof answer !== 'object' || answer === null || !('results' in answer))
    throw new BadAnswer('no results');
  return answer.results;
}

function spanOf(kind: AnalyzerPlan['kind'], item: unknown, at: string): RawSpan {
  if (typeof item !== 'object' || item === null) throw new BadAnswer(`${at}: not an object`);
  const o = item as Record<string, unknown>;
  const type = kind === 'presidio' ? o.entity_type : o.type;
  const { start, end, score } = o;
  if (typeof type !== 'string') throw new BadAnswer(`${at}: no type`);
  if (!Number.isInteger(start) || !Number.isInteger(end))
    throw new BadAnswer(`${at}: start/end are not integers`);
  if (typeof score !== 'number' || !(score >= 0 && score <= 1))
    throw new BadAnswer(`${at}: score is not a number in [0, 1]`);
  return { type, start: start as number, end: end as number, score };
}
