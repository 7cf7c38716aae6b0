// Loads callguard's trimmed Envoy .proto files (protos/, see protos/README.md) and describes the
// messages we use as TypeScript interfaces.
//
// The interfaces follow the proto-loader options below: field names are snake_case exactly as
// in the .proto files (keepCase), enums are their value names (enums: String), 64-bit integers
// arrive as strings (longs: String), a field that is not set is absent (defaults: false), and a
// set oneof has an extra virtual property naming the member that is set (oneofs: true), e.g.
// ProcessingRequest.request === 'request_body'. `bytes` fields arrive as Buffer.
//
// When sending, give `bytes` fields a Buffer/Uint8Array, never a string: protobufjs reads a
// string in a bytes field as base64.
import { fileURLToPath } from 'node:url';
import * as protoLoader from '@grpc/proto-loader';
import type { ServiceDefinition } from '@grpc/grpc-js';

/** Absolute path of the protos/ directory (two levels above src/extproc/ and dist/extproc/). */
export const PROTOS_DIR: string = fileURLToPath(new URL('../../protos/', import.meta.url));

/** The entry files; everything else is reached through their imports. */
export const PROTO_FILES: readonly string[] = [
  'envoy/service/ext_proc/v3/external_processor.proto',
  'envoy/service/auth/v3/external_auth.proto',
  'grpc/health/v1/health.proto',
];

export const PROTO_LOADER_OPTIONS: protoLoader.Options = {
  keepCase: true,
  longs: String,
  enums: String,
  defaults: false,
  oneofs: true,
  includeDirs: [PROTOS_DIR],
};

export const EXT_PROC_SERVICE = 'envoy.service.ext_proc.v3.ExternalProcessor';
export const AUTHORIZATION_SERVICE = 'envoy.service.auth.v3.Authorization';
export const HEALTH_SERVICE = 'grpc.health.v1.Health';

export interface Services {
  /** envoy.service.ext_proc.v3.ExternalProcessor: Process (bidirectional stream). */
  extProc: ServiceDefinition;
  /** envoy.service.auth.v3.Authorization: Check (unary). */
  authorization: ServiceDefinition;
  /** grpc.health.v1.Health: Check (unary) and Watch (server stream). */
  health: ServiceDefinition;
}

let packageDefinition: protoLoader.PackageDefinition | undefined;
let services: Services | undefined;

/** The proto-loader package definition of all our protos, loaded once. */
export function loadPackageDefinition(): protoLoader.PackageDefinition {
  packageDefinition ??= protoLoader.loadSync([...PROTO_FILES], PROTO_LOADER_OPTIONS);
  return packageDefinition;
}

function serviceAt(pkg: protoLoader.PackageDefinition, name: string): ServiceDefinition {
  const def = pkg[name];
  if (def === undefined || 'format' in def) {
    throw new Error(`${name} is not a service in the protos loaded from ${PROTOS_DIR}`);
  }
  return def;
}

/** The gRPC service definitions callguard serves, for `grpc.Server#addService`. Loaded once. */
export function loadServices(): Services {
  if (services === undefined) {
    const pkg = loadPackageDefinition();
    services = {
      extProc: serviceAt(pkg, EXT_PROC_SERVICE),
      authorization: serviceAt(pkg, AUTHORIZATION_SERVICE),
      health: serviceAt(pkg, HEALTH_SERVICE),
    };
  }
  return services;
}

// ---------------------------------------------------------------------------------------------
// google.protobuf well-known types

/**
 * google.protobuf.Value as proto-loader gives it; `kind` names the member that is set.
 *
 * Unlike every other message here, its fields are camelCase: proto-loader always uses
 * protobufjs's bundled definition of google/protobuf/struct.proto (protobufjs substitutes it
 * for any file of that name), which spells them nullValue, numberValue, ..., and keepCase
 * does not change that. snake_case keys (string_value, ...) would be silently dropped and
 * encode an empty Value. Use struct.ts to convert.
 */
export interface ProtoValue {
  nullValue?: 'NULL_VALUE' | 0;
  numberValue?: number;
  stringValue?: string;
  boolValue?: boolean;
  structValue?: ProtoStruct;
  listValue?: ProtoListValue;
  kind?: 'nullValue' | 'numberValue' | 'stringValue' | 'boolValue' | 'structValue' | 'listValue';
}

/** google.protobuf.Struct. An empty struct decodes without `fields`. */
export interface ProtoStruct {
  fields?: Record<string, ProtoValue>;
}

/** google.protobuf.ListValue. An empty list decodes without `values`. */
export interface ProtoListValue {
  values?: ProtoValue[];
}

/** google.protobuf.Any. */
export interface ProtoAny {
  type_url?: string;
  value?: Buffer;
}

