{{/* Names and labels, as `helm create` makes them. */}}
{{- define "callguard.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "callguard.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{- define "callguard.selectorLabels" -}}
app.kubernetes.io/name: {{ include "callguard.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{- define "callguard.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{ include "callguard.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end }}

{{- define "callguard.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "callguard.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{/* Where the pod mounts what the configuration names. */}}
{{- define "callguard.paths" -}}
config: /etc/callguard/config
policies: /etc/callguard/policies
fingerprint: /etc/callguard/secrets/fingerprint
tokenize: /etc/callguard/secrets/tokenize
spool: /var/lib/callguard/spool
{{- end }}

{{/* A policy file's ConfigMap key: its path with "/" as "__" (keys cannot hold "/"). */}}
{{- define "callguard.policyKey" -}}
{{- . | replace "/" "__" }}
{{- end }}

{{/*
Without policies.files, the chart writes a policy with no routes, so callguard starts and
refuses every call (no_policy, fail closed) until one is given.
*/}}
{{- define "callguard.noPolicy" -}}
# No policy was given to the chart (policies.files or policies.existingConfigMap):
# every call on a route through callguard is refused with no_policy.
routes: []
{{ end }}

{{/* Is the Elasticsearch audit on (a URL here, from a Secret, or in config)? */}}
{{- define "callguard.auditOn" -}}
{{- $es := dig "audit" "elasticsearch" "url" "" (.Values.config | default dict) }}
{{- if or .Values.elasticsearch.url .Values.elasticsearch.existingSecret $es }}true{{ end }}
{{- end }}

{{/*
callguard.yaml: .Values.config with what the chart owns set over it. Fails, naming the value,
on what could not run.
*/}}
{{- define "callguard.config" -}}
{{- $paths := include "callguard.paths" . | fromYaml }}
{{- $cfg := deepCopy (.Values.config | default dict) }}
{{- range $k := list "grpc_addr" "admin_addr" "policies" }}
{{- if hasKey $cfg $k }}
{{- fail (printf "config.%s is set by the chart (service ports, the policy folder): remove it" $k) }}
{{- end }}
{{- end }}
{{- $_ := set $cfg "grpc_addr" (printf "0.0.0.0:%v" .Values.service.grpcPort) }}
{{- $_ = set $cfg "admin_addr" (printf "0.0.0.0:%v" .Values.service.adminPort) }}
{{- $_ = set $cfg "policies" (list $paths.policies) }}
{{- /* audit: the spool on its volume, the Elasticsearch URL, fingerprint keys from the Secret */}}
{{- $audit := get $cfg "audit" | default dict }}
{{- $spool := get $audit "spool" | default dict }}
{{- if hasKey $spool "dir" }}
{{- fail "config.audit.spool.dir is set by the chart (the spool volume): remove it" }}
{{- end }}
{{- $_ = set $spool "dir" $paths.spool }}
{{- $_ = set $audit "spool" $spool }}
{{- if .Values.elasticsearch.url }}
{{- if .Values.elasticsearch.existingSecret }}
{{- fail "elasticsearch: set url or existingSecret, not both" }}
{{- end }}
{{- $es := get $audit "elasticsearch" | default dict }}
{{- $_ = set $es "url" .Values.elasticsearch.url }}
{{- $_ = set $audit "elasticsearch" $es }}
{{- end }}
{{- $fp := get $audit "fingerprint" | default dict }}
{{- $fpKeys := get $fp "keys" | default list }}
{{- range $fpKeys }}
{{- if hasKey . "secret" }}
{{- fail (printf "config.audit.fingerprint.keys: %s has an inline secret; give it as fingerprint.existingSecret" .id) }}
{{- end }}
{{- end }}
{{- if .Values.fingerprint.keys }}
{{- if not .Values.fingerprint.existingSecret }}
{{- fail "fingerprint.keys need fingerprint.existingSecret (the Secret holding them)" }}
{{- end }}
{{- range .Values.fingerprint.keys }}
{{- $fpKeys = append $fpKeys (dict "id" .id "secret_file" (printf "%s/%s" $paths.fingerprint .id)) }}
{{- end }}
{{- end }}
{{- if $fpKeys }}
{{- $_ = set $fp "keys" $fpKeys }}
{{- end }}
{{- if .Values.fingerprint.current }}
{{- $_ = set $fp "current" .Values.fingerprint.current }}
{{- end }}
{{- if $fp }}
{{- $_ = set $audit "fingerprint" $fp }}
{{- end }}
{{- if and (include "callguard.auditOn" .) (not $fpKeys) }}
{{- fail "the Elasticsearch audit needs a fingerprint key: set fingerprint.existingSecret and fingerprint.keys" }}
{{- end }}
{{- $_ = set $cfg "audit" $audit }}
{{- /* token keys from the Secret */}}
{{- $tok := get $cfg "tokenize" | default dict }}
{{- $tokKeys := get $tok "keys" | default list }}
{{- if .Values.tokenize.keys }}
{{- if not .Values.tokenize.existingSecret }}
{{- fail "tokenize.keys need tokenize.existingSecret (the Secret holding them)" }}
{{- end }}
{{- range .Values.tokenize.keys }}
{{- $tokKeys = append $tokKeys (dict "id" .id "secret_file" (printf "%s/%s" $paths.tokenize .id)) }}
{{- end }}
{{- $_ = set $tok "keys" $tokKeys }}
{{- $_ = set $cfg "tokenize" $tok }}
{{- end }}
{{- /* shutdown: preStop pause and drain within the grace period */}}
{{- $grace := int (get $cfg "shutdown_grace_ms" | default 10000) }}
{{- if le (mul (int .Values.terminationGracePeriodSeconds) 1000) (add $grace (mul (int .Values.preStopSeconds) 1000)) }}
{{- fail (printf "terminationGracePeriodSeconds (%v s) must exceed preStopSeconds (%v s) plus config.shutdown_grace_ms (%v ms)" .Values.terminationGracePeriodSeconds .Values.preStopSeconds $grace) }}
{{- end }}
{{- if le (mul (int .Values.livenessProbe.periodSeconds) (int .Values.livenessProbe.failureThreshold) 1000) (add $grace (mul (int .Values.preStopSeconds) 1000)) }}
{{- fail "livenessProbe: periodSeconds × failureThreshold must exceed preStopSeconds plus config.shutdown_grace_ms (a draining pod answers 503)" }}
{{- end }}
{{- toYaml $cfg }}
{{- end }}

{{/* The replicas the budget is measured against: the autoscaler's minimum when it runs. */}}
{{- define "callguard.minReplicas" -}}
{{- if .Values.autoscaling.enabled }}{{ .Values.autoscaling.minReplicas }}{{ else }}{{ .Values.replicaCount }}{{ end }}
{{- end }}
