// The Helm chart (deploy/helm/callguard), with the pinned helm v4 the global setup installs
// (test/support/helm.ts):
//   - `helm lint --strict` passes with the default values and with every optional part on;
//   - `helm template` renders objects that validate against their Kubernetes, Istio and
//     prometheus-operator schemas (test/support/manifests.ts) and hold together
//     (test/support/release.ts), for the default values, every optional part on, and another
//     release name, namespace and ports;
//   - values.schema.json and the chart's own checks refuse what could not run, naming it;
//   - the committed plain manifests (deploy/kubernetes, deploy/istio) are exactly what
//     deploy/render.sh makes from the chart: the chart is their one source.
// The Istio patches' content (equal to envoy/envoy.yaml's filter, valid for Envoy) is checked
// on the committed rendering in deployment.test.ts.

import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { describe, expect, it } from 'vitest';
import { PROJECT_ROOT } from '../../src/cli/envoy.js';
import { goBinaryIs } from '../../src/cli/install.js';
import { CHART, HELM, helm, helmBinary, helmEnv } from '../support/helm.js';
import { patchValue } from '../support/envoy-config.js';
import { findObject, parseObjects, validateObject } from '../support/manifests.js';
import type { Kind, Manifest } from '../support/manifests.js';
import { checkRelease, present } from '../support/release.js';

const OPTIONAL = join(CHART, 'ci/optional-values.yaml');

/** `helm template` of the chart; fails the test with helm's message if it refuses. */
function render(args: string[], name = 'callguard', namespace = 'callguard'): Manifest[] {
  const r = helm(['template', name, CHART, '--namespace', namespace, ...args]);
  expect(r.stderr).toBe('');
  expect(r.status).toBe(0);
  return parseObjects(r.stdout, 'helm template');
}

/** A values file with `values`, for cases --set cannot spell (nulls, empty lists). */
function valuesFile(values: Record<string, unknown>): string {
  const file = join(mkdtempSync(join(tmpdir(), 'cg-helm-values-')), 'values.yaml');
  writeFileSync(file, stringify(values));
  return file;
}

const label = (o: Manifest) => `${o.kind}/${o.metadata?.name}`;
const kinds = (all: Manifest[]) => all.map((o) => o.kind).sort();

describe('the pinned helm', () => {
  it('is helm v4.3.2 built from its Go module, and another version would not pass', () => {
    expect(goBinaryIs(helmBinary(), HELM)).toBe(true);
    expect(goBinaryIs(helmBinary(), { ...HELM, version: 'v4.3.1' })).toBe(false);
    expect(helm(['version', '--short']).stdout).toMatch(/^v4\.3/);
  });
});

describe('helm lint --strict', () => {
  it.each([
    ['default values', []],
    ['every optional part on', ['-f', OPTIONAL]],
  ])('%s', (_name, args) => {
    const r = helm(['lint', CHART, '--strict', ...args]);
    expect(r.stdout).toContain('1 chart(s) linted, 0 chart(s) failed');
    expect(r.stdout).not.toMatch(/\[(ERROR|WARNING)\]/);
    expect(r.status).toBe(0);
  });
});

describe('helm template, default values', () => {
  const all = render([]);

  it.each(all.map((o) => [label(o), o] as const))(
    'validates against its schema: %s',
    (_name, o) => {
      expect(() => validateObject(o)).not.toThrow();
    },
  );

  it('renders the core only: no autoscaler, ServiceMonitor, Istio filters or Secrets', () => {
    expect(kinds(all)).toEqual(
      [
        'ConfigMap',
        'ConfigMap',
        'Deployment',
        'NetworkPolicy',
        'PodDisruptionBudget',
        'Service',
        'Service',
        'ServiceAccount',
      ].sort(),
    );
  });

  it('holds together; without a policy callguard starts and refuses every call', () => {
    const { deployment, config } = checkRelease(all, 'callguard', 'callguard');
    expect(deployment.spec?.replicas).toBe(2);
    // The audit goes to the log until Elasticsearch and a key are given.
    expect(config.audit.elasticsearch).toBeUndefined();
    const policies = findObject(all, 'ConfigMap', 'callguard-policies');
    expect(Object.keys(policies?.data ?? {})).toEqual(['no-policy.yaml']);
  });
});

