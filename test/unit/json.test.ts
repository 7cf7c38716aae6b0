import { describe, it, expect } from 'vitest';
import { CallguardError } from '../../src/errors.js';
import {
  appendPointer,
  applyEdits,
  encodeJsonString,
  isJsonDocument,
  jsonPointer,
  parseJson,
  toPlainValue,
  pointerOf,
  walkJson,
} from '../../src/payload/json.js';
import type { JsonNode, Span } from '../../src/payload/json.js';
import { anyOf } from '../support/matchers.js';

const enc = new TextEncoder();
const dec = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });
const OPTS = { maxDepth: 64 };

function bytesOf(input: string | number[]): Uint8Array {
  return typeof input === 'string' ? enc.encode(input) : Uint8Array.from(input);
}

function slice(bytes: Uint8Array, span: Span): string {
  return dec.decode(bytes.subarray(span.start, span.end));
}

/** Every node's span (and every key's span) holds exactly the source text of that node. */
function expectSpansMatchSource(bytes: Uint8Array, root: JsonNode): void {
  walkJson(root, (node) => {
    const text = slice(bytes, node);
    expect(JSON.parse(text)).toEqual(toPlainValue(node));
    switch (node.kind) {
      case 'number':
        expect(text).toBe(node.raw);
        break;
      case 'string':
        expect(text.startsWith('"') && text.endsWith('"')).toBe(true);
        break;
      case 'object':
        expect(text.startsWith('{') && text.endsWith('}')).toBe(true);
        for (const m of node.members) {
          expect(JSON.parse(slice(bytes, m.keySpan))).toBe(m.key);
          expect(m.keySpan.end).toBeLessThanOrEqual(m.value.start);
        }
        break;
      case 'array':
        expect(text.startsWith('[') && text.endsWith(']')).toBe(true);
        break;
      default:
        expect(text).toBe(node.kind);
    }
  });
}

function catchError(fn: () => unknown): CallguardError {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(CallguardError);
    return err as CallguardError;
  }
  throw new Error('expected a CallguardError, but nothing was thrown');
}

