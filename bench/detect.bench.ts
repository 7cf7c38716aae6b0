// Detector scan throughput on ~64 KB of prose with a few sensitive values, beside a plain
// JSON.stringify of the same text as a baseline for "touching every character once".
// MB/s = hz × text bytes / 2^20 (the text size is printed in the describe title).
// Run: npx vitest bench --run bench/detect.bench.ts
import { bench, describe } from 'vitest';
import { compileDetectors } from '../src/detect/index.js';
import { prng } from '../test/support/fuzz.js';

const WORDS = (
  'the a of to and in is it that for on with as was at by this from be or an are not have ' +
  'customer order invoice shipped payment account number total version 2.3.1 release ' +
  'meeting call tomorrow report function tool result value 42 1500 2024 München 日本語 😀 ' +
  'token limit password policy secret santa email address phone ip'
).split(' ');

const HITS = [
  'card 4111 1111 1111 1111',
  'mail ada@example.com',
  'SSN 536-22-1234',
  'call +1 415 555 2671',
  'from 192.168.1.10',
  'IBAN DE89 3704 0044 0532 0130 00',
];

function makeProse(targetChars: number): string {
  const rnd = prng(7);
  const out: string[] = [];
  let len = 0;
  let sentence = 0;
  while (len < targetChars) {
    const n = 8 + Math.floor(rnd() * 12);
    const words = Array.from({ length: n }, () => WORDS[Math.floor(rnd() * WORDS.length)]);
    if (sentence % 60 === 59) words.push(HITS[((sentence / 60) % HITS.length) | 0]);
    const s = `${words.join(' ')}. `;
    out.push(s);
    len += s.length;
    sentence++;
  }
  return out.join('').slice(0, targetChars);
}

const text = makeProse(64 * 1024);
const bytes = Buffer.byteLength(text);
const builtins = compileDetectors({ custom: [] });
const withCustom = compileDetectors({
  custom: [
    { id: 'employee_id', level: 'confidential', pattern: 'EMP-\\d{6}', context: ['employee'] },
    {
      id: 'codename',
      level: 'restricted',
      dictionary: ['project falcon', 'blue harbor', 'zephyr'],
    },
  ],
});
const hits = builtins.scan(text, { keys: [] }).length;

describe(`64 KB prose (${bytes} bytes, ${hits} hits)`, () => {
  bench('JSON.stringify (baseline)', () => {
    JSON.stringify(text);
  });
  bench('scan, built-in detectors', () => {
    builtins.scan(text, { keys: [] });
  });
  bench('scan, built-ins + 2 custom RE2 detectors', () => {
    withCustom.scan(text, { keys: [] });
  });
  bench('scan under a key with context (keys: ["notes"])', () => {
    builtins.scan(text, { keys: ['notes'] });
  });
});
