import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { fieldLabel, maskText, redactPlaceholder } from '../../src/enforce/actions.js';
import type { MaskSpec } from '../../src/policy/types.js';

const mask = (keep_first: number, keep_last: number, mask_char = '*'): MaskSpec => ({
  type: 'mask',
  keep_first,
  keep_last,
  mask_char,
});

describe('maskText', () => {
  it.each([
    ['4242 4242 4242 4242', mask(0, 4), '**** **** **** 4242'],
    ['4242424242424242', mask(0, 4), '************4242'],
    ['4242-4242-4242-4242', mask(4, 4, '#'), '4242-####-####-4242'],
    ['ada@example.com', mask(1, 0), 'a**@*******.***'],
    ['078-05-1120', mask(0, 4), '***-**-1120'],
    // Revealing half or more would leak a short value through its kept ends: mask it all.
    ['12/29', mask(0, 4), '**/**'],
    ['1234', mask(2, 2), '****'],
    ['', mask(0, 4), ''],
    ['Zoë 12', mask(0, 2), '*** 12'],
    ['😀 abcdefgh', mask(0, 2), '😀 ******gh'],
  ])('%s with %o → %s', (input, spec, expected) => {
    expect(maskText(input, spec)).toBe(expected);
  });
});

describe('redaction placeholders', () => {
  it('name the level and the detector, else the field', () => {
    expect(redactPlaceholder('restricted', fieldLabel('/customer/ssn', undefined))).toBe(
      '[REDACTED:restricted:ssn]',
    );
    expect(redactPlaceholder('restricted', fieldLabel('/customer/tax_id', 'ssn'))).toBe(
      '[REDACTED:restricted:ssn]',
    );
    expect(fieldLabel('/cards/0', undefined)).toBe('value');
    expect(fieldLabel('/a~1b', undefined)).toBe('a/b');
  });
});

describe('maskText against the array-of-characters reference', () => {
  // The first implementation, kept as the reference: maskText is now written by code point
  // without Array.from and without a regex per ASCII character; it must give the same text.
  function reference(text: string, spec: MaskSpec): string {
    const isAlnum = (c: string): boolean => /[\p{L}\p{N}]/u.test(c);
    const chars = Array.from(text);
    let total = 0;
    for (const c of chars) if (isAlnum(c)) total++;
    const reveal = spec.keep_first + spec.keep_last;
    const [first, last] = reveal * 2 > total ? [0, 0] : [spec.keep_first, spec.keep_last];
    let seen = 0;
    let out = '';
    for (const c of chars) {
      if (!isAlnum(c)) {
        out += c;
        continue;
      }
      seen++;
      out += seen <= first || seen > total - last ? c : spec.mask_char;
    }
    return out;
  }

  it('gives the same result on arbitrary text (lone surrogates, pairs, letters of any script)', () => {
    const text = fc.oneof(
      fc.string({ unit: 'binary', maxLength: 40 }),
      fc.string({ unit: 'grapheme', maxLength: 20 }),
      fc.constantFrom(
        '4242 4242 4242 4242',
        'ada@example.com',
        'Zoë 12',
        '😀 abc',
        '\ud800x\udc00',
      ),
    );
    fc.assert(
      fc.property(text, fc.nat(6), fc.nat(6), fc.constantFrom('*', '#', '•'), (t, kf, kl, ch) => {
        const spec = mask(kf, kl, ch);
        expect(maskText(t, spec)).toBe(reference(t, spec));
      }),
    );
  });
});
