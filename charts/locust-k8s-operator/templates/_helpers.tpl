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
{{/* The ValidatingWebhookConfiguration is cluster-scoped: named after the release (the
     full name) so that two releases (e.g. two namespace-scoped installs) each have their
     own; the operator finds it through WEBHOOK_CONFIG_NAME. With the default release name
     it is the operator's default, the name in config/rbac. */}}
{{- define "lko.webhookConfigName" -}}
{{- include "lko.fullname" . }}
{{- end }}

{{/* The rules of webhook_cluster_role.yaml with the release's webhook configuration name
     in place of the default one. */}}
{{- define "lko.webhookClusterRules" -}}
{{- $default := include "lko.resourceName" (dict "root" . "file" "webhook_cluster_role.yaml" "resource" "validatingwebhookconfigurations") }}
{{- $rules := list }}
{{- range include "lko.rules" (dict "root" . "file" "webhook_cluster_role.yaml") | fromYamlArray }}
{{- if has $default (default list .resourceNames) }}
{{- $_ := set . "resourceNames" (list (include "lko.webhookConfigName" $)) }}
{{- end }}
{{- $rules = append $rules . }}
{{- end }}
{{- toYaml $rules }}
{{- end }}

{{/* An image reference from {repository, tag, digest}: global.imageRegistry replaces the
     repository's registry (or is prepended when it names none); a digest wins over the
     tag; .defaultTag when the tag is empty. */}}
{{- define "lko.image" -}}
{{- $repository := .image.repository }}
{{- with .root.Values.global }}{{ with .imageRegistry }}
{{- $parts := splitList "/" $repository }}
{{- $first := first $parts }}
{{- if and (gt (len $parts) 1) (or (contains "." $first) (contains ":" $first) (eq $first "localhost")) }}
{{- $repository = join "/" (rest $parts) }}
{{- end }}
{{- $repository = printf "%s/%s" (trimSuffix "/" .) $repository }}
{{- end }}{{ end }}
{{- if .image.digest }}
{{- printf "%s@%s" $repository .image.digest }}
{{- else }}
{{- printf "%s:%s" $repository (default .defaultTag .image.tag) }}
{{- end }}
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
{{- if not (include "lko.webhooksEnabled" .) }}disabled
{{- else if eq (include "lko.certificates" .) "cert-manager" }}files
{{- else }}self-signed
{{- end }}
{{- end }}

{{/* The OTLP endpoint LocustTests should use (empty when none). */}}
{{- define "lko.otelEndpoint" -}}
{{- if include "lko.otelDeploy" . }}
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

{{/* ---- Values of the Go operator's chart ----------------------------------------------
The Go locust-k8s-operator v2.x chart's value names are accepted so that
`helm install -f go-values.yaml` works: a Go value that means the same here is read in
place of ours when set (the helpers below; lists are combined with ours), one that cannot
work stops the render with a message naming it (lko.goCheck), and NOTES.txt names every
Go value read (lko.goNotes). The table is in README.md, "Values of the Go operator's
chart". */}}

{{/* "set" when the value at the dotted .path of .root.Values is present and not null. */}}
{{- define "lko.goSet" -}}
{{- $node := .root.Values }}
{{- $set := true }}
{{- range splitList "." .path }}
{{- if and $set (kindIs "map" $node) (hasKey $node .) }}{{ $node = index $node . }}{{ else }}{{ $set = false }}{{ end }}
{{- end }}
{{- if and $set (not (kindIs "invalid" $node)) }}set{{ end }}
{{- end }}

{{/* Go values read in place of (or with) one of ours: Go value -> what it becomes. */}}
{{- define "lko.goRenames" -}}
image.pullSecrets: imagePullSecrets (combined)
extraEnv: operator.extraEnv (combined)
containerSecurityContext: securityContext
podDisruptionBudget.maxUnavailable: "podDisruptionBudget.minAvailable (the PodDisruptionBudget gets maxUnavailable)"
metrics.enabled: metrics.service.enabled
metrics.port: "the metrics Service's port (the pod serves /metrics on 8081)"
webhook.enabled: webhooks.enabled
webhook.port: webhooks.port
webhook.certManager.enabled: "webhooks.certificates (true: cert-manager, false: self-signed)"
locustPods.runtimeClassName: locustPods.defaultRuntimeClassName
locustPods.ttlSecondsAfterFinished: locustPods.jobTtlSecondsAfterFinished
config.loadGenerationJobs.ttlSecondsAfterFinished: locustPods.jobTtlSecondsAfterFinished
otelCollector.enabled: openTelemetry.collector.deploy
otelCollector.image: openTelemetry.collector.image.repository and .tag
otelCollector.replicas: openTelemetry.collector.replicas
otelCollector.resources: openTelemetry.collector.resources
otelCollector.podSecurityContext: "podSecurityContext (the collector's pod only)"
otelCollector.containerSecurityContext: "securityContext (the collector's container only)"
k8s.clusterRole.enabled: "watchNamespaces (true: [], every namespace; false: [the release namespace])"
{{- end }}