describe('helm template, every optional part on (ci/optional-values.yaml)', () => {
  const all = render(['-f', OPTIONAL]);
  const find = <K extends Kind>(kind: K, name = 'callguard') => findObject(all, kind, name);

  it.each(all.map((o) => [label(o), o] as const))(
    'validates against its schema: %s',
    (_name, o) => {
      expect(() => validateObject(o)).not.toThrow();
    },
  );

  it('renders the autoscaler, ServiceMonitor, the three Istio EnvoyFilters and the DestinationRule, still no Secret', () => {
    expect(kinds(all)).toEqual(
      [
        'ConfigMap',
        'DestinationRule',
        'Deployment',
        'EnvoyFilter',
        'EnvoyFilter',
        'EnvoyFilter',
        'HorizontalPodAutoscaler',
        'NetworkPolicy',
        'PodDisruptionBudget',
        'Service',
        'Service',
        'ServiceAccount',
        'ServiceMonitor',
      ].sort(),
    );
  });

  it('holds together: keys from the Secrets, Elasticsearch from a Secret, the policy ConfigMap of the user', () => {
    const { container, config, mounts } = checkRelease(all, 'callguard', 'callguard');
    expect(config.audit.fingerprint.current).toBe('fp2');
    expect(config.audit.fingerprint.keys.map((k) => k.id)).toEqual(['fp2', 'fp1']);
    expect(config.tokenize.keys).toEqual([
      { id: 'tok1', secret_file: `${mounts['tokenize-keys']}/tok1` },
    ]);
    expect(container.env).toEqual([
      {
        name: 'CALLGUARD_ES_URL',
        valueFrom: { secretKeyRef: { name: 'callguard-elasticsearch', key: 'url' } },
      },
    ]);
    const volumes = find('Deployment')?.spec?.template.spec?.volumes ?? [];
    const fp = volumes.find((v) => v.name === 'fingerprint-keys')?.secret;
    expect(fp).toEqual({
      secretName: 'callguard-keys',
      defaultMode: 0o440,
      items: [
        { key: 'fingerprint-fp2', path: 'fp2' },
        { key: 'fingerprint-fp1', path: 'fp1' },
      ],
    });
    const policies = volumes.find((v) => v.name === 'policies')?.configMap;
    expect(policies?.name).toBe('my-policies');
    expect(policies?.items).toContainEqual({
      key: 'charge_card.request.json',
      path: 'contracts/charge_card.request.json',
    });
    // The chart's own policy ConfigMap is not rendered beside the user's.
    expect(find('ConfigMap', 'callguard-policies')).toBeUndefined();
  });

  it('the network policy narrows gRPC to the gateway and egress to DNS and Elasticsearch', () => {
    const np = find('NetworkPolicy');
    expect(np?.spec?.policyTypes).toEqual(['Ingress', 'Egress']);
    expect(np?.spec?.ingress?.[0]?.from?.[0]?.podSelector?.matchLabels).toEqual({
      istio: 'ingressgateway',
    });
    expect(np?.spec?.egress).toHaveLength(2);
  });

  it('the route patches: metadata and streaming on function routes, ext_proc off on health', () => {
    const routes = find('EnvoyFilter', 'callguard-routes');
    const patches = present(routes?.spec?.configPatches, 'route patches');
    const byRoute = Object.fromEntries(
      patches.map(
        (p) =>
          [
            String(p.match?.routeConfiguration?.vhost?.route?.name),
            patchValue(p, 'HTTP_ROUTE'),
          ] as const,
      ),
    );
    expect(Object.keys(byRoute)).toEqual(['charge-card', 'lookup-customer', 'functions-health']);
    expect(byRoute['charge-card']?.metadata?.filter_metadata.callguard).toEqual({
      policy: 'charge_card',
      function: 'charge_card',
    });
    expect(
      byRoute['charge-card']?.typed_per_filter_config?.['envoy.filters.http.ext_proc']?.overrides
        ?.processing_mode?.request_body_mode,
    ).toBe('FULL_DUPLEX_STREAMED');
    expect(byRoute['functions-health']).toEqual({
      typed_per_filter_config: {
        'envoy.filters.http.ext_proc': {
          '@type': 'type.googleapis.com/envoy.extensions.filters.http.ext_proc.v3.ExtProcPerRoute',
          disabled: true,
        },
      },
    });
    for (const p of patches) expect(p.match?.context).toBe('GATEWAY');
    expect(routes?.metadata?.namespace).toBe('istio-system');
  });
});

describe('values flow through', () => {
  it('another release, namespace and ports: every object follows', () => {
    const all = render(
      [
        '-f',
        OPTIONAL,
        '--set',
        'service.grpcPort=50052',
        '--set',
        'service.adminPort=9091',
        '--set',
        'istio.context=SIDECAR_INBOUND',
      ],
      'prod',
      'guard',
    );
    for (const o of all) expect(() => validateObject(o), label(o)).not.toThrow();
    const { container } = checkRelease(all, 'prod-callguard', 'guard');
    expect(container.ports?.map((p) => p.containerPort)).toEqual([50052, 9091]);
    const ef = findObject(all, 'EnvoyFilter', 'prod-callguard-ext-proc');
    expect(ef?.spec?.configPatches?.[0]?.match?.context).toBe('SIDECAR_INBOUND');
  });

  it('a config change rolls the pods (checksum), a policy change does not', () => {
    const checksum = (args: string[]) =>
      findObject(render(args), 'Deployment')?.spec?.template.metadata?.annotations?.[
        'checksum/config'
      ];
    const base = checksum([]);
    expect(checksum(['--set', 'config.log.level=debug'])).not.toBe(base);
    expect(checksum(['--set', 'policies.files.p\\.yaml=routes: []'])).toBe(base);
  });
});

