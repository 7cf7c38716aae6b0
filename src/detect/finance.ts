// The finance pack: bank routing and identifier codes, securities identifiers and
// crypto-currency addresses (cards and IBANs are in it too, from the core pack).

import type { Finder } from './context.js';
import { contextOnly, eachMatch, emitByContext, numberFinder, tokenRe } from './spec.js';
import type { BuiltinSpec, NumberCandidate } from './spec.js';
import {
  abaValid,
  base58CheckAddressValid,
  bicValid,
  cusipValid,
  eip55Valid,
  isinValid,
  segwitAddressValid,
} from './validators.js';

function compileBitcoin(): Finder {
  const legacy = /(?<![A-Za-z0-9])[13][1-9A-HJ-NP-Za-km-z]{24,33}(?![A-Za-z0-9])/g;
  const segwit =
    /(?<![A-Za-z0-9])(?:bc1|tb1|BC1|TB1)[02-9ac-hj-np-zAC-HJ-NP-Z]{11,87}(?![A-Za-z0-9])/g;
  return (env, emit) => {
    eachMatch(legacy, env.parts, (m) => {
      if (base58CheckAddressValid(m[0])) emit(m.index, m.index + m[0].length, 0.95);
    });
    eachMatch(segwit, env.parts, (m) => {
      if (segwitAddressValid(m[0])) emit(m.index, m.index + m[0].length, 0.95);
    });
  };
}

function compileEthereum(): Finder {
  const re = /(?<![A-Za-z0-9])0x([0-9a-fA-F]{40})(?![A-Za-z0-9])/g;
  return (env, emit) => {
    const found: NumberCandidate[] = [];
    eachMatch(re, env.parts, (m) => {
      const hex = m[1] as string;
      const mixed = /[a-f]/.test(hex) && /[A-F]/.test(hex);
      // Mixed case carries the EIP-55 checksum; one case carries none, but 0x + 40 hex
      // digits is an account address in practice (a 20-byte hash).
      if (mixed && !eip55Valid(hex)) return;
      found.push({
        start: m.index,
        end: m.index + 42,
        plain: mixed ? 0.95 : 0.7,
        withContext: mixed ? 0.98 : 0.9,
      });
    });
    emitByContext(env, emit, found);
  };
}

export const FINANCE: readonly BuiltinSpec[] = [
  {
    id: 'aba_routing',
    packs: ['finance', 'us'],
    level: 'internal',
    needsDigit: true,
    nearDigits: true,
    contextRequired: true,
    minDigits: 9,
    description: 'US ABA routing number, beside its name',
    context: ['routing', 'routing number', 'aba', 'rtn', 'routing transit', 'transit number'],
    validator: 'weights 3-7-1 mod 10; Federal Reserve prefix',
    contextRule: 'required',
    example: 'routing number 011000015',
    guards: 'every 9-digit number without the words',
    compile: contextOnly(tokenRe(String.raw`\d{9}|\d{4}-\d{4}-\d`), (m) =>
      abaValid(m[0].replace(/-/g, '')),
    ),
  },
  {
    id: 'swift_bic',
    packs: ['finance'],
    upperRun: true,
    contextRequired: true,
    level: 'internal',
    description: 'SWIFT / BIC code (8 or 11 characters), beside its name',
    context: ['swift', 'bic', 'swift code', 'bic code', 'swift bic', 'bank identifier code'],
    validator: 'ISO 3166 country code in place',
    contextRule: 'required',
    example: 'SWIFT DEUTDEFF',
    guards: 'upper-case words without the words',
    compile: contextOnly(tokenRe(String.raw`[A-Z]{6}[A-Z0-9]{2}(?:[A-Z0-9]{3})?`), (m) =>
      bicValid(m[0]),
    ),
  },
  {
    id: 'isin',
    packs: ['finance'],
    level: 'internal',
    needsDigit: true,
    minDigits: 3,
    nearDigits: true,
    description: 'ISIN (International Securities Identification Number)',
    context: ['isin', 'security', 'securities'],
    validator: 'country prefix, Luhn over the letters as numbers',
    contextRule: 'raises the score',
    example: 'US0378331005',
    guards: 'wrong check digits, unknown prefixes',
    compile: numberFinder({
      re: tokenRe(String.raw`[A-Z]{2}[A-Z0-9]{9}\d`),
      check: (m) => (isinValid(m[0]) ? 'formatted' : false),
      formattedPlain: 0.8,
      withContext: 0.95,
    }),
  },
  {
    id: 'cusip',
    packs: ['finance'],
    level: 'internal',
    needsDigit: true,
    minDigits: 3,
    nearDigits: true,
    contextRequired: true,
    description: 'CUSIP (US/Canada securities), beside its name',
    context: ['cusip'],
    validator: 'CUSIP check digit',
    contextRule: 'required',
    example: 'CUSIP 037833100',
    guards: 'every 9-character code without the word',
    compile: contextOnly(tokenRe(String.raw`[0-9A-Z]{8}\d`), (m) => cusipValid(m[0])),
  },
  {
    id: 'bitcoin_address',
    packs: ['finance'],
    level: 'confidential',
    needsDigit: true,
    longToken: true,
    description: 'Bitcoin address: base58check (1…, 3…) or bech32/bech32m (bc1…)',
    context: ['bitcoin', 'btc', 'wallet'],
    validator: 'base58check (double SHA-256) or bech32/bech32m checksum',
    contextRule: 'none',
    example: '1BvBMSEYstWetqTFn5Au4m4GFg7xJaNVN2',
    guards: 'base58-looking ids and hashes (checksum), mixed-case bech32',
    compile: compileBitcoin,
  },
  {
    id: 'ethereum_address',
    packs: ['finance'],
    level: 'confidential',
    needsDigit: true,
    longToken: true,
    description: 'Ethereum address: 0x + 40 hex digits (EIP-55 checksum when mixed case)',
    context: ['ethereum', 'eth', 'wallet', 'erc20'],
    validator: 'EIP-55 (Keccak-256) for mixed case',
    contextRule: 'raises the score',
    example: '0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed',
    guards: 'mixed-case addresses with a wrong checksum, 0x hashes of other lengths',
    compile: compileEthereum,
  },
];
