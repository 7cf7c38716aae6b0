// The classification engine's public face: parse and classify a body, decide, and apply
// the decision by splicing replacements into the original bytes. Pure: bytes and plain
// objects in, bytes and plain objects out; no gRPC, no Envoy, no I/O.

import { CallguardError } from './errors.js';
import { applyEdits, encodeJsonString, parseJson, toPlainValue } from './payload/json.js';
import type { Edit } from './payload/json.js';
import type { CompiledPolicy, FunctionPlan, RoutePlan } from './policy/compile.js';
import { decide } from './policy/decide.js';
import type { Decision, Direction, FindingDecision, Principal } from './policy/types.js';
import type { Action } from './policy/types.js';
import { fieldLabel, maskText, redactPlaceholder } from './enforce/actions.js';

export { loadPolicy, PolicyLoadError } from './policy/load.js';
export type { CompiledPolicy } from './policy/compile.js';

export interface InspectInput {
  policy: CompiledPolicy;
  route: RoutePlan;
  fn: FunctionPlan | undefined;
  principal: Principal;
  direction: Direction;
  body: Uint8Array;
  maxDepth: number;
}

export interface Inspection {
  decision: Decision;
  /** The body to forward: the input itself when nothing changes. */
  body: Uint8Array;
  changed: boolean;
}

/**
 * Parse (strictly), validate against the function's contract, classify, decide and
 * apply. Throws CallguardError for bad input, a prohibited field, a contract violation or
 * a block decision; the error names paths and rules, never values.
 */
export function inspect(input: InspectInput): Inspection {
  const { policy, route, fn, direction, body } = input;
  const root = parseJson(body, { maxDepth: input.maxDepth });
  const contract = fn?.[direction];
  if (!contract) {
    const decision: Decision = {
      action: 'allow',
      findings: [],
      trace: [
        `no ${direction} contract for ${fn ? `function "${fn.name}"` : `route "${route.name}"`}`,
      ],
    };
    return { decision, body, changed: false };
  }

  const violations = contract.validate(toPlainValue(root));
  if (violations.length > 0) {
    const prohibited = violations.filter((v) => v.kind === 'prohibited_field');
    const chosen = prohibited.length > 0 ? prohibited : violations;
    const paths = [...new Set(chosen.map((v) => v.path))];
    const keyword = chosen[0]?.keyword ?? 'contract';
    throw new CallguardError(
      prohibited.length > 0 ? 'prohibited_field' : 'contract_violation',
      prohibited.length > 0
        ? `field not allowed by the ${contract.name}`
        : `${direction} does not satisfy the ${contract.name} (${keyword})`,
      { paths, rule: `contract:${fn?.name ?? route.name}:${direction}:${keyword}` },
    );
  }

  const findings = contract.classify(root, direction, policy.levels);
  const { decision, actions } = decide(
    findings,
    policy.rules,
    policy.defaults,
    { route: route.name, fn: fn?.name, principal: input.principal },
    policy.levels,
  );
  if (decision.action === 'block') {
    const blocked = decision.findings.filter((f) => f.action === 'block');
    throw new CallguardError('blocked', `${direction} carries values the policy blocks`, {
      paths: blocked.map((f) => f.path),
      rule: [...new Set(blocked.map((f) => f.rule))].join(','),
      decision,
    });
  }
  const edits = editsFor(body, decision.findings, actions);
  if (edits.length === 0) return { decision, body, changed: false };
  return { decision, body: applyEdits(body, edits), changed: true };
}

function editsFor(
  body: Uint8Array,
  findings: readonly FindingDecision[],
  actions: ReadonlyMap<FindingDecision, Action>,
): Edit[] {
  const edits: Edit[] = [];
  for (const f of findings) {
    const action = actions.get(f);
    if (!action) continue;
    let replacement: string;
    switch (action.type) {
      case 'allow':
        continue;
      case 'mask':
        replacement = maskText(scalarText(body, f.span.start, f.span.end), action);
        break;
      case 'redact':
        replacement = redactPlaceholder(f.level, fieldLabel(f.path, f.detector));
        break;
      case 'block':
      case 'hold':
      case 'tokenize':
        // block is handled before edits; hold/tokenize are refused at policy compile.
        throw new TypeError(`action ${action.type} has no edit`);
    }
    const bytes = encodeJsonString(replacement);
    // An edit that changes nothing (say, an empty string masked) is no edit: the body
    // then stays the original, and is forwarded as it came (even compressed).
    if (Buffer.compare(bytes, body.subarray(f.span.start, f.span.end)) === 0) continue;
    edits.push({ start: f.span.start, end: f.span.end, replacement: bytes });
  }
  return edits;
}

/** A scalar's text: a string's decoded value, a number's or literal's source spelling. */
function scalarText(body: Uint8Array, start: number, end: number): string {
  const raw = Buffer.from(body.buffer, body.byteOffset + start, end - start).toString('utf8');
  return raw.startsWith('"') ? (JSON.parse(raw) as string) : raw;
}
