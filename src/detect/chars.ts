// The characters the detectors' prefilters look for, as bits: a reader that already visits
// every byte of a string (the JSON reader) records which of them the string holds, so a
// scan need not search the text for them again. A value with none of a detector's
// characters cannot hold what it finds.

export const CHAR_DIGIT = 1;
export const CHAR_AT = 2;
export const CHAR_COLON = 4;
export const CHAR_UNDERSCORE = 8;
export const CHAR_DASH = 16;
export const CHAR_DOT = 32;
export const CHAR_X = 64;
/**
 * The text holds characters outside ASCII: the other bits are those of its ASCII
 * characters only, and its normalized view (normalize.ts) may hold more (full-width digits).
 */
export const CHAR_NON_ASCII = 128;

/** The bit of a character code: its own for those above, CHAR_NON_ASCII beyond ASCII, else 0. */
export function charBit(code: number): number {
  if (code >= 0x30 && code <= 0x39) return CHAR_DIGIT;
  if (code >= 0x80) return CHAR_NON_ASCII;
  switch (code) {
    case 0x40:
      return CHAR_AT;
    case 0x3a:
      return CHAR_COLON;
    case 0x5f:
      return CHAR_UNDERSCORE;
    case 0x2d:
      return CHAR_DASH;
    case 0x2e:
      return CHAR_DOT;
    case 0x78:
      return CHAR_X;
    default:
      return 0;
  }
}
