// The `callguard` command as an operator runs it (the built dist/cli/main.js).

import { spawn, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { PROJECT_ROOT } from '../../src/cli/envoy.js';

const MAIN = join(PROJECT_ROOT, 'dist/cli/main.js');
const run = (args: string[], cwd = PROJECT_ROOT) =>
  spawnSync(process.execPath, [MAIN, ...args], { cwd, encoding: 'utf8', timeout: 10_000 });

describe('callguard command', () => {
  it('policy lint accepts the shipped policies', () => {
    const r = run(['policy', 'lint', 'policies']);
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/^ok: 11 routes, 4 functions, 10 rules$/m);
  });

  it('policy explain prints each finding, its rule, and the payload as it would be forwarded', () => {
    const r = run([
      'policy',
      'explain',
      'openai_chat',
      'test/fixtures/llm/chat-request.json',
      '--groups',
      'agents',
    ]);
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(
      /^route openai_chat \(format openai-chat\), request, groups \[agents\]$/m,
    );
    expect(r.stdout).toMatch(
      /^ {2}\/messages\/1\/tool_calls\/0\/function\/arguments#\/card_number {2}level=confidential {2}source=contract {2}detector=card {2}action=tokenize {2}rule=llm-confidential-tokenized$/m,
    );
    expect(r.stdout).toMatch(/detector=email {2}action=mask {2}rule=llm-email-masked/);
    const forwarded = r.stdout.split('forwarded payload:\n')[1] ?? '';
    expect(forwarded).not.toContain('4242 4242 4242 4242');
    expect(forwarded).toMatch(/tok_card_explain_/);
    const bad = run(['policy', 'explain', 'charge_card', 'test/fixtures/llm/chat-request.json']);
    expect(bad.status).toBe(1);
    expect(bad.stdout).toMatch(/refused: 403/);
    expect(bad.stdout).toContain('"code": "prohibited_field"');
  });

  it('serve still ends on SIGTERM when nobody reads its stdout any more (broken pipe)', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'cg-cli-'));
    writeFileSync(
      join(dir, 'callguard.yaml'),
      `policies: [${join(PROJECT_ROOT, 'policies/payments.yaml')}]\ngrpc_addr: 127.0.0.1:0\nadmin_addr: 127.0.0.1:0\nshutdown_grace_ms: 500\n`,
    );
    const child = spawn(
      process.execPath,
      [MAIN, 'serve', '--config', join(dir, 'callguard.yaml')],
      {
        stdio: ['ignore', 'pipe', 'ignore'],
      },
    );
    // Listening (its first line), then the reader goes away: stdout is a broken pipe.
    await new Promise<void>((resolve) => child.stdout.once('data', () => resolve()));
    child.stdout.destroy();
    child.kill('SIGTERM');
    const exit = await new Promise<string>((resolve) => {
      const t = setTimeout(() => resolve('still running'), 8000);
      child.once('exit', (code, signal) => {
        clearTimeout(t);
        resolve(`exited ${code ?? signal}`);
      });
    });
    if (exit === 'still running') child.kill('SIGKILL');
    expect(exit).toBe('exited 0');
  });

  it('policy lint prints warnings as file:line:col, exit 0; with --strict, exit 1', () => {
    const dir = mkdtempSync(join(tmpdir(), 'cg-cli-'));
    writeFileSync(
      join(dir, 'p.yaml'),
      [
        'rules:',
        '  - { name: all-blocked, match: { min_level: internal }, action: block }',
        '  - { name: masked, match: { level: confidential }, action: mask }',
        '',
      ].join('\n'),
    );
    const expected =
      'p.yaml:3:5: warning: /rules/1: rule "masked" never decides: rule "all-blocked" matches every value it matches and its action (block) is stricter than mask [shadowed-rule]\n' +
      'ok: 0 routes, 0 functions, 2 rules, 1 warning\n';
    const r = run(['policy', 'lint', 'p.yaml'], dir);
    expect(r.stdout).toBe(expected);
    expect(r.status).toBe(0);
    const strict = run(['policy', 'lint', '--strict', 'p.yaml'], dir);
    expect(strict.stdout).toBe(expected);
    expect(strict.status).toBe(1);
  });

  it('policy lint prints an error as file:line:col and exits 1', () => {
    const dir = mkdtempSync(join(tmpdir(), 'cg-cli-'));
    writeFileSync(join(dir, 'p.yaml'), 'rules:\n  - name: r\n    action: maybe\n');
    const r = run(['policy', 'lint', 'p.yaml'], dir);
    expect(r.status).toBe(1);
    expect(r.stdout).toMatch(/^p\.yaml:3:13: error: \/rules\/0\/action: .+ \[load\]\n$/);
  });

  it('serve refuses to start on an invalid policy, naming file, line and problem', () => {
    const dir = mkdtempSync(join(tmpdir(), 'cg-cli-'));
    mkdirSync(join(dir, 'policies'));
    writeFileSync(
      join(dir, 'policies/bad.yaml'),
      'rules:\n  - name: r\n    match: { level: secret }\n    action: block\n',
    );
    writeFileSync(
      join(dir, 'callguard.yaml'),
      'policies: [policies]\ngrpc_addr: 127.0.0.1:0\nadmin_addr: 127.0.0.1:0\n',
    );
    const r = run(['serve', '--config', join(dir, 'callguard.yaml')], dir);
    expect(r.status).toBe(1);
    expect(r.stderr).toBe(
      'callguard: policies/bad.yaml:3:21: /rules/0/match/level: unknown level "secret"\n',
    );
  });

  it('serve refuses a route that names a header the configuration reads identities from', () => {
    const dir = mkdtempSync(join(tmpdir(), 'cg-cli-'));
    writeFileSync(
      join(dir, 'p.yaml'),
      'routes:\n  - name: r\n    match: { path: /r }\n    inspect_headers: [x-user-email, x-dev]\n',
    );
    writeFileSync(
      join(dir, 'callguard.yaml'),
      'policies: [p.yaml]\ngrpc_addr: 127.0.0.1:0\nadmin_addr: 127.0.0.1:0\ndev: { groups_header: x-dev }\n',
    );
    // The policy alone is fine (lint cannot know the configuration); serve is not.
    expect(run(['policy', 'lint', 'p.yaml'], dir).status).toBe(0);
    const r = run(['serve', '--config', join(dir, 'callguard.yaml')], dir);
    expect(r.status).toBe(1);
    expect(r.stderr).toBe(
      "callguard: route r: inspect_headers: x-dev carries the caller's identity: it is never scanned, logged or recorded\n",
    );
  });

  it('serve refuses an invalid configuration', () => {
    const dir = mkdtempSync(join(tmpdir(), 'cg-cli-'));
    writeFileSync(join(dir, 'callguard.yaml'), 'limits: { max_depth: 0 }\n');
    const r = run(['serve', '--config', join(dir, 'callguard.yaml')], dir);
    expect(r.status).toBe(1);
    expect(r.stderr).toContain('/limits/max_depth must be >= 1');
  });

  it('prints usage for an unknown command', () => {
    const r = run(['frobnicate']);
    expect(r.status).toBe(2);
    expect(r.stderr).toContain('callguard serve');
  });
});
