// Content-Encoding: callguard inspects what the upstream will decode. It decodes gzip,
// deflate and br with a cap on the decoded size (a zip bomb gets 413, not memory
// exhaustion); anything else it cannot read, so it refuses it (fail closed).

import { brotliDecompressSync, gunzipSync, inflateSync } from 'node:zlib';
import { CallguardError } from '../errors.js';

export type Encoding = 'identity' | 'gzip' | 'deflate' | 'br';

export function parseEncoding(v: string | undefined): Encoding {
  const codings = (v ?? '')
    .split(',')
    .map((s) => s.trim().toLowerCase())
    .filter((s) => s !== '' && s !== 'identity');
  if (codings.length === 0) return 'identity';
  const only = codings.length === 1 ? codings[0] : undefined;
  switch (only) {
    case 'gzip':
    case 'x-gzip':
      return 'gzip';
    case 'deflate':
      return 'deflate';
    case 'br':
      return 'br';
    default:
      throw new CallguardError(
        'unsupported_encoding',
        'content-encoding not supported on this route',
        {
          rule: 'http.content_encoding',
        },
      );
  }
}

export function decodeBody(body: Buffer, enc: Encoding, maxBytes: number): Buffer {
  if (enc === 'identity') return body;
  try {
    const opts = { maxOutputLength: maxBytes };
    switch (enc) {
      case 'gzip':
        return gunzipSync(body, opts);
      case 'deflate':
        return inflateSync(body, opts);
      case 'br':
        return brotliDecompressSync(body, opts);
    }
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ERR_BUFFER_TOO_LARGE') {
      throw new CallguardError('body_too_large', `decoded body exceeds ${maxBytes} bytes`, {
        rule: 'limits.max_body_bytes',
      });
    }
    throw new CallguardError('unsupported_encoding', `body is not valid ${enc}`, {
      rule: 'http.content_encoding',
    });
  }
}
