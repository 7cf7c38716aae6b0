import { describe, expect, it } from 'vitest';
import {
  loadPackageDefinition,
  loadServices,
  type CheckRequest,
  type CheckResponse,
  type ProcessingRequest,
  type ProcessingResponse,
} from '../../src/extproc/protos.js';
import { plainToStruct, structToPlain } from '../../src/extproc/struct.js';

const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');
const bytes = (...parts: (number | string)[]): Buffer =>
  Buffer.concat(parts.map((p) => (typeof p === 'number' ? Buffer.from([p]) : Buffer.from(p))));

describe('loadServices', () => {
  it('serves ExternalProcessor.Process as a bidirectional stream', () => {
    const { extProc } = loadServices();
    expect(Object.keys(extProc)).toEqual(['Process']);
    expect(extProc.Process).toMatchObject({
      path: '/envoy.service.ext_proc.v3.ExternalProcessor/Process',
      requestStream: true,
      responseStream: true,
    });
  });

  it('serves Authorization.Check as a unary call', () => {
    const { authorization } = loadServices();
    expect(Object.keys(authorization)).toEqual(['Check']);
    expect(authorization.Check).toMatchObject({
      path: '/envoy.service.auth.v3.Authorization/Check',
      requestStream: false,
      responseStream: false,
    });
  });

  it('serves Health.Check (unary) and Health.Watch (server stream)', () => {
    const { health } = loadServices();
    expect(Object.keys(health).sort()).toEqual(['Check', 'Watch']);
    expect(health.Check).toMatchObject({
      path: '/grpc.health.v1.Health/Check',
      requestStream: false,
      responseStream: false,
    });
    expect(health.Watch).toMatchObject({
      path: '/grpc.health.v1.Health/Watch',
      requestStream: false,
      responseStream: true,
    });
  });

  it('loads once', () => {
    expect(loadServices()).toBe(loadServices());
    expect(loadPackageDefinition()).toBe(loadPackageDefinition());
  });
});

