// Strict UTF-8 validation helpers (RFC 3629 / Unicode Table 3-7): no overlong forms, no
// surrogate code points (ED A0..ED BF), nothing above U+10FFFF, no truncated sequences and no
// stray continuation bytes. The fast whole-buffer check is node:buffer's isUtf8; these helpers
// only run to locate the first bad byte once that check has failed.

/**
 * Length of the well-formed UTF-8 sequence starting at `i` (1..4), or 0 if the bytes at `i`
 * do not start a well-formed sequence (including a sequence cut off by the end of input).
 */
export function utf8SequenceLength(bytes: Uint8Array, i: number): number {
  const len = bytes.length;
  const b0 = bytes[i];
  if (b0 === undefined) return 0;
  if (b0 < 0x80) return 1;
  if (b0 < 0xc2) return 0; // stray continuation byte or overlong 2-byte lead (C0, C1)
  if (b0 < 0xe0) {
    return i + 1 < len && isCont(bytes[i + 1]!) ? 2 : 0;
  }
  if (b0 < 0xf0) {
    if (i + 2 >= len) return 0;
    const b1 = bytes[i + 1]!;
    // E0 needs A0..BF (no overlongs); ED needs 80..9F (no surrogates).
    const lo = b0 === 0xe0 ? 0xa0 : 0x80;
    const hi = b0 === 0xed ? 0x9f : 0xbf;
    if (b1 < lo || b1 > hi) return 0;
    return isCont(bytes[i + 2]!) ? 3 : 0;
  }
  if (b0 <= 0xf4) {
    if (i + 3 >= len) return 0;
    const b1 = bytes[i + 1]!;
    // F0 needs 90..BF (no overlongs); F4 needs 80..8F (nothing above U+10FFFF).
    const lo = b0 === 0xf0 ? 0x90 : 0x80;
    const hi = b0 === 0xf4 ? 0x8f : 0xbf;
    if (b1 < lo || b1 > hi) return 0;
    return isCont(bytes[i + 2]!) && isCont(bytes[i + 3]!) ? 4 : 0;
  }
  return 0; // F5..FF never appear in UTF-8
}

/** Byte offset of the first ill-formed UTF-8 sequence, or -1 if the input is well-formed. */
export function findInvalidUtf8(bytes: Uint8Array, from = 0): number {
  const len = bytes.length;
  let i = from;
  while (i < len) {
    if (bytes[i]! < 0x80) {
      i++;
      continue;
    }
    const n = utf8SequenceLength(bytes, i);
    if (n === 0) return i;
    i += n;
  }
  return -1;
}

function isCont(b: number): boolean {
  return (b & 0xc0) === 0x80;
}