describe('parseJson: valid input', () => {
  const cases: [string, string][] = [
    ['empty object', '{}'],
    ['empty array', '[]'],
    ['top-level string', '"hello"'],
    ['top-level number', '42'],
    ['top-level true', 'true'],
    ['top-level false', 'false'],
    ['top-level null', 'null'],
    ['nested containers', '{"a":[1,{"b":[]},{}],"c":{"d":null}}'],
    ['odd whitespace everywhere', ' \t\r\n{ \n"a" \t:\r\n[ 1 ,\t2 ] , "b" : { } }\r\n\t '],
    ['number spellings', '[0, -0, 1.0, -1.50, 1e400, 1E+2, 2e-3, 0.000, -0.0e0, 123e-400]'],
    ['big integers', '[12345678901234567890, -98765432109876543210987654321]'],
    ['escapes', '"\\" \\\\ \\/ \\b \\f \\n \\r \\t \\u0041 \\u00e9 \\u20AC"'],
    ['surrogate pair escape', '"\\ud83d\\ude00 \\uD834\\uDD1E"'],
    ['raw astral chars and emoji', '{"emoji":"😀👩‍👩‍👧","music":"𝄞","cjk":"日本語"}'],
    ['DEL and U+2028 are allowed raw', '"\u007f\u2028\u2029"'],
    ['escaped keys', '{"\\u0061":1,"b\\n":2,"\\"":3}'],
    ['keys that differ only by case are distinct', '{"a":1,"A":2}'],
    ['the same key in different objects', '{"a":{"a":1},"b":{"a":2}}'],
    ['many members', `{${Array.from({ length: 40 }, (_, i) => `"k${i}":${i}`).join(',')}}`],
    ['deeply mixed', '[{"a":[{"b":[{"c":"d"}]}]}]'],
  ];

  it.each(cases)('%s', (_name, text) => {
    const bytes = enc.encode(text);
    const root = parseJson(bytes, OPTS);
    expect(toPlainValue(root)).toEqual(JSON.parse(text));
    // The root span is the text minus surrounding whitespace.
    expect(slice(bytes, root)).toBe(text.trim());
    expectSpansMatchSource(bytes, root);
    // No edits: byte-for-byte identical.
    expect(Buffer.from(applyEdits(bytes, [])).equals(Buffer.from(bytes))).toBe(true);
  });

  it('records exact spans, raw number spellings and decoded keys', () => {
    const text = ' {"a" : [ 1.0 , -0, 12345678901234567890 ], "\\u0062": "x\\u0041"} ';
    const bytes = enc.encode(text);
    const root = parseJson(bytes, OPTS);
    expect(root).toMatchObject({ kind: 'object', start: 1, end: text.length - 1 });
    if (root.kind !== 'object') throw new Error('unreachable');
    const [a, b] = root.members;
    expect(a?.key).toBe('a');
    expect(a?.keySpan).toEqual({ start: 2, end: 5 });
    expect(b?.key).toBe('b');
    expect(slice(bytes, b!.keySpan)).toBe('"\\u0062"');
    expect(b?.value).toMatchObject({ kind: 'string', value: 'xA' });
    expect(slice(bytes, b!.value)).toBe('"x\\u0041"');
    const arr = a?.value;
    if (arr?.kind !== 'array') throw new Error('expected an array');
    expect(arr.items.map((n) => (n.kind === 'number' ? n.raw : null))).toEqual([
      '1.0',
      '-0',
      '12345678901234567890',
    ]);
    expect(arr.items.map((n) => slice(bytes, n))).toEqual(['1.0', '-0', '12345678901234567890']);
  });

  it('decodes strings without and with escapes, including non-ASCII and astral', () => {
    const cases: [string, string][] = [
      ['"plain ascii"', 'plain ascii'],
      ['"Zürich 日本 😀"', 'Zürich 日本 😀'],
      ['"a\\u00e9b"', 'aéb'],
      ['"é\\n😀\\t"', 'é\n😀\t'],
      ['"\\ud83d\\ude00"', '😀'],
      ['"\\u0000"', '\u0000'],
      ['"\\/"', '/'],
      ['""', ''],
    ];
    for (const [text, value] of cases) {
      expect(parseJson(enc.encode(text), OPTS)).toEqual({
        kind: 'string',
        start: 0,
        end: enc.encode(text).length,
        value,
        chars: anyOf(Number),
      });
    }
  });

  it('accepts a Uint8Array view at an offset into a larger buffer', () => {
    const backing = enc.encode('xxxx{"k":"é\\u0041"}yyyy');
    const view = backing.subarray(4, backing.length - 4);
    const root = parseJson(view, OPTS);
    expect(toPlainValue(root)).toEqual({ k: 'éA' });
    expect(root).toMatchObject({ start: 0, end: view.length });
  });

  it('toPlainValue keeps a "__proto__" key an own property, as JSON.parse does', () => {
    const text = '{"__proto__":{"polluted":true},"b":[1,{"__proto__":null}]}';
    const plain = toPlainValue(parseJson(enc.encode(text), OPTS)) as Record<string, unknown>;
    expect(Object.getPrototypeOf(plain)).toBe(Object.prototype);
    expect(Object.hasOwn(plain, '__proto__')).toBe(true);
    expect((plain as { polluted?: boolean }).polluted).toBeUndefined();
    expect(plain).toEqual(JSON.parse(text));
    expect(Object.keys(plain)).toEqual(Object.keys(JSON.parse(text) as object));
  });
});

