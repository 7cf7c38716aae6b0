import { describe, expect, it } from 'vitest';
import { parseTextProto, textMetadataToPlain } from '../../src/extproc/textproto.js';
import { routeHint } from '../../src/extproc/attributes.js';
import { plainToStruct } from '../../src/extproc/struct.js';

describe('protobuf text format (Envoy message-typed attributes)', () => {
  it('reads the route metadata Envoy 1.36 actually sends', () => {
    // Captured from the pinned Envoy (xds.route_metadata in ext_proc attributes).
    const text =
      'filter_metadata { key: "callguard" value { fields { key: "function" value { string_value: "charge_card" } } fields { key: "policy" value { string_value: "charge_card" } } } }';
    expect(textMetadataToPlain(text)).toEqual({
      callguard: { function: 'charge_card', policy: 'charge_card' },
    });
  });

  it('reads nested structs, lists, numbers, bools and escapes', () => {
    const text = `filter_metadata {
      key: "a.b"
      value {
        fields { key: "n" value { number_value: 1.5 } }
        fields { key: "t" value { bool_value: true } }
        fields { key: "s" value { string_value: "caf\\303\\251 \\"q\\"\\n" } }
        fields { key: "l" value { list_value { values { string_value: "x" } values { null_value: NULL_VALUE } } } }
        fields { key: "o" value { struct_value { fields { key: "k" value { string_value: "v" } } } } }
      }
    }
    filter_metadata { key: "other" value { } }`;
    expect(textMetadataToPlain(text)).toEqual({
      'a.b': { n: 1.5, t: true, s: 'café "q"\n', l: ['x', null], o: { k: 'v' } },
      other: {},
    });
  });

  it('fails with a TypeError, not a crash, on text it does not understand', () => {
    expect(() => parseTextProto('a { b: "unterminated }')).toThrow(TypeError);
    expect(() => parseTextProto('{')).toThrow(TypeError);
    expect(() => parseTextProto('a { b: "\\q" }')).toThrow(TypeError);
  });
});

describe('route hints from xds.route_metadata', () => {
  const msg = (fn: string) => ({
    attributes: {
      'envoy.filters.http.ext_proc': plainToStruct({
        'xds.route_metadata': `filter_metadata { key: "callguard" value { fields { key: "function" value { string_value: "${fn}" } } fields { key: "policy" value { string_value: "${fn}" } } } }`,
      }),
    },
  });

  it('reads each route its own hint, the same again from the cache, as the caller’s own copy', () => {
    const first = routeHint(msg('charge_card'));
    expect(first).toEqual({ policy: 'charge_card', function: 'charge_card' });
    first.function = 'changed by a caller';
    expect(routeHint(msg('charge_card'))).toEqual({
      policy: 'charge_card',
      function: 'charge_card',
    });
    expect(routeHint(msg('lookup_customer'))).toEqual({
      policy: 'lookup_customer',
      function: 'lookup_customer',
    });
  });

  it('falls back to path matching (no hint) when the metadata cannot be read', () => {
    const bad = {
      attributes: {
        'envoy.filters.http.ext_proc': plainToStruct({ 'xds.route_metadata': 'filter_metadata {' }),
      },
    };
    expect(routeHint(bad)).toEqual({});
    expect(routeHint(bad)).toEqual({});
  });
});