{{/* NOTES lines for the Go values read: renamed ones, then those without effect here. */}}
{{- define "lko.goNotes" -}}
{{- range $go, $ours := include "lko.goRenames" . | fromYaml }}
{{- if include "lko.goSet" (dict "root" $ "path" $go) }}
  {{ $go }} -> {{ $ours }}
{{- end }}
{{- end }}
{{- if kindIs "bool" .Values.metrics.secure }}
  metrics.secure -> metrics.secure.enabled
{{- end }}
{{- if include "lko.goSet" (dict "root" . "path" "kafka") }}
  kafka: no effect (Kafka disabled; this operator passes no Kafka settings); remove it
{{- end }}
{{- if include "lko.goSet" (dict "root" . "path" "config.loadGenerationPods.kafka") }}
  config.loadGenerationPods.kafka: no effect (Kafka disabled); remove it
{{- end }}
{{- if and (include "lko.goSet" (dict "root" . "path" "otelCollector.config")) (not (include "lko.otelDeploy" .)) }}
  otelCollector.config: no effect (no collector deployed); remove it
{{- end }}
{{- end }}

{{/* Fails, naming each, when Go values that cannot work here are set. */}}
{{- define "lko.goCheck" -}}
{{- $errors := list }}
{{- $set := dict }}
{{- range list "kafka.enabled" "k8s.clusterRole.enabled" "locustPods.metricsExporter" "otelCollector.config" "config.loadGenerationPods.resource" "config.loadGenerationPods.affinity" "config.loadGenerationPods.taintTolerations" "config.loadGenerationPods.metricsExporter" }}
{{- $_ := set $set . (include "lko.goSet" (dict "root" $ "path" .)) }}
{{- end }}
{{- if hasSuffix "lotest/locust-k8s-operator" .Values.image.repository }}
{{- $errors = append $errors (printf "image.repository=%s: that is the Go operator's image, which does not understand this chart's settings; remove image.repository and image.tag (the default is this operator's image at the chart's appVersion)" .Values.image.repository) }}
{{- end }}
{{- if and (get $set "kafka.enabled") .Values.kafka.enabled }}
{{- $errors = append $errors "kafka.enabled=true: this operator passes no Kafka settings to Locust pods; remove kafka and set the KAFKA_* variables in each LocustTest's spec.env (variables, or secretRefs for the credentials)" }}
{{- end }}
{{- if and (get $set "k8s.clusterRole.enabled") .Values.watchNamespaces }}
{{- $errors = append $errors "k8s.clusterRole.enabled and watchNamespaces are both set: remove k8s.clusterRole (its false means watchNamespaces: [<release namespace>], its true watchNamespaces: [])" }}
{{- end }}
{{- if get $set "locustPods.metricsExporter" }}
{{- $errors = append $errors "locustPods.metricsExporter: this operator adds no locust_exporter sidecar (nothing listens on its port); every test's Locust statistics are on the operator's /metrics (metrics.service.enabled, metrics.serviceMonitor.enabled) and sent with OpenTelemetry; remove locustPods.metricsExporter" }}
{{- end }}
{{- if and (get $set "otelCollector.config") (include "lko.otelDeploy" .) }}
{{- $errors = append $errors "otelCollector.config: this chart writes the collector's configuration (OTLP in; exporters from openTelemetry.collector.exporters.otlp, .prometheus, .debug); remove otelCollector.config and set those, or run your own collector (openTelemetry.collector.deploy=false, openTelemetry.collector.externalEndpoint)" }}
{{- end }}
{{- if get $set "config.loadGenerationPods.resource" }}
{{- $errors = append $errors "config.loadGenerationPods.resource: the 1.x chart's layout (in the Go chart the locustPods.resources defaults took its place); set locustPods.resources.requests/limits (cpu, memory, ephemeralStorage) instead" }}
{{- end }}
{{- if get $set "config.loadGenerationPods.affinity" }}
{{- $errors = append $errors "config.loadGenerationPods.affinity: the 1.x chart's layout (in the Go chart locustPods.affinityInjection took its place); set locustPods.affinityInjection instead" }}
{{- end }}
{{- if get $set "config.loadGenerationPods.taintTolerations" }}
{{- $errors = append $errors "config.loadGenerationPods.taintTolerations: the 1.x chart's layout (in the Go chart locustPods.tolerationsInjection took its place); set locustPods.tolerationsInjection instead" }}
{{- end }}
{{- if get $set "config.loadGenerationPods.metricsExporter" }}
{{- $errors = append $errors "config.loadGenerationPods.metricsExporter: this operator adds no locust_exporter sidecar; every test's Locust statistics are on the operator's /metrics; remove it" }}
{{- end }}
{{- with $errors }}
{{- fail (printf "values of the Go operator's chart that cannot work here (chart README, \"Values of the Go operator's chart\"):\n- %s" (join "\n- " .)) }}
{{- end }}
{{- end }}

