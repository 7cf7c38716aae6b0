// The head of a call on the transport side, shared by the ext_proc exchange and the
// ext_authz check: what the engine reads (the request target, the headers the route and the
// configuration name), what the session record may keep of them, and the decisions of the
// head and the body of one side joined into the one decision the record shows.

import type { SessionFacts } from '../audit/session.js';
import type { Config } from '../config/config.js';
import { decideHead, readHead, redactedHead, redactedTarget } from '../engine/index.js';
import type { HeadInput, HeadInspection, InspectInput } from '../engine/index.js';
import { CallguardError } from '../errors.js';
import type { CompiledPolicy, RoutePlan } from '../policy/compile.js';
import { actionRank, combineHolds } from '../policy/types.js';
import type { Decision, Direction, FindingDecision, HoldSpec } from '../policy/types.js';
import type { Headers } from './headers.js';

/** The names a side's headers are read by: the configuration's and the route's. */
export function inspectedHeaders(config: Config, route: RoutePlan): string[] {
  const names = new Set([...config.inspect_headers, ...route.inspectHeaders]);
  return [...names];
}

/** A side's head as the engine reads it: the target (request side) and the named headers. */
export function headInput(
  engine: Omit<InspectInput, 'body' | 'maxDepth' | 'names'>,
  config: Config,
  h: Headers,
  target: string | undefined,
): HeadInput {
  const headers: [string, string][] = [];
  for (const name of inspectedHeaders(config, engine.route)) {
    const v = h.get(name);
    if (v !== undefined) headers.push([name, v]);
  }
  return {
    ...engine,
    target,
    headers,
    maxUrlBytes: config.limits.max_url_bytes,
    maxHeaderBytes: config.limits.max_header_bytes,
  };
}

/**
 * Reads and decides a side's head, noting in `f` what the record may keep of it (values
 * found: as forwarded, or redacted) whatever the outcome. Throws malformed_url,
 * header_too_large or blocked (its decision noted as the side's).
 */
export function inspectHead(
  f: SessionFacts,
  direction: Direction,
  input: HeadInput,
): HeadInspection {
  const scan = readHead(input);
  noteRecord(f, redactedHead(scan), input.target !== undefined);
  try {
    const head = decideHead(input, scan);
    noteRecord(f, head.record, input.target !== undefined);
    return head;
  } catch (e) {
    if (e instanceof CallguardError && e.decision) f[direction] = e.decision;
    throw e;
  }
}

function noteRecord(
  f: SessionFacts,
  record: { target: string | undefined; headers: Map<string, string> },
  request: boolean,
): void {
  if (request) f.path = record.target;
  f.headRead = true;
  // The record's allow-listed headers (audit/replay.ts) keep an inspected value only as
  // the record may keep it.
  const kept = request ? f.requestHeaders : undefined;
  if (kept) for (const [k, v] of record.headers) if (k in kept) kept[k] = v;
}

/**
 * Before a refusal is recorded: a target never read on its route is recorded with every
 * value a detector finds redacted (or not at all, when it cannot be read), and the inspected
 * headers the record's allow-list holds are dropped.
 */
export function scrubRefused(
  f: SessionFacts,
  policy: CompiledPolicy | undefined,
  config?: Config,
): void {
  if (f.target !== undefined && f.path === undefined && policy) {
    f.path = redactedTarget(f.target, f.route, { policy }, Number.MAX_SAFE_INTEGER);
  }
  const kept = f.requestHeaders;
  if (kept && f.route && config && !f.headRead)
    for (const name of inspectedHeaders(config, f.route)) delete kept[name];
}

/** A body's decision joined to its side's head decision: one decision for the record. */
export function joinDecisions(head: Decision | undefined, body: Decision): Decision {
  if (!head || head.findings.length === 0) return body;
  const findings: FindingDecision[] = [...head.findings, ...body.findings];
  const out: Decision = {
    action: actionRank(head.action) <= actionRank(body.action) ? head.action : body.action,
    findings,
    trace: [...head.trace, ...body.trace],
  };
  const holds: HoldSpec[] = [head.hold, body.hold].filter((h): h is HoldSpec => h !== undefined);
  const hold = combineHolds(holds);
  if (hold && out.action === 'hold') out.hold = hold;
  return out;
}

/** What a held head binds its approval to: the target and the inspected headers as received. */
export function headBinding(input: HeadInput, head: HeadInspection): string | undefined {
  const heldHead = head.decision.findings.some((f) => f.action === 'hold');
  return heldHead ? JSON.stringify([input.target ?? null, input.headers]) : undefined;
}
