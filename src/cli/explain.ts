// `callguard policy explain <route> <payload>`: what the policy does to one payload, without
// Envoy: each finding with its level, detector, action and rule, the trace, and the payload
// as it would be forwarded (or the refusal). For writing policies and for CI.

import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { inspect } from '../engine/index.js';
import { CallguardError, errorBody } from '../errors.js';
import { Tokenizer } from '../enforce/tokenize.js';
import type { CompiledPolicy } from '../policy/compile.js';
import type { Direction, Principal } from '../policy/types.js';

export interface ExplainOptions {
  route: string;
  payloadFile: string;
  direction: Direction;
  groups: string[];
  function?: string | undefined;
  tokenizer?: Tokenizer | undefined;
}

export function explain(
  policy: CompiledPolicy,
  o: ExplainOptions,
): { text: string; exitCode: number } {
  const route = policy.routesByName.get(o.route);
  if (!route) {
    return {
      text: `unknown route "${o.route}" (routes: ${[...policy.routesByName.keys()].join(', ')})\n`,
      exitCode: 2,
    };
  }
  const fn = o.function !== undefined ? policy.functions.get(o.function) : route.fn;
  if (o.function !== undefined && !fn)
    return { text: `unknown function "${o.function}"\n`, exitCode: 2 };
  const principal: Principal = { subject: 'explain', groups: o.groups, authMethod: 'dev-header' };
  const body = readFileSync(o.payloadFile);
  const lines: string[] = [
    `route ${route.name} (format ${route.format}${fn ? `, function ${fn.name}` : ''}), ${o.direction}, groups [${o.groups.join(', ')}]`,
  ];
  if (route.analyzers?.length) {
    // explain runs the engine alone: no service is called from a policy check.
    lines.push(
      `note: the route's analyzers (${route.analyzers.map((a) => a.name).join(', ')}) are not called here; their findings are not shown`,
    );
  }
  if (route.monitor) lines.push('note: the route is in monitor mode: findings change nothing');
  // Tokens shown here are made with a throwaway key unless the config provides keys.
  const tokenizer =
    o.tokenizer ??
    (policy.needsTokenKeys
      ? new Tokenizer([{ id: 'explain', secret: randomBytes(32) }])
      : undefined);
  try {
    const r = inspect({
      policy,
      route,
      fn,
      principal,
      direction: o.direction,
      body,
      maxDepth: 1000,
      tokenizer,
    });
    lines.push(`decision: ${r.decision.action}`, '', 'findings:');
    if (r.decision.findings.length === 0) lines.push('  (none)');
    for (const f of r.decision.findings) {
      lines.push(
        `  ${f.path}  level=${f.level}  source=${f.source}${f.detector ? `  detector=${f.detector}` : ''}  action=${f.action}  rule=${f.rule}`,
      );
    }
    lines.push(
      '',
      'trace:',
      ...r.decision.trace.map((t) => `  ${t}`),
      '',
      'forwarded payload:',
      Buffer.from(r.body).toString('utf8'),
    );
    return { text: `${lines.join('\n')}\n`, exitCode: 0 };
  } catch (e) {
    if (!(e instanceof CallguardError)) throw e;
    const { status, body: eb } = errorBody(e, 'explain');
    lines.push(`refused: ${status}`, JSON.stringify(eb.error, null, 2));
    return { text: `${lines.join('\n')}\n`, exitCode: 1 };
  }
}
