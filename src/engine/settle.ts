// Deciding findings: each gets its action from the policy and keeps its value's keyed
// fingerprint; a block refuses the body (the decision travels with the error, so a refused
// body's findings still reach the audit record). For a document, the held values' previews
// are made and the actions applied.

import { CallguardError } from '../errors.js';
import { maskText } from '../enforce/actions.js';
import { decide } from '../policy/decide.js';
import { actionRank, combineHolds } from '../policy/types.js';
import type { Action, Decision, Finding, FindingDecision, HoldSpec } from '../policy/types.js';
import { applyActions, valueOf } from './apply.js';
import type { TreeScan } from './classify.js';
import type { InspectInput } from './types.js';

export interface Judged {
  decision: Decision;
  actions: ReadonlyMap<FindingDecision, Action>;
}

/**
 * Decides `findings`; each decided finding keeps the fingerprint of its value (`valueAt` of
 * its index). Throws CallguardError `blocked`, carrying the decision, when a value's action
 * is block. `what` names the body in the error message.
 */
export function judge(
  input: Pick<InspectInput, 'policy' | 'route' | 'fn' | 'principal' | 'fingerprint'>,
  findings: Finding[],
  valueAt: (i: number) => string,
  what: string,
): Judged {
  const { decision, actions } = decide(
    findings,
    input.policy.rules,
    input.policy.defaults,
    { route: input.route.name, fn: input.fn?.name, principal: input.principal },
    input.policy.levels,
  );
  if (input.fingerprint) {
    const fp = input.fingerprint;
    decision.findings.forEach((f, i) => (f.fingerprint = fp(valueAt(i))));
  }
  monitor(input, decision, actions);
  if (decision.action === 'block') {
    throw refusal(decision, 'block', `${what} carries values the policy blocks`);
  }
  return { decision, actions };
}

const ALLOW: Action = { type: 'allow' };

/**
 * Monitor mode (docs/analyzers.md): a finding of a `mode: monitor` route, or of an analyzer
 * in that mode, keeps the action the policy chose as `monitor` and is allowed: recorded,
 * counted, never acted on. The call's action is then the strictest of the others.
 */
function monitor(
  input: Pick<InspectInput, 'route'>,
  decision: Decision,
  actions: Map<FindingDecision, Action>,
): void {
  const { route } = input;
  const watched = route.monitor
    ? undefined
    : route.analyzers?.filter((a) => a.monitor).map((a) => a.name);
  if (!route.monitor && !watched?.length) return;
  let strictest: Action['type'] = 'allow';
  for (const f of decision.findings) {
    if (route.monitor || (f.analyzer !== undefined && watched?.includes(f.analyzer))) {
      f.monitor = f.action;
      if (f.action !== 'allow') {
        decision.trace.push(
          `monitor: ${f.direction} ${f.path} (${f.level}) left unchanged; enforced it would be ${f.action} by rule "${f.rule}"`,
        );
      }
      f.action = 'allow';
      actions.set(f, ALLOW);
    } else if (actionRank(f.action) < actionRank(strictest)) strictest = f.action;
  }
  decision.action = strictest;
}

/** The `blocked` error for the findings of `decision` whose action is `action`. */
export function refusal(
  decision: Decision,
  action: 'block' | 'hold',
  message: string,
): CallguardError {
  const chosen = decision.findings.filter((f) => f.action === action);
  return new CallguardError('blocked', message, {
    paths: [...new Set(chosen.map((f) => f.path))],
    rule: [...new Set(chosen.map((f) => f.rule))].join(','),
    decision, // for the audit record: the findings of a refused body
  });
}

/**
 * Decides every finding of a scan and applies the actions. Throws CallguardError `blocked`
 * when a value's action is block. `body` is undefined when nothing changed.
 */
export function settle(
  input: InspectInput,
  scan: TreeScan,
): {
  decision: Decision;
  body: Uint8Array | undefined;
  previews: ReadonlyMap<FindingDecision, string>;
} {
  const out = scan.collected;
  const targets = out.targets;
  const { decision, actions } = judge(
    input,
    out.findings,
    (i) => valueOf(targets[i]!),
    input.direction,
  );
  const previews = new Map<FindingDecision, string>();
  if (decision.action === 'hold') {
    const holds: HoldSpec[] = [];
    for (const a of actions.values()) if (a.type === 'hold') holds.push(a);
    const hold = combineHolds(holds);
    if (hold) decision.hold = hold;
    // Reviewers see what they approve, masked: enough to recognise, not to reuse.
    decision.findings.forEach((f, i) => {
      const t = targets[i];
      if (t && f.action === 'hold') {
        previews.set(
          f,
          maskText(valueOf(t), { type: 'mask', keep_first: 0, keep_last: 2, mask_char: '*' }),
        );
      }
    });
  }
  return {
    decision,
    body: applyActions(input, scan.top, targets, decision.findings, actions),
    previews,
  };
}
