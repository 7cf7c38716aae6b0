// Offsets in a text as an analyzer counts them, made JavaScript's. Presidio is Python: its
// `start` and `end` index a str, that is Unicode code points; callguard's webhook contract
// counts code points too (docs/analyzers.md). JavaScript strings, and every span the engine
// edits, count UTF-16 code units: a character outside the Basic Multilingual Plane (an
// emoji, 𝔄) is one code point but two units, so every offset after it differs.

/** Maps a text's code point offsets to UTF-16 offsets. */
export interface OffsetMap {
  /** The UTF-16 offset of code point offset `cp`, or undefined if it is outside the text. */
  utf16(cp: number): number | undefined;
}

/** Identity: a text without surrogates counts the same either way (the common case). */
class Same implements OffsetMap {
  constructor(private readonly length: number) {}
  utf16(cp: number): number | undefined {
    return Number.isInteger(cp) && cp >= 0 && cp <= this.length ? cp : undefined;
  }
}

class Table implements OffsetMap {
  constructor(private readonly at: Uint32Array) {}
  utf16(cp: number): number | undefined {
    return Number.isInteger(cp) && cp >= 0 && cp < this.at.length ? this.at[cp] : undefined;
  }
}

const SURROGATE = /[\uD800-\uDFFF]/;

/** The offset map of `text` (well-formed: the JSON reader refuses lone surrogates). */
export function codePointOffsets(text: string): OffsetMap {
  if (!SURROGATE.test(text)) return new Same(text.length);
  const at: number[] = [];
  for (let i = 0; i < text.length; i++) {
    at.push(i);
    const c = text.charCodeAt(i);
    if (c >= 0xd800 && c <= 0xdbff && i + 1 < text.length) {
      const d = text.charCodeAt(i + 1);
      if (d >= 0xdc00 && d <= 0xdfff) i++;
    }
  }
  at.push(text.length);
  return new Table(Uint32Array.from(at));
}
