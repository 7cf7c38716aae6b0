// parseJson against JSON.parse (and JSON.parse + JSON.stringify, the round trip a
// non-byte-preserving masker would do) on ~64 KB and ~1 MB chat-style payloads.
// Run: npx vitest bench --run bench/json-parse.bench.ts
import { bench, describe } from 'vitest';
import { applyEdits, encodeJsonString, parseJson, walkJson } from '../src/payload/json.js';
import type { Edit } from '../src/payload/json.js';
import { prng } from '../test/support/fuzz.js';

const WORDS = [
  'alpha',
  'beta',
  'gamma',
  'delta',
  'credit',
  'card',
  'number',
  'ssn',
  'email',
  'user',
  'tool',
  'function',
  'München',
  '日本語',
  '😀 emoji',
  'quote"d',
  'back\\slash',
  'new\nline',
];

function makeDocument(targetBytes: number): Buffer {
  const rnd = prng(42);
  const text = (n: number): string =>
    Array.from({ length: n }, () => WORDS[Math.floor(rnd() * WORDS.length)]).join(' ');
  const messages: unknown[] = [];
  for (let i = 0; ; i++) {
    messages.push({
      role: i % 2 ? 'assistant' : 'user',
      content: text(40),
      data: {
        id: i,
        name: text(3),
        email: `user${i}@example.com`,
        card: `4111 1111 1111 ${1000 + (i % 9000)}`,
        score: rnd() * 1000,
        count: Math.floor(rnd() * 1e6),
        active: rnd() > 0.5,
        tags: [text(1), text(1), text(1)],
        nested: { a: { b: { c: [1, 2.5, -3e10, null, true] } } },
        note: text(20),
      },
    });
    if (i % 50 === 49) {
      const s = JSON.stringify({ model: 'some-model', messages });
      if (s.length >= targetBytes) return Buffer.from(s);
    }
  }
}

for (const [label, size] of [
  ['64 KB', 64 * 1024],
  ['1 MB', 1024 * 1024],
] as const) {
  const doc = makeDocument(size);
  const mask = encodeJsonString('****');
  describe(`${label} payload (${doc.length} bytes)`, () => {
    bench('JSON.parse', () => {
      JSON.parse(doc.toString('utf8'));
    });
    bench('JSON.parse + JSON.stringify', () => {
      Buffer.from(JSON.stringify(JSON.parse(doc.toString('utf8'))));
    });
    bench('parseJson', () => {
      parseJson(doc, { maxDepth: 64 });
    });
    bench('parseJson + walkJson + mask + applyEdits', () => {
      const root = parseJson(doc, { maxDepth: 64 });
      const edits: Edit[] = [];
      walkJson(root, (node, loc) => {
        if (node.kind === 'string' && loc?.seg === 'card') {
          edits.push({ start: node.start, end: node.end, replacement: mask });
        }
      });
      applyEdits(doc, edits);
    });
  });
}
