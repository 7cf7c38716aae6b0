// A policy with its own level ladder (issue 14, defect 1): the built-in detectors' levels
// must land on it. Mapped under detectors.levels, explain and the engine work and the audit
// body redacts from where `confidential` landed; left unmapped, load and lint refuse the
// policy, naming the detector and the level (instead of a TypeError at the first hit).

import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { auditBody } from '../../src/audit/body.js';
import { explain } from '../../src/cli/explain.js';
import { inspect } from '../../src/engine/index.js';
import { lintPolicy } from '../../src/policy/lint.js';
import { loadPolicy, PolicyLoadError } from '../../src/policy/load.js';
import { Levels } from '../../src/policy/levels.js';

const LADDER = `
levels: [open, private, secret]
routes:
  - name: chat
    match: { path: /v1/chat/completions }
    format: openai-chat
rules:
  - { name: r1, match: { min_level: private }, action: redact }
`;

const MAPPED = `${LADDER}
detectors:
  levels: { internal: private, confidential: secret, restricted: secret, email: open }
`;

function policyFile(text: string): { dir: string; file: string } {
  const dir = mkdtempSync(join(tmpdir(), 'cg-levels-'));
  const file = join(dir, 'policy.yaml');
  writeFileSync(file, text);
  return { dir, file };
}

const CHAT = JSON.stringify({
  model: 'm',
  messages: [{ role: 'user', content: 'charge 4111 1111 1111 1111, mail ada@example.com' }],
});

describe('a policy with its own level ladder', () => {
  it('unmapped: load refuses it, naming the detector and the level; lint says so', () => {
    const { dir, file } = policyFile(LADDER);
    let err: unknown;
    try {
      loadPolicy([file], dir);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(PolicyLoadError);
    const problem = (err as PolicyLoadError).problem;
    expect(problem).toMatch(
      /^\/levels: detector "[a-z0-9_]+" has level "(internal|confidential|restricted)"/,
    );
    expect(problem).toMatch(/detectors\.levels/);
    expect(problem).toMatch(/unmapped: internal, confidential, restricted/);
    const lint = lintPolicy([file], dir);
    expect(lint.diagnostics).toHaveLength(1);
    expect(lint.diagnostics[0]).toMatchObject({ severity: 'error', code: 'load', line: 2 });
  });

  it('a mapping naming a level off the ladder, or an unknown key, is refused', () => {
    for (const [extra, message] of [
      [
        'detectors: { levels: { confidential: top } }',
        /\/detectors\/levels\/confidential: unknown level "top"/,
      ],
      ['detectors: { levels: { nope: secret } }', /"nope" is neither a built-in level/],
    ] as const) {
      const { dir, file } = policyFile(`${LADDER}\n${extra}\n`);
      expect(() => loadPolicy([file], dir)).toThrow(message);
    }
  });

  it('mapped: policy explain shows findings on the ladder and the redacted payload', () => {
    const { dir, file } = policyFile(MAPPED);
    const policy = loadPolicy([file], dir);
    const payload = join(dir, 'chat.json');
    writeFileSync(payload, CHAT);
    const r = explain(policy, {
      route: 'chat',
      payloadFile: payload,
      direction: 'request',
      groups: [],
    });
    expect(r.exitCode).toBe(0);
    expect(r.text).toMatch(/level=secret {2}source=detector {2}detector=card {2}action=redact/);
    // email is mapped to the lowest level by id: not a finding.
    expect(r.text).not.toMatch(/detector=email/);
    expect(r.text).toContain('[REDACTED:secret:card]');
    expect(r.text).not.toContain('4111 1111 1111 1111');
  });

  it('mapped: the engine decides on the policy ladder', () => {
    const { dir, file } = policyFile(MAPPED);
    const policy = loadPolicy([file], dir);
    const route = policy.routesByName.get('chat')!;
    const r = inspect({
      policy,
      route,
      fn: undefined,
      principal: { subject: 's', groups: [], authMethod: 'dev-header' },
      direction: 'request',
      body: Buffer.from(CHAT),
      maxDepth: 64,
    });
    expect(r.decision.findings.map((f) => [f.detector, f.level, f.action])).toEqual([
      ['card', 'secret', 'redact'],
    ]);
    expect(route.detectors?.active.find((a) => a.id === 'ssn')?.level).toBe('secret');
    expect(route.detectors?.active.find((a) => a.id === 'phone')?.level).toBe('private');
  });

  it('the audit body redacts an allowed value from where confidential landed', () => {
    const { dir, file } = policyFile(MAPPED);
    const levels = loadPolicy([file], dir).levels;
    expect(levels.clearRank).toBe(2);
    // Without a mapping of confidential the strict default: every level but the lowest.
    expect(new Levels(['open', 'private', 'secret']).clearRank).toBe(1);
    const body = '{"a":"x","b":"y"}';
    const finding = (path: string, level: string) => ({
      direction: 'request' as const,
      path,
      level,
      source: 'detector' as const,
      detector: 'd',
      span: { start: 0, end: 0 },
      action: 'allow' as const,
      rule: 'r',
      record: 'masked' as const,
    });
    const b = auditBody(
      Buffer.from(body),
      { action: 'allow', findings: [finding('/a', 'private'), finding('/b', 'secret')], trace: [] },
      levels,
      { maxBytes: 1024, maxDepth: 64 },
    );
    expect(b.text).toBe('{"a":"x","b":"[REDACTED:secret:d]"}');
  });
});