{{/* Our values, or the Go chart's in their place when set. Booleans print "true" or "". */}}
{{- define "lko.webhooksEnabled" -}}
{{- if include "lko.goSet" (dict "root" . "path" "webhook.enabled") }}{{ if .Values.webhook.enabled }}true{{ end }}
{{- else if .Values.webhooks.enabled }}true{{ end }}
{{- end }}

{{- define "lko.certificates" -}}
{{- if include "lko.goSet" (dict "root" . "path" "webhook.certManager.enabled") }}
{{- if .Values.webhook.certManager.enabled }}cert-manager{{ else }}self-signed{{ end }}
{{- else }}{{ .Values.webhooks.certificates }}{{ end }}
{{- end }}

{{- define "lko.webhookPort" -}}
{{- if include "lko.goSet" (dict "root" . "path" "webhook.port") }}{{ int64 .Values.webhook.port }}
{{- else }}{{ int64 .Values.webhooks.port }}{{ end }}
{{- end }}

{{/* watchNamespaces as JSON. */}}
{{- define "lko.watchNamespaces" -}}
{{- if include "lko.goSet" (dict "root" . "path" "k8s.clusterRole.enabled") }}
{{- if .Values.k8s.clusterRole.enabled }}{{ list | toJson }}{{ else }}{{ list .Release.Namespace | toJson }}{{ end }}
{{- else }}{{ .Values.watchNamespaces | default list | toJson }}{{ end }}
{{- end }}

{{/* imagePullSecrets as JSON, with the Go chart's image.pullSecrets. */}}
{{- define "lko.imagePullSecrets" -}}
{{- $go := list }}
{{- if include "lko.goSet" (dict "root" . "path" "image.pullSecrets") }}{{ $go = .Values.image.pullSecrets }}{{ end }}
{{- concat $go (.Values.imagePullSecrets | default list) | uniq | toJson }}
{{- end }}

{{/* The operator's extra environment variables (YAML), the Go chart's extraEnv first. */}}
{{- define "lko.extraEnv" -}}
{{- $go := list }}
{{- if include "lko.goSet" (dict "root" . "path" "extraEnv") }}{{ $go = .Values.extraEnv }}{{ end }}
{{- with concat $go (.Values.operator.extraEnv | default list) }}{{ toYaml . }}{{ end }}
{{- end }}

{{/* The operator container's security context (YAML). */}}
{{- define "lko.securityContext" -}}
{{- if include "lko.goSet" (dict "root" . "path" "containerSecurityContext") }}{{ toYaml .Values.containerSecurityContext }}
{{- else }}{{ toYaml .Values.securityContext }}{{ end }}
{{- end }}

{{- define "lko.metricsService" -}}
{{- if include "lko.goSet" (dict "root" . "path" "metrics.enabled") }}{{ if .Values.metrics.enabled }}true{{ end }}
{{- else if .Values.metrics.service.enabled }}true{{ end }}
{{- end }}

{{- define "lko.metricsPort" -}}
{{- if include "lko.goSet" (dict "root" . "path" "metrics.port") }}{{ int64 .Values.metrics.port }}
{{- else if include "lko.metricsSecure" . }}8443{{ else }}8081{{ end }}
{{- end }}

{{/* "true" when /metrics is HTTPS with authentication (metrics.secure.enabled, or the Go
chart's boolean metrics.secure). */}}
{{- define "lko.metricsSecure" -}}
{{- $s := .Values.metrics.secure }}
{{- if kindIs "map" $s }}{{ if $s.enabled }}true{{ end }}{{ else if $s }}true{{ end }}
{{- end }}

