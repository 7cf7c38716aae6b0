// What a rendering of the Helm chart must hold together, whatever the values: the objects
// select the pods they mean to, ports agree from container to Service, NetworkPolicy, config
// and Istio cluster, the probes are the admin port's /healthz, the mounted callguard.yaml
// loads and names the mounted policy folder, every secret file it names is a mounted Secret
// key, the drain fits in the grace period, and no Secret is rendered (the chart only refers
// to existing ones). Used on the committed rendering (deployment.test.ts) and on renderings
// with other values (helm.test.ts).

import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { expect } from 'vitest';
import type { IContainer } from 'kubernetes-models/v1/Container';
import type { IDeployment } from 'kubernetes-models/apps/v1/Deployment';
import type { IVolume } from 'kubernetes-models/v1/Volume';
import { envOverrides, loadConfig } from '../../src/config/config.js';
import type { Config } from '../../src/config/config.js';
import { loadPolicy } from '../../src/policy/load.js';
import type { HttpFilter } from './envoy-config.js';
import { findObject } from './manifests.js';
import type { Kind, Kinds, Manifest } from './manifests.js';

export interface Release {
  deployment: IDeployment;
  container: IContainer;
  config: Config;
  /** Volume name → mount path. */
  mounts: Record<string, string>;
}

const port = (addr: string) => Number(addr.slice(addr.lastIndexOf(':') + 1));

/** `v`, failing the test (naming `what`) if it is missing. */
export function present<T>(v: T | null | undefined, what: string): T {
  expect(v, what).toBeDefined();
  expect(v, what).not.toBeNull();
  return v!;
}

