// Byte-preserving JSON reader and editor.
//
// parseJson records the byte span of every value instead of building plain JS values, so a
// caller can mask a value by splicing new bytes over its span (applyEdits) and leave every
// other byte of the payload as the client sent it: key order, whitespace, number spelling and
// \u escapes all survive. The parser is a strict RFC 8259 reader (the gateway fails closed:
// anything a downstream parser might read differently is rejected), works on byte codes in a
// single pass, and is iterative, so hostile nesting can only ever produce too_deep or
// malformed_json, never a stack overflow.
//
// Error messages carry byte offsets and JSON Pointers (field names), never document values.

import { Buffer, isUtf8 } from 'node:buffer';
import { CallguardError } from '../errors.js';
import { CHAR_NON_ASCII, charBit } from '../detect/chars.js';
import { findInvalidUtf8, utf8SequenceLength } from './utf8.js';

/** Byte offsets [start, end) into the parsed input. */
export interface Span {
  start: number;
  end: number;
}

export type JsonNode = JsonObject | JsonArray | JsonString | JsonNumber | JsonLiteral;

export interface JsonObject extends Span {
  kind: 'object';
  members: JsonMember[];
}

/** An object member; `key` is decoded, `keySpan` covers the key literal including its quotes. */
export interface JsonMember {
  key: string;
  keySpan: Span;
  value: JsonNode;
  /** The key's prefilter characters, as JsonString.chars (keys are read by the detectors too). */
  keyChars?: number;
}

export interface JsonArray extends Span {
  kind: 'array';
  items: JsonNode[];
}

/** A string value; `value` is decoded, the span includes the quotes. */
export interface JsonString extends Span {
  kind: 'string';
  value: string;
  /**
   * Which of the detectors' prefilter characters (detect/chars.ts) the value holds, read
   * while the string was scanned; -1 when not known (a string with escapes).
   */
  chars?: number;
}

/** A number; `raw` is its exact source spelling (no precision is lost). */
export interface JsonNumber extends Span {
  kind: 'number';
  raw: string;
}

export interface JsonLiteral extends Span {
  kind: 'true' | 'false' | 'null';
}

/** depth 1 = the top-level container; a container nested deeper than maxDepth -> too_deep. */
export interface ParseOptions {
  maxDepth: number;
}

export interface Edit {
  start: number;
  end: number;
  replacement: Uint8Array;
}

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const COMMA = 0x2c;
const COLON = 0x3a;
const LBRACE = 0x7b;
const RBRACE = 0x7d;
const LBRACKET = 0x5b;
const RBRACKET = 0x5d;
const MINUS = 0x2d;
const PLUS = 0x2b;
const DOT = 0x2e;
const DIGIT_0 = 0x30;
const DIGIT_9 = 0x39;

/**
 * What a byte means inside a string literal: below SPECIAL, a plain ASCII character and its
 * prefilter bit (detect/chars.ts, 0 for most); from SPECIAL up, a byte the scan must stop at.
 */
const SPECIAL = 0x80;
const END = 0x81;
const ESCAPE = 0x82;
const CONTROL = 0x83;
const NON_ASCII = 0x84;
const STRING_BYTE = new Uint8Array(256);
for (let c = 0x20; c < 0x80; c++) STRING_BYTE[c] = charBit(c);
for (let c = 0; c < 0x20; c++) STRING_BYTE[c] = CONTROL;
for (let c = 0x80; c < 0x100; c++) STRING_BYTE[c] = NON_ASCII;
STRING_BYTE[QUOTE] = END;
STRING_BYTE[BACKSLASH] = ESCAPE;

/** Objects with more members than this switch duplicate detection from a scan to a Set. */
const LINEAR_KEY_SCAN_LIMIT = 8;

/**
 * Parse `bytes` as exactly one RFC 8259 JSON value. Throws CallguardError with code
 * malformed_json, invalid_utf8, duplicate_key or too_deep; never any other error for any input
 * (a TypeError only for invalid options).
 */
