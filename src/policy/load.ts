// Reading policy files from disk: YAML documents (and JSON/YAML contracts) parsed with
// source positions, so every problem is reported as `file:line:col: pointer: message`.
// The only module of the policy package that does I/O.

import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { Ajv2020 } from 'ajv/dist/2020.js';
import { LineCounter, isNode, parseDocument } from 'yaml';
import type { Document } from 'yaml';
import { compilePolicy, PolicyCompileError } from './compile.js';
import type { CompiledPolicy, SourcedDocument } from './compile.js';
import { POLICY_DOCUMENT_SCHEMA } from './schema.js';
import type { PolicyDocument } from './schema.js';

export class PolicyLoadError extends Error {
  constructor(
    readonly file: string,
    readonly line: number,
    readonly col: number,
    readonly problem: string,
  ) {
    super(`${file}:${line}:${col}: ${problem}`);
    this.name = 'PolicyLoadError';
  }
}

interface ParsedFile {
  file: string;
  doc: Document;
  lines: LineCounter;
}

const validatePolicy = new Ajv2020({
  allErrors: true,
  strict: true,
  strictRequired: false,
}).compile<PolicyDocument>(POLICY_DOCUMENT_SCHEMA);

/** Policy files: a directory's `*.yaml`/`*.yml` (sorted by name) or the listed files. */
export function policyFiles(paths: readonly string[]): string[] {
  const out: string[] = [];
  for (const p of paths) {
    if (statSync(p).isDirectory()) {
      for (const f of readdirSync(p).sort()) {
        if (/\.ya?ml$/.test(f)) out.push(join(p, f));
      }
    } else {
      out.push(p);
    }
  }
  return out;
}

/** Load, validate and compile; throws PolicyLoadError naming file, line and problem. */
export function loadPolicy(paths: readonly string[], cwd = process.cwd()): CompiledPolicy {
  return loadPolicySources(paths, cwd).policy;
}

/** A loaded policy with what it was built from (for reload hashing, watching and lint). */
export interface LoadedPolicy {
  policy: CompiledPolicy;
  /** Every file read (policy documents and contracts): absolute path → text. */
  files: ReadonlyMap<string, string>;
  /** The policy documents, in load order (`source` is the absolute path). */
  documents: readonly SourcedDocument[];
  /** Contract schemas by absolute path. */
  contracts: ReadonlyMap<string, Record<string, unknown>>;
  /** The position of a JSON Pointer in a file that was read (file shown relative to cwd). */
  locate(file: string, pointer: string): { file: string; line: number; col: number };
}

/** loadPolicy, keeping the sources. Throws PolicyLoadError like loadPolicy. */
export function loadPolicySources(paths: readonly string[], cwd = process.cwd()): LoadedPolicy {
  const parsed = new Map<string, ParsedFile>();
  const texts = new Map<string, string>();
  const contracts = new Map<string, Record<string, unknown>>();
  const display = (f: string) => relative(cwd, f) || f;
  const parse = (file: string): ParsedFile => {
    const known = parsed.get(file);
    if (known) return known;
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch (e) {
      throw new PolicyLoadError(
        display(file),
        0,
        0,
        `cannot read: ${(e as NodeJS.ErrnoException).code}`,
      );
    }
    texts.set(file, text);
    const lines = new LineCounter();
    const doc = parseDocument(text, { lineCounter: lines, prettyErrors: false, uniqueKeys: true });
    const err = doc.errors[0];
    if (err) {
      const pos = lines.linePos(err.pos[0]);
      throw new PolicyLoadError(display(file), pos.line, pos.col, err.message.split('\n')[0] ?? '');
    }
    const pf = { file, doc, lines };
    parsed.set(file, pf);
    return pf;
  };
  const locate = (pf: ParsedFile, pointer: string, problem: string): PolicyLoadError => {
    const segs = pointer
      .split('/')
      .slice(1)
      .map((s) => s.replace(/~1/g, '/').replace(/~0/g, '~'))
      .map((s) => (/^\d+$/.test(s) ? Number(s) : s));
    // Walk up until a node with a position is found (a missing key has none).
    for (let n = segs.length; n >= 0; n--) {
      const node = pf.doc.getIn(segs.slice(0, n), true);
      if (isNode(node) && node.range) {
        const pos = pf.lines.linePos(node.range[0]);
        return new PolicyLoadError(
          display(pf.file),
          pos.line,
          pos.col,
          `${pointer || '/'}: ${problem}`,
        );
      }
    }
    return new PolicyLoadError(display(pf.file), 1, 1, `${pointer || '/'}: ${problem}`);
  };

  const docs: SourcedDocument[] = [];
  let files: string[];
  try {
    files = policyFiles(paths.map((p) => resolve(cwd, p)));
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    throw new PolicyLoadError(
      display(err.path ?? paths.join(', ')),
      0,
      0,
      `cannot read: ${err.code}`,
    );
  }
  for (const file of files) {
    const pf = parse(file);
    const value: unknown = pf.doc.toJS() ?? {};
    if (!validatePolicy(value)) {
      const e = validatePolicy.errors?.[0];
      const where =
        e?.keyword === 'additionalProperties'
          ? `${e.instancePath}/${String((e.params as { additionalProperty: string }).additionalProperty)}`
          : (e?.instancePath ?? '');
      const what =
        e?.keyword === 'additionalProperties' ? 'unknown key' : (e?.message ?? 'invalid policy');
      throw locate(pf, where, what);
    }
    docs.push({ source: file, doc: value });
  }
  if (docs.length === 0) {
    throw new PolicyLoadError(paths.join(', '), 0, 0, 'no policy files found');
  }

  try {
    const policy = compilePolicy(docs, (ref, from) => {
      const file = resolve(dirname(from), ref);
      const pf = parse(file);
      const schema: unknown = pf.doc.toJS();
      if (typeof schema !== 'object' || schema === null || Array.isArray(schema)) {
        throw new PolicyCompileError('a contract must be a JSON Schema object', file, '');
      }
      contracts.set(file, schema as Record<string, unknown>);
      return { source: file, schema: schema as Record<string, unknown> };
    });
    return {
      policy,
      files: texts,
      documents: docs,
      contracts,
      locate(file, pointer) {
        const pf = parsed.get(file);
        if (!pf) return { file: display(file), line: 0, col: 0 };
        const e = locate(pf, pointer, '');
        return { file: e.file, line: e.line, col: e.col };
      },
    };
  } catch (e) {
    if (e instanceof PolicyCompileError) {
      const pf = parsed.get(e.source);
      if (pf) throw locate(pf, e.pointer, e.message);
      throw new PolicyLoadError(display(e.source), 0, 0, e.message);
    }
    throw e;
  }
}
