// Policy loading, compile checks and decisions (no transport).

import { mkdtempSync, writeFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { inspect } from '../../src/engine/index.js';
import { CallguardError } from '../../src/errors.js';
import { loadPolicy, PolicyLoadError } from '../../src/policy/load.js';
import { selectRoute } from '../../src/policy/routes.js';
import type { Principal } from '../../src/policy/types.js';

const shipped = loadPolicy([join(import.meta.dirname, '../../policies')]);

function policyDir(files: Record<string, string>): string {
  const dir = mkdtempSync(join(tmpdir(), 'cg-policy-'));
  for (const [name, text] of Object.entries(files)) {
    mkdirSync(join(dir, name, '..'), { recursive: true });
    writeFileSync(join(dir, name), text);
  }
  return dir;
}

function loadError(files: Record<string, string>): PolicyLoadError {
  const dir = policyDir(files);
  try {
    loadPolicy([dir], dir);
  } catch (e) {
    if (e instanceof PolicyLoadError) return e;
    throw e;
  }
  throw new Error('policy loaded but should not have');
}

const CONTRACT = JSON.stringify({
  type: 'object',
  additionalProperties: false,
  properties: {
    ssn: { type: 'string', 'x-classification': 'restricted' },
    note: { type: 'string' },
  },
});

describe('loading: a bad policy is refused naming file, line and problem', () => {
  it.each([
    {
      name: 'unknown key',
      files: { 'p.yaml': 'routes:\n  - name: r\n    match: { path: /x }\n    colour: blue\n' },
      expected: /^p\.yaml:4:13: \/routes\/0\/colour: unknown key$/,
    },
    {
      name: 'bad action',
      files: { 'p.yaml': 'rules:\n  - name: r\n    action: obliterate\n' },
      expected: /^p\.yaml:3:13: \/rules\/0\/action: /,
    },
    {
      name: 'unknown level in a rule',
      files: { 'p.yaml': 'rules:\n  - name: r\n    match: { level: secret }\n    action: block\n' },
      expected: /^p\.yaml:3:21: \/rules\/0\/match\/level: unknown level "secret"$/,
    },
    {
      name: 'unknown function on a route',
      files: { 'p.yaml': 'routes:\n  - name: r\n    match: { path: /x }\n    function: nope\n' },
      expected: /^p\.yaml:4:15: \/routes\/0\/function: unknown function "nope"$/,
    },
    {
      name: 'unknown level in a contract, located in the contract file',
      files: {
        'p.yaml': 'functions:\n  f:\n    request: c.json\n',
        'c.json':
          '{\n  "type": "object",\n  "properties": {\n    "a": { "x-classification": "secret" }\n  }\n}\n',
      },
      expected: /^c\.json:4:32: \/properties\/a\/x-classification: unknown level "secret"/,
    },
    {
      name: 'YAML syntax error',
      files: { 'p.yaml': 'rules: [\n' },
      expected: /^p\.yaml:\d+:\d+: /,
    },
    {
      name: 'duplicate YAML key',
      files: { 'p.yaml': 'rules: []\nrules: []\n' },
      expected: /^p\.yaml:2:1: .*[Uu]nique/,
    },
    {
      name: 'a hold without approvers',
      files: { 'p.yaml': 'rules:\n  - name: r\n    action: { type: hold }\n' },
      expected: /^p\.yaml:3:13: \/rules\/0\/action: /,
    },
  ] as { name: string; files: Record<string, string>; expected: RegExp }[])(
    '$name',
    ({ files, expected }) => {
      expect(loadError(files).message).toMatch(expected);
    },
  );
});

describe('the shipped example policy', () => {
  it('loads with its routes, functions and rules', () => {
    // Files load in name order: approvals.yaml, llm.yaml, payments.yaml.
    expect(shipped.routes.map((r) => r.name)).toEqual([
      'transfer_funds',
      'openai_chat',
      'openai_responses',
      'anthropic_messages',
      'mcp',
      'pay_invoice',
      'charge_card',
      'lookup_customer',
      'customer_profile',
      'whoami',
      'public',
    ]);
    expect([...shipped.functions.keys()]).toEqual([
      'transfer_funds',
      'pay_invoice',
      'charge_card',
      'lookup_customer',
    ]);
    expect(shipped.routesByName.get('openai_chat')?.format).toBe('openai-chat');
    expect(shipped.needsTokenKeys).toBe(true);
  });

  it('selects routes by Envoy metadata first, else by path and method', () => {
    const viaMeta = selectRoute(shipped, 'POST', '/anything', { policy: 'charge_card' });
    expect(viaMeta).toMatchObject({ ok: true, via: 'metadata', route: { name: 'charge_card' } });
    const viaPath = selectRoute(shipped, 'GET', '/customers/42?x=1', {});
    expect(viaPath).toMatchObject({ ok: true, via: 'path', route: { name: 'customer_profile' } });
    expect(selectRoute(shipped, 'POST', '/customers/42', {}).ok).toBe(false);
    expect(selectRoute(shipped, 'POST', '/x', { policy: 'nope' }).ok).toBe(false);
    expect(selectRoute(shipped, 'GET', '/x', { policy: 'charge_card' }).ok).toBe(false);
  });
});

describe('decisions', () => {
  const dir = policyDir({
    'p.yaml': [
      'functions:',
      '  f: { request: c.json }',
      'routes:',
      '  - { name: r, match: { path: /f }, function: f }',
      'rules:',
      '  - { name: redact-all, match: { level: restricted }, action: redact }',
      '  - { name: block-outsiders, match: { level: restricted, not_groups: [trusted] }, action: block }',
      '  - { name: allow-trusted, match: { level: restricted, groups: [trusted] }, action: allow }',
    ].join('\n'),
    'c.json': CONTRACT,
  });
  const policy = loadPolicy([dir], dir);
  const route = policy.routesByName.get('r')!;
  const run = (groups: string[], body: string) =>
    inspect({
      policy,
      route,
      fn: route.fn,
      principal: { subject: 's', groups, authMethod: 'dev-header' } satisfies Principal,
      direction: 'request',
      body: Buffer.from(body),
      maxDepth: 16,
    });

  it('the strictest matching rule wins: adding an allow never loosens a block', () => {
    let err: unknown;
    try {
      run(['other'], '{"ssn":"078-05-1120"}');
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(CallguardError);
    expect((err as CallguardError).code).toBe('blocked');
    expect((err as CallguardError).paths).toEqual(['/ssn']);
    expect((err as CallguardError).rule).toBe('block-outsiders');
    expect((err as CallguardError).message).not.toContain('078');
  });

  it('an exception written with not_groups leaves the trusted group at the next rule', () => {
    const r = run(['trusted'], '{"ssn":"078-05-1120", "note":"hi"}');
    expect(r.decision.action).toBe('redact');
    expect(r.decision.findings).toMatchObject([
      { path: '/ssn', rule: 'redact-all', action: 'redact' },
    ]);
    expect(Buffer.from(r.body).toString()).toBe('{"ssn":"[REDACTED:restricted:ssn]", "note":"hi"}');
    expect(r.decision.trace[0]).toContain('redact by rule "redact-all"');
  });

  it('a classified value no rule matches is blocked by the default (fail closed)', () => {
    const d = policyDir({
      'p.yaml':
        'functions:\n  f: { request: c.json }\nroutes:\n  - { name: r, match: { path: /f }, function: f }\n',
      'c.json': CONTRACT,
    });
    const p = loadPolicy([d], d);
    const rt = p.routesByName.get('r')!;
    expect(() =>
      inspect({
        policy: p,
        route: rt,
        fn: rt.fn,
        principal: { subject: 's', groups: [], authMethod: 'dev-header' },
        direction: 'request',
        body: Buffer.from('{"ssn":"1"}'),
        maxDepth: 16,
      }),
    ).toThrow(expect.objectContaining({ code: 'blocked', rule: 'defaults' }));
  });

  it('classifies through $ref, arrays, allOf and additionalProperties schemas', () => {
    const d = policyDir({
      'p.yaml': [
        'functions:',
        '  f: { request: c.json }',
        'routes:',
        '  - { name: r, match: { path: /f }, function: f }',
        'rules:',
        '  - { name: all, match: { min_level: internal }, action: redact }',
      ].join('\n'),
      'c.json': JSON.stringify({
        type: 'object',
        $defs: { secret: { type: 'string', 'x-classification': 'confidential' } },
        properties: {
          list: { type: 'array', items: { $ref: '#/$defs/secret' } },
          both: { allOf: [{ properties: { a: { 'x-classification': 'internal' } } }] },
          map: { type: 'object', additionalProperties: { 'x-classification': 'restricted' } },
          whole: { type: 'object', 'x-classification': 'internal' },
        },
      }),
    });
    const p = loadPolicy([d], d);
    const rt = p.routesByName.get('r')!;
    const r = inspect({
      policy: p,
      route: rt,
      fn: rt.fn,
      principal: { subject: 's', groups: [], authMethod: 'dev-header' },
      direction: 'request',
      body: Buffer.from(
        '{"list":["x","y"],"both":{"a":"1","b":"2"},"map":{"k":7},"whole":{"n":{"m":true}},"free":"z"}',
      ),
      maxDepth: 16,
    });
    expect(r.decision.findings.map((f) => `${f.path}:${f.level}`)).toEqual([
      '/list/0:confidential',
      '/list/1:confidential',
      '/both/a:internal',
      '/map/k:restricted',
      '/whole/n/m:internal',
    ]);
  });
});