// The expected bytes below are written out by hand from the upstream field numbers. A tag byte
// is (field_number << 3) | wire_type, wire type 0 = varint, 2 = length-delimited.
describe('wire encoding matches the upstream field numbers', () => {
  const encodeResponse = (m: ProcessingResponse): Buffer =>
    loadServices().extProc.Process!.responseSerialize(m);
  const decodeResponse = (b: Buffer): ProcessingResponse =>
    loadServices().extProc.Process!.responseDeserialize(b) as ProcessingResponse;
  const decodeRequest = (b: Buffer): ProcessingRequest =>
    loadServices().extProc.Process!.requestDeserialize(b) as ProcessingRequest;

  it('ProcessingResponse.request_body with a CONTINUE_AND_REPLACE body_mutation', () => {
    const msg: ProcessingResponse = {
      request_body: {
        response: { status: 'CONTINUE_AND_REPLACE', body_mutation: { body: Buffer.from('x') } },
      },
    };
    const wire = encodeResponse(msg);
    // prettier-ignore
    const expected = bytes(
      0x1a, 9, //                       ProcessingResponse.request_body = 3
      0x0a, 7, //                         BodyResponse.response = 1
      0x08, 1, //                           CommonResponse.status = 1: CONTINUE_AND_REPLACE (1)
      0x1a, 3, //                           CommonResponse.body_mutation = 3
      0x0a, 1, 'x', //                        BodyMutation.body = 1
    );
    expect(hex(wire)).toBe(hex(expected));

    const back = decodeResponse(wire);
    expect(back.response).toBe('request_body');
    const mutation = back.request_body?.response?.body_mutation;
    expect(mutation?.mutation).toBe('body');
    expect(Buffer.isBuffer(mutation?.body)).toBe(true);
    expect(Buffer.from(mutation!.body!).toString()).toBe('x');
    expect(back.request_body?.response?.status).toBe('CONTINUE_AND_REPLACE');
  });

  it('ProcessingResponse.immediate_response: status code, bytes body, grpc_status, details', () => {
    const msg: ProcessingResponse = {
      immediate_response: {
        status: { code: 'Forbidden' },
        body: Buffer.from('no'),
        grpc_status: { status: 7 },
        details: 'cg',
      },
    };
    const wire = encodeResponse(msg);
    // prettier-ignore
    const expected = bytes(
      0x3a, 17, //                      ProcessingResponse.immediate_response = 7
      0x0a, 3, //                         ImmediateResponse.status = 1
      0x08, 0x93, 0x03, //                  HttpStatus.code = 1: Forbidden (403, varint 93 03)
      0x1a, 2, 'no', //                   ImmediateResponse.body = 3 (bytes)
      0x22, 2, //                         ImmediateResponse.grpc_status = 4
      0x08, 7, //                           GrpcStatus.status = 1
      0x2a, 2, 'cg', //                   ImmediateResponse.details = 5
    );
    expect(hex(wire)).toBe(hex(expected));

    const back = decodeResponse(wire);
    expect(back.response).toBe('immediate_response');
    expect(back.immediate_response?.status).toEqual({ code: 'Forbidden' });
    expect(Buffer.from(back.immediate_response!.body!).toString()).toBe('no');
    expect(back.immediate_response?.grpc_status).toEqual({ status: 7 });
    expect(back.immediate_response?.details).toBe('cg');
  });

  it('ProcessingResponse.mode_override, dynamic_metadata and override_message_timeout', () => {
    const msg: ProcessingResponse = {
      request_headers: { response: {} },
      dynamic_metadata: plainToStruct({ a: true }),
      mode_override: {
        response_header_mode: 'SKIP',
        request_body_mode: 'BUFFERED',
        response_trailer_mode: 'SEND',
      },
      override_message_timeout: { seconds: 2 },
    };
    const wire = encodeResponse(msg);
    // prettier-ignore
    const expected = bytes(
      0x0a, 2, //                       ProcessingResponse.request_headers = 1
      0x0a, 0, //                         HeadersResponse.response = 1 (empty CommonResponse)
      0x42, 9, //                       ProcessingResponse.dynamic_metadata = 8 (Struct)
      0x0a, 7, //                         Struct.fields = 1 (map entry)
      0x0a, 1, 'a', //                      key = 1
      0x12, 2, //                           value = 2 (Value)
      0x20, 1, //                             Value.bool_value = 4
      0x4a, 6, //                       ProcessingResponse.mode_override = 9
      0x10, 2, //                         ProcessingMode.response_header_mode = 2: SKIP (2)
      0x18, 2, //                         ProcessingMode.request_body_mode = 3: BUFFERED (2)
      0x30, 1, //                         ProcessingMode.response_trailer_mode = 6: SEND (1)
      0x52, 2, //                       ProcessingResponse.override_message_timeout = 10
      0x08, 2, //                         Duration.seconds = 1
    );
    expect(hex(wire)).toBe(hex(expected));

    const back = decodeResponse(wire);
    expect(back.mode_override).toEqual({
      response_header_mode: 'SKIP',
      request_body_mode: 'BUFFERED',
      response_trailer_mode: 'SEND',
    });
    expect(back.override_message_timeout).toEqual({ seconds: '2' }); // int64 -> string
    expect(structToPlain(back.dynamic_metadata!)).toEqual({ a: true });
  });

  it('HeaderMutation with a HeaderValueOption carrying raw_value and append_action', () => {
    const msg: ProcessingResponse = {
      request_headers: {
        response: {
          header_mutation: {
            set_headers: [
              {
                header: { key: 'x-a', raw_value: Buffer.from('v') },
                append_action: 'OVERWRITE_IF_EXISTS_OR_ADD',
              },
            ],
            remove_headers: ['x-b'],
          },
        },
      },
    };
    const wire = encodeResponse(msg);
    // prettier-ignore
    const expected = bytes(
      0x0a, 23, //                      ProcessingResponse.request_headers = 1
      0x0a, 21, //                        HeadersResponse.response = 1
      0x12, 19, //                          CommonResponse.header_mutation = 2
      0x0a, 12, //                            HeaderMutation.set_headers = 1
      0x0a, 8, //                               HeaderValueOption.header = 1
      0x0a, 3, 'x-a', //                          HeaderValue.key = 1
      0x1a, 1, 'v', //                            HeaderValue.raw_value = 3
      0x18, 2, //                               HeaderValueOption.append_action = 3: OVERWRITE_IF_EXISTS_OR_ADD (2)
      0x12, 3, 'x-b', //                      HeaderMutation.remove_headers = 2
    );
    expect(hex(wire)).toBe(hex(expected));

    const back = decodeResponse(wire);
    const option = back.request_headers?.response?.header_mutation?.set_headers?.[0];
    expect(option?.header?.key).toBe('x-a');
    expect(Buffer.isBuffer(option?.header?.raw_value)).toBe(true);
    expect(option?.header?.raw_value?.toString()).toBe('v');
    expect(option?.append_action).toBe('OVERWRITE_IF_EXISTS_OR_ADD');
  });

  it('decodes a ProcessingRequest as Envoy sends it: header values in raw_value as Buffers', () => {
    // prettier-ignore
    const wire = bytes(
      0x12, 18, //                      ProcessingRequest.request_headers = 2
      0x0a, 14, //                        HttpHeaders.headers = 1 (HeaderMap)
      0x0a, 12, //                          HeaderMap.headers = 1 (HeaderValue)
      0x0a, 5, ':path', //                    HeaderValue.key = 1
      0x1a, 3, '/v1', //                      HeaderValue.raw_value = 3
      0x18, 1, //                         HttpHeaders.end_of_stream = 3
      0x5a, 2, //                       ProcessingRequest.protocol_config = 11
      0x08, 2, //                         ProtocolConfiguration.request_body_mode = 1: BUFFERED
    );
    const req = decodeRequest(wire);
    expect(req).toEqual({
      request: 'request_headers',
      request_headers: {
        headers: { headers: [{ key: ':path', raw_value: Buffer.from('/v1') }] },
        end_of_stream: true,
      },
      protocol_config: { request_body_mode: 'BUFFERED' },
    });
    expect(Buffer.isBuffer(req.request_headers?.headers?.headers?.[0]?.raw_value)).toBe(true);

    const body = decodeRequest(
      // prettier-ignore
      bytes(
        0x22, 6, //                     ProcessingRequest.request_body = 4
        0x0a, 2, 'hi', //                 HttpBody.body = 1
        0x10, 1, //                       HttpBody.end_of_stream = 2
        0x50, 1, //                     ProcessingRequest.observability_mode = 10
      ),
    );
    expect(body.request).toBe('request_body');
    expect(Buffer.isBuffer(body.request_body?.body)).toBe(true);
    expect(body.request_body?.body?.toString()).toBe('hi');
    expect(body.request_body?.end_of_stream).toBe(true);
    expect(body.observability_mode).toBe(true);
  });

  it('CheckRequest / CheckResponse of envoy.service.auth.v3', () => {
    const check = loadServices().authorization.Check!;
    // prettier-ignore
    const reqWire = bytes(
      0x0a, 39, //                      CheckRequest.attributes = 1
      0x0a, 15, //                        AttributeContext.source = 1 (Peer)
      0x0a, 13, //                          Peer.address = 1 (Address)
      0x0a, 11, //                            Address.socket_address = 1
      0x12, 7, '1.2.3.4', //                    SocketAddress.address = 2
      0x18, 80, //                              SocketAddress.port_value = 3
      0x22, 20, //                        AttributeContext.request = 4
      0x12, 18, //                          Request.http = 2 (HttpRequest)
      0x12, 4, 'POST', //                     HttpRequest.method = 2
      0x48, 5, //                             HttpRequest.size = 9 (int64)
      0x6a, 8, //                             HttpRequest.header_map = 13
      0x0a, 6, //                               HeaderMap.headers = 1
      0x0a, 1, 'a', //                            HeaderValue.key = 1
      0x1a, 1, 'b', //                            HeaderValue.raw_value = 3
    );
    const req = check.requestDeserialize(reqWire) as CheckRequest;
    expect(req.attributes?.source?.address).toEqual({
      address: 'socket_address',
      socket_address: { address: '1.2.3.4', port_value: 80, port_specifier: 'port_value' },
    });
    const http = req.attributes?.request?.http;
    expect(http?.method).toBe('POST');
    expect(http?.size).toBe('5');
    expect(http?.header_map?.headers?.[0]?.raw_value?.toString()).toBe('b');

    const res: CheckResponse = {
      status: { code: 7, message: 'no' },
      denied_response: { status: { code: 'Forbidden' }, body: 'denied' },
    };
    const resWire = check.responseSerialize(res);
    // prettier-ignore
    const expected = bytes(
      0x0a, 6, //                       CheckResponse.status = 1 (google.rpc.Status)
      0x08, 7, //                         Status.code = 1
      0x12, 2, 'no', //                   Status.message = 2
      0x12, 13, //                      CheckResponse.denied_response = 2
      0x0a, 3, //                         DeniedHttpResponse.status = 1
      0x08, 0x93, 0x03, //                  HttpStatus.code = 1: Forbidden (403)
      0x1a, 6, 'denied', //               DeniedHttpResponse.body = 3 (string)
    );
    expect(hex(resWire)).toBe(hex(expected));
  });

  it('grpc.health.v1 HealthCheckRequest / HealthCheckResponse', () => {
    const { Check, Watch } = loadServices().health;
    expect(Check!.requestDeserialize(bytes(0x0a, 3, 'abc'))).toEqual({ service: 'abc' });
    expect(hex(Check!.responseSerialize({ status: 'SERVING' }))).toBe('0801');
    expect(hex(Watch!.responseSerialize({ status: 'SERVICE_UNKNOWN' }))).toBe('0803');
  });
});