export function parseJson(bytes: Uint8Array, opts: ParseOptions): JsonNode {
  const maxDepth = opts.maxDepth;
  if (typeof maxDepth !== 'number' || !(maxDepth >= 0)) {
    throw new TypeError('parseJson: maxDepth must be a non-negative number');
  }
  if (isUtf8(bytes)) {
    return new Parser(bytes, maxDepth, -1).parse();
  }
  // Slow path, only for bodies that are going to be rejected: invalid UTF-8 takes precedence
  // over every other error. Re-parse while validating UTF-8 inline so that the error can name
  // the JSON Pointer of the value holding the bad byte when the parser gets that far.
  const bad = findInvalidUtf8(bytes);
  try {
    new Parser(bytes, maxDepth, bad).parse();
  } catch (err) {
    if (err instanceof CallguardError && err.code === 'invalid_utf8') throw err;
  }
  throw utf8Error(bad, []);
}

function utf8Error(offset: number, paths: string[]): CallguardError {
  return new CallguardError('invalid_utf8', `invalid UTF-8 at byte ${offset}`, {
    rule: 'json.utf8',
    paths,
  });
}

/**
 * Buffer's own decoders. Buffer#toString(encoding, start, end) is a JS wrapper that normalizes
 * its arguments and then calls these; calling them directly is measurably faster for the many
 * short slices a parse decodes. Both are present on Buffer.prototype in every supported Node.
 */
interface NativeSlices {
  utf8Slice(start: number, end: number): string;
  latin1Slice(start: number, end: number): string;
}

function nativeSlices(bytes: Uint8Array): NativeSlices {
  const buf = Buffer.isBuffer(bytes)
    ? bytes
    : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const native = buf as unknown as Partial<NativeSlices>;
  if (typeof native.utf8Slice === 'function' && typeof native.latin1Slice === 'function') {
    return native as NativeSlices;
  }
  return {
    utf8Slice: (start, end) => buf.toString('utf8', start, end),
    latin1Slice: (start, end) => buf.toString('latin1', start, end),
  };
}

class Parser {
  private readonly bytes: Uint8Array;
  private readonly buf: NativeSlices;
  private readonly len: number;
  private readonly maxDepth: number;
  /** Offset of the first invalid UTF-8 byte, or -1 when the input is known to be valid. */
  private readonly badUtf8: number;
  /** Open containers, outermost first. */
  private readonly stack: (JsonObject | JsonArray)[] = [];
  /** Per open object: the key (and its span) of the member whose value is being parsed. */
  private readonly keys: string[] = [];
  private readonly keySpans: Span[] = [];
  private readonly keyChars: number[] = [];
  /** Per open object with many members: the set of its keys so far. */
  private readonly keySets: (Set<string> | undefined)[] = [];
  /** Decoded value of the string most recently scanned, and its JsonString.chars. */
  private str = '';
  private chars = -1;
  /** True while scanning an object key (errors then belong to the object). */
  private inKey = false;

  constructor(bytes: Uint8Array, maxDepth: number, badUtf8: number) {
    this.bytes = bytes;
    this.buf = nativeSlices(bytes);
    this.len = bytes.length;
    this.maxDepth = maxDepth;
    this.badUtf8 = badUtf8;
  }