describe('parseJson: invalid input', () => {
  const malformed: [string, string | number[]][] = [
    ['empty input', ''],
    ['whitespace only', ' \n\t\r '],
    ['UTF-8 byte order mark', '\ufeff{}'],
    ['block comment', '{"a":1 /* c */}'],
    ['line comment', '// c\n1'],
    ['trailing comma in array', '[1,]'],
    ['trailing comma in object', '{"a":1,}'],
    ['leading comma', '[,1]'],
    ['double comma', '[1,,2]'],
    ['single-quoted string', "['a']"],
    ['single-quoted key', "{'a':1}"],
    ['unquoted key', '{a:1}'],
    ['number key', '{1:1}'],
    ['NaN', 'NaN'],
    ['Infinity', 'Infinity'],
    ['-Infinity', '-Infinity'],
    ['leading zero', '01'],
    ['negative leading zero', '-01'],
    ['double zero', '00'],
    ['leading zero inside array', '[007]'],
    ['plus sign', '+1'],
    ['bare fraction', '.5'],
    ['trailing dot', '1.'],
    ['dot before exponent', '1.e5'],
    ['empty exponent', '1e'],
    ['signed empty exponent', '1e+'],
    ['lone minus', '-'],
    ['double minus', '--1'],
    ['hex number', '0x10'],
    ['raw NUL in string', '"a\u0000b"'],
    ['raw tab in string', '"a\tb"'],
    ['raw newline in string', '"a\nb"'],
    ['raw U+001F in string', '"\u001f"'],
    ['unknown escape \\x', '"\\x41"'],
    ['unknown escape \\a', '"\\a"'],
    ['uppercase \\U', '"\\U0041"'],
    ['short \\u escape', '"\\u12"'],
    ['non-hex \\u escape', '"\\u12G4"'],
    ['backslash at end of input', '"\\'],
    ['lone high surrogate escape', '"\\ud800"'],
    ['high surrogate escape then text', '"\\uD800x"'],
    ['lone low surrogate escape', '"\\udc00"'],
    ['high surrogate escape then BMP escape', '"\\ud800\\u0041"'],
    ['two high surrogate escapes', '"\\ud800\\ud800"'],
    ['reversed surrogate pair', '"\\udc00\\ud800"'],
    ['lone surrogate escape in a key', '{"\\udfff":1}'],
    ['form feed whitespace', '\f1'],
    ['vertical tab whitespace', '\u000b1'],
    ['no-break space whitespace', '\u00a01'],
    ['non-ASCII outside strings', '[1,é]'],
    ['two top-level values', '1 2'],
    ['two top-level objects', '{}{}'],
    ['garbage after value', '[] x'],
    ['two adjacent strings', '"a""b"'],
    ['unterminated string', '"abc'],
    ['unterminated array', '[1'],
    ['unterminated object', '{"a":1'],
    ['key without colon', '{"a"}'],
    ['key with colon, no value', '{"a":}'],
    ['open bracket only', '['],
    ['missing colon', '{"a" 1}'],
    ['missing comma in array', '[1 2]'],
    ['missing comma in object', '{"a":1 "b":2}'],
    ['colon in array', '[1:2]'],
    ['truncated literal', 'tru'],
    ['capitalised literal', 'True'],
    ['literal with suffix', 'falsey'],
    ['undefined', 'undefined'],
    ['stray closing bracket', ']'],
    ['stray closing brace', '}'],
    ['mismatched brackets', '[}'],
    ['mismatched braces', '{]'],
  ];

  it.each(malformed)('%s -> malformed_json', (_name, input) => {
    const err = catchError(() => parseJson(bytesOf(input), OPTS));
    expect(err.code).toBe('malformed_json');
    expect(err.rule).toBe('json.syntax');
    expect(err.status).toBe(400);
  });

  const badUtf8: [string, number[]][] = [
    ['0xFF in a string', [0x22, 0xff, 0x22]],
    ['stray continuation byte', [0x22, 0x80, 0x22]],
    ['overlong 2-byte "/" (C0 AF)', [0x22, 0xc0, 0xaf, 0x22]],
    ['overlong C1 lead', [0x22, 0xc1, 0xbf, 0x22]],
    ['overlong 3-byte (E0 80 AF)', [0x22, 0xe0, 0x80, 0xaf, 0x22]],
    ['overlong 4-byte (F0 80 80 AF)', [0x22, 0xf0, 0x80, 0x80, 0xaf, 0x22]],
    ['surrogate U+D800 (ED A0 80)', [0x22, 0xed, 0xa0, 0x80, 0x22]],
    ['surrogate U+DFFF (ED BF BF)', [0x22, 0xed, 0xbf, 0xbf, 0x22]],
    ['above U+10FFFF (F4 90 80 80)', [0x22, 0xf4, 0x90, 0x80, 0x80, 0x22]],
    ['F5 lead byte', [0x22, 0xf5, 0x80, 0x80, 0x80, 0x22]],
    ['truncated 3-byte sequence', [0x22, 0xe2, 0x82, 0x22]],
    ['truncated sequence at end of input', [0x22, 0xc3]],
    ['invalid byte outside strings', [0x5b, 0xff, 0x5d]],
    ['invalid byte in a key', [0x7b, 0x22, 0xfe, 0x22, 0x3a, 0x31, 0x7d]],
    // Invalid UTF-8 wins over an earlier syntax error: it is checked first.
    ['invalid UTF-8 after a syntax error', [0x5b, 0x2c, 0x2c, 0x22, 0xff, 0x22]],
    ['invalid UTF-8 after a BOM', [0xef, 0xbb, 0xbf, 0x22, 0xff, 0x22]],
  ];

  it.each(badUtf8)('%s -> invalid_utf8', (_name, input) => {
    const err = catchError(() => parseJson(bytesOf(input), OPTS));
    expect(err.code).toBe('invalid_utf8');
    expect(err.rule).toBe('json.utf8');
  });

  it('names the byte offset and the JSON Pointer of a value holding invalid UTF-8', () => {
    const bytes = Uint8Array.from([
      ...enc.encode('{"a":["ok","x'),
      0xed,
      0xa0,
      0x80,
      0x22,
      0x5d,
      0x7d,
    ]);
    const err = catchError(() => parseJson(bytes, OPTS));
    expect(err.code).toBe('invalid_utf8');
    expect(err.paths).toEqual(['/a/1']);
    expect(err.message).toContain('byte 13');
  });

  const duplicates: [string, string, string][] = [
    ['identical keys', '{"a":1,"a":2}', '/a'],
    ['equal after decoding \\u escapes', '{"a":1,"\\u0061":2}', '/a'],
    ['equal after decoding \\/', '{"a/b":1,"a\\/b":2}', '/a~1b'],
    ['equal after decoding a surrogate pair', '{"😀":1,"\\ud83d\\ude00":2}', '/😀'],
    ['in a nested object', '{"x":[{"k":1,"j":2,"k":3}]}', '/x/0/k'],
    [
      'in a large object (set-based check)',
      `{${Array.from({ length: 20 }, (_, i) => `"k${i}":${i}`).join(',')},"k\\u0033":0}`,
      '/k3',
    ],
    [
      'at the linear/set threshold',
      `{${Array.from({ length: 8 }, (_, i) => `"k${i}":${i}`).join(',')},"k0":0}`,
      '/k0',
    ],
  ];

  it.each(duplicates)('duplicate keys %s -> duplicate_key', (_name, text, path) => {
    const err = catchError(() => parseJson(enc.encode(text), OPTS));
    expect(err.code).toBe('duplicate_key');
    expect(err.rule).toBe('json.duplicate_key');
    expect(err.paths).toEqual([path]);
  });

  it('reports syntax errors with a byte offset and the enclosing JSON Pointer', () => {
    const err = catchError(() => parseJson(enc.encode('{"a":{"b":[1,2,"\\x"]}}'), OPTS));
    expect(err.code).toBe('malformed_json');
    expect(err.paths).toEqual(['/a/b/2']);
    expect(err.message).toMatch(/at byte 16\b/);

    const trailing = catchError(() => parseJson(enc.encode('{"list":[1,]}'), OPTS));
    expect(trailing.paths).toEqual(['/list/1']);
  });

  it('never puts document values in error messages or paths', () => {
    const secret = '4111111111111111';
    const inputs: (string | number[])[] = [
      `{"card":"${secret}\\x"}`,
      `{"card":"${secret}\u0001"}`,
      `{"card":"${secret}","card":"${secret}"}`,
      `{"card":${secret}x}`,
      `{"card":${secret}.}`,
      `{"card":"${secret}`,
      `{"card":"${secret}\\ud800"}`,
      `["${secret}" "${secret}"]`,
      [...enc.encode(`{"card":"${secret}`), 0xff, 0x22, 0x7d],
      `[[["${secret}"]]]`,
    ];
    for (const input of inputs) {
      const err = catchError(() => parseJson(bytesOf(input), { maxDepth: 2 }));
      expect(err.message).not.toContain(secret);
      expect(err.message).not.toContain(secret.slice(0, 4));
      expect(err.paths.join(' ')).not.toContain(secret.slice(0, 4));
    }
  });
});

