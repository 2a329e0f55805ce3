#!/usr/bin/env bash
# Builds operator-sdk (for `operator-sdk bundle validate`) and the scorecard's test program
# from its Go module, pinned in
# go.mod beside this script, into a cache folder keyed by version, skipping it when already
# built; links it into target/k8s-bin/ with OLM's ClusterServiceVersion CRD (from the
# operator-framework/api module operator-sdk uses), which tests/bundle.rs installs into the
# test API server to check the CSV against OLM's own schema.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)

SDK_VERSION=$(sed -n 's/^[[:space:]]*github.com\/operator-framework\/operator-sdk \(v[0-9.]*\).*$/\1/p' "$here/go.mod")
[ -n "$SDK_VERSION" ] || { echo "build.sh: no operator-sdk version in $here/go.mod" >&2; exit 2; }

cache=${LOCUST_K8S_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/locust-k8s-operator}
links=${K8S_BIN_DIR:-$root/target/k8s-bin}
export CGO_ENABLED=0 GOFLAGS="-trimpath -buildvcs=false"
export GOCACHE=${GOCACHE:-$cache/go-build}
out="$cache/bin/operator-sdk-$SDK_VERSION"
csv_crd=operators.coreos.com_clusterserviceversions.yaml

if [ ! -x "$out/operator-sdk" ] || [ ! -f "$out/$csv_crd" ]; then
  echo "building operator-sdk $SDK_VERSION (cached afterwards in $out)" >&2
  start=$SECONDS
  rm -rf "$out.tmp" && mkdir -p "$out.tmp"
  cd "$here"
  # containers_image_openpgp: the pure-Go signature code of containers/image (no gpgme),
  # as operator-sdk's own Makefile builds it.
  go build -tags containers_image_openpgp \
    -ldflags "-s -w -X github.com/operator-framework/operator-sdk/internal/version.Version=$SDK_VERSION -X github.com/operator-framework/operator-sdk/internal/version.GitVersion=$SDK_VERSION" \
    -o "$out.tmp/operator-sdk" github.com/operator-framework/operator-sdk/cmd/operator-sdk
  api_dir=$(go list -m -f '{{.Dir}}' github.com/operator-framework/api)
  cp "$api_dir/crds/$csv_crd" "$out.tmp/$csv_crd"
  chmod u+w "$out.tmp/$csv_crd"
  rm -rf "$out" && mv "$out.tmp" "$out"
  echo "built operator-sdk $SDK_VERSION in $((SECONDS - start)) s" >&2
fi
# The scorecard's test program (the `scorecard-test` image's entrypoint), from the same
# module: tools/olm-bundle/tests/scorecard.rs runs its bundle tests on bundle/ offline.
sc_out="$cache/bin/scorecard-test-$SDK_VERSION"
if [ ! -x "$sc_out/scorecard-test" ]; then
  echo "building scorecard-test $SDK_VERSION (cached afterwards in $sc_out)" >&2
  start=$SECONDS
  rm -rf "$sc_out.tmp" && mkdir -p "$sc_out.tmp"
  (cd "$here" && go build -tags containers_image_openpgp -ldflags "-s -w" \
    -o "$sc_out.tmp/scorecard-test" github.com/operator-framework/operator-sdk/images/scorecard-test)
  rm -rf "$sc_out" && mv "$sc_out.tmp" "$sc_out"
  echo "built scorecard-test $SDK_VERSION in $((SECONDS - start)) s" >&2
fi
mkdir -p "$links/olm"
ln -sfn "$sc_out/scorecard-test" "$links/scorecard-test"
ln -sfn "$out/operator-sdk" "$links/operator-sdk"
ln -sfn "$out/$csv_crd" "$links/olm/$csv_crd"
