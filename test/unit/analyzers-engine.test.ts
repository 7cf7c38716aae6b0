// External analyzers at the engine's seam: the policy keys compile (and refuse what is
// wrong, naming where), planInspection lists the texts the detectors read (never a
// contract-tagged value), completeInspection turns the analyzers' spans into ordinary
// findings merged with the detectors' (rules, actions, byte-preserving edits), monitor mode
// records and changes nothing, and a stream's texts are analyzed per batch. The analyzers'
// answers are made here from the texts (the engine never calls a service).

import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  completeInspection,
  inspect,
  planInspection,
  StreamInspector,
} from '../../src/engine/index.js';
import type {
  AnalyzedText,
  AnalyzerHit,
  AnalyzerHits,
  InspectInput,
} from '../../src/engine/index.js';
import { Tokenizer } from '../../src/enforce/tokenize.js';
import { CallguardError } from '../../src/errors.js';
import { loadPolicy, PolicyLoadError } from '../../src/policy/load.js';
import type { CompiledPolicy } from '../../src/policy/compile.js';
import type { Principal } from '../../src/policy/types.js';

const NAME = 'Ada Lovelace';
const CITY = 'Bletchley Park';
const agent: Principal = { subject: 'u1', groups: ['agents'], authMethod: 'dev-header' };
const tokenizer = new Tokenizer([{ id: 'k1', secret: Buffer.alloc(32, 3) }]);

function policyOf(yaml: string, contract?: Record<string, unknown>): CompiledPolicy {
  const dir = mkdtempSync(join(tmpdir(), 'cg-analyzers-'));
  if (contract) writeFileSync(join(dir, 'c.json'), JSON.stringify(contract));
  writeFileSync(join(dir, 'policy.yaml'), yaml);
  return loadPolicy([dir]);
}

const ANALYZERS = `analyzers:
  names:
    kind: presidio
    url: http://127.0.0.1:1
    entities:
      PERSON: { detector: ner_person, level: confidential }
      LOCATION: { detector: location, level: internal }
  watch:
    kind: webhook
    url: http://127.0.0.1:1/analyze
    mode: monitor
    entities:
      PERSON: { detector: ner_person, level: confidential }
`;

const RULES = `rules:
  - name: names-masked
    match: { detectors: [ner_person] }
    action: { type: mask, keep_first: 1, keep_last: 0 }
  - name: places-redacted
    match: { detectors: [location] }
    action: redact
  - name: emails-masked
    match: { detectors: [email] }
    action: { type: mask, keep_last: 0 }
  - name: cards-blocked
    match: { detectors: [card] }
    action: block
`;

const chatPolicy = (route: string) =>
  policyOf(`${ANALYZERS}
routes:
  - name: chat
    match: { path: /v1/chat/completions }
    format: openai-chat
${route}
${RULES}`);

function input(policy: CompiledPolicy, body: string, over: Partial<InspectInput> = {}) {
  const route = policy.routesByName.get('chat')!;
  return {
    policy,
    route,
    fn: route.fn,
    principal: agent,
    direction: 'request' as const,
    body: Buffer.from(body),
    maxDepth: 64,
    tokenizer,
    ...over,
  };
}

/** What an analyzer would answer: every occurrence of `words` in each text, by entity. */
function answer(
  items: readonly AnalyzedText[],
  words: Record<string, { detector: string; level: string }>,
  analyzer = 'names',
): AnalyzerHits {
  const hits = new Map<AnalyzedText, AnalyzerHit[]>();
  for (const item of items) {
    const found: AnalyzerHit[] = [];
    for (const [word, m] of Object.entries(words)) {
      for (let i = item.text.indexOf(word); i >= 0; i = item.text.indexOf(word, i + 1))
        found.push({ ...m, start: i, end: i + word.length, score: 0.85, analyzer });
    }
    if (found.length > 0) hits.set(item, found);
  }
  return hits;
}

const PERSON = { detector: 'ner_person', level: 'confidential' };
const PLACE = { detector: 'location', level: 'internal' };

