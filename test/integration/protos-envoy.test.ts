import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { ENVOY_VERSION, envoyBinary, PROJECT_ROOT } from '../../src/cli/envoy.js';
import { loadPackageDefinition } from '../../src/extproc/protos.js';

// ---------------------------------------------------------------------------------------------
// Our trimmed protos against the descriptors compiled into the pinned Envoy binary. Envoy
// embeds the serialized FileDescriptorProto of every .proto it was built with, so this checks
// every message, field, enum and method we kept against exactly what the pinned Envoy uses.

const ENVOY_BIN = envoyBinary(PROJECT_ROOT, ENVOY_VERSION);

/** The upstream files holding each package we define (as Envoy names them internally). */
const UPSTREAM_FILES: Record<string, string[]> = {
  'envoy.service.ext_proc.v3': ['envoy/service/ext_proc/v3/external_processor.proto'],
  'envoy.extensions.filters.http.ext_proc.v3': [
    'envoy/extensions/filters/http/ext_proc/v3/processing_mode.proto',
  ],
  'envoy.config.core.v3': ['envoy/config/core/v3/base.proto', 'envoy/config/core/v3/address.proto'],
  'envoy.type.v3': ['envoy/type/v3/http_status.proto'],
  'envoy.service.auth.v3': [
    'envoy/service/auth/v3/external_auth.proto',
    'envoy/service/auth/v3/attribute_context.proto',
  ],
  'google.rpc': ['google/rpc/status.proto'],
  'grpc.health.v1': ['src/proto/grpc/health/v1/health.proto'],
};

type WireValue = number | Buffer;

function readVarint(buf: Buffer, pos: number): [number, number] {
  let value = 0;
  let scale = 1;
  for (;;) {
    if (pos >= buf.length) throw new Error('truncated varint');
    const byte = buf[pos++]!;
    value += (byte & 0x7f) * scale;
    if ((byte & 0x80) === 0) return [value, pos];
    scale *= 128;
    if (scale > 2 ** 63) throw new Error('varint too long');
  }
}

/** Top-level fields of a protobuf message; with maxField, stops where a FileDescriptorProto ends. */
function wireFields(buf: Buffer, maxField = Infinity): [number, WireValue][] {
  const out: [number, WireValue][] = [];
  let pos = 0;
  let lastField = 0;
  while (pos < buf.length) {
    const [tag, afterTag] = readVarint(buf, pos);
    const field = Math.floor(tag / 8);
    const wireType = tag % 8;
    // Serialized descriptors list fields in ascending order: a smaller or unknown field number
    // means the next blob has started.
    if (maxField !== Infinity && (field < lastField || field > maxField || field === 0)) break;
    let next: number;
    if (wireType === 0) {
      const [value, end] = readVarint(buf, afterTag);
      out.push([field, value]);
      next = end;
    } else if (wireType === 2) {
      const [length, start] = readVarint(buf, afterTag);
      if (start + length > buf.length) break;
      out.push([field, buf.subarray(start, start + length)]);
      next = start + length;
    } else if (wireType === 1) {
      next = afterTag + 8;
    } else if (wireType === 5) {
      next = afterTag + 4;
    } else {
      if (maxField !== Infinity) break;
      throw new Error(`unexpected wire type ${wireType}`);
    }
    lastField = field;
    pos = next;
  }
  return out;
}

const strs = (fs: [number, WireValue][], n: number): string[] =>
  fs.filter(([f]) => f === n).map(([, v]) => (v as Buffer).toString('utf8'));
const subs = (fs: [number, WireValue][], n: number): Buffer[] =>
  fs.filter(([f]) => f === n).map(([, v]) => v as Buffer);
const num = (fs: [number, WireValue][], n: number): number | undefined =>
  fs.find(([f]) => f === n)?.[1] as number | undefined;

interface FieldDesc {
  name: string;
  number?: number;
  label?: number;
  type?: number;
  typeName: string;
  oneof?: string;
}
interface MessageDesc {
  name: string;
  fields: FieldDesc[];
  nested: MessageDesc[];
  enums: EnumDesc[];
  mapEntry: boolean;
}
interface EnumDesc {
  name: string;
  values: Record<string, number>;
}
interface MethodDesc {
  name: string;
  input: string;
  output: string;
  clientStreaming: boolean;
  serverStreaming: boolean;
}
interface FileDesc {
  name: string;
  pkg: string;
  messages: MessageDesc[];
  enums: EnumDesc[];
  services: { name: string; methods: MethodDesc[] }[];
}

