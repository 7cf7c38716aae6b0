// `policy lint`: load errors located in their file, and each warning check, with cases that
// must and must not warn.

import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { CHECKS, formatDiagnostic, lintPolicy } from '../../src/policy/lint.js';
import type { Diagnostic } from '../../src/policy/lint.js';

function policyDir(files: Record<string, string>): string {
  const dir = mkdtempSync(join(tmpdir(), 'cg-lint-'));
  for (const [name, text] of Object.entries(files)) {
    mkdirSync(join(dir, name, '..'), { recursive: true });
    writeFileSync(join(dir, name), text);
  }
  return dir;
}

/** Lint `policy.yaml` (plus contracts) in a fresh directory; paths shown relative to it. */
function lint(policy: string, extra: Record<string, string> = {}): Diagnostic[] {
  const dir = policyDir({ 'policy.yaml': policy, ...extra });
  return lintPolicy([join(dir, 'policy.yaml')], dir).diagnostics;
}

const CONTRACT = JSON.stringify(
  {
    type: 'object',
    properties: {
      card: { type: 'string', 'x-classification': 'confidential', 'x-detector': 'card' },
      ref: { type: 'string', 'x-classification': 'public', 'x-detector': 'order' },
    },
  },
  null,
  2,
);

const CLEAN = JSON.stringify({
  type: 'object',
  properties: { card: { type: 'string', 'x-classification': 'confidential' } },
});

const ROUTES = `
functions:
  pay: { request: pay.json }
routes:
  - name: pay
    match: { path: /pay }
    function: pay
  - name: status
    match: { path_prefix: /status/ }
    public: true
`;

const rules = (yaml: string) => `${ROUTES}rules:\n${yaml}`;
const codes = (ds: Diagnostic[]) => ds.map((d) => `${d.code}@${d.line}`);

describe('policy lint', () => {
  it('finds nothing to say about the shipped policies', () => {
    const r = lintPolicy([join(import.meta.dirname, '../../policies')]);
    expect(r.diagnostics).toEqual([]);
    expect(r.counts).toEqual({ routes: 11, functions: 4, rules: 10 });
  });

  it('has one entry per check, each with a distinct code', () => {
    const names = CHECKS.map((c) => c.code);
    expect(new Set(names).size).toBe(names.length);
    expect(names).toEqual([
      'rule-matches-nothing',
      'shadowed-rule',
      'detector-never-fires',
      'route-detector-never-fires',
      'rule-detector-never-fires',
      'analyzer-unused',
    ]);
  });

  it('reports what serve refuses as an error at file:line:col', () => {
    const ds = lint('rules:\n  - name: r\n    match: { level: secret }\n    action: block\n');
    expect(ds).toHaveLength(1);
    expect(formatDiagnostic(ds[0]!)).toBe(
      'policy.yaml:3:21: error: /rules/0/match/level: unknown level "secret" [load]',
    );
  });

  it('reports a policy path that does not exist as an error', () => {
    const dir = policyDir({});
    const ds = lintPolicy([join(dir, 'nowhere')], dir).diagnostics;
    expect(ds.map(formatDiagnostic)).toEqual(['nowhere:0:0: error: cannot read: ENOENT [load]']);
  });

  it('reports a contract naming an unknown level as an error in the contract', () => {
    const ds = lint(rules('  - { name: r, match: { level: confidential }, action: mask }\n'), {
      'pay.json': '{\n  "properties": {\n    "x": { "x-classification": "secret" }\n  }\n}\n',
    });
    expect(ds).toHaveLength(1);
    expect(ds[0]).toMatchObject({ file: 'pay.json', line: 3, severity: 'error', code: 'load' });
    expect(ds[0]?.message).toContain('unknown level "secret"');
  });

  describe('shadowed-rule', () => {
    const lintRules = (yaml: string) => lint(rules(yaml), { 'pay.json': CLEAN });

    it('warns when a stricter rule matches every value the rule matches', () => {
      const ds = lintRules(
        [
          '  - name: confidential-blocked',
          '    match: { level: confidential }',
          '    action: block',
          '  - name: agents-masked',
          '    match: { level: confidential, groups: [agents], direction: request }',
          '    action: mask',
        ].join('\n'),
      );
      expect(codes(ds)).toEqual(['shadowed-rule@15']);
      expect(formatDiagnostic(ds[0]!)).toBe(
        'policy.yaml:15:5: warning: /rules/1: rule "agents-masked" never decides: rule "confidential-blocked" matches every value it matches and its action (block) is stricter than mask [shadowed-rule]',
      );
    });

    it('warns on min_level covering a level list, and on the same action later', () => {
      const ds = lintRules(
        [
          '  - { name: high, match: { min_level: confidential }, action: redact }',
          '  - { name: top, match: { level: [restricted] }, action: redact }',
        ].join('\n'),
      );
      expect(codes(ds)).toEqual(['shadowed-rule@13']);
      expect(ds[0]?.message).toContain('comes first');
    });

    it('does not warn when the rules differ on groups, direction, routes or functions', () => {
      const ds = lintRules(
        [
          '  - { name: a, match: { level: confidential, not_groups: [admins] }, action: block }',
          '  - { name: b, match: { level: confidential, groups: [admins] }, action: allow }',
          '  - { name: c, match: { level: restricted, direction: request }, action: block }',
          '  - { name: d, match: { level: restricted }, action: redact }',
          '  - { name: e, match: { level: internal, routes: [pay] }, action: block }',
          '  - { name: f, match: { level: internal }, action: allow }',
          '  - { name: g, match: { level: internal, functions: [pay] }, action: mask }',
          '  - { name: h, match: { level: internal, groups: [x, y] }, action: mask }',
          '  - { name: i, match: { level: internal, groups: [x] }, action: redact }',
        ].join('\n'),
      );
      expect(ds).toEqual([]);
    });

    it('knows that a caller excluded by not_groups cannot satisfy a group', () => {
      // b matches callers in "ops" only (admins are excluded); a covers ops.
      const ds = lintRules(
        [
          '  - { name: a, match: { level: internal, groups: [ops] }, action: block }',
          '  - name: b',
          '    match: { level: internal, groups: [ops, admins], not_groups: [admins] }',
          '    action: allow',
        ].join('\n'),
      );
      expect(codes(ds)).toEqual(['shadowed-rule@13']);
    });
  });

  describe('rule-matches-nothing', () => {
    it('warns on a rule for the lowest level only, or for no level', () => {
      const ds = lint(
        rules(
          [
            '  - { name: pub, match: { level: public }, action: block }',
            '  - { name: none, match: { level: internal, min_level: confidential }, action: block }',
          ].join('\n'),
        ),
        { 'pay.json': CLEAN },
      );
      expect(codes(ds)).toEqual(['rule-matches-nothing@12', 'rule-matches-nothing@13']);
      expect(ds[0]?.message).toContain('the lowest level, "public", is never a finding');
    });

    it('warns on contradictory groups and on public routes only', () => {
      const ds = lint(
        rules(
          [
            '  - { name: nobody, match: { groups: [a], not_groups: [a, b] }, action: block }',
            '  - { name: pub, match: { routes: [status] }, action: block }',
            '  - { name: mixed, match: { routes: [status, pay], groups: [a, c], not_groups: [a] }, action: block }',
          ].join('\n'),
        ),
        { 'pay.json': CLEAN },
      );
      expect(codes(ds)).toEqual(['rule-matches-nothing@12', 'rule-matches-nothing@13']);
      expect(ds[0]?.message).toContain('matches no caller');
      expect(ds[1]?.message).toContain('only public routes');
    });
  });

  describe('detector-never-fires', () => {
    it('warns on x-detector at the lowest level, in the contract file', () => {
      const ds = lint(rules('  - { name: m, match: { level: confidential }, action: mask }'), {
        'pay.json': CONTRACT,
      });
      expect(ds).toHaveLength(1);
      expect(ds[0]).toMatchObject({
        file: 'pay.json',
        line: 12,
        severity: 'warning',
        code: 'detector-never-fires',
      });
      expect(ds[0]?.message).toBe(
        '/properties/ref/x-detector: detector "order" never fires: the field is classified "public", the lowest level, which is never a finding',
      );
    });
  });
});

