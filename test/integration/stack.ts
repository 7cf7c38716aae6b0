// A real stack per test file: the demo upstream (in this process, so tests see exactly
// what it received), `callguard serve` from dist/ as a child process (its log lines are
// kept), and the pinned Envoy with envoy/envoy.yaml rendered onto free ports.

import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse, stringify } from 'yaml';
import { startDemoUpstream } from '../../src/cli/demo-upstream.js';
import type { DemoUpstream } from '../../src/cli/demo-upstream.js';
import { envoyBinary, PROJECT_ROOT } from '../../src/cli/envoy.js';

import { clusterOf } from '../support/envoy-config.js';
import type { EnvoyConfig } from '../support/envoy-config.js';

/** Envoy's bootstrap as parsed YAML; tests reach into it by path. */
export type { EnvoyConfig };

export interface StackOptions {
  /** Policy paths (default: the shipped policies/). */
  policies?: string[];
  /** Extra callguard.yaml keys. */
  config?: Record<string, unknown>;
  /** Edit the rendered Envoy config (parsed YAML) before Envoy starts. */
  envoy?: (config: EnvoyConfig) => void;
  /** Extra environment for callguard. */
  env?: Record<string, string>;
  /** Node options for the callguard process (benchmarks: `--cpu-prof`). */
  nodeArgs?: string[];
  /**
   * More callguard processes (same configuration, their own ports) behind Envoy's callguard
   * cluster, beside the first (benchmarks: scaling with processes).
   */
  replicas?: number;
}

export interface Stack {
  url: string;
  envoyAdmin: string;
  upstream: DemoUpstream;
  callguardAdmin: string;
  /** callguard's gRPC address (ext_proc, ext_authz, health). */
  grpcAddr: string;
  /** Everything callguard wrote to stdout and stderr so far. */
  callguardOutput(): string;
  /** Everything Envoy wrote so far. */
  envoyOutput(): string;
  stopCallguard(): Promise<void>;
  /** Kills callguard with a signal (SIGKILL: a crash) and waits for it to exit. */
  killCallguard(signal?: NodeJS.Signals): Promise<void>;
  /** Starts callguard again with the same configuration and ports; waits until healthy. */
  restartCallguard(): Promise<void>;
  /** Directory holding callguard.yaml (and whatever a test puts there). */
  dir: string;
  /** The callguard.yaml this stack runs (tests start more replicas of it). */
  configFile: string;
  /** Send callguard a signal (SIGHUP reloads the policy). */
  signalCallguard(signal: NodeJS.Signals): void;
  /** The running callguard child's pid (for its RSS in /proc). */
  callguardPid(): number;
  envoyPid(): number;
  /** Pids of the extra callguard processes (StackOptions.replicas). */
  replicaPids(): number[];
  stop(): Promise<void>;
}

export interface HttpResult {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: Buffer;
  text: string;
  json<T = unknown>(): T;
}

/** The token key every test stack uses, so tests can make and check tokens themselves. */
export const TEST_TOKEN_KEY = Buffer.alloc(32, 7);

/**
 * A port that was free a moment ago, below Linux's ephemeral range (32768+): the OS hands
 * ephemeral ports to every outgoing connection the tests make, so a port chosen there can
 * be taken again before Envoy or callguard binds it.
 */
export async function freePort(): Promise<number> {
  for (;;) {
    const port = 10_240 + Math.floor(Math.random() * (32_768 - 10_240));
    const free = await new Promise<boolean>((resolve) => {
      const s = createServer();
      s.once('error', () => resolve(false));
      s.listen(port, '127.0.0.1', () => s.close(() => resolve(true)));
    });
    if (free) return port;
  }
}

/** A process's resident memory in bytes (Linux /proc), for memory bounds and benchmarks. */
export function rssBytes(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return Number(m?.[1] ?? NaN) * 1024;
}

/** A plain HTTP/1.1 request with exact bytes (no client-side JSON re-encoding). */
export function http(
  url: string,
  opts: { method?: string; headers?: Record<string, string>; body?: string | Buffer } = {},
): Promise<HttpResult> {
  return new Promise((resolve, reject) => {
    const req = request(url, { method: opts.method ?? 'GET', headers: opts.headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        const body = Buffer.concat(chunks);
        const text = body.toString('utf8');
        resolve({
          status: res.statusCode ?? 0,
          headers: res.headers,
          body,
          text,
          json: <T>() => JSON.parse(text) as T,
        });
      });
      res.on('error', reject);
    });
    req.on('error', reject);
    if (opts.body !== undefined) req.write(opts.body);
    req.end();
  });
}

export function postJson(url: string, body: string | Buffer, headers: Record<string, string> = {}) {
  return http(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body,
  });
}

