// The policy in force, and its hot reload. A reload loads, validates and compiles the
// policy files again and swaps the compiled policy in one assignment: a stream takes the
// policy once, at its request headers, so streams in flight finish with the policy they
// started with and new streams get the new one. An invalid edit is refused: the last good
// policy stays in force, and the problem (file:line:col: problem, never a value) is
// logged, shown in /healthz and counted.
//
// Triggers: fs.watch on the directories the policy came from (editors and Kubernetes
// ConfigMap updates replace files by rename, which a watch on the file itself would
// miss), debounced; and SIGHUP (wired by `serve`). A reload whose files hash the same as
// the policy in force changes nothing.

import { watch } from 'node:fs';
import type { FSWatcher } from 'node:fs';
import { dirname, relative, resolve } from 'node:path';
import type { Logger } from '../log.js';
import { contentHash } from '../metrics.js';
import type { CallguardMetrics } from '../metrics.js';
import type { CompiledPolicy } from './compile.js';
import { loadPolicySources, policyFiles, PolicyLoadError } from './load.js';
import type { LoadedPolicy } from './load.js';

export interface PolicyStatus {
  /** 1 for the policy loaded at start, +1 for each reload that changed it. */
  version: number;
  /** SHA-256 (hex) of the policy's files. */
  hash: string;
  /** ISO time the policy in force was loaded. */
  loaded_at: string;
  routes: number;
  functions: number;
  rules: number;
  /** The last reload that was refused, if it came after the policy in force. */
  last_error?: { at: string; message: string };
}

/** What accept() throws: the policy is valid but this process cannot serve it. */
export class PolicyRefused extends Error {}

export interface PolicyStoreOptions {
  paths: readonly string[];
  log: Logger;
  metrics: Pick<CallguardMetrics, 'policyLoaded' | 'policyReloadFailed'>;
  /** A check of what the running process can serve (token keys); throws to refuse. */
  accept?: (p: CompiledPolicy) => void;
  cwd?: string;
  now?: () => number;
}

export class PolicyStore {
  private policy: CompiledPolicy;
  private hash: string;
  private version = 1;
  private loadedAt: number;
  private lastError: { at: number; message: string } | undefined;
  private watchers = new Map<string, FSWatcher>();
  private timer: NodeJS.Timeout | undefined;
  private debounceMs = 200;
  private watchDirs: string[];
  private readonly now: () => number;
  private readonly cwd: string;

  /** Loads the policy; throws PolicyLoadError (callguard refuses to start on it). */
  constructor(private readonly opts: PolicyStoreOptions) {
    this.now = opts.now ?? Date.now;
    this.cwd = opts.cwd ?? process.cwd();
    const loaded = loadPolicySources(opts.paths, this.cwd);
    this.policy = loaded.policy;
    this.hash = this.hashOf(loaded);
    this.loadedAt = this.now();
    opts.metrics.policyLoaded({ version: 1, hash: this.hash, loadedAt: this.loadedAt });
    this.watchDirs = this.dirsOf(loaded);
  }

  /** The policy in force. A stream calls this once, at its request headers. */
  current(): CompiledPolicy {
    return this.policy;
  }

  status(): PolicyStatus {
    const s: PolicyStatus = {
      version: this.version,
      hash: this.hash,
      loaded_at: new Date(this.loadedAt).toISOString(),
      routes: this.policy.routes.length,
      functions: this.policy.functions.size,
      rules: this.policy.rules.length,
    };
    if (this.lastError) {
      s.last_error = {
        at: new Date(this.lastError.at).toISOString(),
        message: this.lastError.message,
      };
    }
    return s;
  }