describe('policy: analyzers', () => {
  it('compiles an analyzer with its defaults and the routes that run it', () => {
    const p = chatPolicy('    analyzers: [names]');
    const a = p.analyzers.get('names')!;
    expect(a).toMatchObject({
      kind: 'presidio',
      language: 'en',
      scoreThreshold: 0.5,
      timeoutMs: 200,
      maxConcurrency: 8,
      onError: 'block',
      monitor: false,
      cache: { ttlMs: 30_000, maxEntries: 10_000 },
    });
    expect(a.entities.get('PERSON')).toEqual({
      detector: 'ner_person',
      level: 'confidential',
      minScore: 0.5,
    });
    expect(p.routesByName.get('chat')!.analyzers).toEqual([a]);
    expect(p.routesByName.get('chat')!.monitor).toBe(false);
    expect(p.analyzers.get('watch')!.monitor).toBe(true);
  });

  it.each([
    [
      'an unknown analyzer on a route',
      `${ANALYZERS}routes:\n  - name: r\n    match: { path: /x }\n    analyzers: [nope]\n`,
      /policy\.yaml:\d+:\d+: \/routes\/0\/analyzers\/0: unknown analyzer "nope"/,
    ],
    [
      'an unknown level in a mapping',
      'analyzers:\n  a:\n    kind: webhook\n    url: http://h/x\n    entities: { PERSON: { detector: p, level: secret } }\n',
      /\/analyzers\/a\/entities\/PERSON\/level: unknown level "secret"/,
    ],
    [
      'language on a webhook',
      'analyzers:\n  a:\n    kind: webhook\n    url: http://h/x\n    language: de\n    entities: { PERSON: { detector: p, level: internal } }\n',
      /\/analyzers\/a\/language: language applies to presidio analyzers only/,
    ],
    [
      'a timeout beyond the bound',
      'analyzers:\n  a:\n    kind: webhook\n    url: http://h/x\n    timeout: 1m\n    entities: { PERSON: { detector: p, level: internal } }\n',
      /\/analyzers\/a\/timeout: timeout must be between 1ms and 20s/,
    ],
    [
      'a URL that is not http(s)',
      'analyzers:\n  a:\n    kind: webhook\n    url: file:///etc/passwd\n    entities: { PERSON: { detector: p, level: internal } }\n',
      /\/analyzers\/a\/url/,
    ],
    [
      'an unknown on_error',
      'analyzers:\n  a:\n    kind: webhook\n    url: http://h/x\n    on_error: allow\n    entities: { PERSON: { detector: p, level: internal } }\n',
      /\/analyzers\/a\/on_error/,
    ],
  ])('refuses %s, naming where', (_what, yaml, message) => {
    const dir = mkdtempSync(join(tmpdir(), 'cg-analyzers-'));
    writeFileSync(join(dir, 'policy.yaml'), yaml);
    expect(() => loadPolicy([dir])).toThrow(PolicyLoadError);
    expect(() => loadPolicy([dir])).toThrow(message);
  });

  it("a rule may name an analyzer's detector id, and a route cannot enable it as a built-in", () => {
    expect(() => chatPolicy('    analyzers: [names]')).not.toThrow();
    expect(() => chatPolicy('    detectors: { enabled: [ner_person] }')).toThrow(
      /unknown detector "ner_person"/,
    );
  });
});