describe('parseJson: depth limit', () => {
  const nestArrays = (n: number): string => '['.repeat(n) + ']'.repeat(n);
  const nestObjects = (n: number): string => '{"a":'.repeat(n - 1) + '{}' + '}'.repeat(n - 1);

  it.each([1, 2, 10, 64, 1000])('maxDepth %i: exactly maxDepth passes, one more fails', (max) => {
    expect(() => parseJson(enc.encode(nestArrays(max)), { maxDepth: max })).not.toThrow();
    expect(() => parseJson(enc.encode(nestObjects(max)), { maxDepth: max })).not.toThrow();
    const err = catchError(() => parseJson(enc.encode(nestArrays(max + 1)), { maxDepth: max }));
    expect(err.code).toBe('too_deep');
    expect(err.rule).toBe('json.max_depth');
    const objErr = catchError(() => parseJson(enc.encode(nestObjects(max + 1)), { maxDepth: max }));
    expect(objErr.code).toBe('too_deep');
    expect(objErr.paths).toEqual(['/a'.repeat(max)]);
  });

  it('counts the top-level container as depth 1; scalars have no depth', () => {
    expect(toPlainValue(parseJson(enc.encode('"s"'), { maxDepth: 0 }))).toBe('s');
    expect(catchError(() => parseJson(enc.encode('[]'), { maxDepth: 0 })).code).toBe('too_deep');
    expect(() => parseJson(enc.encode('{"a":[1],"b":{"c":[]}}'), { maxDepth: 3 })).not.toThrow();
    const err = catchError(() =>
      parseJson(enc.encode('{"a":[1],"b":{"c":[[]]}}'), { maxDepth: 3 }),
    );
    expect(err.code).toBe('too_deep');
    expect(err.paths).toEqual(['/b/c/0']);
  });

  it('rejects 1 MB of "[" without a stack overflow', () => {
    const bytes = new Uint8Array(1 << 20).fill(0x5b);
    const started = performance.now();
    expect(catchError(() => parseJson(bytes, { maxDepth: 1000 })).code).toBe('too_deep');
    // Even with a limit larger than the input the parser is iterative: malformed, not RangeError.
    expect(catchError(() => parseJson(bytes, { maxDepth: 1 << 21 })).code).toBe('malformed_json');
    const objects = enc.encode('{"a":'.repeat(200_000));
    expect(catchError(() => parseJson(objects, { maxDepth: 1000 })).code).toBe('too_deep');
    expect(performance.now() - started).toBeLessThan(5000);
  });

  it('parses and walks a very deep (but allowed) document iteratively', () => {
    const depth = 100_000;
    const bytes = enc.encode('['.repeat(depth) + '"x"' + ']'.repeat(depth));
    const root = parseJson(bytes, { maxDepth: depth });
    let visited = 0;
    let deepestPath = '';
    walkJson(root, (node, loc) => {
      visited++;
      if (node.kind === 'string') deepestPath = pointerOf(loc);
    });
    expect(visited).toBe(depth + 1);
    expect(deepestPath).toBe('/0'.repeat(depth));
  });

  it('rejects a nonsensical maxDepth as a programming error', () => {
    expect(() => parseJson(enc.encode('1'), { maxDepth: -1 })).toThrow(TypeError);
    expect(() => parseJson(enc.encode('1'), { maxDepth: Number.NaN })).toThrow(TypeError);
  });
});