function parseEnum(buf: Buffer): EnumDesc {
  const fs = wireFields(buf);
  const values: Record<string, number> = {};
  for (const v of subs(fs, 2)) {
    const vf = wireFields(v);
    values[strs(vf, 1)[0]!] = num(vf, 2) ?? 0;
  }
  return { name: strs(fs, 1)[0]!, values };
}

function parseMessage(buf: Buffer): MessageDesc {
  const fs = wireFields(buf);
  const oneofs = subs(fs, 8).map((o) => strs(wireFields(o), 1)[0]!);
  const options = subs(fs, 7)[0];
  return {
    name: strs(fs, 1)[0]!,
    fields: subs(fs, 2).map((f) => {
      const ff = wireFields(f);
      const oneofIndex = num(ff, 9);
      return {
        name: strs(ff, 1)[0]!,
        number: num(ff, 3),
        label: num(ff, 4),
        type: num(ff, 5),
        typeName: strs(ff, 6)[0] ?? '',
        oneof: oneofIndex === undefined ? undefined : oneofs[oneofIndex],
      };
    }),
    nested: subs(fs, 3).map(parseMessage),
    enums: subs(fs, 4).map(parseEnum),
    mapEntry: options !== undefined && num(wireFields(options), 7) === 1,
  };
}

function parseFile(buf: Buffer): FileDesc {
  return fileFromFields(wireFields(buf));
}

function fileFromFields(fs: [number, WireValue][]): FileDesc {
  return {
    name: strs(fs, 1)[0]!,
    pkg: strs(fs, 2)[0] ?? '',
    messages: subs(fs, 4).map(parseMessage),
    enums: subs(fs, 5).map(parseEnum),
    services: subs(fs, 6).map((s) => {
      const sf = wireFields(s);
      return {
        name: strs(sf, 1)[0]!,
        methods: subs(sf, 2).map((m) => {
          const mf = wireFields(m);
          return {
            name: strs(mf, 1)[0]!,
            input: strs(mf, 2)[0]!,
            output: strs(mf, 3)[0]!,
            clientStreaming: num(mf, 5) === 1,
            serverStreaming: num(mf, 6) === 1,
          };
        }),
      };
    }),
  };
}

/** Finds the serialized FileDescriptorProto of `name` in the binary: 0a <len> name 12 ... */
function embeddedFile(binary: Buffer, name: string): FileDesc {
  const needle = Buffer.concat([
    Buffer.from([0x0a, name.length]),
    Buffer.from(name),
    Buffer.from([0x12]),
  ]);
  const at = binary.indexOf(needle);
  if (at < 0) throw new Error(`${name} is not embedded in ${ENVOY_BIN}`);
  // The blob's length is not stored next to it: read fields while their numbers ascend (a
  // FileDescriptorProto's last field is syntax = 12).
  const file = fileFromFields(wireFields(binary.subarray(at, at + 1_000_000), 12));
  if (file.name !== name) throw new Error(`could not read ${name} from ${ENVOY_BIN}`);
  return file;
}

/** Does upstream's fully-qualified type name denote our (possibly relative) one? */
function sameType(upstream: string, ours: string): boolean {
  const o = ours.replace(/^\./, '');
  return upstream === `.${o}` || upstream.endsWith(`.${o}`);
}

function compareEnum(ours: EnumDesc, up: EnumDesc | undefined, where: string, errors: string[]) {
  if (up === undefined) errors.push(`${where}: enum missing upstream`);
  else if (JSON.stringify(ours.values) !== JSON.stringify(up.values)) {
    errors.push(`${where}: values ${JSON.stringify(ours.values)} != ${JSON.stringify(up.values)}`);
  }
}

