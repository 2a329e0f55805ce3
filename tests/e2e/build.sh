#!/usr/bin/env bash
# Builds the binaries of the real node that the end-to-end tests run (kubelet, kube-proxy,
# containerd with its runc shim and ctr, CoreDNS) from their Go modules, into the cache
# folder of tests/cluster/build.sh keyed by version, skipping whatever is already built,
# and links them into target/k8s-bin/ beside the control plane. kubelet and kube-proxy
# are built by tests/cluster/build.sh from its Kubernetes module; the rest here.
# Usage: tests/e2e/build.sh [kubelet|kube-proxy|containerd|coredns]...  (default: all)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)

CONTAINERD_VERSION=v2.4.2
# CoreDNS's key also hashes its wrapper, so a changed plugin list rebuilds it.
COREDNS_VERSION=$(awk '$1 == "require" {$1 = ""; $0 = $0} $1 == "github.com/coredns/coredns" {print $2; exit}' \
  "$here/coredns/go.mod")
COREDNS_VERSION=$COREDNS_VERSION-$(cat "$here/coredns/main.go" "$here/coredns/go.mod" | sha256sum | cut -c1-8)

cache=${LOCUST_K8S_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/locust-k8s-operator}
links=${K8S_BIN_DIR:-$root/target/k8s-bin}
export CGO_ENABLED=0 GOFLAGS="-trimpath -buildvcs=false"
export GOCACHE=${GOCACHE:-$cache/go-build}
mkdir -p "$links"

# build NAME VERSION DIR-OF-MODULE-OR-EMPTY TAGS LDFLAGS PACKAGE...
# Builds the (main) packages, all of one module, into the one folder $cache/bin/NAME-VERSION
# (containerd finds its shim in PATH beside itself) and links each binary.
build() {
  local name=$1 ver=$2 moddir=$3 tags=$4 ldflags=$5
  shift 5
  local out="$cache/bin/$name-$ver" pkg bins=() missing=
  for pkg in "$@"; do
    bins+=("$(basename "$pkg")")
  done
  if [ -n "$moddir" ]; then bins=("$name"); fi
  for b in "${bins[@]}"; do
    [ -x "$out/$b" ] || missing=1
  done
  if [ -n "$missing" ]; then
    echo "building $name $ver (cached afterwards in $out)" >&2
    local start=$SECONDS
    rm -rf "$out.tmp" && mkdir -p "$out.tmp"
    if [ -n "$moddir" ]; then
      (cd "$moddir" && nice -n 10 go build -tags "$tags" -ldflags "-s -w $ldflags" -o "$out.tmp/$name" "$@")
    else
      GOBIN="$out.tmp" nice -n 10 go install -tags "$tags" -ldflags "-s -w $ldflags" "${@/%/@$ver}"
    fi
    rm -rf "$out" && mv "$out.tmp" "$out"
    echo "built $name $ver in $((SECONDS - start)) s" >&2
  fi
  for b in "${bins[@]}"; do
    ln -sfn "$out/$b" "$links/$b"
  done
}

want=${*:-kubelet kube-proxy containerd coredns}
kube=()
for b in $want; do
  case $b in
    kubelet|kube-proxy) kube+=("$b") ;;
    containerd|containerd-shim-runc-v2|ctr)
      # btrfs snapshotter needs cgo; the tag leaves out generating the CLI docs.
      build containerd "$CONTAINERD_VERSION" "" "no_btrfs urfave_cli_no_docs" \
        "-X github.com/containerd/containerd/v2/version.Version=$CONTAINERD_VERSION" \
        github.com/containerd/containerd/v2/cmd/containerd \
        github.com/containerd/containerd/v2/cmd/containerd-shim-runc-v2 \
        github.com/containerd/containerd/v2/cmd/ctr ;;
    coredns) build coredns "$COREDNS_VERSION" "$here/coredns" "" "" . ;;
    *) echo "build.sh: unknown binary $b" >&2; exit 2 ;;
  esac
done
if [ ${#kube[@]} -gt 0 ]; then
  K8S_BIN_DIR=$links "$root/tests/cluster/build.sh" "${kube[@]}"
fi