/** google.protobuf.Duration; `seconds` is an int64, so it decodes as a string. */
export interface Duration {
  seconds?: string | number;
  nanos?: number;
}

/** google.protobuf.Timestamp; `seconds` is an int64, so it decodes as a string. */
export interface Timestamp {
  seconds?: string | number;
  nanos?: number;
}

/** google.protobuf.BoolValue. */
export interface BoolValue {
  value?: boolean;
}

/** google.rpc.Status. */
export interface RpcStatus {
  /** A google.rpc.Code value; 0 is OK. */
  code?: number;
  message?: string;
  details?: ProtoAny[];
}

// ---------------------------------------------------------------------------------------------
// envoy.type.v3 / envoy.config.core.v3

/** envoy.type.v3.StatusCode value names. */
export type HttpStatusCode =
  | 'Empty'
  | 'Continue'
  | 'OK'
  | 'Created'
  | 'Accepted'
  | 'NonAuthoritativeInformation'
  | 'NoContent'
  | 'ResetContent'
  | 'PartialContent'
  | 'MultiStatus'
  | 'AlreadyReported'
  | 'IMUsed'
  | 'MultipleChoices'
  | 'MovedPermanently'
  | 'Found'
  | 'SeeOther'
  | 'NotModified'
  | 'UseProxy'
  | 'TemporaryRedirect'
  | 'PermanentRedirect'
  | 'BadRequest'
  | 'Unauthorized'
  | 'PaymentRequired'
  | 'Forbidden'
  | 'NotFound'
  | 'MethodNotAllowed'
  | 'NotAcceptable'
  | 'ProxyAuthenticationRequired'
  | 'RequestTimeout'
  | 'Conflict'
  | 'Gone'
  | 'LengthRequired'
  | 'PreconditionFailed'
  | 'PayloadTooLarge'
  | 'URITooLong'
  | 'UnsupportedMediaType'
  | 'RangeNotSatisfiable'
  | 'ExpectationFailed'
  | 'MisdirectedRequest'
  | 'UnprocessableEntity'
  | 'Locked'
  | 'FailedDependency'
  | 'UpgradeRequired'
  | 'PreconditionRequired'
  | 'TooManyRequests'
  | 'RequestHeaderFieldsTooLarge'
  | 'InternalServerError'
  | 'NotImplemented'
  | 'BadGateway'
  | 'ServiceUnavailable'
  | 'GatewayTimeout'
  | 'HTTPVersionNotSupported'
  | 'VariantAlsoNegotiates'
  | 'InsufficientStorage'
  | 'LoopDetected'
  | 'NotExtended'
  | 'NetworkAuthenticationRequired';

/** envoy.type.v3.HttpStatus. Envoy rejects Empty (0) and undefined codes. */
export interface HttpStatus {
  code?: HttpStatusCode;
}

/**
 * envoy.config.core.v3.HeaderValue. Envoy's ext_proc filter sends header values in `raw_value`
 * (bytes) and leaves `value` empty; set `raw_value` in mutations too (only one of the two may
 * be set).
 */
export interface HeaderValue {
  key?: string;
  value?: string;
  raw_value?: Buffer;
}

/** envoy.config.core.v3.HeaderMap. */
export interface HeaderMap {
  headers?: HeaderValue[];
}

export type HeaderAppendAction =
  | 'APPEND_IF_EXISTS_OR_ADD'
  | 'ADD_IF_ABSENT'
  | 'OVERWRITE_IF_EXISTS_OR_ADD'
  | 'OVERWRITE_IF_EXISTS';

/** envoy.config.core.v3.HeaderValueOption. */
export interface HeaderValueOption {
  header?: HeaderValue;
  /** Deprecated upstream in favour of append_action. */
  append?: BoolValue;
  append_action?: HeaderAppendAction;
  keep_empty_value?: boolean;
}

/** envoy.config.core.v3.QueryParameter. */
export interface QueryParameter {
  key?: string;
  value?: string;
}

/** envoy.config.core.v3.Metadata; keys are filter names, e.g. "envoy.filters.http.ext_proc". */
export interface Metadata {
  filter_metadata?: Record<string, ProtoStruct>;
  typed_filter_metadata?: Record<string, ProtoAny>;
}

/** envoy.config.core.v3.SocketAddress. */
export interface SocketAddress {
  protocol?: 'TCP' | 'UDP';
  address?: string;
  port_value?: number;
  named_port?: string;
  port_specifier?: 'port_value' | 'named_port';
  resolver_name?: string;
  ipv4_compat?: boolean;
  network_namespace_filepath?: string;
}

/** envoy.config.core.v3.Pipe. */
export interface Pipe {
  path?: string;
  mode?: number;
}

