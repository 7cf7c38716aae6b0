// The request target (`:path` with its query) as texts the detectors read: each path
// segment and each query parameter's name and value, percent-decoded (UTF-8), `+` a space in
// the query. A text can be replaced, and the target rebuilt: only replaced parts are encoded
// again, every other byte stays as the client sent it. Strict: an invalid escape, bytes that
// are not UTF-8 once decoded, or a target longer than the limit is `malformed_url`, never a
// guess (a lenient reader here and a strict one upstream would read different values).

import { CallguardError } from '../errors.js';

export interface UrlPart {
  /** A path segment, or a query parameter's name or value. */
  kind: 'segment' | 'name' | 'value';
  /** The segment's index (0: the first after the leading `/`), or the parameter's. */
  index: number;
  /** The decoded text. */
  text: string;
  /** Offsets of the raw part in the target. */
  start: number;
  end: number;
}

export interface ParsedTarget {
  target: string;
  parts: UrlPart[];
}

const decoder = new TextDecoder('utf-8', { fatal: true });

function malformed(what: string): CallguardError {
  return new CallguardError('malformed_url', `the request URL ${what}`, { rule: 'http.url' });
}

function hexVal(c: number): number {
  if (c >= 0x30 && c <= 0x39) return c - 0x30;
  const l = c | 0x20;
  if (l >= 0x61 && l <= 0x66) return l - 0x61 + 10;
  return -1;
}

/** Percent-decodes target[start, end) as UTF-8 (`+` a space when `plus`); throws malformed_url. */
function decode(target: string, start: number, end: number, plus: boolean): string {
  let simple = true;
  for (let i = start; i < end && simple; i++) {
    const c = target.charCodeAt(i);
    simple = c !== 0x25 && !(plus && c === 0x2b) && c < 0x80;
  }
  if (simple) return target.slice(start, end);
  const bytes: number[] = [];
  for (let i = start; i < end; i++) {
    const c = target.charCodeAt(i);
    if (c === 0x25) {
      const h = i + 2 < end ? hexVal(target.charCodeAt(i + 1)) : -1;
      const l = h >= 0 ? hexVal(target.charCodeAt(i + 2)) : -1;
      if (l < 0) throw malformed('has an invalid percent-encoding');
      bytes.push((h << 4) | l);
      i += 2;
    } else if (plus && c === 0x2b) bytes.push(0x20);
    else if (c > 0xff) throw malformed('is not made of bytes');
    else bytes.push(c); // header values are read as latin1: one character per byte
  }
  try {
    return decoder.decode(new Uint8Array(bytes));
  } catch {
    throw malformed('is not UTF-8 once decoded');
  }
}

/** Reads a request target; throws CallguardError malformed_url. */
export function parseTarget(target: string, maxBytes: number): ParsedTarget {
  if (target.length > maxBytes) throw malformed(`is longer than ${maxBytes} bytes`);
  if (target.charCodeAt(0) !== 0x2f) throw malformed('does not start with /');
  for (let i = 0; i < target.length; i++) {
    const c = target.charCodeAt(i);
    if (c <= 0x20 || c === 0x7f) throw malformed('holds a control character or a space');
  }
  const parts: UrlPart[] = [];
  const q = target.indexOf('?');
  const pathEnd = q < 0 ? target.length : q;
  let index = 0;
  for (let at = 1; at <= pathEnd;) {
    let end = target.indexOf('/', at);
    if (end < 0 || end > pathEnd) end = pathEnd;
    parts.push({
      kind: 'segment',
      index: index++,
      text: decode(target, at, end, false),
      start: at,
      end,
    });
    at = end + 1;
  }
  if (q >= 0) {
    let n = 0;
    for (let at = q + 1; at < target.length;) {
      let end = target.indexOf('&', at);
      if (end < 0) end = target.length;
      if (end > at) {
        const eq = target.indexOf('=', at);
        const nameEnd = eq < 0 || eq > end ? end : eq;
        parts.push({
          kind: 'name',
          index: n,
          text: decode(target, at, nameEnd, true),
          start: at,
          end: nameEnd,
        });
        if (nameEnd < end)
          parts.push({
            kind: 'value',
            index: n,
            text: decode(target, nameEnd + 1, end, true),
            start: nameEnd + 1,
            end,
          });
        n++;
      }
      at = end + 1;
    }
  }
  return { target, parts };
}

/**
 * The target with some parts' decoded texts replaced: each replaced part percent-encoded
 * (everything but unreserved characters and `*`, `!`, `'`, `(`, `)`), the rest as it was.
 */
export function rewriteTarget(parsed: ParsedTarget, texts: ReadonlyMap<UrlPart, string>): string {
  if (texts.size === 0) return parsed.target;
  const parts = [...texts.keys()].sort((a, b) => a.start - b.start);
  let out = '';
  let at = 0;
  for (const p of parts) {
    out += parsed.target.slice(at, p.start) + encodeURIComponent(texts.get(p)!);
    at = p.end;
  }
  return out + parsed.target.slice(at);
}
