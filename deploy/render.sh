#!/usr/bin/env bash
# The plain manifests in deploy/kubernetes/ and deploy/istio/ are renderings of the Helm
# chart deploy/helm/callguard (the one source), for `kubectl apply` without Helm. This script
# is how they are made; test/integration/helm.test.ts runs it and fails when a committed file
# differs, so after a chart change run it and commit what it writes:
#   deploy/render.sh [out-dir]        (default: this repository)
# HELM names the helm binary; the default is .cache/bin/helm, the pinned helm v4 the
# integration tests install (test/support/helm.ts).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
out=${1:-$root}
helm=${HELM:-$root/.cache/bin/helm}
if [ ! -x "$helm" ]; then
  echo "no helm at $helm: run the integration tests once (npm run test:integration), or set HELM" >&2
  exit 1
fi
cd "$root"
mkdir -p "$out/deploy/kubernetes" "$out/deploy/istio"

# callguard in the namespace callguard, default values, with the example payments policy of
# policies/ and its contracts.
"$helm" template callguard deploy/helm/callguard --namespace callguard \
  --set-file 'policies.files.payments\.yaml=policies/payments.yaml' \
  --set-file 'policies.files.contracts/charge_card\.request\.json=policies/contracts/charge_card.request.json' \
  --set-file 'policies.files.contracts/charge_card\.response\.json=policies/contracts/charge_card.response.json' \
  --set-file 'policies.files.contracts/lookup_customer\.request\.json=policies/contracts/lookup_customer.request.json' \
  --set-file 'policies.files.contracts/lookup_customer\.response\.json=policies/contracts/lookup_customer.response.json' \
  >"$out/deploy/kubernetes/callguard.yaml"

# The Istio EnvoyFilters for that release, with the per-route patches of the chart's worked
# example (ci/optional-values.yaml), whose route names are those of
# deploy/istio/virtualservice-example.yaml.
"$helm" template callguard deploy/helm/callguard --namespace callguard \
  -f deploy/helm/callguard/ci/optional-values.yaml \
  --show-only templates/istio/envoyfilter-ext-proc.yaml \
  --show-only templates/istio/envoyfilter-routes.yaml \
  --show-only templates/istio/envoyfilter-local-reply.yaml \
  --show-only templates/istio/destinationrule.yaml \
  >"$out/deploy/istio/envoyfilters.yaml"
