// The head of an exchange without a transport: the request target read as texts (strict
// percent-decoding, `+` a space in the query, a segment's context the segment before it),
// rewritten with only the replaced parts encoded again; named headers; the record forms;
// and the headers inspect_headers may never name (policy and configuration refuse them).

import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../../src/config/config.js';
import { decideHead, readHead, redactedHead, redactedTarget } from '../../src/engine/index.js';
import type { HeadInput } from '../../src/engine/index.js';
import { Tokenizer } from '../../src/enforce/tokenize.js';
import { CallguardError } from '../../src/errors.js';
import { parseTarget, rewriteTarget } from '../../src/payload/url.js';
import { loadPolicy, PolicyLoadError } from '../../src/policy/load.js';
import type { Principal } from '../../src/policy/types.js';
import { channelsPolicyDir } from '../support/channels.js';

const policy = loadPolicy([channelsPolicyDir()]);
const tokenizer = new Tokenizer([{ id: 'k1', secret: Buffer.alloc(32, 8) }]);
const agent: Principal = { subject: 'u1', groups: ['agents'], authMethod: 'dev-header' };
const CARD = '4111111111111111';

function head(
  route: string,
  target: string | undefined,
  headers: [string, string][] = [],
): HeadInput {
  const r = policy.routesByName.get(route)!;
  return {
    policy,
    route: r,
    fn: r.fn,
    principal: agent,
    direction: 'request',
    tokenizer,
    target,
    headers,
    maxUrlBytes: 2048,
    maxHeaderBytes: 256,
  };
}

function code(f: () => unknown): string {
  try {
    f();
  } catch (e) {
    if (e instanceof CallguardError) return e.code;
    throw e;
  }
  return 'none';
}