  /**
   * Load again and swap if valid and changed. Returns what happened; never throws for an
   * invalid policy (the last good one stays in force).
   */
  reload(reason: string): 'reloaded' | 'unchanged' | 'refused' {
    let loaded: LoadedPolicy;
    try {
      loaded = loadPolicySources(this.opts.paths, this.cwd);
      this.opts.accept?.(loaded.policy);
    } catch (e) {
      // PolicyLoadError messages are file:line:col: pointer: problem, from trusted files;
      // an accept() refusal names what the process lacks. Anything else: its type only.
      const message =
        e instanceof PolicyLoadError || e instanceof PolicyRefused
          ? e.message
          : `unexpected ${(e as Error)?.name ?? 'error'} while loading`;
      this.lastError = { at: this.now(), message };
      this.opts.metrics.policyReloadFailed();
      this.opts.log.error(
        { reason, problem: message, policy_version: this.version },
        'policy reload refused; the previous policy stays in force',
      );
      return 'refused';
    }
    this.watchDirs = this.dirsOf(loaded);
    if (this.watchers.size > 0) this.syncWatchers();
    const hash = this.hashOf(loaded);
    if (hash === this.hash) {
      // A valid policy again: an earlier refused edit was reverted.
      if (this.lastError) {
        this.lastError = undefined;
        this.opts.metrics.policyLoaded({
          version: this.version,
          hash,
          loadedAt: this.loadedAt,
        });
      }
      this.opts.log.debug({ reason }, 'policy unchanged');
      return 'unchanged';
    }
    this.policy = loaded.policy;
    this.hash = hash;
    this.version++;
    this.loadedAt = this.now();
    this.lastError = undefined;
    this.opts.metrics.policyLoaded({ version: this.version, hash, loadedAt: this.loadedAt });
    this.opts.log.info(
      {
        reason,
        policy_version: this.version,
        policy_hash: hash.slice(0, 12),
        routes: this.policy.routes.length,
        functions: this.policy.functions.size,
        rules: this.policy.rules.length,
      },
      'policy reloaded',
    );
    return 'reloaded';
  }

  /** Watch the policy's directories; a change reloads after `debounceMs` of quiet. */
  watch(debounceMs: number): void {
    this.debounceMs = debounceMs;
    this.syncWatchers();
  }

  close(): void {
    clearTimeout(this.timer);
    for (const w of this.watchers.values()) w.close();
    this.watchers.clear();
  }

  private syncWatchers(): void {
    const want = new Set(this.watchDirs);
    for (const [dir, w] of this.watchers) {
      if (!want.has(dir)) {
        w.close();
        this.watchers.delete(dir);
      }
    }
    for (const dir of want) {
      if (this.watchers.has(dir)) continue;
      try {
        const w = watch(dir, { persistent: false }, () => this.schedule());
        w.on('error', () => {
          w.close();
          this.watchers.delete(dir);
        });
        this.watchers.set(dir, w);
      } catch (e) {
        this.opts.log.warn(
          { dir: relative(this.cwd, dir) || dir, code: (e as NodeJS.ErrnoException).code },
          'cannot watch policy directory; reload with SIGHUP',
        );
      }
    }
  }

  private schedule(): void {
    clearTimeout(this.timer);
    this.timer = setTimeout(() => this.reload('file change'), this.debounceMs);
    this.timer.unref();
  }

  private hashOf(loaded: LoadedPolicy): string {
    const byName = new Map<string, string>();
    for (const [file, text] of loaded.files) byName.set(relative(this.cwd, file) || file, text);
    return contentHash(byName);
  }

  /** The configured directories, and the directory of every file the policy read. */
  private dirsOf(loaded: LoadedPolicy): string[] {
    const dirs = new Set<string>();
    for (const p of this.opts.paths.map((q) => resolve(this.cwd, q))) {
      try {
        // A configured directory (new files appear there); a file's own directory.
        const files = policyFiles([p]);
        dirs.add(files.length === 1 && files[0] === p ? dirname(p) : p);
      } catch {
        // gone: the next reload reports it
      }
    }
    for (const file of loaded.files.keys()) dirs.add(dirname(file));
    return [...dirs];
  }
}