  parse(): JsonNode {
    const b = this.bytes;
    const len = this.len;
    const stack = this.stack;
    if (len === 0) throw this.syntaxError(0, 'empty body', '');
    if (len >= 3 && b[0] === 0xef && b[1] === 0xbb && b[2] === 0xbf) {
      throw this.syntaxError(0, 'byte order mark is not allowed', '');
    }
    let pos = skipWs(b, 0, len);
    let node: JsonNode;
    outer: for (;;) {
      // A value starts at pos (whitespace already skipped).
      if (pos >= len) throw this.syntaxError(pos, 'unexpected end of input, expected a value');
      const c = b[pos]!;
      if (c === QUOTE) {
        const end = this.scanString(pos);
        node = { kind: 'string', start: pos, end, value: this.str, chars: this.chars };
        pos = end;
      } else if (c === LBRACE) {
        if (stack.length >= this.maxDepth) throw this.tooDeep(pos);
        const obj: JsonObject = { kind: 'object', start: pos, end: pos, members: [] };
        pos = skipWs(b, pos + 1, len);
        if (b[pos] === RBRACE) {
          obj.end = ++pos;
          node = obj;
        } else {
          stack.push(obj);
          this.keySets[stack.length - 1] = undefined;
          pos = this.readKey(pos, false);
          continue;
        }
      } else if (c === LBRACKET) {
        if (stack.length >= this.maxDepth) throw this.tooDeep(pos);
        const arr: JsonArray = { kind: 'array', start: pos, end: pos, items: [] };
        pos = skipWs(b, pos + 1, len);
        if (b[pos] === RBRACKET) {
          arr.end = ++pos;
          node = arr;
        } else {
          stack.push(arr);
          continue;
        }
      } else if (c === MINUS || (c >= DIGIT_0 && c <= DIGIT_9)) {
        const end = this.scanNumber(pos);
        node = { kind: 'number', start: pos, end, raw: this.latin1(pos, end) };
        pos = end;
      } else if (c === 0x74 /* t */) {
        if (b[pos + 1] !== 0x72 || b[pos + 2] !== 0x75 || b[pos + 3] !== 0x65) {
          throw this.syntaxError(pos, 'invalid literal');
        }
        node = { kind: 'true', start: pos, end: pos + 4 };
        pos += 4;
      } else if (c === 0x66 /* f */) {
        if (
          b[pos + 1] !== 0x61 ||
          b[pos + 2] !== 0x6c ||
          b[pos + 3] !== 0x73 ||
          b[pos + 4] !== 0x65
        ) {
          throw this.syntaxError(pos, 'invalid literal');
        }
        node = { kind: 'false', start: pos, end: pos + 5 };
        pos += 5;
      } else if (c === 0x6e /* n */) {
        if (b[pos + 1] !== 0x75 || b[pos + 2] !== 0x6c || b[pos + 3] !== 0x6c) {
          throw this.syntaxError(pos, 'invalid literal');
        }
        node = { kind: 'null', start: pos, end: pos + 4 };
        pos += 4;
      } else if (c === RBRACKET && stack[stack.length - 1]?.kind === 'array') {
        throw this.syntaxError(pos, 'trailing comma in array');
      } else {
        throw this.syntaxError(pos, 'unexpected character, expected a value');
      }

      // `node` is complete: attach it to the enclosing container, closing every container that
      // ends right after it.
      for (;;) {
        const depth = stack.length;
        if (depth === 0) break outer;
        const top = stack[depth - 1]!;
        pos = skipWs(b, pos, len);
        const d = b[pos];
        if (top.kind === 'array') {
          top.items.push(node);
          if (d === COMMA) {
            pos = skipWs(b, pos + 1, len);
            continue outer;
          }
          if (d !== RBRACKET) throw this.structureError(pos, "expected ',' or ']'");
        } else {
          top.members.push({
            key: this.keys[depth - 1]!,
            keySpan: this.keySpans[depth - 1]!,
            value: node,
            keyChars: this.keyChars[depth - 1]!,
          });
          if (d === COMMA) {
            pos = this.readKey(skipWs(b, pos + 1, len), true);
            continue outer;
          }
          if (d !== RBRACE) throw this.structureError(pos, "expected ',' or '}'");
        }
        top.end = ++pos;
        stack.pop();
        node = top;
      }
    }
    pos = skipWs(b, pos, len);
    if (pos !== len) throw this.syntaxError(pos, 'unexpected data after the top-level value', '');
    return node;
  }

