// Envoy attributes sent with the request headers (`request_attributes` in the filter
// config). callguard asks for `xds.route_metadata`, where a route names its policy route
// and function under the `callguard` namespace.

import type { ProcessingRequest } from './protos.js';
import type { RouteHint } from '../policy/routes.js';
import { structToPlain } from './struct.js';

const EXT_PROC_NAMESPACE = 'envoy.filters.http.ext_proc';

export function routeHint(msg: ProcessingRequest): RouteHint {
  const attrs = msg.attributes?.[EXT_PROC_NAMESPACE];
  if (!attrs) return {};
  const plain = structToPlain(attrs);
  const meta = plain['xds.route_metadata'];
  // The attribute is a config.core.v3.Metadata: { filter_metadata: { callguard: {...} } }.
  const ns = pick(pick(meta, 'filter_metadata'), 'callguard');
  const hint: RouteHint = {};
  const policy = pick(ns, 'policy');
  const fn = pick(ns, 'function');
  if (typeof policy === 'string') hint.policy = policy;
  if (typeof fn === 'string') hint.function = fn;
  return hint;
}

function pick(v: unknown, key: string): unknown {
  return typeof v === 'object' && v !== null ? (v as Record<string, unknown>)[key] : undefined;
}