function compareMessage(
  ours: MessageDesc,
  up: MessageDesc | undefined,
  where: string,
  errors: string[],
) {
  if (up === undefined) {
    errors.push(`${where}: message missing upstream`);
    return;
  }
  const mapEntries = new Set<string>();
  for (const f of ours.fields) {
    const u = up.fields.find((x) => x.name === f.name);
    const at = `${where}.${f.name}`;
    if (u === undefined) {
      errors.push(`${at}: field missing upstream`);
      continue;
    }
    const ourEntry = ours.nested.find((n) => n.mapEntry && n.name === f.typeName);
    if (ourEntry !== undefined) {
      // A map: protobufjs names the entry type differently, so compare key and value.
      mapEntries.add(ourEntry.name);
      const upEntry = up.nested.find((n) => n.mapEntry && sameType(u.typeName, n.name));
      if (upEntry === undefined) errors.push(`${at}: map upstream is not a map`);
      else {
        for (const kv of ourEntry.fields) {
          const ukv = upEntry.fields.find((x) => x.name === kv.name);
          if (ukv === undefined || ukv.number !== kv.number || ukv.type !== kv.type) {
            errors.push(`${at}: map ${kv.name} differs`);
          } else if (kv.typeName !== '' && !sameType(ukv.typeName, kv.typeName)) {
            errors.push(`${at}: map ${kv.name} type ${kv.typeName} != ${ukv.typeName}`);
          }
        }
      }
    } else if (f.typeName !== '' && !sameType(u.typeName, f.typeName)) {
      errors.push(`${at}: type ${f.typeName} != ${u.typeName}`);
    }
    for (const key of ['number', 'label', 'type', 'oneof'] as const) {
      if (f[key] !== u[key]) errors.push(`${at}: ${key} ${f[key]} != ${u[key]}`);
    }
  }
  for (const n of ours.nested) {
    if (!mapEntries.has(n.name)) {
      compareMessage(
        n,
        up.nested.find((x) => x.name === n.name),
        `${where}.${n.name}`,
        errors,
      );
    }
  }
  for (const e of ours.enums) {
    compareEnum(
      e,
      up.enums.find((x) => x.name === e.name),
      `${where}.${e.name}`,
      errors,
    );
  }
}

// The global setup installs the pinned Envoy, so its binary is always there to compare with.
describe(`trimmed protos against Envoy v${ENVOY_VERSION}`, () => {
  it('every message, field, enum and method we define matches the embedded descriptors', () => {
    const binary = readFileSync(ENVOY_BIN);
    const anyDef = Object.values(loadPackageDefinition()).find((d) => 'fileDescriptorProtos' in d);
    const ours = (anyDef as { fileDescriptorProtos: Buffer[] }).fileDescriptorProtos
      .map(parseFile)
      .filter((f) => f.pkg !== 'google.protobuf');
    expect(ours.map((f) => f.pkg).sort()).toEqual(Object.keys(UPSTREAM_FILES).sort());

    const errors: string[] = [];
    let checkedFields = 0;
    for (const file of ours) {
      const upstream = UPSTREAM_FILES[file.pkg]!.map((name) => embeddedFile(binary, name));
      for (const u of upstream) expect(u.pkg).toBe(file.pkg);
      const upMessages = upstream.flatMap((u) => u.messages);
      for (const m of file.messages) {
        checkedFields += m.fields.length;
        compareMessage(
          m,
          upMessages.find((x) => x.name === m.name),
          `${file.pkg}.${m.name}`,
          errors,
        );
      }
      const upEnums = upstream.flatMap((u) => u.enums);
      for (const e of file.enums) {
        compareEnum(
          e,
          upEnums.find((x) => x.name === e.name),
          `${file.pkg}.${e.name}`,
          errors,
        );
      }
      const upServices = upstream.flatMap((u) => u.services);
      for (const s of file.services) {
        const us = upServices.find((x) => x.name === s.name);
        if (us === undefined) errors.push(`${file.pkg}.${s.name}: service missing upstream`);
        for (const m of s.methods) {
          const um = us?.methods.find((x) => x.name === m.name);
          if (
            um === undefined ||
            !sameType(um.input, m.input) ||
            !sameType(um.output, m.output) ||
            um.clientStreaming !== m.clientStreaming ||
            um.serverStreaming !== m.serverStreaming
          ) {
            errors.push(`${file.pkg}.${s.name}.${m.name}: method differs upstream`);
          }
        }
      }
    }
    expect(errors).toEqual([]);
    expect(checkedFields).toBeGreaterThan(80);
  });
});
