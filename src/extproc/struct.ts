// Conversions between google.protobuf.Struct, in the shape proto-loader gives it (see
// ProtoStruct in protos.ts; note its Value fields are camelCase), and plain JSON-like values.
import type { ProtoListValue, ProtoStruct, ProtoValue } from './protos.js';

/** Converts a decoded google.protobuf.Struct into a plain object. */
export function structToPlain(s: ProtoStruct): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(s.fields ?? {})) {
    out[key] = valueToPlain(value);
  }
  return out;
}

function listToPlain(l: ProtoListValue): unknown[] {
  return (l.values ?? []).map(valueToPlain);
}

function valueToPlain(v: ProtoValue): unknown {
  // A decoded Value names its member in `kind`; a hand-built one may only set the member.
  switch (v.kind ?? memberOf(v)) {
    case 'numberValue':
      return v.numberValue ?? 0;
    case 'stringValue':
      return v.stringValue ?? '';
    case 'boolValue':
      return v.boolValue ?? false;
    case 'structValue':
      return structToPlain(v.structValue ?? {});
    case 'listValue':
      return listToPlain(v.listValue ?? {});
    default:
      // nullValue, or a Value with no member set (which protobuf also reads as null).
      return null;
  }
}

function memberOf(v: ProtoValue): ProtoValue['kind'] {
  if (v.numberValue !== undefined) return 'numberValue';
  if (v.stringValue !== undefined) return 'stringValue';
  if (v.boolValue !== undefined) return 'boolValue';
  if (v.structValue !== undefined) return 'structValue';
  if (v.listValue !== undefined) return 'listValue';
  return 'nullValue';
}

/**
 * Converts a plain object into a google.protobuf.Struct, with JSON.stringify's rules for
 * absent values: a property whose value is undefined is left out, and an undefined array
 * element becomes null. Accepts null, booleans, numbers, strings, arrays and plain objects;
 * throws a TypeError for anything else (bigint, functions, symbols, class instances such as
 * Date or Buffer) and for cycles.
 */
export function plainToStruct(v: Record<string, unknown>): ProtoStruct {
  return objectToStruct(v, new Set(), '$');
}

function objectToStruct(
  obj: Record<string, unknown>,
  seen: Set<object>,
  path: string,
): ProtoStruct {
  if (seen.has(obj)) throw new TypeError(`plainToStruct: cycle at ${path}`);
  seen.add(obj);
  const fields: Record<string, ProtoValue> = {};
  for (const [key, value] of Object.entries(obj)) {
    if (value === undefined) continue;
    fields[key] = plainToValue(value, seen, `${path}.${key}`);
  }
  seen.delete(obj);
  return { fields };
}

function plainToValue(v: unknown, seen: Set<object>, path: string): ProtoValue {
  if (v === null || v === undefined) return { nullValue: 'NULL_VALUE', kind: 'nullValue' };
  switch (typeof v) {
    case 'number':
      return { numberValue: v, kind: 'numberValue' };
    case 'string':
      return { stringValue: v, kind: 'stringValue' };
    case 'boolean':
      return { boolValue: v, kind: 'boolValue' };
    case 'object':
      if (Array.isArray(v)) {
        if (seen.has(v)) throw new TypeError(`plainToStruct: cycle at ${path}`);
        seen.add(v);
        const values = v.map((item: unknown, i) => plainToValue(item, seen, `${path}[${i}]`));
        seen.delete(v);
        return { listValue: { values }, kind: 'listValue' };
      }
      if (isPlainObject(v)) {
        return { structValue: objectToStruct(v, seen, path), kind: 'structValue' };
      }
      break;
    default:
      break;
  }
  throw new TypeError(`plainToStruct: unsupported value at ${path}`);
}

function isPlainObject(v: object): v is Record<string, unknown> {
  const proto: unknown = Object.getPrototypeOf(v);
  return proto === Object.prototype || proto === null;
}
