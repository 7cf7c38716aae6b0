// A real stack per test file: the demo upstream (in this process, so tests see exactly
// what it received), `callguard serve` from dist/ as a child process (its log lines are
// kept), and the pinned Envoy with envoy/envoy.yaml rendered onto free ports.

import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { createServer } from 'node:net';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse, stringify } from 'yaml';
import { startDemoUpstream } from '../../src/cli/demo-upstream.js';
import type { DemoUpstream } from '../../src/cli/demo-upstream.js';
import { envoyBinary, PROJECT_ROOT } from '../../src/cli/envoy.js';

/** Envoy's bootstrap as parsed YAML; tests reach into it by path. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- an Envoy bootstrap is large and loosely typed
export type EnvoyConfig = any;

export interface StackOptions {
  /** Policy paths (default: the shipped policies/). */
  policies?: string[];
  /** Extra callguard.yaml keys. */
  config?: Record<string, unknown>;
  /** Edit the rendered Envoy config (parsed YAML) before Envoy starts. */
  envoy?: (config: EnvoyConfig) => void;
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
  /** Everything callguard wrote to stdout and stderr so far (across restarts). */
  callguardOutput(): string;
  /** The running callguard child's pid (for its RSS in /proc). */
  callguardPid(): number;
  envoyPid(): number;
  /** Pids of the extra callguard processes (StackOptions.replicas). */
  replicaPids(): number[];
  /** Sends a signal to callguard and waits until it has exited (SIGKILL: a crash). */
  killCallguard(signal?: NodeJS.Signals): Promise<void>;
  /** Starts callguard again with the same configuration and ports; resolves when healthy. */
  restartCallguard(): Promise<void>;
  /** Everything Envoy wrote so far. */
  envoyOutput(): string;
  stopCallguard(): Promise<void>;
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

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as AddressInfo;
      s.close(() => resolve(port));
    });
  });
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

function collect(child: ChildProcess, chunks: Buffer[] = []): () => string {
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

export async function startStack(opts: StackOptions = {}): Promise<Stack> {
  const dir = mkdtempSync(join(tmpdir(), 'callguard-it-'));
  const upstream = await startDemoUpstream(0);
  const [listener, admin, grpcPort, cgAdmin] = [
    await freePort(),
    await freePort(),
    await freePort(),
    await freePort(),
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
    ...opts.config,
  };
  writeFileSync(join(dir, 'callguard.yaml'), stringify(config));
  const callguardChunks: Buffer[] = [];
  const callguardOutput = () => Buffer.concat(callguardChunks).toString('utf8');
  const callguardAdmin = `http://127.0.0.1:${cgAdmin}`;
  const startCallguard = async (
    file = join(dir, 'callguard.yaml'),
    adminUrl = callguardAdmin,
  ): Promise<ChildProcess> => {
    const child = spawn(
      process.execPath,
      [...(opts.nodeArgs ?? []), join(PROJECT_ROOT, 'dist/cli/main.js'), 'serve', '--config', file],
      {
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    collect(child, callguardChunks);
    await waitFor('callguard', child, async () => {
      return (await http(`${adminUrl}/healthz`)).status === 200;
    }).catch((e: Error) => {
      child.kill('SIGKILL');
      throw new Error(`${e.message}\n${callguardOutput()}`);
    });
    return child;
  };
  let callguard = await startCallguard();
  const replicas: ChildProcess[] = [];
  const replicaPorts: number[] = [];
  for (let k = 1; k <= (opts.replicas ?? 0); k++) {
    const [g, a] = [await freePort(), await freePort()];
    const file = join(dir, `callguard-${k}.yaml`);
    writeFileSync(
      file,
      stringify({ ...config, grpc_addr: `127.0.0.1:${g}`, admin_addr: `127.0.0.1:${a}` }),
    );
    replicas.push(await startCallguard(file, `http://127.0.0.1:${a}`));
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
    const cluster = cfg.static_resources.clusters.find(
      (c: { name: string }) => c.name === 'callguard',
    );
    for (const port of replicaPorts)
      cluster.load_assignment.endpoints[0].lb_endpoints.push({
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
    ],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  const envoyOutput = collect(envoy);
  const envoyAdmin = `http://127.0.0.1:${admin}`;
  await waitFor('envoy', envoy, async () => {
    return (await http(`${envoyAdmin}/ready`)).status === 200;
  }).catch((e: Error) => {
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
    callguardPid: () => callguard.pid ?? -1,
    envoyPid: () => envoy.pid ?? -1,
    replicaPids: () => replicas.map((r) => r.pid ?? -1),
    killCallguard: (signal: NodeJS.Signals = 'SIGKILL') => stopChild(callguard, signal),
    async restartCallguard() {
      if (callguard.exitCode === null && callguard.signalCode === null)
        throw new Error('callguard is still running');
      callguard = await startCallguard();
    },
    stopCallguard: () => stopChild(callguard),
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
