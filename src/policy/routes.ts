// Which policy route governs a request: the route Envoy names in its route metadata
// (namespace `callguard`: `policy`, `function`), else the first route whose path and
// method match, in policy order.

import type { CompiledPolicy, FunctionPlan, RoutePlan } from './compile.js';

export interface RouteHint {
  /** `callguard.policy` from Envoy route metadata. */
  policy?: string;
  /** `callguard.function` from Envoy route metadata. */
  function?: string;
}

export type RouteSelection =
  | { ok: true; route: RoutePlan; fn: FunctionPlan | undefined; via: 'metadata' | 'path' }
  | { ok: false; reason: string };

export function selectRoute(
  policy: CompiledPolicy,
  method: string,
  rawPath: string,
  hint: RouteHint,
): RouteSelection {
  if (hint.policy !== undefined) {
    const route = policy.routesByName.get(hint.policy);
    if (!route)
      return { ok: false, reason: `route metadata names unknown policy route "${hint.policy}"` };
    if (route.methods && !route.methods.has(method)) {
      return { ok: false, reason: `policy route "${route.name}" does not allow this method` };
    }
    let fn = route.fn;
    if (hint.function !== undefined) {
      fn = policy.functions.get(hint.function);
      if (!fn)
        return { ok: false, reason: `route metadata names unknown function "${hint.function}"` };
    }
    return { ok: true, route, fn, via: 'metadata' };
  }
  const q = rawPath.indexOf('?');
  const path = q === -1 ? rawPath : rawPath.slice(0, q);
  for (const route of policy.routes) {
    if (route.methods && !route.methods.has(method)) continue;
    if (route.path !== undefined && route.path !== path) continue;
    if (route.pathPrefix !== undefined && !path.startsWith(route.pathPrefix)) continue;
    if (route.path === undefined && route.pathPrefix === undefined) continue;
    return { ok: true, route, fn: route.fn, via: 'path' };
  }
  return { ok: false, reason: 'no policy route matches this path and method' };
}
