{{/* Name of the chart, overridable. */}}
{{- define "lko.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Full name: the release name, with the chart name appended unless it contains it. */}}
{{- define "lko.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 52 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 52 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 52 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{/* Labels of every object. */}}
{{- define "lko.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
{{ include "lko.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end }}

{{/* Selector labels of the operator pods. */}}
{{- define "lko.selectorLabels" -}}
app.kubernetes.io/name: {{ include "lko.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/component: controller
{{- end }}

{{/* Selector labels of the OpenTelemetry Collector pods. */}}
{{- define "lko.otelSelectorLabels" -}}
app.kubernetes.io/name: {{ include "lko.name" . }}-otel-collector
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/component: otel-collector
{{- end }}

{{/* The operator's ServiceAccount. */}}
{{- define "lko.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "lko.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- required "serviceAccount.name is required when serviceAccount.create is false" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{/* The rules of an RBAC source file copied from config/rbac by `make chart`. */}}
{{- define "lko.rules" -}}
{{- $file := printf "files/rbac/%s" .file }}
{{- $doc := .root.Files.Get $file | fromYaml }}
{{- if not $doc.rules }}{{ fail (printf "%s has no rules (run make chart)" $file) }}{{ end }}
{{- toYaml $doc.rules }}
{{- end }}

{{/* The single resourceName of the rule on `resource` in an RBAC source file: the names the
     operator uses (its defaults) live in config/rbac only. */}}
{{- define "lko.resourceName" -}}
{{- $doc := .root.Files.Get (printf "files/rbac/%s" .file) | fromYaml }}
{{- $found := "" }}
{{- range $doc.rules }}
{{- if and (has $.resource .resources) .resourceNames }}{{ $found = first .resourceNames }}{{ end }}
{{- end }}
{{- required (printf "no resourceNames for %s in %s" .resource .file) $found }}
{{- end }}

{{/* Names the operator and the chart must agree on. */}}
{{- define "lko.webhookSecretName" -}}
{{- include "lko.resourceName" (dict "root" . "file" "webhook_role.yaml" "resource" "secrets") }}
{{- end }}
{{- define "lko.webhookConfigName" -}}
{{- include "lko.resourceName" (dict "root" . "file" "webhook_cluster_role.yaml" "resource" "validatingwebhookconfigurations") }}
{{- end }}
{{- define "lko.webhookServiceName" -}}
{{- printf "%s-webhook" (include "lko.fullname" .) }}
{{- end }}
{{- define "lko.certManagerSecretName" -}}
{{- printf "%s-webhook-cert" (include "lko.fullname" .) }}
{{- end }}
{{- define "lko.otelName" -}}
{{- printf "%s-otel-collector" (include "lko.fullname" .) }}
{{- end }}

{{/* WEBHOOK_MODE for the operator. */}}
{{- define "lko.webhookMode" -}}
{{- if not .Values.webhooks.enabled }}disabled
{{- else if eq .Values.webhooks.certificates "cert-manager" }}files
{{- else }}self-signed
{{- end }}
{{- end }}

{{/* The OTLP endpoint LocustTests should use (empty when none). */}}
{{- define "lko.otelEndpoint" -}}
{{- if .Values.openTelemetry.collector.deploy }}
{{- printf "%s.%s.svc:4317" (include "lko.otelName" .) .Release.Namespace }}
{{- else }}
{{- .Values.openTelemetry.collector.externalEndpoint }}
{{- end }}
{{- end }}

{{/* Resource env vars: prefix (POD_, MASTER_POD_, WORKER_POD_) and a {requests, limits}
     map with cpu, memory, ephemeralStorage. Unset keys are left out; "" removes. */}}
{{- define "lko.resourceEnv" -}}
{{- $prefix := .prefix }}
{{- range $kind, $suffix := dict "requests" "REQUEST" "limits" "LIMIT" }}
{{- $values := get $.resources $kind | default dict }}
{{- range $key, $name := dict "cpu" "CPU" "memory" "MEM" "ephemeralStorage" "EPHEMERAL" }}
{{- if hasKey $values $key }}
- name: {{ printf "%s%s_%s" $prefix $name $suffix }}
  value: {{ get $values $key | toString | quote }}
{{- end }}
{{- end }}
{{- end }}
{{- end }}