describe('planInspection and completeInspection', () => {
  const body = `{"model":"gpt-4o","messages":[{"role":"user","content":"I am ${NAME}, mail ada@example.com"},{"role":"user","content":"Meet at ${CITY}, said ${NAME}."}]}`;

  it('lists every text the detectors read, in document order: object keys too', () => {
    const plan = planInspection(input(chatPolicy('    analyzers: [names]'), body));
    expect(plan.sites.map((s) => s.text)).toEqual([
      'model',
      'messages',
      'gpt-4o',
      'role',
      'content',
      'user',
      `I am ${NAME}, mail ada@example.com`,
      'role',
      'content',
      'user',
      `Meet at ${CITY}, said ${NAME}.`,
    ]);
  });

  it('never lists a contract-tagged value: the contract classified it already', () => {
    const p = policyOf(
      `${ANALYZERS}functions:\n  f: { request: c.json }\nroutes:\n  - name: chat\n    match: { path: /f }\n    function: f\n    analyzers: [names]\n${RULES}`,
      {
        type: 'object',
        properties: {
          holder: { type: 'string', 'x-classification': 'confidential' },
          note: { type: 'string' },
        },
      },
    );
    const plan = planInspection(
      input(p, `{"holder":"${NAME}","note":"for ${NAME}"}`, {
        fn: p.functions.get('f'),
      }),
    );
    // The keys are texts of their own (a key can be the value); the tagged value is not.
    expect(plan.sites.map((s) => s.text)).toEqual(['holder', 'note', `for ${NAME}`]);
  });

  it("the analyzers' spans become findings; only their bytes change; rules apply unchanged", () => {
    const i = input(chatPolicy('    analyzers: [names]'), body);
    const plan = planInspection(i);
    const r = completeInspection(plan, answer(plan.sites, { [NAME]: PERSON, [CITY]: PLACE }));
    const out = Buffer.from(r.body).toString('utf8');
    expect(out).toBe(
      body
        .replaceAll(NAME, 'A** ********')
        .replace(CITY, '[REDACTED:internal:location]')
        .replace('ada@example.com', '***@*******.***'),
    );
    expect(
      r.decision.findings.map((f) => [f.path, f.detector, f.analyzer, f.action, f.rule]),
    ).toEqual([
      ['/messages/0/content', 'ner_person', 'names', 'mask', 'names-masked'],
      ['/messages/0/content', 'email', undefined, 'mask', 'emails-masked'],
      ['/messages/1/content', 'location', 'names', 'redact', 'places-redacted'],
      ['/messages/1/content', 'ner_person', 'names', 'mask', 'names-masked'],
    ]);
    expect(r.decision.action).toBe('redact');
  });

  it('without hits, the same result as inspect(), findings in the same order', () => {
    const p = policyOf(
      `${ANALYZERS}functions:\n  f: { request: c.json }\nroutes:\n  - name: chat\n    match: { path: /c }\n    format: openai-chat\n    analyzers: [names]\n${RULES}`,
      {
        type: 'object',
        properties: {
          a: { type: 'string', 'x-classification': 'confidential', 'x-detector': 'ner_person' },
        },
      },
    );
    const call = (id: string, args: unknown) => ({
      id,
      type: 'function',
      function: { name: 'f', arguments: JSON.stringify(args) },
    });
    const body = JSON.stringify({
      messages: [
        { role: 'user', content: 'mail ada@example.com' },
        {
          role: 'assistant',
          tool_calls: [
            call('c1', { a: 'x', b: 'bob@example.com' }),
            call('c2', { a: 'y', b: 'eve@example.com' }),
          ],
        },
      ],
    });
    const i = input(p, body);
    const a = inspect(i);
    const b = completeInspection(planInspection(i), new Map());
    expect(b.decision).toEqual(a.decision);
    expect(Buffer.from(b.body).toString()).toBe(Buffer.from(a.body).toString());
    // Contract findings and detector findings interleave in document order.
    expect(a.decision.findings.map((f) => `${f.path}:${f.source}`)).toEqual([
      '/messages/1/tool_calls/0/function/arguments#/a:contract',
      '/messages/1/tool_calls/0/function/arguments#/b:detector',
      '/messages/1/tool_calls/1/function/arguments#/a:contract',
      '/messages/1/tool_calls/1/function/arguments#/b:detector',
      '/messages/0/content:detector',
    ]);
  });

  it("overlapping spans: the higher level wins, then the longer span (the detectors' own order)", () => {
    const i = input(
      chatPolicy('    analyzers: [names]'),
      `{"messages":[{"role":"user","content":"x ${NAME} y"}]}`,
    );
    const plan = planInspection(i);
    const site = plan.sites.find((s) => s.text.includes(NAME))!;
    const at = site.text.indexOf(NAME);
    const hit = (start: number, end: number, level: string, detector: string): AnalyzerHit => ({
      start,
      end,
      level,
      detector,
      score: 0.9,
      analyzer: 'names',
    });
    // "Ada" as a confidential name beats "Ada Lovelace" as an internal place: higher level.
    let r = completeInspection(
      plan,
      new Map([
        [
          site,
          [
            hit(at, at + NAME.length, 'internal', 'location'),
            hit(at, at + 3, 'confidential', 'ner_person'),
          ],
        ],
      ]),
    );
    expect(r.decision.findings.map((f) => f.detector)).toEqual(['ner_person']);
    // Same level: the longer span wins.
    const plan2 = planInspection(i);
    const site2 = plan2.sites.find((s) => s.text.includes(NAME))!;
    r = completeInspection(
      plan2,
      new Map([
        [
          site2,
          [
            hit(at, at + 3, 'confidential', 'ner_person'),
            hit(at, at + NAME.length, 'confidential', 'location'),
          ],
        ],
      ]),
    );
    expect(r.decision.findings.map((f) => f.detector)).toEqual(['location']);
    expect(Buffer.from(r.body).toString()).toContain('"x [REDACTED:confidential:location] y"');
  });

  it('an analyzer span at the lowest level is not a finding', () => {
    const i = input(
      chatPolicy('    analyzers: [names]'),
      `{"messages":[{"role":"user","content":"${NAME}"}]}`,
    );
    const plan = planInspection(i);
    const r = completeInspection(
      plan,
      answer(plan.sites, { [NAME]: { detector: 'ner_person', level: 'public' } }),
    );
    expect(r.decision.findings).toEqual([]);
    expect(r.changed).toBe(false);
  });

  it('a span after an emoji edits exactly its characters (UTF-16 offsets; escapes re-encoded)', () => {
    const text = `🙂 \\u00e9 ${NAME}!`;
    const i = input(
      chatPolicy('    analyzers: [names]'),
      `{"messages":[{"role":"user","content":"${text}"}]}`,
    );
    const plan = planInspection(i);
    const r = completeInspection(plan, answer(plan.sites, { [NAME]: PERSON }));
    const { messages } = JSON.parse(Buffer.from(r.body).toString()) as {
      messages: { content: string }[];
    };
    expect(messages[0]?.content).toBe(`🙂 é A** ********!`);
  });

  it('a block rule refuses the body, naming the path, never the value', () => {
    const i = input(
      policyOf(
        `${ANALYZERS}routes:\n  - name: chat\n    match: { path: /c }\n    format: openai-chat\n    analyzers: [names]\nrules:\n  - name: names-blocked\n    match: { detectors: [ner_person] }\n    action: block\n`,
      ),
      `{"messages":[{"role":"user","content":"${NAME}"}]}`,
    );
    const plan = planInspection(i);
    let err: unknown;
    try {
      completeInspection(plan, answer(plan.sites, { [NAME]: PERSON }));
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(CallguardError);
    expect((err as CallguardError).paths).toEqual(['/messages/0/content']);
    expect((err as CallguardError).message).not.toContain('Ada');
  });
});

describe('monitor mode', () => {
  const body = `{"messages":[{"role":"user","content":"${NAME} pays with 4242 4242 4242 4242, ada@example.com"}]}`;

  it('an analyzer in monitor mode: its findings are recorded with the action they would get; nothing changes', () => {
    const i = input(
      chatPolicy('    analyzers: [watch]'),
      `{"messages":[{"role":"user","content":"I am ${NAME}, ada@example.com"}]}`,
    );
    const plan = planInspection(i);
    const r = completeInspection(plan, answer(plan.sites, { [NAME]: PERSON }, 'watch'));
    const out = Buffer.from(r.body).toString();
    expect(out).toContain(NAME); // left as it was
    expect(out).not.toContain('ada@example.com'); // the detectors still enforce
    const name = r.decision.findings.find((f) => f.analyzer === 'watch')!;
    expect(name).toMatchObject({ action: 'allow', monitor: 'mask', rule: 'names-masked' });
    expect(r.decision.findings.find((f) => f.detector === 'email')).toMatchObject({
      action: 'mask',
    });
    expect(r.decision.findings.find((f) => f.detector === 'email')!.monitor).toBeUndefined();
    expect(r.decision.trace.join('\n')).toMatch(
      /monitor: request \/messages\/0\/content \(confidential\) left unchanged; enforced it would be mask by rule "names-masked"/,
    );
  });

  it('a route in monitor mode: a block is recorded, the body goes on byte for byte', () => {
    const i = input(chatPolicy('    analyzers: [names]\n    mode: monitor'), body);
    const plan = planInspection(i);
    const r = completeInspection(plan, answer(plan.sites, { [NAME]: PERSON }));
    expect(r.changed).toBe(false);
    expect(Buffer.from(r.body).toString()).toBe(body);
    expect(r.decision.action).toBe('allow');
    expect(r.decision.findings.map((f) => [f.detector, f.action, f.monitor])).toEqual([
      ['ner_person', 'allow', 'mask'],
      ['card', 'allow', 'block'],
      ['email', 'allow', 'mask'],
    ]);
    // Without monitor mode the same body is refused.
    expect(() => inspect(input(chatPolicy('    analyzers: [names]'), body))).toThrow(
      CallguardError,
    );
  });
});

describe('streams: the analyzers read each batch', () => {
  const chunk = (content: string, finish: string | null = null) =>
    `data: ${JSON.stringify({ id: 'c1', object: 'chat.completion.chunk', choices: [{ index: 0, delta: { content }, finish_reason: finish }] })}\n\n`;

  function stream(route: string) {
    const p = chatPolicy(route);
    const r = p.routesByName.get('chat')!;
    return new StreamInspector({
      policy: p,
      route: r,
      fn: undefined,
      principal: agent,
      direction: 'response',
      maxDepth: 64,
      tokenizer,
    });
  }

  const content = (sse: string) =>
    [...sse.matchAll(/^data: (\{.*)$/gm)]
      .map(
        (m) =>
          (JSON.parse(m[1]!) as { choices: { delta: { content?: string } }[] }).choices[0]!.delta
            .content ?? '',
      )
      .join('');

  it('a name split across events is held to the end of its sentence and masked whole', () => {
    const ins = stream('    analyzers: [names]');
    const parts = [
      chunk('Hello, I am Ada '),
      chunk('Love'),
      chunk('lace. And '),
      chunk('you?', 'stop'),
    ];
    const seen: string[][] = [];
    let out = '';
    parts.forEach((c, k) => {
      const batch = ins.plan(Buffer.from(c), k === parts.length - 1);
      seen.push(batch.items.map((x) => x.text));
      out += Buffer.from(
        ins.push(batch, k === parts.length - 1, answer(batch.items, { [NAME]: PERSON })).body,
      ).toString();
      // Nothing of the name leaves before the analyzer has read all of it.
      expect(content(out)).not.toMatch(/Ada|Love/);
    });
    expect(content(out)).toBe('Hello, I am A** ********. And you?');
    // The sentence was read whole, in one window.
    expect(seen.flat()).toContain(`Hello, I am ${NAME}. And `);
    expect(ins.decision().findings.map((f) => [f.detector, f.analyzer, f.action])).toEqual([
      ['ner_person', 'names', 'mask'],
    ]);
  });

  it('without analyzers a stream releases word by word as before (no sentence hold)', () => {
    const ins = stream('');
    const first = Buffer.from(
      ins.push(Buffer.from(chunk('Hello, I am Ada ')), false).body,
    ).toString();
    expect(content(first)).toBe('Hello, I am Ada ');
  });

  it('the texts of an event and of data that is not JSON are analyzed too', () => {
    const ins = stream('    analyzers: [names]');
    const sse = `data: {"id":"c1","object":"chat.completion.chunk","note":"for ${NAME}","choices":[]}\n\ndata: call ${NAME}\n\n`;
    const batch = ins.plan(Buffer.from(sse), true);
    expect(batch.items.map((x) => x.text)).toEqual(
      expect.arrayContaining([`for ${NAME}`, `call ${NAME}`]),
    );
    const out = Buffer.from(
      ins.push(batch, true, answer(batch.items, { [NAME]: PERSON })).body,
    ).toString();
    expect(out).not.toContain(NAME);
    expect(out).toContain('"note":"for A** ********"');
    expect(out).toContain('data: call A** ********');
  });
});
