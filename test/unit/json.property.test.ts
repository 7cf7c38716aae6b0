import { describe, it, expect } from 'vitest';
import fc from 'fast-check';
import { isUtf8 } from 'node:buffer';
import { charBit } from '../../src/detect/chars.js';
import { CallguardError } from '../../src/errors.js';
import {
  applyEdits,
  encodeJsonString,
  parseJson,
  toPlainValue,
  walkJson,
} from '../../src/payload/json.js';
import type { Edit, JsonNode, JsonString } from '../../src/payload/json.js';
import { prng } from '../support/fuzz.js';
import { anyOf } from '../support/matchers.js';

const enc = new TextEncoder();
const dec = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });
const OPTS = { maxDepth: 64 };

/** The detect/chars.ts bits of a string, computed from its characters. */
function bitsOf(s: string): number {
  let bits = 0;
  for (let i = 0; i < s.length; i++) bits |= charBit(s.charCodeAt(i));
  return bits;
}

/** String.prototype.toWellFormed (ES2024, not in this project's lib): lone surrogates -> U+FFFD. */
function wellFormed(s: string): string {
  let out = '';
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c >= 0xd800 && c <= 0xdbff) {
      const next = s.charCodeAt(i + 1);
      if (next >= 0xdc00 && next <= 0xdfff) {
        out += s[i]! + s[i + 1]!;
        i++;
        continue;
      }
      out += '\ufffd';
    } else if (c >= 0xdc00 && c <= 0xdfff) {
      out += '\ufffd';
    } else {
      out += s[i]!;
    }
  }
  return out;
}

const SHORT_ESCAPES: Record<string, string> = {
  '"': '\\"',
  '\\': '\\\\',
  '\b': '\\b',
  '\f': '\\f',
  '\n': '\\n',
  '\r': '\\r',
  '\t': '\\t',
};

function hex4(code: number, rnd: () => number): string {
  const h = code.toString(16).padStart(4, '0');
  return rnd() < 0.5 ? h : h.toUpperCase();
}

/**
 * Serializes a JSON value the way a sloppy-but-valid client might: random whitespace between
 * all tokens, random \u escaping (surrogate pairs for astral characters, random hex case),
 * optional \/ escapes, and alternative spellings of the same number.
 */
function sloppyJson(value: unknown, seed: number): string {
  const rnd = prng(seed);
  const WS = [' ', '\t', '\n', '\r'];
  const ws = (): string => {
    let s = '';
    while (rnd() < 0.3) s += WS[Math.floor(rnd() * WS.length)]!;
    return s;
  };
  const str = (s: string): string => {
    let out = '"';
    for (const ch of s) {
      const code = ch.codePointAt(0)!;
      const mustEscape = ch === '"' || ch === '\\' || code < 0x20;
      if (mustEscape || rnd() < 0.15) {
        const short = SHORT_ESCAPES[ch];
        if (short !== undefined && rnd() < 0.6) out += short;
        else if (code > 0xffff) {
          const hi = 0xd800 + ((code - 0x10000) >> 10);
          const lo = 0xdc00 + ((code - 0x10000) & 0x3ff);
          out += `\\u${hex4(hi, rnd)}\\u${hex4(lo, rnd)}`;
        } else if (ch === '/' && rnd() < 0.5) out += '\\/';
        else out += `\\u${hex4(code, rnd)}`;
      } else {
        out += ch;
      }
    }
    return out + '"';
  };
  const num = (n: number): string => {
    const s = JSON.stringify(n);
    const r = rnd();
    if (Number.isInteger(n) && !s.includes('e')) {
      if (r < 0.15) return `${s}.0`;
      if (r < 0.3) return `${s}e0`;
      if (r < 0.4) return `${s}E+00`;
      if (r < 0.5 && n !== 0) return `${s}00e-2`;
    }
    return s;
  };
  const go = (v: unknown): string => {
    if (v === null) return 'null';
    if (typeof v === 'boolean') return v ? 'true' : 'false';
    if (typeof v === 'number') return num(v);
    if (typeof v === 'string') return str(v);
    if (Array.isArray(v)) {
      if (v.length === 0) return `[${ws()}]`;
      return `[${v.map((x) => ws() + go(x) + ws()).join(',')}]`;
    }
    const entries = Object.entries(v as Record<string, unknown>);
    if (entries.length === 0) return `{${ws()}}`;
    return `{${entries.map(([k, x]) => `${ws()}${str(k)}${ws()}:${ws()}${go(x)}${ws()}`).join(',')}}`;
  };
  return ws() + go(value) + ws();
}

