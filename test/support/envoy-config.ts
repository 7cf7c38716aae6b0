// The parts of an Envoy bootstrap (envoy/envoy.yaml, deploy/compose/envoy.yaml, and the
// Envoy values inside the Istio EnvoyFilters) that tests and benchmarks read and edit, typed
// after Envoy's v3 API in its YAML form (snake_case field names as in the protos). Only the
// fields the tests touch are listed; every message keeps its other fields as parsed
// (`Open`). The files are checked for real by `envoy --mode validate` (deployment.test.ts).

import type { IEnvoyFilter } from '@kubernetes-models/istio/networking.istio.io/v1alpha3/EnvoyFilter';

/** Any other field of the message, as parsed. */
interface Open {
  [field: string]: unknown;
}

/** config.bootstrap.v3.Bootstrap */
export interface EnvoyConfig extends Open {
  static_resources: { listeners: Listener[]; clusters: Cluster[] };
}

export interface Listener extends Open {
  name: string;
  filter_chains: FilterChain[];
}

export interface FilterChain extends Open {
  filters: NetworkFilter[];
}

/** The listeners here hold one network filter: the HTTP connection manager. */
export interface NetworkFilter extends Open {
  name: string;
  typed_config: HttpConnectionManager;
}

/** extensions.filters.network.http_connection_manager.v3.HttpConnectionManager */
export interface HttpConnectionManager extends Open {
  http_filters: HttpFilter[];
  route_config: RouteConfiguration;
  local_reply_config?: LocalReplyConfig;
}

export interface HttpFilter extends Open {
  name: string;
  disabled?: boolean;
  typed_config: HttpFilterConfig;
}

/**
 * An HTTP filter's typed_config: the fields ext_proc's ExternalProcessor and ext_authz's
 * ExtAuthz have (the router has none of them).
 */
export interface HttpFilterConfig extends Open {
  '@type': string;
  grpc_service?: GrpcService;
  failure_mode_allow?: boolean;
  status_on_error?: { code: string };
  processing_mode?: ProcessingMode;
}

export interface GrpcService extends Open {
  envoy_grpc: { cluster_name: string };
}

/** extensions.filters.http.ext_proc.v3.ProcessingMode */
export interface ProcessingMode {
  request_header_mode?: string;
  response_header_mode?: string;
  request_body_mode?: string;
  response_body_mode?: string;
  request_trailer_mode?: string;
  response_trailer_mode?: string;
}

/** typed_per_filter_config: filter name → its per-route config (ExtProcPerRoute, FilterConfig). */
export type PerFilterConfig = Record<string, PerRouteConfig>;

export interface PerRouteConfig extends Open {
  '@type': string;
  disabled?: boolean;
  overrides?: { processing_mode?: ProcessingMode };
}

export interface RouteConfiguration extends Open {
  virtual_hosts: VirtualHost[];
}

export interface VirtualHost extends Open {
  name: string;
  routes: Route[];
  typed_per_filter_config?: PerFilterConfig;
}

/** config.route.v3.Route */
export interface Route extends Open {
  name?: string;
  match: { path?: string; prefix?: string; safe_regex?: { regex: string } };
  route?: { cluster: string };
  metadata?: { filter_metadata: { callguard?: RouteMetadata } };
  typed_per_filter_config?: PerFilterConfig;
  request_headers_to_add?: HeaderValueOption[];
}

/** The route metadata callguard reads (docs/configuration.md: policy and function). */
export interface RouteMetadata {
  policy?: string;
  function?: string;
}

export interface HeaderValueOption {
  header: { key: string; value: string };
  append_action?: string;
}

/** extensions.filters.network.http_connection_manager.v3.LocalReplyConfig */
export interface LocalReplyConfig extends Open {
  mappers: ResponseMapper[];
  body_format?: unknown;
}

export interface ResponseMapper extends Open {
  filter: {
    extension_filter: { name: string; typed_config: { '@type': string; expression: string } };
  };
  status_code?: number;
  headers_to_add?: HeaderValueOption[];
  /** callguard's JSON error body (src/errors.ts), written by Envoy. */
  body_format_override: {
    json_format: {
      error: { code: string; message: string; paths: string[]; rule: string; session_id: null };
    };
  };
}

/** config.cluster.v3.Cluster */
export interface Cluster extends Open {
  name: string;
  type?: string;
  connect_timeout?: string;
  circuit_breakers?: { thresholds: Thresholds[] };
  load_assignment: { cluster_name: string; endpoints: { lb_endpoints: LbEndpoint[] }[] };
}

/** config.cluster.v3.CircuitBreakers.Thresholds */
export interface Thresholds {
  priority?: string;
  max_requests?: number;
  max_pending_requests?: number;
  max_connections?: number;
  max_retries?: number;
  track_remaining?: boolean;
}

export interface LbEndpoint {
  endpoint: { address: { socket_address: { address: string; port_value: number } } };
}

/** The connection manager of the first listener: where the filters and routes are. */
export const hcmOf = (cfg: EnvoyConfig): HttpConnectionManager =>
  cfg.static_resources.listeners[0]!.filter_chains[0]!.filters[0]!.typed_config;

/** The cluster of that name; throws if there is none. */
export function clusterOf(cfg: EnvoyConfig, name: string): Cluster {
  const c = cfg.static_resources.clusters.find((x) => x.name === name);
  if (!c) throw new Error(`no cluster ${name} in the Envoy config`);
  return c;
}

type ConfigPatch = NonNullable<NonNullable<IEnvoyFilter['spec']>['configPatches']>[number];

/** What an Istio EnvoyFilter patch's value is, by what it applies to. */
interface PatchValues {
  HTTP_FILTER: HttpFilter;
  HTTP_ROUTE: Partial<Route>;
  NETWORK_FILTER: { typed_config: Partial<HttpConnectionManager> };
}

/** The Envoy config a patch carries (Istio types it `{}`), once its applyTo is checked. */
export function patchValue<A extends keyof PatchValues>(
  p: ConfigPatch,
  applyTo: A,
): PatchValues[A] {
  if (p.applyTo !== applyTo) throw new Error(`a patch applied to ${p.applyTo}, not ${applyTo}`);
  return p.patch?.value as PatchValues[A];
}