/** envoy.config.core.v3.EnvoyInternalAddress. */
export interface EnvoyInternalAddress {
  server_listener_name?: string;
  address_name_specifier?: 'server_listener_name';
  endpoint_id?: string;
}

/** envoy.config.core.v3.Address. */
export interface Address {
  socket_address?: SocketAddress;
  pipe?: Pipe;
  envoy_internal_address?: EnvoyInternalAddress;
  address?: 'socket_address' | 'pipe' | 'envoy_internal_address';
}

// ---------------------------------------------------------------------------------------------
// envoy.extensions.filters.http.ext_proc.v3

export type HeaderSendMode = 'DEFAULT' | 'SEND' | 'SKIP';

export type BodySendMode =
  'NONE' | 'STREAMED' | 'BUFFERED' | 'BUFFERED_PARTIAL' | 'FULL_DUPLEX_STREAMED' | 'GRPC';

/** envoy.extensions.filters.http.ext_proc.v3.ProcessingMode. */
export interface ProcessingMode {
  request_header_mode?: HeaderSendMode;
  response_header_mode?: HeaderSendMode;
  request_body_mode?: BodySendMode;
  response_body_mode?: BodySendMode;
  request_trailer_mode?: HeaderSendMode;
  response_trailer_mode?: HeaderSendMode;
}

// ---------------------------------------------------------------------------------------------
// envoy.service.ext_proc.v3

/** envoy.service.ext_proc.v3.ProtocolConfiguration (first ProcessingRequest only). */
export interface ProtocolConfiguration {
  request_body_mode?: BodySendMode;
  response_body_mode?: BodySendMode;
  send_body_without_waiting_for_header_response?: boolean;
}

/** envoy.service.ext_proc.v3.HttpHeaders. Keys are lower-case; values are in raw_value. */
export interface HttpHeaders {
  headers?: HeaderMap;
  /** Deprecated and not sent; see ProcessingRequest.attributes. */
  attributes?: Record<string, ProtoStruct>;
  end_of_stream?: boolean;
}

/** envoy.service.ext_proc.v3.HttpBody. */
export interface HttpBody {
  body?: Buffer;
  end_of_stream?: boolean;
}

/** envoy.service.ext_proc.v3.HttpTrailers. */
export interface HttpTrailers {
  trailers?: HeaderMap;
}

export type ProcessingRequestKind =
  | 'request_headers'
  | 'response_headers'
  | 'request_body'
  | 'response_body'
  | 'request_trailers'
  | 'response_trailers';

/** envoy.service.ext_proc.v3.ProcessingRequest (Envoy to callguard). */
export interface ProcessingRequest {
  request_headers?: HttpHeaders;
  response_headers?: HttpHeaders;
  request_body?: HttpBody;
  response_body?: HttpBody;
  request_trailers?: HttpTrailers;
  response_trailers?: HttpTrailers;
  /** Which member of the `request` oneof is set. */
  request?: ProcessingRequestKind;
  metadata_context?: Metadata;
  /** Keyed by filter name, e.g. "envoy.filters.http.ext_proc". */
  attributes?: Record<string, ProtoStruct>;
  observability_mode?: boolean;
  protocol_config?: ProtocolConfiguration;
}

/** envoy.service.ext_proc.v3.HeaderMutation. */
export interface HeaderMutation {
  set_headers?: HeaderValueOption[];
  remove_headers?: string[];
}

/** envoy.service.ext_proc.v3.StreamedBodyResponse (FULL_DUPLEX_STREAMED body mode). */
export interface StreamedBodyResponse {
  body?: Uint8Array;
  end_of_stream?: boolean;
}

/** envoy.service.ext_proc.v3.BodyMutation; set exactly one of the `mutation` oneof. */
export interface BodyMutation {
  body?: Uint8Array;
  clear_body?: boolean;
  streamed_response?: StreamedBodyResponse;
  mutation?: 'body' | 'clear_body' | 'streamed_response';
}

export type ResponseStatus = 'CONTINUE' | 'CONTINUE_AND_REPLACE';

/** envoy.service.ext_proc.v3.CommonResponse. */
export interface CommonResponse {
  status?: ResponseStatus;
  header_mutation?: HeaderMutation;
  body_mutation?: BodyMutation;
  /** Not implemented by Envoy. */
  trailers?: HeaderMap;
  clear_route_cache?: boolean;
}

/** envoy.service.ext_proc.v3.HeadersResponse. */
export interface HeadersResponse {
  response?: CommonResponse;
}

/** envoy.service.ext_proc.v3.BodyResponse. */
export interface BodyResponse {
  response?: CommonResponse;
}

/** envoy.service.ext_proc.v3.TrailersResponse. */
export interface TrailersResponse {
  header_mutation?: HeaderMutation;
}

/** envoy.service.ext_proc.v3.GrpcStatus. */
export interface GrpcStatus {
  status?: number;
}