describe('the request target', () => {
  it('is read as segments and parameters, decoded, + a space only in the query', () => {
    const p = parseTarget('/a%20b/c+d?x=1+2&y=%40&flag&=v&&z=', 100);
    expect(p.parts.map((x) => [x.kind, x.index, x.text])).toEqual([
      ['segment', 0, 'a b'],
      ['segment', 1, 'c+d'],
      ['name', 0, 'x'],
      ['value', 0, '1 2'],
      ['name', 1, 'y'],
      ['value', 1, '@'],
      ['name', 2, 'flag'],
      ['name', 3, ''],
      ['value', 3, 'v'],
      ['name', 4, 'z'],
      ['value', 4, ''],
    ]);
  });

  it.each([
    ['/x%zz', 'an invalid escape'],
    ['/x%4', 'a truncated escape'],
    ['/x%ff', 'bytes that are not UTF-8'],
    ['/x?a=%c3', 'a cut UTF-8 sequence'],
    ['x/y', 'no leading slash'],
    ['/a b', 'a raw space'],
    [`/${'a'.repeat(2048)}`, 'over the limit'],
  ])('%s (%s) is malformed_url', (target) => {
    expect(code(() => parseTarget(target, 2048))).toBe('malformed_url');
  });

  it('rewriting changes only the replaced parts: every other byte as it came', () => {
    fc.assert(
      fc.property(
        fc.array(fc.stringMatching(/^[A-Za-z0-9%._~!$'()*+,;=:@-]{0,8}$/), { maxLength: 5 }),
        (segs) => {
          const target = `/${segs.map((s) => s.replace(/%/g, '%25')).join('/')}?k=${encodeURIComponent('v w')}`;
          const p = parseTarget(target, 4096);
          expect(rewriteTarget(p, new Map())).toBe(target);
          const last = p.parts.at(-1)!;
          const out = rewriteTarget(p, new Map([[last, 'x y']]));
          expect(out).toBe(`${target.slice(0, last.start)}x%20y`);
        },
      ),
    );
  });
});

describe('reading and deciding a head', () => {
  it('masks a card in a segment, an e-mail in a parameter and in a named header', () => {
    const input = head('fn', `/fn/cards/${CARD}?contact=ada%40example.com`, [
      ['x-user-email', 'ada@example.com'],
    ]);
    const h = decideHead(input, readHead(input));
    expect(h.target).toBe('/fn/cards/************1111?contact=%5BREDACTED%3Ainternal%3Aemail%5D');
    expect(h.headers).toEqual([['x-user-email', '[REDACTED:internal:email]']]);
    expect(h.decision.findings.map((f) => [f.path, f.detector, f.action])).toEqual([
      [':path/2', 'card', 'mask'],
      [':path?contact', 'email', 'redact'],
      [':headers/x-user-email', 'email', 'redact'],
    ]);
    expect(h.record.target).toBe(h.target);
  });

  it('a target without findings is not rewritten', () => {
    const input = head('fn', '/fn/a%2Fb?x=1');
    const h = decideHead(input, readHead(input));
    expect(h.target).toBeUndefined();
    expect(h.record.target).toBe('/fn/a%2Fb?x=1');
  });

  it('context: the segment before, the parameter name', () => {
    const ssn = (t: string) => {
      const input = head('fn', t);
      return readHead(input).collected.findings.map((f) => f.detector);
    };
    expect(ssn('/fn/ssn/284565351')).toEqual(['ssn']);
    expect(ssn('/fn/id/284565351')).toEqual([]);
    expect(ssn('/fn?ssn=284565351')).toEqual(['ssn']);
  });

  it('block throws with the decision; the record form redacts every value', () => {
    const input = head('blocked', `/blocked/${CARD}`);
    const scan = readHead(input);
    expect(redactedHead(scan).target).toBe('/blocked/%5BREDACTED%3Aconfidential%3Acard%5D');
    let err: CallguardError | undefined;
    try {
      decideHead(input, scan);
    } catch (e) {
      err = e as CallguardError;
    }
    expect(err?.code).toBe('blocked');
    expect(err?.paths).toEqual([':path/1']);
    expect(err?.decision?.findings).toHaveLength(1);
  });

  it('hold: the value goes on as it is, previewed masked, recorded redacted', () => {
    const input = head('held', `/held/${CARD}`);
    const h = decideHead(input, readHead(input));
    expect(h.decision.action).toBe('hold');
    expect(h.decision.hold?.approvers).toEqual(['managers']);
    expect(h.target).toBeUndefined();
    expect([...h.previews.values()]).toEqual(['**************11']);
    expect(h.record.target).toBe('/held/%5BREDACTED%3Aconfidential%3Acard%5D');
  });

  it('a named header over the limit is header_too_large', () => {
    const input = head('fn', '/fn', [['x-user-email', 'a'.repeat(257)]]);
    expect(code(() => readHead(input))).toBe('header_too_large');
  });

  it('a target no route covers is recorded with the built-in detectors redacting', () => {
    expect(redactedTarget(`/nowhere/${CARD}?q=1`, undefined, { policy }, 4096)).toBe(
      '/nowhere/%5BREDACTED%3Aconfidential%3Acard%5D?q=1',
    );
    expect(redactedTarget('/x%zz', undefined, { policy }, 4096)).toBeUndefined();
  });
});

describe('inspect_headers never names a credentials header', () => {
  const policyWith = (headers: string) => {
    const dir = mkdtempSync(join(tmpdir(), 'cg-head-'));
    writeFileSync(
      join(dir, 'p.yaml'),
      `routes:\n  - name: r\n    match: { path: /r }\n    inspect_headers: [${headers}]\n`,
    );
    return dir;
  };

  it.each(['authorization', 'cookie', 'proxy-authorization', 'set-cookie', 'x-callguard-subject'])(
    'a route naming %s is refused when the policy loads (and in policy lint)',
    (name) => {
      const dir = policyWith(`x-user-email, ${name}`);
      let err: unknown;
      try {
        loadPolicy([dir], dir);
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(PolicyLoadError);
      expect((err as Error).message).toMatch(/inspect_headers\/1: /);
    },
  );

  it('the configuration refuses credentials and the headers it reads identities from', () => {
    const dir = mkdtempSync(join(tmpdir(), 'cg-head-config-'));
    const cfg = (yaml: string) => {
      const file = join(dir, `c${Math.random()}.yaml`);
      writeFileSync(file, yaml);
      return () => loadConfig(file, []);
    };
    expect(cfg('inspect_headers: [x-user-email]')().inspect_headers).toEqual(['x-user-email']);
    expect(cfg('inspect_headers: [cookie]')).toThrow(ConfigError);
    expect(cfg('inspect_headers: [authorization]')).toThrow(/credentials/);
    expect(cfg('dev: { groups_header: x-dev }\ninspect_headers: [x-dev-user]')).toThrow(/identity/);
    writeFileSync(join(dir, 'idp.xml'), '<x/>');
    expect(
      cfg(
        'identity: { saml: { header: x-saml, idp_metadata: idp.xml, audience: a } }\ninspect_headers: [x-saml]',
      ),
    ).toThrow(/identity/);
  });
});
