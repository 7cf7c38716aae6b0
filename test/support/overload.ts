// An expensive call for the overload test and benchmark (test/integration/overload.test.ts,
// bench/overload.ts): a policy whose route `/scan` runs many custom detectors over every
// string, and a body of random letters for it. callguard then reaches its capacity at a
// rate that Envoy and the load generator handle easily on two cores, so what is measured is
// callguard's own overload, not the machine's.

import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { stringify } from 'yaml';

/**
 * Writes the policy into `dir` and returns its path. Each of the `patterns` custom detectors
 * is a short RE2 pattern the random text never matches; together they cost about 3 ms per
 * 8 KB body on this machine (linear in the body and in their number). `/echo` is cheap (one
 * built-in detector), `/public/` is the public fast path.
 */
export function writeScanPolicy(dir: string, patterns = 100): string {
  const custom = Array.from({ length: patterns }, (_, i) => ({
    id: `scan_${i}`,
    level: 'internal',
    pattern: `[a-z]{3}${i}[0-9]{4}[a-z]`,
  }));
  const policy = {
    detectors: { custom },
    routes: [
      {
        name: 'scan',
        match: { path: '/scan', methods: ['POST'] },
        access: { require_groups: ['agents'] },
      },
      {
        name: 'echo',
        match: { path: '/echo', methods: ['POST'] },
        access: { require_groups: ['agents'] },
        detectors: { enabled: ['card'] },
      },
      { name: 'public', match: { path_prefix: '/public/' }, public: true },
    ],
    defaults: { action: 'block' },
    rules: [{ name: 'internal-allowed', match: { level: 'internal' }, action: 'allow' }],
  };
  const file = join(dir, 'overload-policy.yaml');
  writeFileSync(file, stringify(policy));
  return file;
}

/** A JSON body `{"text": …}` of about `bytes` random lower-case letters and spaces. */
export function scanBody(bytes: number, seed = 1): Buffer {
  let s = seed;
  const letters = 'abcdefghij klmnopqrstuvwxy';
  let text = '';
  for (let i = 0; i < bytes; i++) {
    s = (s * 1103515245 + 12345) % 2147483648;
    text += letters[Math.floor((s / 2147483648) * letters.length)];
  }
  return Buffer.from(JSON.stringify({ text }));
}
