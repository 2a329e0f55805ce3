#!/usr/bin/env bash
# Builds the control-plane binaries our tests and `make demo` run, the OpenTelemetry
# Collector of tests/integration/locust_otel.rs, the kstatus reader of
# tests/integration/gitops_health.rs and the Prometheus server and promtool of
# tests/integration/observability.rs, from
# their Go modules, into a cache folder keyed by version, skipping whatever is already
# built, and links them into target/k8s-bin/. On request only (not in the default list):
# the release tools actionlint, crane and cosign (make release-dry-run).
# Versions are pinned here and in the go.mod files beside this script.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)

KUBE_VERSION=$(sed -n 's/^require k8s.io\/kubernetes \(v[0-9.]*\)$/\1/p' "$here/kube/go.mod")
ETCD_VERSION=$(sed -n 's/^require go.etcd.io\/etcd\/server\/v3 \(v[0-9.]*\)$/\1/p' "$here/etcd/go.mod")
KWOK_VERSION=v0.8.0
HELM_VERSION=v3.22.0
# Release tools (make release-dry-run, scripts/release/): not built by default.
ACTIONLINT_VERSION=v1.7.12
CRANE_VERSION=v0.22.1
COSIGN_VERSION=v2.6.5
# The collector's key also hashes its wrapper, so a changed component list rebuilds it.
OTELCOL_VERSION=$(awk '$1 == "go.opentelemetry.io/collector/otelcol" {print $2}' "$here/otelcol/go.mod")
OTELCOL_VERSION=$OTELCOL_VERSION-$(cat "$here/otelcol/main.go" "$here/otelcol/go.mod" | sha256sum | cut -c1-8)

# kstatus (tests/cluster/kstatus): cli-utils' version, and a hash of the wrapper.
KSTATUS_VERSION=$(awk '$1 == "sigs.k8s.io/cli-utils" {print $2}' "$here/kstatus/go.mod")
KSTATUS_VERSION=$KSTATUS_VERSION-$(cat "$here/kstatus/main.go" "$here/kstatus/go.mod" | sha256sum | cut -c1-8)

# Prometheus (its Go module's v0.3xx.y is the server's 3.xx.y), built without service
# discovery plugins (static configs only) and without the embedded web UI.
PROMETHEUS_VERSION=v0.316.0
PROMETHEUS_SERVER_VERSION=$(echo "$PROMETHEUS_VERSION" | sed -E 's/^v0\.30?([0-9]+)\./3.\1./')

cache=${LOCUST_K8S_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/locust-k8s-operator}
links=${K8S_BIN_DIR:-$root/target/k8s-bin}
export CGO_ENABLED=0 GOFLAGS="-trimpath -buildvcs=false"
export GOCACHE=${GOCACHE:-$cache/go-build}
mkdir -p "$links"

# build NAME VERSION DIR-OF-MODULE-OR-EMPTY PACKAGE [LDFLAGS [CACHE-KEY-SUFFIX]]
build() {
  local name=$1 ver=$2 moddir=$3 pkg=$4 ldflags=${5:-} suffix=${6:-}
  local out="$cache/bin/$name-$ver$suffix"
  if [ ! -x "$out/$name" ]; then
    echo "building $name $ver (cached afterwards in $out)" >&2
    local start=$SECONDS
    mkdir -p "$out.tmp"
    if [ -n "$moddir" ]; then
      (cd "$moddir" && go build -ldflags "-s -w $ldflags" -o "$out.tmp/$name" "$pkg")
    else
      GOBIN="$out.tmp" go install -ldflags "-s -w $ldflags" "$pkg@$ver"
    fi
    rm -rf "$out" && mv "$out.tmp" "$out"
    echo "built $name $ver in $((SECONDS - start)) s" >&2
  fi
  ln -sfn "$out/$name" "$links/$name"
}

minor=${KUBE_VERSION#v1.}; minor=${minor%%.*}
kv="-X k8s.io/component-base/version.gitVersion=$KUBE_VERSION \
 -X k8s.io/component-base/version.gitMajor=1 -X k8s.io/component-base/version.gitMinor=$minor \
 -X k8s.io/component-base/version.gitTreeState=clean \
 -X k8s.io/component-base/version.buildDate=1970-01-01T00:00:00Z \
 -X k8s.io/client-go/pkg/version.gitVersion=$KUBE_VERSION \
 -X k8s.io/client-go/pkg/version.gitMajor=1 -X k8s.io/client-go/pkg/version.gitMinor=$minor"

want=${*:-etcd kube-apiserver kube-controller-manager kube-scheduler kubectl kwok helm otelcol kstatus prometheus promtool}
for b in $want; do
  case $b in
    etcd) build etcd "$ETCD_VERSION" "$here/etcd" . ;;
    kube-apiserver|kube-controller-manager|kube-scheduler|kubectl|kubelet|kube-proxy)
      build "$b" "$KUBE_VERSION" "$here/kube" "k8s.io/kubernetes/cmd/$b" "$kv" ;;
    kwok) build kwok "$KWOK_VERSION" "" sigs.k8s.io/kwok/cmd/kwok \
      "-X sigs.k8s.io/kwok/pkg/consts.Version=$KWOK_VERSION" ;;
    # The Kubernetes version `helm template` and `helm lint` assume (a chart's kubeVersion is
    # checked against it), set as helm's own Makefile does; without it helm says v1.20.
    helm) build helm "$HELM_VERSION" "" helm.sh/helm/v3/cmd/helm \
      "-X helm.sh/helm/v3/internal/version.version=$HELM_VERSION \
       -X helm.sh/helm/v3/pkg/chartutil.k8sVersionMajor=1 -X helm.sh/helm/v3/pkg/chartutil.k8sVersionMinor=$minor \
       -X helm.sh/helm/v3/pkg/lint/rules.k8sVersionMajor=1 -X helm.sh/helm/v3/pkg/lint/rules.k8sVersionMinor=$minor" \
      "-k8s1.$minor" ;;
    otelcol) build otelcol "$OTELCOL_VERSION" "$here/otelcol" . ;;
    kstatus) build kstatus "$KSTATUS_VERSION" "$here/kstatus" . ;;
    prometheus|promtool) GOFLAGS="$GOFLAGS -tags=remove_all_sd" build "$b" "$PROMETHEUS_VERSION" "" \
      "github.com/prometheus/prometheus/cmd/$b" \
      "-X github.com/prometheus/common/version.Version=$PROMETHEUS_SERVER_VERSION" -nosd ;;
    actionlint) build actionlint "$ACTIONLINT_VERSION" "" github.com/rhysd/actionlint/cmd/actionlint \
      "-X github.com/rhysd/actionlint.version=$ACTIONLINT_VERSION" ;;
    crane) build crane "$CRANE_VERSION" "" github.com/google/go-containerregistry/cmd/crane ;;
    cosign) build cosign "$COSIGN_VERSION" "" github.com/sigstore/cosign/v2/cmd/cosign \
      "-X sigs.k8s.io/release-utils/version.gitVersion=$COSIGN_VERSION" ;;
    *) echo "build.sh: unknown binary $b" >&2; exit 2 ;;
  esac
done