describe('applyEdits', () => {
  const input = enc.encode('{"a":"secret","b":[1,"x"]}');

  it('returns the input unchanged when there are no edits', () => {
    expect(applyEdits(input, [])).toEqual(input);
  });

  it('splices edits given in any order', () => {
    const root = parseJson(input, OPTS);
    const edits: { start: number; end: number; replacement: Uint8Array }[] = [];
    walkJson(root, (node) => {
      if (node.kind === 'string') {
        edits.push({ start: node.start, end: node.end, replacement: encodeJsonString('***') });
      }
    });
    const expected = '{"a":"***","b":[1,"***"]}';
    expect(dec.decode(applyEdits(input, edits))).toBe(expected);
    expect(dec.decode(applyEdits(input, [...edits].reverse()))).toBe(expected);
  });

  it('handles insertions, deletions, adjacent edits and edits at both ends', () => {
    const bytes = enc.encode('abcdef');
    const r = (s: string): Uint8Array => enc.encode(s);
    expect(dec.decode(applyEdits(bytes, [{ start: 0, end: 0, replacement: r('<') }]))).toBe(
      '<abcdef',
    );
    expect(dec.decode(applyEdits(bytes, [{ start: 6, end: 6, replacement: r('>') }]))).toBe(
      'abcdef>',
    );
    expect(dec.decode(applyEdits(bytes, [{ start: 1, end: 3, replacement: r('') }]))).toBe('adef');
    const adjacent = [
      { start: 2, end: 4, replacement: r('Y') },
      { start: 0, end: 2, replacement: r('X') },
      { start: 4, end: 4, replacement: r('+') },
      { start: 4, end: 6, replacement: r('Z') },
    ];
    expect(dec.decode(applyEdits(bytes, adjacent))).toBe('XY+Z');
  });

  it('rejects overlapping or out-of-range edits with a TypeError', () => {
    const r = new Uint8Array(0);
    const bad: { start: number; end: number; replacement: Uint8Array }[][] = [
      [
        { start: 1, end: 4, replacement: r },
        { start: 3, end: 5, replacement: r },
      ],
      [
        { start: 1, end: 4, replacement: r },
        { start: 2, end: 2, replacement: r },
      ],
      [
        { start: 1, end: 4, replacement: r },
        { start: 1, end: 4, replacement: r },
      ],
      [
        { start: 2, end: 2, replacement: r },
        { start: 2, end: 2, replacement: r },
      ],
      [{ start: -1, end: 1, replacement: r }],
      [{ start: 3, end: 2, replacement: r }],
      [{ start: 0, end: input.length + 1, replacement: r }],
      [{ start: 0.5, end: 1, replacement: r }],
    ];
    for (const edits of bad) expect(() => applyEdits(input, edits)).toThrow(TypeError);
  });
});

