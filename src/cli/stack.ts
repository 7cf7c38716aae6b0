// `npm start` / `callguard stack`: the local stack on loopback. Installs the pinned Envoy
// and Elasticsearch on first run, starts Elasticsearch (127.0.0.1:9200), the demo function
// endpoint, the demo identity provider (127.0.0.1:8082, for the admin page's sign-in),
// callguard (audit into that Elasticsearch) and Envoy, waits for each to be ready, shows
// two calls going through and their session record, and stops everything on Ctrl-C.

import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { request } from 'node:http';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { esVersion, startElasticsearch } from './elasticsearch.js';
import { startDemoUpstream } from './demo-upstream.js';
import { DEMO_USERS, startDemoIdp } from './demo-idp.js';
import { ensureEnvoy, envoyVersion, PROJECT_ROOT } from './envoy.js';

const say = (line: string) => process.stdout.write(`[stack] ${line}\n`);

function get(url: string): Promise<number> {
  return new Promise((resolve, reject) => {
    request(url, (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    })
      .on('error', reject)
      .end();
  });
}

function post(
  url: string,
  body: string,
  headers: Record<string, string>,
): Promise<{
  status: number;
  body: string;
  headers: Record<string, string | string[] | undefined>;
}> {
  return new Promise((resolve, reject) => {
    const req = request(
      url,
      { method: 'POST', headers: { 'content-type': 'application/json', ...headers } },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () =>
          resolve({
            status: res.statusCode ?? 0,
            body: Buffer.concat(chunks).toString(),
            headers: res.headers,
          }),
        );
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

async function waitReady(name: string, url: string, child?: ChildProcess): Promise<void> {
  const until = Date.now() + 30_000;
  for (;;) {
    if (child && child.exitCode !== null) throw new Error(`${name} exited with ${child.exitCode}`);
    try {
      if ((await get(url)) === 200) return;
    } catch {
      // not yet
    }
    if (Date.now() > until) throw new Error(`${name} not ready after 30 s (${url})`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

function prefixed(child: ChildProcess, name: string): void {
  for (const s of [child.stdout, child.stderr]) {
    s?.on('data', (c: Buffer) => {
      for (const line of c.toString().split('\n'))
        if (line) process.stdout.write(`[${name}] ${line}\n`);
    });
  }
}

export const DEMO_CHARGE =
  '{"amount": 12.50, "currency": "EUR",\n "card": {"number": "4242 4242 4242 4242", "holder": "Ada Lovelace", "expiry": "12/29"},\n "customer": {"email": "ada@example.com", "ssn": "078-05-1120"},\n "metadata": {"order": 12345678901234567890}}';

/** The local stack's fingerprint key: random, kept in .cache/ so searches survive restarts. */
function stackFingerprintKey(): string {
  const dir = join(PROJECT_ROOT, '.cache', 'stack');
  const file = join(dir, 'fingerprint.key');
  if (!existsSync(file)) {
    mkdirSync(dir, { recursive: true });
    writeFileSync(file, randomBytes(32).toString('base64url'), { mode: 0o600 });
  }
  return readFileSync(file, 'utf8').trim();
}

function getJson(url: string, headers: Record<string, string>): Promise<unknown> {
  return new Promise<string | null>((resolve, reject) => {
    request(url, { headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () =>
        resolve(res.statusCode === 200 ? Buffer.concat(chunks).toString() : null),
      );
    })
      .on('error', reject)
      .end();
  }).then((text) => (text === null ? null : (JSON.parse(text) as unknown)));
}

export async function runStack(): Promise<void> {
  const envoyBin = ensureEnvoy(say);
  ensureDevTokenKey();
  const esv = esVersion();
  say(`starting Elasticsearch ${esv} on 127.0.0.1:9200 (first boot takes 20-40 s)`);
  const es = await startElasticsearch({
    port: 9200,
    transportPort: 9300,
    // One data folder per version: 9.x upgrades a node's data past what 8.x can read.
    dataDir: join(PROJECT_ROOT, '.cache', 'stack', `elasticsearch-${esv}`),
    onLine: (line) => {
      if (/installing|ERROR|FATAL/.test(line)) process.stdout.write(`[elasticsearch] ${line}\n`);
    },
  });
  say(`Elasticsearch ready at ${es.url}`);
  let quiet = true; // the demo calls below print their own lines
  const upstream = await startDemoUpstream(8081, (r) => {
    if (!quiet)
      process.stdout.write(
        `[demo-endpoint] ${r.method} ${r.path} received: ${r.body.toString('utf8')}\n`,
      );
  });
  say(`demo function endpoint on 127.0.0.1:${upstream.port} (it prints what it receives)`);
  // The admin page signs in here (callguard.yaml: admin.ui.oidc).
  const idp = await startDemoIdp({ host: '127.0.0.1', port: 8082 });
  say(
    `demo identity provider ${idp.issuer} (DEMO ONLY; users: ${DEMO_USERS.map((u) => `${u.sub} [${u.groups.join(',')}]`).join(', ')})`,
  );
  const children: ChildProcess[] = [];
  let stopping = false;
  const stop = async () => {
    if (stopping) return;
    stopping = true;
    say('stopping');
    for (const c of children) c.kill('SIGTERM');
    await Promise.all(
      children.filter((c) => c.exitCode === null).map((c) => new Promise((r) => c.once('exit', r))),
    );
    await es.stop();
    await upstream.close();
    await idp.close();
    process.exit(0);
  };
  process.on('SIGINT', () => void stop());
  process.on('SIGTERM', () => void stop());

  const callguard = spawn(
    process.execPath,
    [
      join(PROJECT_ROOT, 'dist/cli/main.js'),
      'serve',
      '--config',
      join(PROJECT_ROOT, 'callguard.yaml'),
    ],
    {
      cwd: PROJECT_ROOT,
      stdio: ['ignore', 'pipe', 'pipe'],
      env: {
        ...process.env,
        CALLGUARD_ES_URL: es.url,
        CALLGUARD_FINGERPRINT_KEY: stackFingerprintKey(),
      },
    },
  );
  children.push(callguard);
  prefixed(callguard, 'callguard');
  await waitReady('callguard', 'http://127.0.0.1:9090/healthz', callguard);

  const envoy = spawn(
    envoyBin,
    ['-c', join(PROJECT_ROOT, 'envoy/envoy.yaml'), '--log-level', 'warn', '--use-dynamic-base-id'],
    {
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  children.push(envoy);
  prefixed(envoy, 'envoy');
  await waitReady('envoy', 'http://127.0.0.1:9901/ready', envoy);
  say(
    `ready: Envoy ${envoyVersion()} 127.0.0.1:10000 → callguard 127.0.0.1:50051 → demo endpoint 127.0.0.1:8081`,
  );

  // Show it working: one call masked, one refused.
  const headers = { 'x-callguard-dev-groups': 'agents' };
  const before = upstream.received.length;
  const ok = await post('http://127.0.0.1:10000/functions/charge_card', DEMO_CHARGE, headers);
  say(`charge_card → ${ok.status}; the client got: ${ok.body.replace(/\s+/g, ' ')}`);
  const got = upstream.received[before];
  say(`the function endpoint received: ${got ? got.body.toString() : '(nothing)'}`);
  const bad = await post(
    'http://127.0.0.1:10000/functions/charge_card',
    '{"amount": 1, "currency": "EUR", "card": {"number": "4242424242424242", "cvv": "123"}}',
    headers,
  );
  say(`charge_card with card.cvv → ${bad.status} ${bad.body}`);
  const chat = await post(
    'http://127.0.0.1:10000/v1/chat/completions',
    JSON.stringify({
      model: 'demo',
      messages: [
        { role: 'user', content: 'Pay with 4242 4242 4242 4242 and mail ada@example.com' },
      ],
    }),
    headers,
  );
  const answer = (JSON.parse(chat.body) as { choices?: { message?: { content?: string } }[] })
    .choices?.[0]?.message?.content;
  say(`chat completion → ${chat.status}; ${answer ?? chat.body}`);
  // The session record of the first call, as an auditor sees it.
  const session = String(ok.headers['x-callguard-session']);
  const auditor = { 'x-callguard-dev-groups': 'auditors' };
  let rec: unknown = null;
  for (let i = 0; i < 50 && rec === null; i++) {
    await new Promise((r) => setTimeout(r, 200));
    rec = await getJson(`http://127.0.0.1:9090/api/sessions/${session}`, auditor);
  }
  const cg = (rec as { callguard?: Record<string, unknown> } | null)?.callguard;
  say(
    cg
      ? `session ${session} in Elasticsearch: decision ${String(cg.decision)}, max level ${String(cg.max_level)}, ${(cg.findings as unknown[]).length} findings; see docs/audit.md for the audit API`
      : `session ${session} not yet in Elasticsearch`,
  );
  quiet = false;
  say(
    'admin page: http://127.0.0.1:9090/ (sign in as audrey for sessions, mark or mary for approvals)',
  );
  say('try the curls in README.md; Ctrl-C stops everything');
}

/** The development token key callguard.yaml names, made once (random, never committed). */
function ensureDevTokenKey(): void {
  const file = join(PROJECT_ROOT, '.cache', 'dev-token.key');
  if (existsSync(file)) return;
  mkdirSync(join(PROJECT_ROOT, '.cache'), { recursive: true });
  try {
    // 'wx': a second `npm start` racing this one keeps the key the first one wrote.
    writeFileSync(file, randomBytes(32).toString('base64'), { mode: 0o600, flag: 'wx' });
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
    return;
  }
  say('wrote a random development token key to .cache/dev-token.key');
}