/** envoy.service.ext_proc.v3.ImmediateResponse. */
export interface ImmediateResponse {
  /** Required. */
  status?: HttpStatus;
  headers?: HeaderMutation;
  /** `bytes` since Envoy v1.36 (it was once a string): pass a Buffer. */
  body?: Uint8Array;
  grpc_status?: GrpcStatus;
  details?: string;
}

export type ProcessingResponseKind =
  | 'request_headers'
  | 'response_headers'
  | 'request_body'
  | 'response_body'
  | 'request_trailers'
  | 'response_trailers'
  | 'immediate_response';

/** envoy.service.ext_proc.v3.ProcessingResponse (callguard to Envoy). */
export interface ProcessingResponse {
  request_headers?: HeadersResponse;
  response_headers?: HeadersResponse;
  request_body?: BodyResponse;
  response_body?: BodyResponse;
  request_trailers?: TrailersResponse;
  response_trailers?: TrailersResponse;
  immediate_response?: ImmediateResponse;
  /** Which member of the `response` oneof is set (present on decoded messages). */
  response?: ProcessingResponseKind;
  dynamic_metadata?: ProtoStruct;
  mode_override?: ProcessingMode;
  override_message_timeout?: Duration;
}

// ---------------------------------------------------------------------------------------------
// envoy.service.auth.v3

/** envoy.service.auth.v3.AttributeContext.Peer. */
export interface AttributeContextPeer {
  address?: Address;
  service?: string;
  labels?: Record<string, string>;
  principal?: string;
  certificate?: string;
}

/** envoy.service.auth.v3.AttributeContext.HttpRequest. */
export interface AttributeContextHttpRequest {
  id?: string;
  method?: string;
  /** Values as strings; replaced by header_map when encode_raw_headers is set. */
  headers?: Record<string, string>;
  /** Only key and raw_value are set, and only when encode_raw_headers is set. */
  header_map?: HeaderMap;
  path?: string;
  host?: string;
  scheme?: string;
  query?: string;
  fragment?: string;
  /** int64, so a string; "-1" when unknown. */
  size?: string;
  protocol?: string;
  body?: string;
  /** Used instead of body when pack_as_bytes is set. */
  raw_body?: Buffer;
}

/** envoy.service.auth.v3.AttributeContext.Request. */
export interface AttributeContextRequest {
  time?: Timestamp;
  http?: AttributeContextHttpRequest;
}

/** envoy.service.auth.v3.AttributeContext.TLSSession. */
export interface AttributeContextTlsSession {
  sni?: string;
}

/** envoy.service.auth.v3.AttributeContext. */
export interface AttributeContext {
  source?: AttributeContextPeer;
  destination?: AttributeContextPeer;
  request?: AttributeContextRequest;
  context_extensions?: Record<string, string>;
  metadata_context?: Metadata;
  route_metadata_context?: Metadata;
  tls_session?: AttributeContextTlsSession;
}

/** envoy.service.auth.v3.CheckRequest (Envoy to callguard). */
export interface CheckRequest {
  attributes?: AttributeContext;
}

/** envoy.service.auth.v3.DeniedHttpResponse. */
export interface DeniedHttpResponse {
  /** Required. */
  status?: HttpStatus;
  headers?: HeaderValueOption[];
  /** A string here, unlike ImmediateResponse.body. */
  body?: string;
}

/** envoy.service.auth.v3.OkHttpResponse. */
export interface OkHttpResponse {
  headers?: HeaderValueOption[];
  headers_to_remove?: string[];
  /** Deprecated upstream in favour of CheckResponse.dynamic_metadata. */
  dynamic_metadata?: ProtoStruct;
  response_headers_to_add?: HeaderValueOption[];
  query_parameters_to_set?: QueryParameter[];
  query_parameters_to_remove?: string[];
}

/** envoy.service.auth.v3.CheckResponse (callguard to Envoy). */
export interface CheckResponse {
  /** code 0 (OK) allows the request; anything else denies it. */
  status?: RpcStatus;
  denied_response?: DeniedHttpResponse;
  ok_response?: OkHttpResponse;
  /** Which member of the `http_response` oneof is set (present on decoded messages). */
  http_response?: 'denied_response' | 'ok_response';
  dynamic_metadata?: ProtoStruct;
}

// ---------------------------------------------------------------------------------------------
// grpc.health.v1

/** grpc.health.v1.HealthCheckRequest. */
export interface HealthCheckRequest {
  service?: string;
}

export type ServingStatus = 'UNKNOWN' | 'SERVING' | 'NOT_SERVING' | 'SERVICE_UNKNOWN';

/** grpc.health.v1.HealthCheckResponse. */
export interface HealthCheckResponse {
  status?: ServingStatus;
}
