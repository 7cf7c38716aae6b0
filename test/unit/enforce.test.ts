import { describe, expect, it } from 'vitest';
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
