// Envoy header maps ↔ plain lookups, and the header mutations callguard sends back.

import type { HeaderMap, HeaderMutation, HeaderValueOption } from './protos.js';

/** Lower-case name → value; repeated headers joined with `,` (RFC 9110 §5.3). */
export type Headers = ReadonlyMap<string, string>;

export function readHeaders(map: HeaderMap | undefined | null): Headers {
  const out = new Map<string, string>();
  for (const h of map?.headers ?? []) {
    const key = (h.key ?? '').toLowerCase();
    // Envoy sends values in raw_value (bytes); older versions used value.
    const v =
      h.raw_value && h.raw_value.length > 0
        ? Buffer.from(h.raw_value).toString('latin1')
        : (h.value ?? '');
    const prev = out.get(key);
    out.set(key, prev === undefined ? v : `${prev},${v}`);
  }
  return out;
}

export function setHeader(key: string, value: string): HeaderValueOption {
  return {
    header: { key, raw_value: Buffer.from(value, 'latin1') },
    append_action: 'OVERWRITE_IF_EXISTS_OR_ADD',
  };
}

export function mutation(set: HeaderValueOption[], remove: string[] = []): HeaderMutation {
  return { set_headers: set, remove_headers: remove };
}

export interface MediaType {
  type: string;
  charset?: string;
}

export function parseContentType(v: string | undefined): MediaType | undefined {
  if (v === undefined) return undefined;
  const [type = '', ...params] = v.split(';');
  const mt: MediaType = { type: type.trim().toLowerCase() };
  for (const p of params) {
    const [k, val] = p.split('=');
    if (k?.trim().toLowerCase() === 'charset' && val !== undefined) {
      mt.charset = val.trim().replace(/^"|"$/g, '').toLowerCase();
    }
  }
  return mt;
}

/** application/json and application/<anything>+json, in UTF-8 (RFC 8259 §8.1). */
export function isJson(mt: MediaType | undefined): boolean {
  if (!mt) return false;
  const jsonType =
    mt.type === 'application/json' || /^application\/[a-z0-9.+-]+\+json$/.test(mt.type);
  return jsonType && (mt.charset === undefined || mt.charset === 'utf-8' || mt.charset === 'utf8');
}
