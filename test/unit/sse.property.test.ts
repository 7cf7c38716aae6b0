// Properties of the SSE framing (src/payload/sse.ts), fixed seed (test/support/fuzz.ts):
// SseSplitter hands out the same events whatever the chunking, and never loses or invents a
// byte; parseEvent agrees with a plain reading of the WHATWG rules; withData replaces the
// data and keeps every other field.

import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { parseEvent, SseSplitter, withData } from '../../src/payload/sse.js';

const EOLS = ['\n', '\r\n', '\r'] as const;

/** A field line's text: anything but CR and LF. */
const lineText = fc.string({ unit: 'binary', maxLength: 40 }).map((s) => s.replace(/[\r\n]/g, ''));

const field = fc.oneof(
  lineText.map((v) => `data: ${v}`),
  lineText.map((v) => `data:${v}`),
  fc.constant('data'),
  lineText.map((v) => `event: ${v}`),
  lineText.map((v) => `id: ${v}`),
  lineText.map((v) => `: ${v}`),
  fc.constant('retry: 1000'),
);

/** One event: 1–6 field lines with one line ending, then a blank line. */
const event = fc
  .tuple(fc.array(field, { minLength: 1, maxLength: 6 }), fc.constantFrom(...EOLS))
  .map(([lines, eol]) => lines.join(eol) + eol + eol);

const stream = fc.array(event, { minLength: 1, maxLength: 8 });

/** Cut points in a byte length: sorted, distinct, inside. */
const cuts = (len: number) =>
  fc
    .uniqueArray(fc.integer({ min: 1, max: Math.max(1, len - 1) }), { maxLength: 12 })
    .map((a) => a.filter((x) => x < len).sort((x, y) => x - y));

function split(bytes: Buffer, at: number[]): Buffer[] {
  const out: Buffer[] = [];
  let from = 0;
  for (const c of at) {
    out.push(bytes.subarray(from, c));
    from = c;
  }
  out.push(bytes.subarray(from));
  return out;
}

function events(chunks: Buffer[]): string[] {
  const s = new SseSplitter(1 << 20);
  const out: string[] = [];
  for (const c of chunks) for (const e of s.push(c)) out.push(Buffer.from(e.raw).toString('utf8'));
  const last = s.flush();
  if (last) out.push(Buffer.from(last.raw).toString('utf8'));
  return out;
}

/** The WHATWG reading of one event's data and type, written plainly. */
function reference(text: string): { type: string | undefined; data: string | undefined } {
  let type: string | undefined;
  const data: string[] = [];
  for (const line of text.split(/\r\n|\r|\n/)) {
    if (line === '' || line[0] === ':') continue;
    const i = line.indexOf(':');
    const name = i < 0 ? line : line.slice(0, i);
    let value = i < 0 ? '' : line.slice(i + 1);
    if (value[0] === ' ') value = value.slice(1);
    if (name === 'data') data.push(value);
    if (name === 'event') type = value;
  }
  return { type, data: data.length ? data.join('\n') : undefined };
}

describe('SseSplitter', () => {
  it('any chunking gives the same events, whose bytes are the stream, in order', () => {
    fc.assert(
      fc.property(
        stream.chain((evs) => {
          const bytes = Buffer.from(evs.join(''));
          return fc.tuple(fc.constant(evs), fc.constant(bytes), cuts(bytes.length));
        }),
        ([evs, bytes, at]) => {
          const whole = events([bytes]);
          // A CR ending followed by the next event's first byte is unambiguous only once that
          // byte arrives; the flush at the end hands out what is left.
          expect(whole.join('')).toBe(bytes.toString('utf8'));
          expect(whole.length).toBe(evs.length);
          expect(events(split(bytes, at))).toEqual(whole);
        },
      ),
    );
  });

  it('one byte at a time gives the same events', () => {
    fc.assert(
      fc.property(stream, (evs) => {
        const bytes = Buffer.from(evs.join(''));
        const ones = Array.from({ length: bytes.length }, (_, i) => bytes.subarray(i, i + 1));
        expect(events(ones)).toEqual(events([bytes]));
      }),
      { numRuns: 50 },
    );
  });

  it('an event over the limit is refused with a RangeError, never handed out cut', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 64 }), lineText, (limit, v) => {
        const s = new SseSplitter(limit);
        const body = Buffer.from(`data: ${v}${'x'.repeat(limit)}`);
        expect(() => s.push(body)).toThrow(RangeError);
      }),
    );
  });
});

describe('parseEvent and withData', () => {
  it('parseEvent agrees with the WHATWG reading', () => {
    fc.assert(
      fc.property(event, (e) => {
        expect(parseEvent(Buffer.from(e))).toEqual(reference(e));
      }),
    );
  });

  it('withData replaces the data, keeps the type and every other line, and ends the event', () => {
    fc.assert(
      fc.property(
        event.filter((e) => reference(e).data !== undefined),
        fc.array(lineText, { minLength: 1, maxLength: 4 }).map((l) => l.join('\n')),
        (e, data) => {
          const out = Buffer.from(withData(Buffer.from(e), data)).toString('utf8');
          expect(parseEvent(Buffer.from(out))).toEqual({ type: reference(e).type, data });
          const others = (t: string) =>
            t.split(/\r\n|\r|\n/).filter((l) => l !== '' && l !== 'data' && !l.startsWith('data:'));
          expect(others(out)).toEqual(others(e));
          // Still exactly one event.
          expect(events([Buffer.from(out)])).toEqual([out]);
        },
      ),
    );
  });
});