export function checkRelease(all: Manifest[], fullname: string, namespace: string): Release {
  const find = <K extends Kind>(kind: K, name = fullname): Kinds[K] | undefined =>
    findObject(all, kind, name);
  for (const o of all) {
    if (!o.apiVersion.startsWith('networking.istio.io/'))
      expect(o.metadata?.namespace).toBe(namespace);
  }
  expect(all.map((o) => o.kind)).not.toContain('Secret');

  const dep = present(find('Deployment'), 'Deployment');
  const pod = present(dep.spec, 'Deployment spec').template;
  const podSpec = present(pod.spec, 'pod spec');
  const podLabels = pod.metadata?.labels ?? {};
  const selects = (sel: Record<string, string> = {}) =>
    Object.entries(sel).every(([k, v]) => podLabels[k] === v);
  expect(selects(dep.spec?.selector.matchLabels)).toBe(true);

  const c = present(podSpec.containers[0], 'container');
  const ports: Record<string, number> = Object.fromEntries(
    (c.ports ?? []).map((p): [string, number] => [String(p.name), p.containerPort]),
  );
  expect(Object.keys(ports).sort()).toEqual(['admin', 'grpc']);

  // Services: select the pods, name their target ports, speak gRPC on the gRPC port.
  const services = all.filter((o) => o.kind === 'Service');
  expect(services.map((s) => s.metadata?.name)).toContain(fullname);
  for (const svc of services) {
    const name = svc.metadata?.name;
    expect(selects(svc.spec?.selector), name).toBe(true);
    const svcPorts = svc.spec?.ports ?? [];
    for (const p of svcPorts) expect(ports[String(p.targetPort)], p.name).toBeDefined();
    expect(svcPorts.find((p) => p.name === 'grpc')).toMatchObject({
      targetPort: 'grpc',
      appProtocol: 'grpc',
    });
  }
  const svc = present(find('Service'), 'Service');
  const svcPort = (name: string) => svc.spec?.ports?.find((p) => p.name === name);

  // Replicas and the disruption budget: a node can always be drained.
  const hpa = find('HorizontalPodAutoscaler');
  const minReplicas = hpa ? hpa.spec?.minReplicas : dep.spec?.replicas;
  if (hpa) {
    expect(dep.spec?.replicas, 'the autoscaler owns replicas').toBeUndefined();
    expect(hpa.spec?.scaleTargetRef).toEqual({
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      name: fullname,
    });
    expect(hpa.spec?.metrics?.[0]?.resource?.name).toBe('cpu');
    expect(c.resources?.requests?.cpu).toBeTypeOf('string');
  }
  expect(minReplicas).toBeGreaterThanOrEqual(1);
  const pdb = find('PodDisruptionBudget');
  if (pdb) {
    expect(selects(pdb.spec?.selector?.matchLabels)).toBe(true);
    expect(pdb.spec?.minAvailable).toBeLessThan(minReplicas!);
  }

  // Probes on /healthz of the admin port; resources; an unprivileged, read-only container.
  for (const probe of ['readinessProbe', 'livenessProbe', 'startupProbe'] as const)
    expect(c[probe]?.httpGet, probe).toEqual({ path: '/healthz', port: 'admin' });
  expect(c.resources?.requests?.cpu).toBeTypeOf('string');
  expect(c.resources?.requests?.memory).toBeTypeOf('string');
  expect(c.resources?.limits?.memory).toBeTypeOf('string');
  expect(podSpec.securityContext?.runAsNonRoot).toBe(true);
  expect(podSpec.automountServiceAccountToken).toBe(false);
  expect(c.securityContext).toMatchObject({
    allowPrivilegeEscalation: false,
    readOnlyRootFilesystem: true,
    capabilities: { drop: ['ALL'] },
  });
  const sa = find('ServiceAccount', podSpec.serviceAccountName);
  if (sa) expect(sa.automountServiceAccountToken).toBe(false);

  // Every mount is a volume of the pod.
  const volumes: Record<string, IVolume> = Object.fromEntries(
    (podSpec.volumes ?? []).map((v) => [v.name, v]),
  );
  const mounts: Record<string, string> = Object.fromEntries(
    (c.volumeMounts ?? []).map((m) => [m.name, m.mountPath]),
  );
  for (const name of Object.keys(mounts)) expect(volumes[name], name).toBeDefined();
  const configMap = present(find('ConfigMap', `${fullname}-config`), 'config ConfigMap');
  expect(volumes.config?.configMap?.name).toBe(configMap.metadata?.name);

  // The mounted config: valid, on the container's ports, reading the mounted policy folder,
  // its spool on a volume (the root file system is read-only).
  const dir = mkdtempSync(join(tmpdir(), 'cg-release-'));
  writeFileSync(
    join(dir, 'callguard.yaml'),
    present(configMap.data?.['callguard.yaml'], 'callguard.yaml'),
  );
  const env = c.env ?? [];
  const esFromSecret = env.find((e) => e.name === 'CALLGUARD_ES_URL')?.valueFrom?.secretKeyRef;
  const config = loadConfig(
    join(dir, 'callguard.yaml'),
    esFromSecret ? [envOverrides({ CALLGUARD_ES_URL: 'https://user:pw@es.example:9200' })] : [],
  );
  expect(c.args).toEqual(['serve', '--config', `${mounts.config}/callguard.yaml`]);
  expect(port(config.grpc_addr)).toBe(ports.grpc);
  expect(port(config.admin_addr)).toBe(ports.admin);
  expect(config.policies).toEqual([mounts.policies]);
  expect(config.audit.spool.dir).toBe(mounts.spool);

  // The chart's policy ConfigMap, laid out as the volume's items do, loads (else callguard
  // would not start); a ConfigMap of the user's is theirs to check.
  const policyVolume = present(volumes.policies?.configMap, 'policies volume');
  const policyMap = find('ConfigMap', policyVolume.name);
  if (policyMap) {
    const pdir = mkdtempSync(join(tmpdir(), 'cg-release-policies-'));
    const items = policyVolume.items ?? [];
    const data = policyMap.data ?? {};
    expect(items.map((i) => i.key).sort()).toEqual(Object.keys(data).sort());
    for (const item of items) {
      mkdirSync(dirname(join(pdir, item.path)), { recursive: true });
      writeFileSync(join(pdir, item.path), present(data[item.key], item.key));
    }
    loadPolicy([pdir]);
  }

  // Every secret file the config names is a key of a mounted Secret.
  const secretFiles = [
    ...config.audit.fingerprint.keys.map((k) => k.secret_file),
    ...config.tokenize.keys.map((k) => k.secret_file),
  ].filter((f) => f !== undefined);
  for (const file of secretFiles) {
    const [name, mountPath] = Object.entries(mounts).find(([, m]) => file.startsWith(`${m}/`))!;
    const item = volumes[name]?.secret?.items?.find((i) => `${mountPath}/${i.path}` === file);
    expect(item, file).toBeDefined();
  }
  if (config.audit.elasticsearch) expect(config.audit.fingerprint.keys.length).toBeGreaterThan(0);

  // Shutdown: the preStop pause and the drain fit in the grace period, and a draining pod
  // (503 on /healthz) is not restarted by its liveness probe first.
  const preStop = Number(c.lifecycle?.preStop?.exec?.command?.[1]);
  const drainMs = config.shutdown_grace_ms + preStop * 1000;
  expect(present(podSpec.terminationGracePeriodSeconds, 'grace') * 1000).toBeGreaterThan(drainMs);
  const liveness = present(c.livenessProbe, 'livenessProbe');
  expect(
    present(liveness.periodSeconds, 'periodSeconds') *
      present(liveness.failureThreshold, 'failureThreshold') *
      1000,
  ).toBeGreaterThan(drainMs);

  // Optional parts, when rendered, point at the same pods and ports.
  const netpol = find('NetworkPolicy');
  if (netpol) {
    expect(selects(netpol.spec?.podSelector.matchLabels)).toBe(true);
    const ingress = netpol.spec?.ingress ?? [];
    expect(ingress.map((r) => r.ports?.[0]?.port).sort()).toEqual([ports.grpc, ports.admin].sort());
    for (const rule of ingress) expect(rule.from?.length).toBeGreaterThan(0);
  }
  const monitor = find('ServiceMonitor');
  if (monitor) {
    const svcLabels = svc.metadata?.labels ?? {};
    expect(
      Object.entries(monitor.spec.selector.matchLabels ?? {}).every(([k, v]) => svcLabels[k] === v),
    ).toBe(true);
    const endpoint = monitor.spec.endpoints?.[0];
    expect(svcPort(present(endpoint?.port, 'ServiceMonitor port'))?.targetPort).toBe('admin');
    expect(endpoint?.path).toBe('/metrics');
  }
  const extProc = find('EnvoyFilter', `${fullname}-ext-proc`);
  if (extProc) {
    // The patch value is the ext_proc HTTP filter inserted into Envoy's config.
    const filter = extProc.spec?.configPatches?.[0]?.patch?.value as HttpFilter | undefined;
    expect(filter?.typed_config.grpc_service?.envoy_grpc.cluster_name).toBe(
      `outbound|${svcPort('grpc')?.port}||${fullname}.${namespace}.svc.cluster.local`,
    );
  }
  return { deployment: dep, container: c, config, mounts };
}
