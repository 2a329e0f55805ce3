#!/usr/bin/env bash
# Prints the path of the Gateway API's standard HTTPRoute CRD (for tests/integration/web_ui.rs), taken
# from the Go module sigs.k8s.io/gateway-api through the Go module proxy (never GitHub)
# and cached by version. Everything else goes to stderr.
set -euo pipefail
GATEWAY_API_VERSION=v1.6.3
cache=${LOCUST_K8S_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/locust-k8s-operator}
out="$cache/gateway-api-$GATEWAY_API_VERSION/gateway.networking.k8s.io_httproutes.yaml"
if [ ! -s "$out" ]; then
  command -v go >/dev/null || { echo "httproute-crd.sh: go is needed to download the Gateway API module" >&2; exit 1; }
  dir=$(cd "${TMPDIR:-/tmp}" && GOFLAGS=-mod=mod go mod download -json "sigs.k8s.io/gateway-api@$GATEWAY_API_VERSION" \
    | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')
  [ -n "$dir" ] || { echo "httproute-crd.sh: go mod download gave no module folder" >&2; exit 1; }
  mkdir -p "$(dirname "$out")"
  cp "$dir/config/crd/standard/gateway.networking.k8s.io_httproutes.yaml" "$out.tmp"
  mv "$out.tmp" "$out"
  echo "httproute-crd.sh: Gateway API $GATEWAY_API_VERSION HTTPRoute CRD cached in $out" >&2
fi
echo "$out"