describe('encodeJsonString', () => {
  const cases: [string, string, string][] = [
    ['plain', 'abc', '"abc"'],
    ['empty', '', '""'],
    ['quote and backslash', 'a"b\\c', '"a\\"b\\\\c"'],
    ['short escapes', '\b\f\n\r\t', '"\\b\\f\\n\\r\\t"'],
    ['other control chars as \\u00xx', '\u0000\u0001\u001f', '"\\u0000\\u0001\\u001f"'],
    ['slash, DEL and U+2028 stay literal', '/\u007f\u2028', '"/\u007f\u2028"'],
    ['non-ASCII and emoji stay literal', 'é日😀', '"é日😀"'],
    ['lone high surrogate -> U+FFFD', 'a\ud800b', '"a\ufffdb"'],
    ['lone low surrogate -> U+FFFD', '\udc00', '"\ufffd"'],
    ['reversed pair -> two U+FFFD', '\udc00\ud800', '"\ufffd\ufffd"'],
    ['valid pair kept', '\ud83d\ude00', '"😀"'],
  ];

  it.each(cases)('%s', (_name, value, expected) => {
    const bytes = encodeJsonString(value);
    expect(bytes).toBeInstanceOf(Uint8Array);
    expect(dec.decode(bytes)).toBe(expected);
    // Whatever we emit, our own strict parser accepts.
    expect(parseJson(bytes, OPTS)).toMatchObject({
      kind: 'string',
      value: JSON.parse(expected) as string,
    });
  });
});