{{/* The Secret of metrics.secure.certSecret, when secure metrics use one. */}}
{{- define "lko.metricsCertSecret" -}}
{{- if and (include "lko.metricsSecure" .) (kindIs "map" .Values.metrics.secure) }}{{ .Values.metrics.secure.certSecret }}{{ end }}
{{- end }}

{{/* A ServiceMonitor. .root: the chart's context; .name; .sm: its values (namespace,
interval, scrapeTimeout, labels, annotations, honorLabels, relabelings,
metricRelabelings); .selector: the Service's matchLabels (YAML); .endpoint: the endpoint's
port, path and TLS fields (YAML). It always selects Services of the release namespace. */}}
{{- define "lko.serviceMonitor" -}}
{{- $sm := .sm }}
apiVersion: monitoring.coreos.com/v1
kind: ServiceMonitor
metadata:
  name: {{ .name }}
  namespace: {{ $sm.namespace | default .root.Release.Namespace }}
  labels:
    {{- include "lko.labels" .root | nindent 4 }}
    {{- with $sm.labels }}
    {{- toYaml . | nindent 4 }}
    {{- end }}
  {{- with $sm.annotations }}
  annotations:
    {{- toYaml . | nindent 4 }}
  {{- end }}
spec:
  selector:
    matchLabels:
      {{- .selector | nindent 6 }}
  namespaceSelector:
    matchNames:
      - {{ .root.Release.Namespace }}
  endpoints:
    - {{ .endpoint | indent 6 | trim }}
      {{- with $sm.interval }}
      interval: {{ . }}
      {{- end }}
      {{- with $sm.scrapeTimeout }}
      scrapeTimeout: {{ . }}
      {{- end }}
      {{- if $sm.honorLabels }}
      honorLabels: true
      {{- end }}
      {{- with $sm.relabelings }}
      relabelings:
        {{- toYaml . | nindent 8 }}
      {{- end }}
      {{- with $sm.metricRelabelings }}
      metricRelabelings:
        {{- toYaml . | nindent 8 }}
      {{- end }}
{{- end }}

{{/* The PodDisruptionBudget's budget: the Go chart's maxUnavailable, or minAvailable. */}}
{{- define "lko.pdbBudget" -}}
{{- if include "lko.goSet" (dict "root" . "path" "podDisruptionBudget.maxUnavailable") }}maxUnavailable: {{ int64 .Values.podDisruptionBudget.maxUnavailable }}
{{- else }}minAvailable: {{ .Values.podDisruptionBudget.minAvailable }}{{ end }}
{{- end }}

{{/* DEFAULT_RUNTIME_CLASS_NAME; the Go chart's "" meant unset. */}}
{{- define "lko.defaultRuntimeClassName" -}}
{{- if and (include "lko.goSet" (dict "root" . "path" "locustPods.runtimeClassName")) .Values.locustPods.runtimeClassName }}{{ .Values.locustPods.runtimeClassName }}
{{- else }}{{ .Values.locustPods.defaultRuntimeClassName }}{{ end }}
{{- end }}

{{/* JOB_TTL_SECONDS_AFTER_FINISHED, empty when unset; the Go chart's "" meant unset. */}}
{{- define "lko.jobTtl" -}}
{{- $ttl := .Values.locustPods.jobTtlSecondsAfterFinished }}
{{- if and (include "lko.goSet" (dict "root" . "path" "config.loadGenerationJobs.ttlSecondsAfterFinished")) (ne (toString .Values.config.loadGenerationJobs.ttlSecondsAfterFinished) "") }}
{{- $ttl = .Values.config.loadGenerationJobs.ttlSecondsAfterFinished }}
{{- end }}
{{- if and (include "lko.goSet" (dict "root" . "path" "locustPods.ttlSecondsAfterFinished")) (ne (toString .Values.locustPods.ttlSecondsAfterFinished) "") }}
{{- $ttl = .Values.locustPods.ttlSecondsAfterFinished }}
{{- end }}
{{- if not (kindIs "invalid" $ttl) }}{{ int64 $ttl }}{{ end }}
{{- end }}

{{- define "lko.otelDeploy" -}}
{{- if include "lko.goSet" (dict "root" . "path" "otelCollector.enabled") }}{{ if .Values.otelCollector.enabled }}true{{ end }}
{{- else if .Values.openTelemetry.collector.deploy }}true{{ end }}
{{- end }}

{{- define "lko.otelImage" -}}
{{- if and (include "lko.goSet" (dict "root" . "path" "otelCollector.image")) .Values.otelCollector.image }}{{ .Values.otelCollector.image }}
{{- else }}{{ include "lko.image" (dict "root" . "image" .Values.openTelemetry.collector.image "defaultTag" "") }}{{ end }}
{{- end }}