describe('detector checks on routes and rules', () => {
  it('warns about a route running a detector at the lowest level', () => {
    const d = lint(
      [
        'routes:',
        '  - name: r',
        '    match: { path: /r }',
        '    detectors: { enabled: [email, card], levels: { email: public } }',
      ].join('\n'),
    );
    expect(d.map((x) => `${x.code}:${x.line}`)).toEqual(['route-detector-never-fires:4']);
    expect(d[0]?.message).toContain('route "r" runs detector "email" at "public"');
  });

  it('warns about a rule whose detectors no route runs; not when one does', () => {
    const base = [
      'routes:',
      '  - name: quiet',
      '    match: { path: /q }',
      '    detectors: { enabled: [email] }',
      'rules:',
      '  - name: cards',
      '    match: { detectors: [card], routes: [quiet] }',
      '    action: redact',
    ];
    const d = lint(base.join('\n'));
    expect(d.map((x) => x.code)).toEqual(['rule-detector-never-fires']);
    expect(d[0]?.line).toBe(7);
    const ok = lint(base.join('\n').replace('enabled: [email]', 'enabled: [email, card]'));
    expect(ok).toEqual([]);
  });

  it("counts an analyzer's detector ids as run by its routes, and warns about an analyzer no route runs", () => {
    const analyzers = [
      'analyzers:',
      '  ner:',
      '    kind: webhook',
      '    url: http://127.0.0.1:1/x',
      '    entities: { PERSON: { detector: ner_person, level: confidential } }',
    ];
    const rule = [
      'rules:',
      '  - name: names',
      '    match: { detectors: [ner_person], routes: [chat] }',
      '    action: redact',
    ];
    const route = (extra: string) => [
      'routes:',
      '  - name: chat',
      '    match: { path: /c }',
      extra,
    ];
    const unused = lint([...analyzers, ...route(''), ...rule].join('\n'));
    expect(unused.map((x) => `${x.code}:${x.line}`)).toEqual([
      'analyzer-unused:3',
      'rule-detector-never-fires:12',
    ]);
    expect(unused[0]?.message).toContain('analyzer "ner" is defined, but no route runs it');
    expect(lint([...analyzers, ...route('    analyzers: [ner]'), ...rule].join('\n'))).toEqual([]);
  });
});
