#!/usr/bin/env bash
# Prints the folder holding the Prometheus Operator's CRDs (monitoring.coreos.com_*.yaml:
# ServiceMonitor, PrometheusRule, ...), taken from the Go module
# github.com/prometheus-operator/prometheus-operator (example/prometheus-operator-crd/)
# through the Go module proxy and cached by version. Everything else goes to stderr.
set -euo pipefail
PROMETHEUS_OPERATOR_VERSION=v0.85.0
cache=${LOCUST_K8S_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/locust-k8s-operator}
out="$cache/prometheus-operator-crds-$PROMETHEUS_OPERATOR_VERSION"
if [ ! -s "$out/monitoring.coreos.com_servicemonitors.yaml" ]; then
  command -v go >/dev/null || { echo "prometheus-operator-crds.sh: go is needed to download the Prometheus Operator module" >&2; exit 1; }
  dir=$(cd "${TMPDIR:-/tmp}" && GOFLAGS=-mod=mod go mod download -json "github.com/prometheus-operator/prometheus-operator@$PROMETHEUS_OPERATOR_VERSION" \
    | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')
  [ -n "$dir" ] || { echo "prometheus-operator-crds.sh: go mod download gave no module folder" >&2; exit 1; }
  mkdir -p "$out.tmp"
  cp "$dir"/example/prometheus-operator-crd/monitoring.coreos.com_*.yaml "$out.tmp/"
  chmod u+w "$out.tmp"/*.yaml
  rm -rf "$out" && mv "$out.tmp" "$out"
  echo "prometheus-operator-crds.sh: Prometheus Operator $PROMETHEUS_OPERATOR_VERSION CRDs cached in $out" >&2
fi
echo "$out"