describe('the chart refuses what could not run, and says why', () => {
  it.each<[string, string[], RegExp]>([
    ['a misspelt value (values.schema.json)', ['--set', 'replicaCont=3'], /replicaCont/],
    [
      'credentials in elasticsearch.url',
      ['--set', 'elasticsearch.url=https://elastic:pw@es:9200'],
      /elasticsearch\/url/,
    ],
    [
      'Elasticsearch without a fingerprint key',
      ['--set', 'elasticsearch.url=http://es:9200'],
      /needs a fingerprint key/,
    ],
    [
      'Elasticsearch in config without a fingerprint key',
      ['--set', 'config.audit.elasticsearch.url=http://es:9200'],
      /needs a fingerprint key/,
    ],
    [
      'fingerprint keys without their Secret',
      ['--set', 'fingerprint.keys[0].id=k1', '--set', 'fingerprint.keys[0].secretKey=k1'],
      /fingerprint.existingSecret/,
    ],
    [
      'token keys without their Secret',
      ['--set', 'tokenize.keys[0].id=t1', '--set', 'tokenize.keys[0].secretKey=t1'],
      /tokenize.existingSecret/,
    ],
    [
      'an inline secret in config',
      [
        '-f',
        valuesFile({
          config: { audit: { fingerprint: { keys: [{ id: 'k', secret: '0123456789abcdef' }] } } },
        }),
      ],
      /inline secret/,
    ],
    ['a config key the chart sets', ['--set', 'config.grpc_addr=0.0.0.0:1'], /set by the chart/],
    [
      'a spool folder off its volume',
      ['--set', 'config.audit.spool.dir=/tmp/spool'],
      /set by the chart/,
    ],
    [
      'a drain longer than the grace period',
      ['--set', 'config.shutdown_grace_ms=30000'],
      /terminationGracePeriodSeconds/,
    ],
    [
      'a liveness window shorter than a drain',
      ['--set', 'livenessProbe.failureThreshold=1'],
      /livenessProbe/,
    ],
    [
      'a disruption budget no drain can meet',
      ['--set', 'podDisruptionBudget.minAvailable=2'],
      /minAvailable must be below/,
    ],
    [
      'autoscaling without a CPU request',
      ['--set', 'autoscaling.enabled=true', '-f', valuesFile({ resources: { requests: null } })],
      /resources.requests.cpu/,
    ],
    [
      'policies from files and from a ConfigMap',
      ['--set', 'policies.existingConfigMap=mine', '--set', 'policies.files.p\\.yaml=x'],
      /files or existingConfigMap/,
    ],
    [
      'a policy path leaving the folder',
      ['-f', valuesFile({ policies: { files: { '../etc/p.yaml': 'x' } } })],
      // helm 4.3.2 names the wrong place of a propertyNames failure at times; the value is right.
      /invalid propertyName '\.\.\/etc\/p\.yaml'/,
    ],
    [
      'a network policy rule that would admit everyone',
      ['-f', valuesFile({ networkPolicy: { grpcFrom: [] } })],
      /grpcFrom/,
    ],
  ])('%s', (_name, args, message) => {
    const r = helm(['template', 'callguard', CHART, ...args]);
    expect(r.status).not.toBe(0);
    expect(r.stderr).toMatch(message);
  });
});

describe('the committed plain manifests are renderings of the chart', () => {
  it('deploy/kubernetes/callguard.yaml and deploy/istio/envoyfilters.yaml are what deploy/render.sh makes', () => {
    const out = mkdtempSync(join(tmpdir(), 'cg-render-'));
    const r = spawnSync('bash', [join(PROJECT_ROOT, 'deploy/render.sh'), out], {
      encoding: 'utf8',
      env: helmEnv(),
    });
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    for (const file of ['deploy/kubernetes/callguard.yaml', 'deploy/istio/envoyfilters.yaml']) {
      expect(
        readFileSync(join(PROJECT_ROOT, file), 'utf8'),
        `${file} differs from the chart's rendering: run deploy/render.sh and commit it`,
      ).toBe(readFileSync(join(out, file), 'utf8'));
    }
  });
});