describe('JSON Pointer', () => {
  it('builds RFC 6901 pointers, escaping ~ before /', () => {
    expect(jsonPointer([])).toBe('');
    expect(jsonPointer(['a', 'b'])).toBe('/a/b');
    expect(jsonPointer(['a/b', 'm~n'])).toBe('/a~1b/m~0n');
    expect(jsonPointer(['~1'])).toBe('/~01');
    expect(jsonPointer([0, 'x', 12])).toBe('/0/x/12');
    expect(jsonPointer([''])).toBe('/');
    expect(jsonPointer(['', ''])).toBe('//');
  });

  it('appendPointer extends a parent pointer by one segment', () => {
    expect(appendPointer('', 'a')).toBe('/a');
    expect(appendPointer('/a', 3)).toBe('/a/3');
    expect(appendPointer('/a', 'b/c~')).toBe('/a/b~1c~0');
    expect(appendPointer(jsonPointer(['x', 'y']), 'z')).toBe(jsonPointer(['x', 'y', 'z']));
  });
});

describe('walkJson', () => {
  const text = '{"a":[1,{"b/c":"x"}],"d":{"e":null},"":true}';
  const root = parseJson(enc.encode(text), OPTS);

  it('visits every node depth-first in document order with its pointer', () => {
    const seen: [string, string][] = [];
    walkJson(root, (node, loc) => {
      seen.push([pointerOf(loc), node.kind]);
    });
    expect(seen).toEqual([
      ['', 'object'],
      ['/a', 'array'],
      ['/a/0', 'number'],
      ['/a/1', 'object'],
      ['/a/1/b~1c', 'string'],
      ['/d', 'object'],
      ['/d/e', 'null'],
      ['/', 'true'],
    ]);
  });

  it('skips the children of a node when visit returns false', () => {
    const seen: string[] = [];
    walkJson(root, (_node, loc) => {
      const path = pointerOf(loc);
      seen.push(path);
      return path !== '/a';
    });
    expect(seen).toEqual(['', '/a', '/d', '/d/e', '/']);
  });
});

describe('isJsonDocument', () => {
  it('is true for an object or array the strict reader reads whole, at any depth', () => {
    expect(isJsonDocument('{"a":1}')).toBe(true);
    expect(isJsonDocument(' \n[1, {"b": [2]}]\t')).toBe(true);
    expect(isJsonDocument('['.repeat(5000) + ']'.repeat(5000))).toBe(true);
  });

  it('is false for scalars, prose, and what only a lenient parser reads', () => {
    for (const s of ['"a"', '12', 'null', '', '[1] see note', '{"a":1} trailing']) {
      expect(isJsonDocument(s), s).toBe(false);
    }
    // JSON.parse reads both; the gateway refuses both (parser differentials).
    expect(JSON.parse('{"a":1,"a":2}')).toEqual({ a: 2 });
    expect(isJsonDocument('{"a":1,"a":2}')).toBe(false);
    expect(isJsonDocument('["\\ud800"]')).toBe(false);
  });
});