  /** Reads `"key" :` of the innermost open object; returns the position of its value. */
  private readKey(pos: number, afterComma: boolean): number {
    const b = this.bytes;
    if (b[pos] !== QUOTE) {
      if (afterComma && b[pos] === RBRACE) {
        throw this.structureError(pos, 'trailing comma in object');
      }
      throw this.structureError(pos, 'expected a string key');
    }
    const end = this.scanKey(pos);
    const key = this.str;
    const keyChars = this.chars;
    const level = this.stack.length - 1;
    const obj = this.stack[level] as JsonObject;
    const members = obj.members;
    const n = members.length;
    let dup = false;
    if (n < LINEAR_KEY_SCAN_LIMIT) {
      for (let i = 0; i < n; i++) {
        if (members[i]!.key === key) {
          dup = true;
          break;
        }
      }
    } else {
      let set = this.keySets[level];
      if (set === undefined) {
        set = new Set();
        for (let i = 0; i < n; i++) set.add(members[i]!.key);
        this.keySets[level] = set;
      }
      dup = set.has(key);
      set.add(key);
    }
    if (dup) {
      const path = appendPointer(this.pathOf(level), key);
      throw new CallguardError('duplicate_key', `duplicate object key at byte ${pos} (${path})`, {
        rule: 'json.duplicate_key',
        paths: [path],
      });
    }
    this.keys[level] = key;
    this.keySpans[level] = { start: pos, end };
    this.keyChars[level] = keyChars;
    const p = skipWs(b, end, this.len);
    if (b[p] !== COLON) throw this.structureError(p, "expected ':' after object key");
    return skipWs(b, p + 1, this.len);
  }

  private scanKey(start: number): number {
    // Keys are scanned as strings, but an error inside one belongs to the object, not to the
    // (not yet known) member.
    this.inKey = true;
    const end = this.scanString(start);
    this.inKey = false;
    return end;
  }

  /** Scans the string literal at `start` (a quote); sets this.str; returns the end offset. */
  private scanString(start: number): number {
    const b = this.bytes;
    const len = this.len;
    let i = start + 1;
    let ascii = true;
    let chars = 0;
    for (;;) {
      if (i >= len) throw this.syntaxError(start, 'unterminated string');
      // One table lookup per byte: most bytes of a string are plain ASCII. (UTF-8 sequences
      // hold no ASCII bytes, so the bits are those of the decoded value.)
      const t = STRING_BYTE[b[i]!]!;
      if (t < SPECIAL) {
        chars |= t;
        i++;
        continue;
      }
      if (t === END) break;
      if (t === ESCAPE) return this.scanEscapedString(start, i);
      if (t === CONTROL) throw this.syntaxError(i, 'unescaped control character in string');
      ascii = false;
      if (this.badUtf8 >= 0) {
        const n = utf8SequenceLength(b, i);
        if (n === 0) throw utf8Error(i, [this.valuePath()]);
        i += n;
        continue;
      }
      i++;
    }
    const s = start + 1;
    this.str = ascii ? this.latin1(s, i) : this.buf.utf8Slice(s, i);
    // Outside ASCII the bits are those of the ASCII characters only (full-width digits are
    // digits to the detectors' normalized view): say so.
    this.chars = ascii ? chars : chars | CHAR_NON_ASCII;
    return i + 1;
  }

