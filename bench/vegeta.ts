// vegeta (github.com/tsenart/vegeta), pinned, for the data path's fixed-rate cells: an
// open-loop generator whose pacer schedules request n at n / rate after the start, evenly
// spaced, and hands each to a free worker, starting new ones up to -max-workers when all are
// busy. A slow answer therefore does not hold back the requests scheduled after it (no
// coordinated omission), unlike autocannon's overallRate, which sends each connection's
// per-second quota back to back at the start of each second.
// Installed with `go install` into the project's gitignored .cache/bin on first use, like
// Envoy (src/cli/envoy.ts): no system-wide install. Needs Go (1.22+) on the PATH.

import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PROJECT_ROOT } from '../src/cli/envoy.js';
import { ensureGoBinary } from '../src/cli/install.js';

export const VEGETA_MODULE = 'github.com/tsenart/vegeta/v12';
export const VEGETA_VERSION = 'v12.13.0';

export function vegetaBinary(root = PROJECT_ROOT): string {
  return join(root, '.cache', 'bin', 'vegeta');
}

/** Path to vegeta of the pinned version, installing it with `go install` if needed. */
export function ensureVegeta(log: (line: string) => void = () => {}, root = PROJECT_ROOT): string {
  return ensureGoBinary(
    { module: VEGETA_MODULE, version: VEGETA_VERSION },
    vegetaBinary(root),
    log,
  );
}

export interface Target {
  method: string;
  url: string;
  headers: Record<string, string>;
  body?: Buffer;
}

/** One request as vegeta recorded it. */
export interface Hit {
  /** Its place in the schedule: it was due at seq / rate after the attack began. */
  seq: number;
  /** When it was sent, ns since the epoch. */
  sentNs: bigint;
  /** From sending to the end of the answer's body, ns. */
  latencyNs: number;
  /** 0 when no answer came (the error says why). */
  code: number;
  error: string;
  /** The answer's headers, names as Go spells them (`X-Callguard-Session`). */
  headers: Record<string, string[]>;
  /** The first `maxBody` bytes of the answer's body (empty unless asked for). */
  body: Buffer;
}

export interface Attack {
  hits: Hit[];
  /** When vegeta's pacer began (ns since the epoch): request seq was due at began + seq / rate. */
  beganNs: bigint;
}

/**
 * Send `target` at `rate` requests per second, evenly spaced, for `seconds`, with keep-alive
 * connections, as many workers as the schedule needs (up to maxWorkers), and return every
 * request's result.
 */
export async function attack(
  target: Target,
  opts: {
    rate: number;
    seconds: number;
    maxWorkers?: number;
    bin?: string;
    /** Called when the last answer is in, before the results are decoded. */
    onDone?: () => void;
    /** Bytes of each answer's body to keep (default 0: read to the end, none kept). */
    maxBody?: number;
  },
): Promise<Attack> {
  const bin = opts.bin ?? ensureVegeta();
  const dir = mkdtempSync(join(tmpdir(), 'callguard-vegeta-'));
  try {
    // vegeta's HTTP target format: request line, headers, then @file for the body.
    const lines = [`${target.method} ${target.url}`];
    for (const [k, v] of Object.entries(target.headers)) lines.push(`${k}: ${v}`);
    if (target.body) {
      writeFileSync(join(dir, 'body'), target.body);
      lines.push(`@${join(dir, 'body')}`);
    }
    writeFileSync(join(dir, 'targets'), lines.join('\n') + '\n');
    await run(bin, [
      'attack',
      '-format=http',
      `-targets=${join(dir, 'targets')}`,
      `-rate=${opts.rate}/s`,
      `-duration=${opts.seconds}s`,
      '-workers=10',
      `-max-workers=${opts.maxWorkers ?? 2_000}`,
      '-keepalive=true',
      '-http2=false',
      '-timeout=30s',
      // Answers are read to the end (the latency covers the whole body); at most maxBody
      // bytes of each are kept.
      `-max-body=${opts.maxBody ?? 0}`,
      `-output=${join(dir, 'results.bin')}`,
    ]);
    opts.onDone?.();
    await run(bin, [
      'encode',
      '-to=json',
      `-output=${join(dir, 'results.json')}`,
      join(dir, 'results.bin'),
    ]);
    const hits = readFileSync(join(dir, 'results.json'), 'utf8')
      .split('\n')
      .filter((l) => l.length > 0)
      .map((l) => {
        const r = JSON.parse(l) as {
          seq: number;
          code: number;
          timestamp: string;
          latency: number;
          error: string;
          headers: Record<string, string[]> | null;
          body: string | null;
        };
        return {
          seq: r.seq,
          sentNs: epochNs(r.timestamp),
          latencyNs: r.latency,
          code: r.code,
          error: r.error,
          headers: r.headers ?? {},
          body: Buffer.from(r.body ?? '', 'base64'),
        };
      })
      .sort((x, y) => x.seq - y.seq);
    // vegeta does not record when its pacer began: take the earliest start consistent with
    // what it recorded (a request is never sent before it is due).
    let beganNs = hits[0]?.sentNs ?? 0n;
    const interval = 1e9 / opts.rate;
    for (const h of hits) {
      const due = h.sentNs - BigInt(Math.round(h.seq * interval));
      if (due < beganNs) beganNs = due;
    }
    return { hits, beganNs };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

function run(bin: string, args: string[]): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(bin, args, { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    child.on('error', reject);
    child.on('exit', (code) =>
      code === 0
        ? resolve()
        : reject(new Error(`vegeta ${args[0]} exited with ${code}: ${stderr.trim()}`)),
    );
  });
}

/** An RFC 3339 time with up to nanoseconds (Go's time.Time in JSON), in ns since the epoch. */
export function epochNs(rfc3339: string): bigint {
  const m = /^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(?:\.(\d{1,9}))?(Z|[+-]\d\d:\d\d)$/.exec(rfc3339);
  if (!m) throw new Error(`not an RFC 3339 time: ${rfc3339}`);
  const seconds = BigInt(Date.parse(m[1]! + m[3]!) / 1000);
  return seconds * 1_000_000_000n + BigInt((m[2] ?? '').padEnd(9, '0'));
}
