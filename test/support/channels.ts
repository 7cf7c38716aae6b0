// A policy for the channels tests (numbers, keys, the URL, named headers): each detector has
// an action of its own, so a test can tell from the forwarded text which rule applied.
// Members of `admins` get everything in clear (the record then redacts it again).

import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export const CHANNELS_POLICY = `
functions:
  lookup:
    request: lookup.request.json
routes:
  - { name: fn, match: { path_prefix: /fn }, access: { anonymous: true }, inspect_headers: [x-user-email, x-customer-id] }
  - { name: strict, match: { path: /strict }, function: lookup, access: { anonymous: true } }
  - { name: detok, match: { path: /detok }, access: { anonymous: true }, detokenize: { groups: [agents] } }
  - { name: chat, match: { path: /chat }, format: openai-chat, access: { anonymous: true } }
  - { name: anthropic, match: { path: /messages }, format: anthropic, access: { anonymous: true } }
  - { name: mcp, match: { path: /mcp }, format: mcp, access: { anonymous: true } }
  - { name: lookup, match: { path: /functions/lookup }, access: { anonymous: true } }
  - { name: customers, match: { path_prefix: /customers/ }, access: { anonymous: true } }
  - { name: held, match: { path_prefix: /held/ }, access: { anonymous: true } }
  - { name: blocked, match: { path_prefix: /blocked/ }, access: { anonymous: true } }
rules:
  - { name: admins-see-all, match: { groups: [admins] }, action: allow }
  - { name: held-cards, match: { detectors: [card], routes: [held] }, action: { type: hold, approvers: [managers] } }
  - { name: blocked-cards, match: { detectors: [card], routes: [blocked] }, action: block }
  - { name: cards, match: { detectors: [card], not_groups: [admins], routes: [fn, strict, detok, chat, anthropic, mcp, lookup, customers] }, action: { type: mask, keep_last: 4 } }
  - { name: ssn, match: { detectors: [ssn], not_groups: [admins] }, action: redact }
  - { name: phones, match: { detectors: [phone], not_groups: [admins] }, action: tokenize }
  - { name: emails, match: { detectors: [email], not_groups: [admins] }, action: redact }
  - { name: tagged, match: { source: contract, not_groups: [admins] }, action: { type: mask, keep_last: 2 } }
defaults: { action: redact }
`;

const LOOKUP_CONTRACT = JSON.stringify({
  type: 'object',
  additionalProperties: false,
  properties: {
    account: { type: 'integer', 'x-classification': 'confidential' },
    note: { type: 'string' },
  },
});

/** A fresh directory holding the policy and its contract. */
export function channelsPolicyDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'cg-channels-'));
  writeFileSync(join(dir, 'p.yaml'), CHANNELS_POLICY);
  writeFileSync(join(dir, 'lookup.request.json'), LOOKUP_CONTRACT);
  return dir;
}
