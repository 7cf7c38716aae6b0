// The one registry of error codes (src/errors.ts) and its one body producer: every code a
// client can see is documented with its status, an unexpected exception never reaches a
// client with its message, and the approval codes answer with the status of where they are.

import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  apiError,
  apiErrorBody,
  APPROVAL_ERROR_CODES,
  CallguardError,
  ERROR_STATUS,
  errorBody,
} from '../../src/errors.js';
import type { ErrorCode } from '../../src/errors.js';
import { ApprovalError } from '../../src/approval/ticket.js';

const ROOT = join(import.meta.dirname, '../..');
const DOCS = [
  readFileSync(join(ROOT, 'README.md'), 'utf8'),
  ...readdirSync(join(ROOT, 'docs'))
    .filter((f) => f.endsWith('.md'))
    .map((f) => readFileSync(join(ROOT, 'docs', f), 'utf8')),
].join('\n');

describe('the registry of error codes', () => {
  it('every code is documented, with its status where the docs give one beside it', () => {
    for (const code of Object.keys(ERROR_STATUS) as ErrorCode[]) {
      // A refused response is a 502 with the same code (README "Errors").
      const statuses = new Set([ERROR_STATUS[code], apiError(code, '').status, 502]);
      const mentioned = [
        ...DOCS.matchAll(
          new RegExp(String.raw`\x60(?:(\d{3}) )?${code}\x60|"code":"${code}"`, 'g'),
        ),
      ];
      expect(mentioned.length, `${code} is not documented`).toBeGreaterThan(0);
      for (const m of mentioned)
        if (m[1] !== undefined) expect(statuses, `${m[0]}`).toContain(Number(m[1]));
    }
  });

  it('an approval refusal has one code for the data path and the reviewers API, with its own status in each', () => {
    for (const code of APPROVAL_ERROR_CODES) {
      const e = new ApprovalError(code, 'm');
      expect(new CallguardError(e.code, e.message).status).toBe(ERROR_STATUS[code]);
    }
    expect(new CallguardError('approval_pending', 'm').status).toBe(403);
    expect(apiError('approval_pending', 'm').status).toBe(409);
    expect(apiError('approval_unknown', 'm').status).toBe(404);
    expect(apiError('bad_request', 'm').status).toBe(400);
  });
});

describe('the error body', () => {
  const canary = 'CANARY-4242424242424242';

  it('names the session, the paths and the rule; an unexpected error becomes internal without its message', () => {
    const e = new CallguardError('blocked', 'values the policy blocks', {
      paths: ['/card'],
      rule: 'r1',
      extra: { approval_id: 'apr_1' },
    });
    expect(errorBody(e, 's1')).toEqual({
      status: 403,
      body: {
        error: {
          code: 'blocked',
          message: 'values the policy blocks',
          paths: ['/card'],
          rule: 'r1',
          approval_id: 'apr_1',
          session_id: 's1',
        },
      },
    });
    const internal = errorBody(new Error(canary), 's2');
    expect(internal.status).toBe(500);
    expect(internal.body.error).toMatchObject({ code: 'internal', session_id: 's2' });
    expect(JSON.stringify(internal)).not.toContain('CANARY');
  });

  it('on the admin API carries the code, the message and the extra fields only', () => {
    const problems = [{ field: 'from', problem: 'not a date' }];
    expect(apiErrorBody(apiError('bad_filter', 'invalid search filters', { problems }))).toEqual({
      status: 400,
      body: { error: { code: 'bad_filter', message: 'invalid search filters', problems } },
    });
    const internal = apiErrorBody(new TypeError(canary));
    expect(internal).toEqual({
      status: 500,
      body: { error: { code: 'internal', message: 'admin server error' } },
    });
  });

  it('keeps every detail when answered with another status', () => {
    const e = new CallguardError('blocked', 'm', { paths: ['/a'], rule: 'r', extra: { x: 'y' } });
    const bad = e.withStatus(502);
    expect([bad.status, bad.code, bad.paths, bad.rule, bad.extra]).toEqual([
      502,
      'blocked',
      ['/a'],
      'r',
      { x: 'y' },
    ]);
    expect(e.withStatus(403)).toBe(e);
  });
});
