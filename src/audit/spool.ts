// The on-disk spool: a record counts as written once its line is appended to the active
// segment file (`seg-<n>.ndjson`, one JSON line per record). The indexer seals the active
// segment, ships sealed segments to Elasticsearch oldest first, and deletes a segment only
// after every line in it was acknowledged. Segments left by a crash are replayed at start.
//
// fsync: `always` (each append, survives a power loss), `interval` (every
// fsync_interval_ms), `never` (the OS decides; a process crash loses nothing already
// appended either way, since the data is in the page cache).

import {
  closeSync,
  fsyncSync,
  mkdirSync,
  openSync,
  readdirSync,
  readFileSync,
  statSync,
  unlinkSync,
  writeSync,
} from 'node:fs';
import { join } from 'node:path';

export interface SpoolOptions {
  dir: string;
  fsync: 'always' | 'interval' | 'never';
  fsyncIntervalMs: number;
  segmentBytes: number;
  maxBytes: number;
  now?: () => number;
}

const SEGMENT = /^seg-(\d{12})\.ndjson$/;

interface Active {
  path: string;
  fd: number;
  bytes: number;
  opened: number;
  dirty: boolean;
}

export class Spool {
  private readonly sealedSegments: string[] = [];
  private readonly sizes = new Map<string, number>();
  private active: Active | undefined;
  private next = 1;
  private total = 0;
  private timer: NodeJS.Timeout | undefined;

  constructor(private readonly opts: SpoolOptions) {
    mkdirSync(opts.dir, { recursive: true });
    const found = readdirSync(opts.dir)
      .map((f) => SEGMENT.exec(f))
      .filter((m): m is RegExpExecArray => m !== null)
      .sort((a, b) => Number(a[1]) - Number(b[1]));
    for (const m of found) {
      const path = join(opts.dir, m[0]);
      const size = statSync(path).size;
      if (size === 0) {
        unlinkSync(path);
        continue;
      }
      this.sealedSegments.push(path);
      this.sizes.set(path, size);
      this.total += size;
      this.next = Number(m[1]) + 1;
    }
    if (opts.fsync === 'interval') {
      this.timer = setInterval(() => this.sync(), opts.fsyncIntervalMs);
      this.timer.unref();
    }
  }

  /** Bytes in the spool (sealed and active). */
  get bytes(): number {
    return this.total;
  }

  get segments(): number {
    return this.sealedSegments.length + (this.active ? 1 : 0);
  }

  get full(): boolean {
    return this.total >= this.opts.maxBytes;
  }

  /** Appends one line; false (nothing written) when it would exceed `limit` bytes. */
  append(line: string, limit = this.opts.maxBytes): boolean {
    const buf = Buffer.from(line, 'utf8');
    if (this.total + buf.length > limit) return false;
    if (this.active && this.active.bytes >= this.opts.segmentBytes) this.seal();
    const a = (this.active ??= this.open());
    let off = 0;
    while (off < buf.length) off += writeSync(a.fd, buf, off);
    a.bytes += buf.length;
    a.dirty = true;
    this.total += buf.length;
    if (this.opts.fsync === 'always') this.sync();
    return true;
  }

  /** How long the active segment has been open with data (ms), 0 if none. */
  activeAge(): number {
    return this.active ? (this.opts.now ?? Date.now)() - this.active.opened : 0;
  }

  /** Closes the active segment so the indexer can ship it. */
  seal(): void {
    const a = this.active;
    if (!a) return;
    this.active = undefined;
    if (this.opts.fsync !== 'never' && a.dirty) fsyncSync(a.fd);
    closeSync(a.fd);
    this.sealedSegments.push(a.path);
    this.sizes.set(a.path, a.bytes);
  }

  /** Sealed segments, oldest first. */
  sealed(): readonly string[] {
    return this.sealedSegments;
  }

  /** The lines of a sealed segment (a torn last line from a crash is skipped by the reader). */
  read(path: string): string[] {
    return readFileSync(path, 'utf8')
      .split('\n')
      .filter((l) => l !== '');
  }

  /** Deletes a sealed segment whose every line was acknowledged. */
  remove(path: string): void {
    const i = this.sealedSegments.indexOf(path);
    if (i < 0) throw new TypeError('not a sealed segment');
    this.sealedSegments.splice(i, 1);
    unlinkSync(path);
    this.total -= this.sizes.get(path) ?? 0;
    this.sizes.delete(path);
  }

  close(): void {
    if (this.timer) clearInterval(this.timer);
    this.seal();
  }

  private sync(): void {
    const a = this.active;
    if (a?.dirty) {
      fsyncSync(a.fd);
      a.dirty = false;
    }
  }

  private open(): Active {
    const name = `seg-${String(this.next++).padStart(12, '0')}.ndjson`;
    const path = join(this.opts.dir, name);
    return {
      path,
      fd: openSync(path, 'a'),
      bytes: 0,
      opened: (this.opts.now ?? Date.now)(),
      dirty: false,
    };
  }
}