{{- define "lko.otelReplicas" -}}
{{- if include "lko.goSet" (dict "root" . "path" "otelCollector.replicas") }}{{ int64 .Values.otelCollector.replicas }}
{{- else }}{{ int64 .Values.openTelemetry.collector.replicas }}{{ end }}
{{- end }}

{{- define "lko.otelResources" -}}
{{- if include "lko.goSet" (dict "root" . "path" "otelCollector.resources") }}{{ toYaml .Values.otelCollector.resources }}
{{- else }}{{ toYaml .Values.openTelemetry.collector.resources }}{{ end }}
{{- end }}

{{- define "lko.otelPodSecurityContext" -}}
{{- if include "lko.goSet" (dict "root" . "path" "otelCollector.podSecurityContext") }}{{ toYaml .Values.otelCollector.podSecurityContext }}
{{- else }}{{ toYaml .Values.podSecurityContext }}{{ end }}
{{- end }}

{{- define "lko.otelSecurityContext" -}}
{{- if include "lko.goSet" (dict "root" . "path" "otelCollector.containerSecurityContext") }}{{ toYaml .Values.otelCollector.containerSecurityContext }}
{{- else }}{{ toYaml .Values.securityContext }}{{ end }}
{{- end }}

{{/* Fails when a locusttests.locust.io CRD exists that is neither this release's (Helm's
     meta.helm.sh/release-* annotations) nor this operator's (the labels of the generated
     CRD in files/crd), naming its owner: other operators (the Locust project's Python
     operator, the Go locust-k8s-operator) register the same name, and installing over
     their CRD would replace its schema under their tests. `lookup` sees the cluster only
     on install and upgrade (never under `helm template` or --dry-run=client). */}}
{{- define "lko.refuseForeignCrd" -}}
{{- $root := .root }}
{{- $existing := lookup "apiextensions.k8s.io/v1" "CustomResourceDefinition" "" .crd.metadata.name }}
{{- if $existing }}
{{- $annotations := default dict $existing.metadata.annotations }}
{{- $labels := default dict $existing.metadata.labels }}
{{- $release := and (eq (get $annotations "meta.helm.sh/release-name") $root.Release.Name) (eq (get $annotations "meta.helm.sh/release-namespace") $root.Release.Namespace) }}
{{- $ours := true }}
{{- range $key, $value := default dict .crd.metadata.labels }}
{{- if ne (get $labels $key) $value }}{{ $ours = false }}{{ end }}
{{- end }}
{{- if not (or $release $ours) }}
{{- $owner := "an unknown owner" }}
{{- $names := default dict $existing.spec.names }}
{{- if hasKey $annotations "controller-gen.kubebuilder.io/version" }}
{{- $owner = "the Go locust-k8s-operator" }}
{{- else if has "lt" (default list $names.shortNames) }}
{{- $owner = "the Locust project's Python operator, locustio/k8s-operator" }}
{{- end }}
{{- $details := list }}
{{- with get $annotations "meta.helm.sh/release-name" }}
{{- $details = append $details (printf "installed by Helm release %s in namespace %s" . (get $annotations "meta.helm.sh/release-namespace")) }}
{{- end }}
{{- /* The spec's writer: the API server's own status entries (Established) say nothing. */}}
{{- $writer := "" }}
{{- range default list $existing.metadata.managedFields }}
{{- if not .subresource }}{{ $writer = .manager }}{{ end }}
{{- end }}
{{- with $writer }}
{{- $details = append $details (printf "last written by %s" .) }}
{{- end }}
{{- $why := "" }}
{{- if $details }}{{ $why = printf " (%s)" (join ", " $details) }}{{ end }}
{{- fail (printf "\n\nThe CustomResourceDefinition %s already exists and belongs to %s%s, not to this chart or to locust-k8s-operator. Other operators register the same CRD name, and two of them cannot share it: this chart refuses to replace it.\nTo move to locust-k8s-operator: uninstall the other operator, back up its tests (kubectl get locusttests -A -o yaml > tests.yaml), delete the CRD (kubectl delete crd %s, which deletes every LocustTest in the cluster), then install this chart again.\nComing from the Go locust-k8s-operator, keep your tests instead: follow \"Upgrading from the Go operator\" in the chart's README, which hands the CRD over to this release." .crd.metadata.name $owner $why .crd.metadata.name) }}
{{- end }}
{{- end }}
{{- end }}