/** A number spelled any way RFC 8259 allows, including huge, tiny and very long ones. */
const rawNumber = fc
  .tuple(
    fc.boolean(),
    fc.oneof(fc.constant('0'), fc.stringMatching(/^[1-9][0-9]{0,30}$/)),
    fc.option(fc.stringMatching(/^[0-9]{1,20}$/)),
    fc.option(fc.tuple(fc.constantFrom('e', 'E'), fc.constantFrom('', '+', '-'), fc.nat(500))),
  )
  .map(
    ([neg, int, frac, exp]) =>
      (neg ? '-' : '') +
      int +
      (frac === null ? '' : `.${frac}`) +
      (exp === null ? '' : `${exp[0]}${exp[1]}${exp[2]}`),
  );

const anyUnitString = fc.string({
  unit: fc.oneof(
    fc.integer({ min: 0, max: 0xffff }).map((c) => String.fromCharCode(c)),
    fc.constantFrom('"', '\\', '/', '\n', '\u0000', '\ud83d\ude00', '\u2028'),
  ),
});

const jsonValue = fc.jsonValue({ maxDepth: 4, stringUnit: 'grapheme' });

/** JSON texts: sloppy serializations of random values, with raw numbers spliced in. */
const jsonText = fc
  .tuple(jsonValue, fc.integer(), fc.array(rawNumber, { maxLength: 3 }))
  .map(([value, seed, raws]) => {
    const text = sloppyJson(value, seed);
    // Wrap in an array with extra raw-spelled numbers so their exact spelling is exercised.
    return raws.length === 0 ? text : `[${text},${raws.join(' , ')}]`;
  });

function stringLeaves(root: JsonNode): JsonString[] {
  const out: JsonString[] = [];
  walkJson(root, (node) => {
    if (node.kind === 'string') out.push(node);
  });
  return out;
}

function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  return Buffer.from(a.buffer, a.byteOffset, a.byteLength).equals(
    Buffer.from(b.buffer, b.byteOffset, b.byteLength),
  );
}