async function waitFor(
  what: string,
  child: ChildProcess,
  probe: () => Promise<boolean>,
  timeoutMs = 20_000,
): Promise<void> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`${what} exited with ${child.exitCode}`);
    try {
      if (await probe()) return;
    } catch {
      // not up yet
    }
    if (Date.now() > until) throw new Error(`${what} did not become ready in ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

function collect(child: ChildProcess): () => string {
  const chunks: Buffer[] = [];
  child.stdout?.on('data', (c: Buffer) => chunks.push(c));
  child.stderr?.on('data', (c: Buffer) => chunks.push(c));
  return () => Buffer.concat(chunks).toString('utf8');
}

function stopChild(child: ChildProcess, signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const t = setTimeout(() => child.kill('SIGKILL'), 5_000);
    child.once('exit', () => {
      clearTimeout(t);
      resolve();
    });
    child.kill(signal);
  });
}

/** envoy/envoy.yaml with the stack's ports replaced by the given ones. */
export function renderEnvoyConfig(ports: {
  listener: number;
  admin: number;
  callguard: number;
  upstream: number;
}): string {
  let text = readFileSync(join(PROJECT_ROOT, 'envoy', 'envoy.yaml'), 'utf8');
  for (const [from, to] of [
    [10000, ports.listener],
    [9901, ports.admin],
    [50051, ports.callguard],
    [8081, ports.upstream],
  ] as const) {
    const needle = `port_value: ${from} `;
    if (!text.includes(needle)) throw new Error(`envoy.yaml has no "${needle}"`);
    text = text.replaceAll(needle, `port_value: ${to} `);
  }
  return text;
}

/** Start a stack; a port taken between choosing and binding it is retried on new ports. */
export async function startStack(opts: StackOptions = {}): Promise<Stack> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await startStackOnce(opts);
    } catch (e) {
      if (attempt >= 3 || !/Address already in use|EADDRINUSE/.test((e as Error).message)) throw e;
    }
  }
}

async function startStackOnce(opts: StackOptions): Promise<Stack> {
  const dir = mkdtempSync(join(tmpdir(), 'callguard-it-'));
  const upstream = await startDemoUpstream(0);
  // A test may choose the admin address itself (e.g. to register an OIDC redirect URI).
  const fixedAdmin = opts.config?.admin_addr;
  const [listener, admin, grpcPort, cgAdmin] = [
    await freePort(),
    await freePort(),
    await freePort(),
    typeof fixedAdmin === 'string' ? Number(fixedAdmin.split(':').pop()) : await freePort(),
  ];
  const keyFile = join(dir, 'token.key');
  writeFileSync(keyFile, TEST_TOKEN_KEY.toString('base64'));
  const config = {
    tokenize: { keys: [{ id: 'test1', secret_file: keyFile }] },
    grpc_addr: `127.0.0.1:${grpcPort}`,
    admin_addr: `127.0.0.1:${cgAdmin}`,
    policies: opts.policies ?? [join(PROJECT_ROOT, 'policies')],
    log: { level: 'debug' },
    shutdown_grace_ms: 2000,
    dev: { groups_header: 'x-callguard-dev-groups' },
    // Admission control off unless a test sets it: integration files run in parallel on a
    // few cores, and a neighbour's load test can stall this callguard past the brake and get
    // its calls refused. Admission control has its own tests (overload.test.ts, which turns
    // it on, and the unit tests over a driven loop).
    admission: { enabled: false },
    ...opts.config,
  };
  writeFileSync(join(dir, 'callguard.yaml'), stringify(config));
  const callguardAdmin = `http://127.0.0.1:${cgAdmin}`;
  const outputs: (() => string)[] = [];
  const callguardOutput = () => outputs.map((o) => o()).join('');
  const spawnCallguard = async (
    file = join(dir, 'callguard.yaml'),
    adminUrl = callguardAdmin,
  ): Promise<ChildProcess> => {
    const child = spawn(
      process.execPath,
      [...(opts.nodeArgs ?? []), join(PROJECT_ROOT, 'dist/cli/main.js'), 'serve', '--config', file],
      {
        stdio: ['ignore', 'pipe', 'pipe'],
        env: { ...process.env, ...opts.env },
      },
    );
    outputs.push(collect(child));
    await waitFor('callguard', child, async () => {
      return (await http(`${adminUrl}/healthz`)).status === 200;
    }).catch(async (e: Error) => {
      await stopChild(child);
      await Promise.all(replicas.map((r) => stopChild(r)));
      await upstream.close();
      throw new Error(`${e.message}\n${callguardOutput()}`);
    });
    return child;
  };
  const replicas: ChildProcess[] = [];
  let callguard: ChildProcess = await spawnCallguard();
  const startCallguard = async () => {
    callguard = await spawnCallguard();
  };
  const replicaPorts: number[] = [];
  for (let k = 1; k <= (opts.replicas ?? 0); k++) {
    const [g, a] = [await freePort(), await freePort()];
    const file = join(dir, `callguard-${k}.yaml`);
    writeFileSync(
      file,
      stringify({ ...config, grpc_addr: `127.0.0.1:${g}`, admin_addr: `127.0.0.1:${a}` }),
    );
    replicas.push(await spawnCallguard(file, `http://127.0.0.1:${a}`));
    replicaPorts.push(g);
  }

  let envoyYaml = renderEnvoyConfig({
    listener,
    admin,
    callguard: grpcPort,
    upstream: upstream.port,
  });
  if (opts.envoy || replicaPorts.length > 0) {
    const cfg = parse(envoyYaml) as EnvoyConfig;
    const cluster = clusterOf(cfg, 'callguard');
    for (const port of replicaPorts)
      cluster.load_assignment.endpoints[0]!.lb_endpoints.push({
        endpoint: { address: { socket_address: { address: '127.0.0.1', port_value: port } } },
      });
    opts.envoy?.(cfg);
    envoyYaml = stringify(cfg);
  }
  writeFileSync(join(dir, 'envoy.yaml'), envoyYaml);
  const envoy = spawn(
    envoyBinary(),
    [
      '-c',
      join(dir, 'envoy.yaml'),
      '--use-dynamic-base-id',
      '--concurrency',
      '1',
      '--log-level',
      'warn',
      ...(process.env.CALLGUARD_ENVOY_DEBUG ? ['--component-log-level', 'ext_proc:debug'] : []),
    ],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  const envoyOutput = collect(envoy);
  const envoyAdmin = `http://127.0.0.1:${admin}`;
  await waitFor('envoy', envoy, async () => {
    return (await http(`${envoyAdmin}/ready`)).status === 200;
  }).catch(async (e: Error) => {
    await Promise.all([stopChild(envoy), stopChild(callguard)]);
    await upstream.close();
    throw new Error(`${e.message}\n${envoyOutput()}`);
  });

  return {
    url: `http://127.0.0.1:${listener}`,
    envoyAdmin,
    upstream,
    callguardAdmin,
    grpcAddr: `127.0.0.1:${grpcPort}`,
    callguardOutput,
    envoyOutput,
    stopCallguard: () => stopChild(callguard),
    killCallguard: (signal: NodeJS.Signals = 'SIGKILL') => stopChild(callguard, signal),
    restartCallguard: startCallguard,
    dir,
    configFile: join(dir, 'callguard.yaml'),
    signalCallguard: (signal) => void callguard.kill(signal),
    callguardPid: () => callguard.pid ?? -1,
    envoyPid: () => envoy.pid ?? -1,
    replicaPids: () => replicas.map((r) => r.pid ?? -1),
    async stop() {
      await Promise.all([
        stopChild(envoy),
        stopChild(callguard),
        ...replicas.map((r) => stopChild(r)),
      ]);
      await upstream.close();
    },
  };
}

export interface LoggedSession {
  session_id: string;
  outcome: string;
  route?: string;
  route_via?: string;
  function?: string;
  method?: string;
  path?: string;
  error?: { code: string; status: number; paths: string[]; rule: string | null };
  request?: {
    action: string;
    findings: { path: string; level: string; action: string; rule: string }[];
  };
  response?: {
    action: string;
    findings: { path: string; level: string; action: string; rule: string }[];
  };
}

/** callguard's JSON log lines. */
export function logLines(output: string): Record<string, unknown>[] {
  return output
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as Record<string, unknown>);
}

/** The session record callguard logged for a session id (records land at stream end). */
export async function sessionRecord(
  stack: Stack,
  id: string,
  timeoutMs = 5_000,
): Promise<LoggedSession> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    for (const line of logLines(stack.callguardOutput())) {
      const s = line.session as LoggedSession | undefined;
      if (line.msg === 'session' && s?.session_id === id) return s;
    }
    if (Date.now() > until) throw new Error(`no session record for ${id}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

/**
 * How a body callguard may have changed is framed: its length when the message carries one,
 * or `chunked`. On protected routes (FULL_DUPLEX_STREAMED) Envoy drops content-length and
 * frames the body in chunks; a length, where there is one, must be the body's own.
 */
export function framing(
  headers: Record<string, string | string[] | undefined>,
  length: number,
): string {
  const cl = headers['content-length'];
  if (cl === undefined) return String(headers['transfer-encoding']);
  return cl === String(length) ? 'length' : `stale content-length ${String(cl)} for ${length}`;
}