  /** Continues scanning a string at its first backslash (offset `i`). */
  private scanEscapedString(start: number, i: number): number {
    const b = this.bytes;
    const len = this.len;
    const buf = this.buf;
    let out = buf.utf8Slice(start + 1, i);
    let seg = i;
    for (;;) {
      if (i >= len) throw this.syntaxError(start, 'unterminated string');
      const c = b[i]!;
      if (STRING_BYTE[c]! < SPECIAL) {
        i++;
        continue;
      }
      if (c === QUOTE) break;
      if (c === BACKSLASH) {
        if (seg < i) out += buf.utf8Slice(seg, i);
        const e = b[i + 1];
        switch (e) {
          case QUOTE:
            out += '"';
            break;
          case BACKSLASH:
            out += '\\';
            break;
          case 0x2f /* / */:
            out += '/';
            break;
          case 0x62 /* b */:
            out += '\b';
            break;
          case 0x66 /* f */:
            out += '\f';
            break;
          case 0x6e /* n */:
            out += '\n';
            break;
          case 0x72 /* r */:
            out += '\r';
            break;
          case 0x74 /* t */:
            out += '\t';
            break;
          case 0x75 /* u */: {
            const cu = hex4(b, i + 2);
            if (cu < 0) throw this.syntaxError(i, 'invalid \\u escape');
            if (cu >= 0xd800 && cu <= 0xdfff) {
              // Only a high surrogate escape directly followed by a low surrogate escape is a
              // character; a lone surrogate is rejected rather than guessed at.
              const lo =
                cu <= 0xdbff && b[i + 6] === BACKSLASH && b[i + 7] === 0x75 ? hex4(b, i + 8) : -1;
              if (lo < 0xdc00 || lo > 0xdfff) {
                throw this.syntaxError(i, 'lone surrogate in \\u escape');
              }
              out += String.fromCharCode(cu, lo);
              i += 12;
            } else {
              out += String.fromCharCode(cu);
              i += 6;
            }
            seg = i;
            continue;
          }
          default:
            throw this.syntaxError(i, 'invalid escape sequence');
        }
        i += 2;
        seg = i;
        continue;
      }
      if (c < 0x20) throw this.syntaxError(i, 'unescaped control character in string');
      if (c >= 0x80 && this.badUtf8 >= 0) {
        const n = utf8SequenceLength(b, i);
        if (n === 0) throw utf8Error(i, [this.valuePath()]);
        i += n;
        continue;
      }
      i++;
    }
    if (seg < i) out += buf.utf8Slice(seg, i);
    this.str = out;
    this.chars = -1;
    return i + 1;
  }

  /** Scans the number at `start`; returns its end offset. */
  private scanNumber(start: number): number {
    const b = this.bytes;
    const len = this.len;
    let i = start;
    if (b[i] === MINUS) i++;
    const first = i < len ? b[i]! : -1;
    if (first === DIGIT_0) {
      i++;
      if (i < len && isDigit(b[i]!)) throw this.syntaxError(start, 'number with a leading zero');
    } else if (first > DIGIT_0 && first <= DIGIT_9) {
      i++;
      while (i < len && isDigit(b[i]!)) i++;
    } else {
      throw this.syntaxError(start, 'invalid number');
    }
    if (i < len && b[i] === DOT) {
      i++;
      if (!(i < len && isDigit(b[i]!))) throw this.syntaxError(start, 'invalid number fraction');
      i++;
      while (i < len && isDigit(b[i]!)) i++;
    }
    if (i < len && (b[i] === 0x65 || b[i] === 0x45) /* e E */) {
      i++;
      if (i < len && (b[i] === PLUS || b[i] === MINUS)) i++;
      if (!(i < len && isDigit(b[i]!))) throw this.syntaxError(start, 'invalid number exponent');
      i++;
      while (i < len && isDigit(b[i]!)) i++;
    }
    return i;
  }

  /** Decodes bytes known to be ASCII. */
  private latin1(start: number, end: number): string {
    const n = end - start;
    if (n <= 12) {
      // Short slices (most numbers and keys) are cheaper to build here than to decode natively.
      const b = this.bytes;
      let s = '';
      for (let i = start; i < end; i++) s += String.fromCharCode(b[i]!);
      return s;
    }
    return this.buf.latin1Slice(start, end);
  }

  /** JSON Pointer of the open container at `level` (0 = outermost). */
  private pathOf(level: number): string {
    let path = '';
    for (let i = 0; i < level; i++) path = appendPointer(path, this.childSegment(i));
    return path;
  }

  /** Segment, within the open container at `level`, of the child being parsed. */
  private childSegment(level: number): string | number {
    const c = this.stack[level]!;
    return c.kind === 'array' ? c.items.length : this.keys[level]!;
  }

  /** JSON Pointer of the value currently being parsed. */
  private valuePath(): string {
    if (this.inKey) return this.containerPath();
    return this.pathOf(this.stack.length);
  }

  /** JSON Pointer of the innermost open container. */
  private containerPath(): string {
    return this.stack.length === 0 ? '' : this.pathOf(this.stack.length - 1);
  }