describe('parseJson properties', () => {
  it('parses any valid JSON text, keeps bytes with no edits, and agrees with JSON.parse', () => {
    fc.assert(
      fc.property(jsonText, (text) => {
        const bytes = enc.encode(text);
        const root = parseJson(bytes, OPTS);
        expect(bytesEqual(applyEdits(bytes, []), bytes)).toBe(true);
        expect(toPlainValue(root)).toEqual(JSON.parse(text));
        walkJson(root, (node) => {
          const source = bytes.subarray(node.start, node.end);
          if (node.kind === 'number') expect(dec.decode(source)).toBe(node.raw);
          expect(JSON.parse(dec.decode(source))).toEqual(toPlainValue(node));
        });
      }),
    );
  });

  it('also agrees with JSON.parse on fast-check JSON texts', () => {
    fc.assert(
      fc.property(fc.json({ maxDepth: 4, stringUnit: 'binary' }), (text) => {
        const bytes = enc.encode(text);
        expect(toPlainValue(parseJson(bytes, OPTS))).toEqual(JSON.parse(text));
      }),
    );
  });

  it('replacing any subset of string values changes exactly those values and bytes', () => {
    fc.assert(
      fc.property(
        jsonText,
        fc.array(fc.boolean(), { minLength: 1, maxLength: 32 }),
        fc.array(anyUnitString, { minLength: 1, maxLength: 32 }),
        (text, picks, replacements) => {
          const bytes = enc.encode(text);
          const leaves = stringLeaves(parseJson(bytes, OPTS));
          const chosen = new Map<number, string>();
          const edits: Edit[] = [];
          leaves.forEach((leaf, i) => {
            if (!picks[i % picks.length]) return;
            const r = replacements[i % replacements.length]!;
            chosen.set(i, r);
            edits.push({ start: leaf.start, end: leaf.end, replacement: encodeJsonString(r) });
          });
          // Hand the edits over in reverse so applyEdits has to sort them.
          const out = applyEdits(bytes, [...edits].reverse());

          // Valid JSON to JSON.parse and to our own strict parser.
          const parsedOut = JSON.parse(dec.decode(out)) as unknown;
          const after = parseJson(out, OPTS);
          expect(toPlainValue(after)).toEqual(parsedOut);

          // Exactly the chosen leaves changed.
          const afterLeaves = stringLeaves(after);
          expect(afterLeaves.length).toBe(leaves.length);
          afterLeaves.forEach((leaf, i) => {
            const r = chosen.get(i);
            expect(leaf.value).toBe(r === undefined ? leaves[i]!.value : wellFormed(r));
          });

          // Every byte outside the replaced spans is identical, in place.
          let src = 0;
          let dst = 0;
          for (const e of edits) {
            const keep = e.start - src;
            expect(bytesEqual(out.subarray(dst, dst + keep), bytes.subarray(src, e.start))).toBe(
              true,
            );
            dst += keep;
            expect(bytesEqual(out.subarray(dst, dst + e.replacement.length), e.replacement)).toBe(
              true,
            );
            dst += e.replacement.length;
            src = e.end;
          }
          expect(bytesEqual(out.subarray(dst), bytes.subarray(src))).toBe(true);
          expect(out.length - dst).toBe(bytes.length - src);
        },
      ),
    );
  });

  it('rejects with a CallguardError only, and whenever JSON.parse rejects', () => {
    const mutationByte = fc.oneof(
      fc.constantFrom(...enc.encode('{}[],:"\\ \t\n0123456789.eE+-tfnrulsa/')),
      fc.integer({ min: 0, max: 255 }),
    );
    const mutation = fc.tuple(
      fc.constantFrom('insert', 'replace', 'delete'),
      fc.nat(),
      mutationByte,
    );
    const mutated = fc
      .tuple(jsonText, fc.array(mutation, { minLength: 1, maxLength: 4 }))
      .map(([text, muts]) => {
        const b = [...enc.encode(text)];
        for (const [op, at, byte] of muts) {
          const i = b.length === 0 ? 0 : at % (b.length + (op === 'insert' ? 1 : 0));
          if (op === 'insert') b.splice(i, 0, byte);
          else if (b.length > 0 && op === 'replace') b[i % b.length] = byte;
          else if (b.length > 0) b.splice(i % b.length, 1);
        }
        return Uint8Array.from(b);
      });
    const inputs = fc.oneof(fc.uint8Array({ maxLength: 64 }), mutated);

    fc.assert(
      fc.property(inputs, (bytes) => {
        let ours: { ok: true; node: JsonNode } | { ok: false; err: unknown };
        try {
          ours = { ok: true, node: parseJson(bytes, OPTS) };
        } catch (err) {
          ours = { ok: false, err };
        }
        if (!ours.ok) expect(ours.err).toBeInstanceOf(CallguardError);

        let reference: { ok: true; value: unknown } | { ok: false };
        try {
          reference = { ok: true, value: JSON.parse(dec.decode(bytes)) };
        } catch {
          reference = { ok: false };
        }
        // Never accept what JSON.parse rejects; when both accept, they agree on the value.
        if (!reference.ok) expect(ours.ok).toBe(false);
        if (ours.ok && reference.ok) expect(toPlainValue(ours.node)).toEqual(reference.value);
        if (ours.ok) expect(isUtf8(bytes)).toBe(true);
      }),
    );
  });
});

describe('encodeJsonString properties', () => {
  it('round-trips through JSON.parse; lone surrogates become U+FFFD', () => {
    fc.assert(
      fc.property(anyUnitString, (s) => {
        const bytes = encodeJsonString(s);
        expect(isUtf8(bytes)).toBe(true);
        const text = dec.decode(bytes);
        expect(JSON.parse(text)).toBe(wellFormed(s));
        // Minimal escaping: exactly what JSON.stringify does for a well-formed string.
        expect(text).toBe(JSON.stringify(wellFormed(s)));
        const node = parseJson(bytes, OPTS);
        expect(node).toEqual({
          kind: 'string',
          start: 0,
          end: bytes.length,
          value: wellFormed(s),
          chars: anyOf(Number),
        });
        // The prefilter characters it read are those of the decoded value (or unknown, -1,
        // for a literal with escapes): a detector gate trusting them never skips a value.
        const chars = (node as JsonString).chars!;
        const escaped = bytes.subarray(1, -1).includes(0x5c);
        expect(chars).toBe(escaped ? -1 : bitsOf(wellFormed(s)));
      }),
    );
  });

  it('is lossless for well-formed strings', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary' }), (s) => {
        expect(JSON.parse(dec.decode(encodeJsonString(s)))).toBe(s);
      }),
    );
  });
});