describe('structToPlain / plainToStruct', () => {
  const sample = {
    s: 'text',
    n: 1.5,
    zero: 0,
    neg: -3,
    t: true,
    f: false,
    nil: null,
    empty: {},
    list: [1, 'two', null, false, { deep: ['x'] }, []],
    nested: { a: { b: { c: 'd' } } },
  };

  it('round-trips a plain object', () => {
    expect(structToPlain(plainToStruct(sample))).toEqual(sample);
  });

  it('round-trips through the wire (ProcessingResponse.dynamic_metadata)', () => {
    const { Process } = loadServices().extProc;
    const wire = Process!.responseSerialize({
      request_body: { response: {} },
      dynamic_metadata: plainToStruct(sample),
    } satisfies ProcessingResponse);
    const back = Process!.responseDeserialize(wire) as ProcessingResponse;
    expect(structToPlain(back.dynamic_metadata!)).toEqual(sample);
  });

  it('gives the shape proto-loader uses (camelCase Value fields, from bundled struct.proto)', () => {
    expect(plainToStruct({ a: 'b', c: [null] })).toEqual({
      fields: {
        a: { stringValue: 'b', kind: 'stringValue' },
        c: {
          listValue: { values: [{ nullValue: 'NULL_VALUE', kind: 'nullValue' }] },
          kind: 'listValue',
        },
      },
    });
    // What proto-loader decodes from the wire, and encodes back to the same bytes.
    const { Process } = loadServices().extProc;
    // prettier-ignore
    const wire = bytes(
      0x42, 10, //                      ProcessingResponse.dynamic_metadata = 8 (Struct)
      0x0a, 8, //                         Struct.fields = 1 (map entry)
      0x0a, 1, 's', //                      key = 1
      0x12, 3, //                           value = 2 (Value)
      0x1a, 1, 'x', //                        Value.string_value = 3
    );
    const decoded = Process!.responseDeserialize(wire) as ProcessingResponse;
    expect(decoded.dynamic_metadata).toEqual({
      fields: { s: { stringValue: 'x', kind: 'stringValue' } },
    });
    expect(hex(Process!.responseSerialize(decoded))).toBe(hex(wire));
    expect(hex(Process!.responseSerialize({ dynamic_metadata: plainToStruct({ s: 'x' }) }))).toBe(
      hex(wire),
    );
  });

  it('reads Values without `kind` and empty structs/lists without fields/values', () => {
    expect(
      structToPlain({
        fields: {
          n: { numberValue: 2 },
          s: { stringValue: '' },
          e: { structValue: {} },
          l: { listValue: {} },
          unset: {},
        },
      }),
    ).toEqual({ n: 2, s: '', e: {}, l: [], unset: null });
    expect(structToPlain({})).toEqual({});
  });

  it('follows JSON.stringify for undefined', () => {
    expect(structToPlain(plainToStruct({ a: undefined, b: [undefined] }))).toEqual({ b: [null] });
  });

  it('rejects values a Struct cannot hold, and cycles', () => {
    expect(() => plainToStruct({ a: 1n })).toThrow(TypeError);
    expect(() => plainToStruct({ a: new Date(0) })).toThrow(TypeError);
    expect(() => plainToStruct({ a: () => 1 })).toThrow(TypeError);
    const cyclic: Record<string, unknown> = {};
    cyclic.self = cyclic;
    expect(() => plainToStruct(cyclic)).toThrow(/cycle/);
    const shared = { x: 1 };
    expect(structToPlain(plainToStruct({ a: shared, b: shared }))).toEqual({
      a: shared,
      b: shared,
    });
  });
});