  private syntaxError(pos: number, what: string, path = this.valuePath()): CallguardError {
    if (this.badUtf8 >= 0 && pos >= this.badUtf8) return utf8Error(this.badUtf8, [path]);
    return new CallguardError('malformed_json', `malformed JSON at byte ${pos}: ${what}`, {
      rule: 'json.syntax',
      paths: [path],
    });
  }

  private structureError(pos: number, what: string): CallguardError {
    return this.syntaxError(pos, what, this.containerPath());
  }

  private tooDeep(pos: number): CallguardError {
    const path = this.valuePath();
    return new CallguardError(
      'too_deep',
      `JSON nesting deeper than ${this.maxDepth} levels at byte ${pos}`,
      { rule: 'json.max_depth', paths: [path] },
    );
  }
}

function skipWs(b: Uint8Array, pos: number, len: number): number {
  while (pos < len) {
    const c = b[pos]!;
    if (c > 0x20 || (c !== 0x20 && c !== 0x0a && c !== 0x0d && c !== 0x09)) break;
    pos++;
  }
  return pos;
}

function isDigit(c: number): boolean {
  return c >= DIGIT_0 && c <= DIGIT_9;
}

function hexVal(c: number | undefined): number {
  if (c === undefined) return -1;
  if (c >= DIGIT_0 && c <= DIGIT_9) return c - DIGIT_0;
  const l = c | 0x20; // fold A-F to a-f
  if (l >= 0x61 && l <= 0x66) return l - 0x61 + 10;
  return -1;
}

/** Value of the 4 hex digits at `i`, or -1. */
function hex4(b: Uint8Array, i: number): number {
  const h0 = hexVal(b[i]);
  const h1 = hexVal(b[i + 1]);
  const h2 = hexVal(b[i + 2]);
  const h3 = hexVal(b[i + 3]);
  if ((h0 | h1 | h2 | h3) < 0) return -1;
  return (h0 << 12) | (h1 << 8) | (h2 << 4) | h3;
}

/**
 * Splice edits into bytes. Edits may come in any order; overlapping edits (or two insertions
 * at the same offset, whose order would be ambiguous) are a programming error -> TypeError.
 * No edits -> returns `bytes` itself.
 */
export function applyEdits(bytes: Uint8Array, edits: readonly Edit[]): Uint8Array {
  if (edits.length === 0) return bytes;
  const sorted = [...edits].sort((x, y) => x.start - y.start || x.end - y.end);
  const len = bytes.length;
  let total = len;
  let prev: Edit | undefined;
  for (const e of sorted) {
    const { start, end, replacement } = e;
    if (
      !Number.isInteger(start) ||
      !Number.isInteger(end) ||
      start < 0 ||
      start > end ||
      end > len
    ) {
      throw new TypeError(`applyEdits: edit [${start}, ${end}) is outside the input`);
    }
    if (!(replacement instanceof Uint8Array)) {
      throw new TypeError('applyEdits: replacement must be a Uint8Array');
    }
    if (prev !== undefined) {
      if (start < prev.end || (start === end && prev.start === start && prev.end === start)) {
        throw new TypeError(
          `applyEdits: edit [${start}, ${end}) overlaps edit [${prev.start}, ${prev.end})`,
        );
      }
    }
    total += replacement.length - (end - start);
    prev = e;
  }
  const out = new Uint8Array(total);
  let o = 0;
  let src = 0;
  for (const e of sorted) {
    out.set(bytes.subarray(src, e.start), o);
    o += e.start - src;
    out.set(e.replacement, o);
    o += e.replacement.length;
    src = e.end;
  }
  out.set(bytes.subarray(src), o);
  return out;
}

const encoder = new TextEncoder();
/** String.prototype.isWellFormed (ES2024, Node 20): not in the ES2023 lib the build uses. */
interface WellFormed {
  isWellFormed(): boolean;
}
const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g;

