import { randomBytes } from 'node:crypto';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { TokenError, Tokenizer, TOKEN_IN_TEXT } from '../../src/enforce/tokenize.js';

const k1 = { id: 'k1', secret: randomBytes(32) };
const k2 = { id: 'k2', secret: randomBytes(32) };

describe('tokens', () => {
  const t = new Tokenizer([k1]);

  it('are deterministic, reversible and name their kind and key', () => {
    const a = t.tokenize('4111 1111 1111 1111', 'card');
    expect(a).toMatch(/^tok_card_k1_[A-Za-z0-9_-]+$/);
    expect(t.tokenize('4111 1111 1111 1111', 'card')).toBe(a);
    expect(t.tokenize('4111 1111 1111 1112', 'card')).not.toBe(a);
    expect(t.detokenize(a)).toEqual({ value: '4111 1111 1111 1111', kind: 'card' });
    expect(`see ${a}.`.match(TOKEN_IN_TEXT)).toEqual([a]);
  });

  it('differ by kind, and a token cannot be relabelled as another kind', () => {
    const card = t.tokenize('078051120', 'card');
    const ssn = t.tokenize('078051120', 'ssn');
    expect(card).not.toBe(ssn);
    expect(() => t.detokenize(card.replace('tok_card_', 'tok_ssn_'))).toThrow(TokenError);
  });

  it('refuse a token altered in any position', () => {
    const tok = t.tokenize('secret value', 'secret');
    const payloadStart = 'tok_secret_k1_'.length;
    for (let i = payloadStart; i < tok.length; i++) {
      const c = tok[i] === 'A' ? 'B' : 'A';
      const bad = tok.slice(0, i) + c + tok.slice(i + 1);
      expect(() => t.detokenize(bad), `position ${i}`).toThrow(TokenError);
    }
  });

  it('rotate: the new key makes tokens, the old one still reverses its own', () => {
    const old = t.tokenize('v', 'email');
    const rotated = new Tokenizer([k2, k1]);
    expect(rotated.tokenize('v', 'email')).toMatch(/^tok_email_k2_/);
    expect(rotated.detokenize(old).value).toBe('v');
    expect(() => new Tokenizer([k2]).detokenize(old)).toThrow('token key is unknown');
  });

  it('a token made with another secret under the same key id is refused', () => {
    const other = new Tokenizer([{ id: 'k1', secret: randomBytes(32) }]);
    expect(() => t.detokenize(other.tokenize('v', 'card'))).toThrow(TokenError);
  });

  it('round-trips any string', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'grapheme', maxLength: 200 }), (s) => {
        expect(t.detokenize(t.tokenize(s, 'x')).value).toBe(s);
      }),
    );
  });

  it('refuses weak configuration', () => {
    expect(() => new Tokenizer([{ id: 'k1', secret: randomBytes(16) }])).toThrow(TypeError);
    expect(() => new Tokenizer([{ id: 'K_1', secret: randomBytes(32) }])).toThrow(TypeError);
    expect(() => new Tokenizer([])).toThrow(TypeError);
  });
});

describe('owns', () => {
  it('recognises its own tokens only', () => {
    const t = new Tokenizer([{ id: 'a', secret: Buffer.alloc(32, 3) }]);
    const other = new Tokenizer([{ id: 'a', secret: Buffer.alloc(32, 4) }]);
    const tok = t.tokenize('4242424242424242', 'card');
    expect(t.owns(tok)).toBe(true);
    expect(other.owns(tok)).toBe(false);
    expect(t.owns(`${tok} `)).toBe(false);
    expect(t.owns('4242424242424242')).toBe(false);
  });
});
