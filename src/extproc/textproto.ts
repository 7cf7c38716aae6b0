// Envoy serialises message-typed attributes such as `xds.route_metadata` as protobuf
// *text format* inside a string value. This reads that format (the subset Envoy emits:
// nested messages, map entries as repeated `{ key value }` messages, strings with C
// escapes, numbers, identifiers) into a generic tree, and turns a text-format
// config.core.v3.Metadata into plain objects. Input is Envoy configuration, not request
// data, but the reader still fails cleanly (TypeError) on anything it does not expect.

export type TextValue = string | number | boolean | TextMessage;
export type TextMessage = [name: string, value: TextValue][];

export function parseTextProto(text: string): TextMessage {
  let i = 0;
  const ws = () => {
    while (i < text.length && /\s/.test(text[i] as string)) i++;
  };
  const fail = (what: string): never => {
    throw new TypeError(`text proto: ${what} at offset ${i}`);
  };
  const ident = (): string => {
    const m = /^[A-Za-z_][A-Za-z0-9_.]*/.exec(text.slice(i));
    if (!m) return fail('expected a field name');
    i += m[0].length;
    return m[0];
  };
  const str = (): string => {
    const q = text[i];
    i++;
    const bytes: number[] = [];
    while (i < text.length && text[i] !== q) {
      const c = text[i] as string;
      if (c !== '\\') {
        bytes.push(...Buffer.from(c, 'utf8'));
        i++;
        continue;
      }
      const e = text[i + 1] ?? '';
      const simple: Record<string, number> = {
        n: 10,
        t: 9,
        r: 13,
        '"': 34,
        "'": 39,
        '\\': 92,
        a: 7,
        b: 8,
        f: 12,
        v: 11,
        '?': 63,
      };
      if (e in simple) {
        bytes.push(simple[e] as number);
        i += 2;
      } else if (/[0-7]/.test(e)) {
        const m = /^[0-7]{1,3}/.exec(text.slice(i + 1)) as RegExpExecArray;
        bytes.push(parseInt(m[0], 8));
        i += 1 + m[0].length;
      } else if (e === 'x') {
        const m = /^[0-9a-fA-F]{1,2}/.exec(text.slice(i + 2));
        if (!m) fail('bad \\x escape');
        bytes.push(parseInt((m as RegExpExecArray)[0], 16));
        i += 2 + (m as RegExpExecArray)[0].length;
      } else {
        fail('unknown escape');
      }
    }
    if (text[i] !== q) fail('unterminated string');
    i++;
    return Buffer.from(bytes).toString('utf8');
  };
  const message = (end: string | undefined): TextMessage => {
    const out: TextMessage = [];
    for (;;) {
      ws();
      if (end === undefined ? i >= text.length : text[i] === end) {
        if (end !== undefined) i++;
        return out;
      }
      if (i >= text.length) fail('unexpected end');
      const name = ident();
      ws();
      if (text[i] === ':') {
        i++;
        ws();
      }
      const c = text[i];
      if (c === '{' || c === '<') {
        i++;
        out.push([name, message(c === '{' ? '}' : '>')]);
      } else if (c === '"' || c === "'") {
        let s = str();
        ws();
        while (text[i] === '"' || text[i] === "'") {
          s += str(); // adjacent strings concatenate
          ws();
        }
        out.push([name, s]);
      } else {
        const m = /^[^\s{}<>:;,]+/.exec(text.slice(i));
        if (!m) return fail('expected a value');
        i += m[0].length;
        const v = m[0];
        out.push([
          name,
          v === 'true' ? true : v === 'false' ? false : /^[-+0-9.]/.test(v) ? Number(v) : v,
        ]);
      }
      ws();
      if (text[i] === ',' || text[i] === ';') i++;
    }
  };
  return message(undefined);
}

/** A text-format config.core.v3.Metadata → `{ namespace: plain object }` (filter_metadata). */
export function textMetadataToPlain(text: string): Record<string, Record<string, unknown>> {
  const out: Record<string, Record<string, unknown>> = {};
  for (const [name, entry] of parseTextProto(text)) {
    if (name !== 'filter_metadata' || !Array.isArray(entry)) continue;
    const key = field(entry, 'key');
    const value = field(entry, 'value');
    if (typeof key === 'string' && Array.isArray(value)) out[key] = structToPlain(value);
  }
  return out;
}

function field(m: TextMessage, name: string): TextValue | undefined {
  return m.find(([n]) => n === name)?.[1];
}

function structToPlain(m: TextMessage): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [name, entry] of m) {
    if (name !== 'fields' || !Array.isArray(entry)) continue;
    const key = field(entry, 'key');
    const value = field(entry, 'value');
    if (typeof key === 'string' && Array.isArray(value)) out[key] = valueToPlain(value);
  }
  return out;
}

function valueToPlain(m: TextMessage): unknown {
  const [name, v] = m[0] ?? ['null_value', 'NULL_VALUE'];
  switch (name) {
    case 'string_value':
    case 'number_value':
    case 'bool_value':
      return v;
    case 'struct_value':
      return Array.isArray(v) ? structToPlain(v) : {};
    case 'list_value':
      return Array.isArray(v)
        ? v
            .filter(([n]) => n === 'values')
            .map(([, x]) => (Array.isArray(x) ? valueToPlain(x) : null))
        : [];
    default:
      return null;
  }
}