/**
 * A JSON string literal, quotes included, as UTF-8 bytes, with minimal escaping: `"` and `\`,
 * control characters as \b \f \n \r \t or \u00xx; everything else literal. A lone surrogate
 * (which has no UTF-8 form, and whose \u escape parseJson rejects) becomes U+FFFD, so every
 * literal produced here is accepted by parseJson and by strict UTF-8 readers.
 */
export function encodeJsonString(value: string): Uint8Array {
  // JSON.stringify of a well-formed string escapes exactly the set above. isWellFormed is
  // one native pass; the lone-surrogate regex only runs on a string that has one.
  const wellFormed = (value as unknown as WellFormed).isWellFormed();
  return encoder.encode(
    JSON.stringify(wellFormed ? value : value.replace(LONE_SURROGATE, '\ufffd')),
  );
}

function escapeSegment(segment: string | number): string {
  if (typeof segment === 'number') return String(segment);
  const s = segment;
  if (s.indexOf('~') < 0 && s.indexOf('/') < 0) return s;
  return s.replaceAll('~', '~0').replaceAll('/', '~1');
}

/** RFC 6901 JSON Pointer from segments ('' is the root); escapes ~ and /. */
export function jsonPointer(segments: readonly (string | number)[]): string {
  let p = '';
  for (const s of segments) p += '/' + escapeSegment(s);
  return p;
}

export function appendPointer(parent: string, segment: string | number): string {
  return parent + '/' + escapeSegment(segment);
}

/**
 * Pointer segments that name an object member by its position instead of its key, for a
 * key the detectors flagged (the key is a value, and a path must never carry a value):
 * `~key<i>` is the key itself of the object's i-th member (0-based, document order), and
 * `~value<i>` that member's value, on the way to whatever lies below it. `~` followed by
 * anything but `0` or `1` is not a valid RFC 6901 token, so neither can name a real key.
 */
export function keySegment(index: number): string {
  return `~key${index}`;
}

export function memberSegment(index: number): string {
  return `~value${index}`;
}

const POSITION_SEGMENT = /^~(key|value)(0|[1-9][0-9]*)$/;

/**
 * The byte span `pointer` names in the document `root`: a value, or (a last `~key<i>`
 * segment) a key literal; `~value<i>` steps into a member by position. Undefined when the
 * pointer names nothing there (or continues into a document carried in a string, `#`).
 */
export function locate(root: JsonNode, pointer: string): Span | undefined {
  if (pointer === '') return root;
  if (pointer[0] !== '/' || pointer.includes('#')) return undefined;
  const segs = pointer.slice(1).split('/');
  let node: JsonNode = root;
  for (let s = 0; s < segs.length; s++) {
    const raw = segs[s]!;
    const at = POSITION_SEGMENT.exec(raw);
    if (node.kind === 'object') {
      if (at) {
        const m = node.members[Number(at[2])];
        if (!m) return undefined;
        if (at[1] === 'key') return s === segs.length - 1 ? m.keySpan : undefined;
        node = m.value;
        continue;
      }
      const key = raw.replaceAll('~1', '/').replaceAll('~0', '~');
      const m = node.members.find((x) => x.key === key);
      if (!m) return undefined;
      node = m.value;
    } else if (node.kind === 'array') {
      if (!/^(0|[1-9][0-9]*)$/.test(raw)) return undefined;
      const item = node.items[Number(raw)];
      if (!item) return undefined;
      node = item;
    } else return undefined;
  }
  return node;
}

/**
 * `key`, or if an object already has it (`taken`), `key#2`, `key#3`, … the first it has not:
 * an edited key never makes two equal keys in one object (a duplicate key is what a parser
 * differential hides a value behind, and what this reader refuses).
 */
export function uniqueKey(taken: ReadonlySet<string>, key: string): string {
  if (!taken.has(key)) return key;
  let n = 2;
  while (taken.has(`${key}#${n}`)) n++;
  return `${key}#${n}`;
}

/** Where a node sits: its parent's location and its own segment (member key or index). */
export interface JsonLoc {
  readonly up: JsonLoc | undefined;
  readonly seg: string | number;
}

