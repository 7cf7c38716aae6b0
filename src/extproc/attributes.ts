// Envoy attributes sent with the request headers (`request_attributes` in the filter
// config). callguard asks for `xds.route_metadata`, where a route names its policy route
// and function under the `callguard` namespace.

import type { ProcessingRequest } from './protos.js';
import type { RouteHint } from '../policy/routes.js';
import { structToPlain } from './struct.js';
import { textMetadataToPlain } from './textproto.js';

const EXT_PROC_NAMESPACE = 'envoy.filters.http.ext_proc';

/**
 * Hints by the route metadata's text: one string per Envoy route, sent with every call, so
 * parsing it once per route takes the text-format parser off the hot path. Bounded: a
 * control plane with more routes than this just parses the rest each time.
 */
const HINTS = new Map<string, RouteHint>();
const MAX_HINTS = 1024;

export function routeHint(msg: ProcessingRequest): RouteHint {
  const attrs = msg.attributes?.[EXT_PROC_NAMESPACE];
  if (!attrs) return {};
  const meta = structToPlain(attrs)['xds.route_metadata'];
  if (typeof meta !== 'string') return hintOf(meta);
  let hint = HINTS.get(meta);
  if (hint === undefined) {
    hint = hintOf(meta);
    if (HINTS.size < MAX_HINTS) HINTS.set(meta, hint);
  }
  return { ...hint }; // callers own their copy
}

function hintOf(meta: unknown): RouteHint {
  // The attribute is a config.core.v3.Metadata. Envoy sends message-typed attributes as
  // protobuf text format in a string; a structured form is accepted too.
  let ns: unknown;
  try {
    ns =
      typeof meta === 'string'
        ? textMetadataToPlain(meta).callguard
        : pick(pick(meta, 'filter_metadata'), 'callguard');
  } catch {
    return {}; // unreadable metadata: fall back to path matching
  }
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

/** The caller's IP from the `source.address` attribute (`ip:port`, `[v6]:port`), if sent. */
export function sourceIp(msg: ProcessingRequest): string | undefined {
  const attrs = msg.attributes?.[EXT_PROC_NAMESPACE];
  if (!attrs) return undefined;
  const addr = structToPlain(attrs)['source.address'];
  if (typeof addr !== 'string') return undefined;
  const m = /^\[([0-9a-fA-F:.]+)\]:\d+$/.exec(addr) ?? /^([0-9.]+):\d+$/.exec(addr);
  return m ? m[1] : undefined;
}