/**
 * The JSON Pointer of `loc` (undefined: the root) below `base`. Built on demand: a walk hands
 * out locations, and most nodes never need their pointer.
 */
export function pointerOf(loc: JsonLoc | undefined, base = ''): string {
  if (loc === undefined) return base;
  const segs: (string | number)[] = [];
  for (let l: JsonLoc | undefined = loc; l; l = l.up) segs.push(l.seg);
  let p = base;
  for (let i = segs.length - 1; i >= 0; i--) p = appendPointer(p, segs[i]!);
  return p;
}

/**
 * Depth-first, document-order visit of every node with its location (pointerOf gives its
 * JSON Pointer); return false from visit to skip that node's children. Iterative, so any
 * tree parseJson built can be walked, and a wide document does not recurse per item.
 */
export function walkJson(
  node: JsonNode,
  visit: (node: JsonNode, loc: JsonLoc | undefined) => boolean | void,
): void {
  const nodes: JsonNode[] = [node];
  const locs: (JsonLoc | undefined)[] = [undefined];
  for (;;) {
    const n = nodes.pop();
    if (n === undefined) return;
    const loc = locs.pop();
    if (visit(n, loc) === false) continue;
    if (n.kind === 'object') {
      const members = n.members;
      for (let i = members.length - 1; i >= 0; i--) {
        const m = members[i]!;
        nodes.push(m.value);
        locs.push({ up: loc, seg: m.key });
      }
    } else if (n.kind === 'array') {
      const items = n.items;
      for (let i = items.length - 1; i >= 0; i--) {
        nodes.push(items[i]!);
        locs.push({ up: loc, seg: i });
      }
    }
  }
}

/**
 * True when `text` is, whole, a JSON object or array (surrounding JSON whitespace allowed)
 * by this strict reader: a tool result or a string value that is a document rather than
 * prose. The one verdict the gateway uses, so no second parser can read the same text
 * differently. Read without a depth limit (the reader is iterative); whoever edits inside
 * the document re-reads it with its own limit and treats what it cannot read as text.
 */
export function isJsonDocument(text: string): boolean {
  let i = 0;
  while (i < text.length) {
    const c = text.charCodeAt(i);
    if (c !== 0x20 && c !== 0x0a && c !== 0x0d && c !== 0x09) break;
    i++;
  }
  const first = text.charCodeAt(i);
  if (first !== LBRACE && first !== LBRACKET) return false;
  try {
    const doc = parseJson(Buffer.from(text, 'utf8'), { maxDepth: Number.MAX_SAFE_INTEGER });
    return doc.kind === 'object' || doc.kind === 'array';
  } catch (err) {
    if (err instanceof CallguardError) return false;
    throw err;
  }
}

/**
 * The parsed tree as a plain JS value, numbers converted as JSON.parse converts them
 * (precision only matters to the bytes, which are never rebuilt from this value).
 * Keys are defined, not assigned, so a `__proto__` key stays an ordinary property.
 * Recursion is bounded by the depth limit the tree was parsed with.
 */
export function toPlainValue(node: JsonNode): unknown {
  switch (node.kind) {
    case 'object': {
      // As Object.fromEntries would, without an array per member: every key an own data
      // property, `__proto__` included (an assignment would set the prototype instead).
      const o: Record<string, unknown> = {};
      for (const m of node.members) {
        const v = toPlainValue(m.value);
        if (m.key === '__proto__')
          Object.defineProperty(o, m.key, {
            value: v,
            writable: true,
            enumerable: true,
            configurable: true,
          });
        else o[m.key] = v;
      }
      return o;
    }
    case 'array': {
      const items = node.items;
      const a = new Array<unknown>(items.length);
      for (let i = 0; i < items.length; i++) a[i] = toPlainValue(items[i]!);
      return a;
    }
    case 'string':
      return node.value;
    case 'number':
      return Number(node.raw);
    case 'true':
      return true;
    case 'false':
      return false;
    case 'null':
      return null;
  }
}
