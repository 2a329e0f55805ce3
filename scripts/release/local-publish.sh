# shellcheck shell=bash
# shellcheck disable=SC2154 # dist, bins and the env.sh names are set by steps.sh, which sources this file
# The publishing half of a release, rehearsed on this machine without a Docker engine:
#   - a registry on 127.0.0.1 (`crane registry serve`, go-containerregistry, in memory);
#   - the operator image for linux/amd64 and linux/arm64 built by crane from the static
#     binaries of `make release-binaries` on an EMPTY base (the Dockerfile's is distroless
#     static: the binary needs no libc, CA bundle or passwd file; it talks TLS only to the
#     API server with the service account's CA and serves its own certificates), with the
#     Dockerfile's entrypoint, cmd, user 65532 and labels, then a multi-arch index;
#   - the OLM bundle image (bundle.Dockerfile's files and labels);
#   - the chart package pushed with `helm push` as an OCI artifact;
# then everything pulled back and compared byte for byte; SHA256SUMS, both images and the
# chart signed with cosign (built from its Go module) with a generated key and verified;
# the image index saved as an OCI image layout in DIST/oci/. Not rehearsed: keyless
# signing (needs GitHub's OIDC token and Sigstore's public services) and the distroless
# base (no registry to pull it from).
# Sourced by `scripts/release/steps.sh local-publish` (`make release-local-publish`),
# which sets repo, dist, bins, the names of env.sh (VERSION, REPOSITORY, ...), say, fail.
crane="$bins/crane" helm="$bins/helm" cosign="$bins/cosign"
for tool in "$crane" "$helm" "$cosign"; do
  [ -x "$tool" ] || fail "$tool is missing (tests/cluster/build.sh crane cosign helm)"
done
for arch in amd64 arm64; do
  [ -f "$dist/locust-k8s-operator-linux-$arch" ] || fail "no $dist/locust-k8s-operator-linux-$arch: run make release-binaries"
done
chart="$dist/locust-k8s-operator-$VERSION.tgz"
[ -f "$chart" ] || fail "no $chart: run make release-chart"

work="$(mktemp -d)"
registry_pid=""
cleanup() {
  [ -z "$registry_pid" ] || kill "$registry_pid" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

port="$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
"$crane" registry serve --address "127.0.0.1:$port" > "$work/registry.log" 2>&1 &
registry_pid=$!
for _ in $(seq 1 50); do
  curl -sf "http://127.0.0.1:$port/v2/" > /dev/null && break
  sleep 0.1
done
curl -sf "http://127.0.0.1:$port/v2/" > /dev/null || fail "the registry on 127.0.0.1:$port did not answer: $(cat "$work/registry.log")"
reg="127.0.0.1:$port"
say "registry on $reg"
c() { "$crane" --insecure "$@" 2>> "$work/crane.log" || { cat "$work/crane.log" >&2; return 1; }; }
epoch="$(git log -1 --format=%ct)"
# A reproducible layer: FILES below DIR, owned by root, dated by the commit.
layer() {
  local out=$1 dir=$2
  shift 2
  tar --sort=name --owner=0 --group=0 --numeric-owner --mtime="@$epoch" -cf "$out" -C "$dir" "$@"
}

# ---- the operator image, one manifest per architecture, then the index ----
image="$reg/locust-k8s-operator"
manifests=()
for arch in amd64 arm64; do
  mkdir -p "$work/$arch"
  install -m 0755 "$dist/locust-k8s-operator-linux-$arch" "$work/$arch/locust-k8s-operator"
  layer "$work/$arch.tar" "$work/$arch" locust-k8s-operator
  c append --oci-empty-base -f "$work/$arch.tar" -t "$image:$VERSION-$arch" > /dev/null
  c mutate "$image:$VERSION-$arch" --set-platform "linux/$arch" \
    --entrypoint /locust-k8s-operator --cmd run --user 65532:65532 \
    -l org.opencontainers.image.title=locust-k8s-operator \
    -l "org.opencontainers.image.description=Kubernetes operator that runs distributed Locust load tests" \
    -l org.opencontainers.image.licenses=Apache-2.0 \
    -l "org.opencontainers.image.version=$VERSION" \
    -l "org.opencontainers.image.source=$REPOSITORY" \
    -t "$image:$VERSION-$arch" > /dev/null
  manifests+=(-m "$image:$VERSION-$arch")
done
c index append "${manifests[@]}" -t "$image:$VERSION" > /dev/null

# ---- the bundle image: bundle.Dockerfile's labels and files ----
bundle_image="$reg/locust-k8s-operator-bundle"
layer "$work/bundle.tar" bundle manifests metadata tests
labels=()
while read -r kv; do labels+=(-l "$kv"); done < <(sed -n 's/^LABEL //p' bundle.Dockerfile)
[ ${#labels[@]} -gt 0 ] || fail "bundle.Dockerfile has no LABEL lines"
c append --oci-empty-base -f "$work/bundle.tar" -t "$bundle_image:v$VERSION" > /dev/null
c mutate "$bundle_image:v$VERSION" --set-platform linux/amd64 "${labels[@]}" -t "$bundle_image:v$VERSION" > /dev/null

# ---- the chart as an OCI artifact ----
"$helm" push "$chart" "oci://$reg/charts" --plain-http > "$work/push.log" 2>&1 || fail "helm push: $(cat "$work/push.log")"

# ---- pull everything back and compare ----
check_config='
import json, sys
arch, version, repository = sys.argv[1:]
c = json.load(sys.stdin)
cfg = c["config"]
want = {
    "architecture": (c.get("architecture"), arch),
    "os": (c.get("os"), "linux"),
    "Entrypoint": (cfg.get("Entrypoint"), ["/locust-k8s-operator"]),
    "Cmd": (cfg.get("Cmd"), ["run"]),
    "User": (cfg.get("User"), "65532:65532"),
    "version label": (cfg.get("Labels", {}).get("org.opencontainers.image.version"), version),
    "source label": (cfg.get("Labels", {}).get("org.opencontainers.image.source"), repository),
}
bad = {k: v for k, v in want.items() if v[0] != v[1]}
if bad:
    sys.exit(f"config differs (found, expected): {bad}")
'
index="$(c manifest "$image:$VERSION")"
platforms="$(python3 -c 'import json,sys; print(" ".join(sorted(m["platform"]["os"] + "/" + m["platform"]["architecture"] for m in json.load(sys.stdin)["manifests"])))' <<< "$index")"
[ "$platforms" = "linux/amd64 linux/arm64" ] || fail "the index lists '$platforms', expected linux/amd64 linux/arm64"
for arch in amd64 arm64; do
  ref="$image:$VERSION"
  config="$(c config --platform "linux/$arch" "$ref")"
  python3 -c "$check_config" "$arch" "$VERSION" "$REPOSITORY" <<< "$config" || fail "the linux/$arch image's config"
  c export --platform "linux/$arch" "$ref" - | tar -xO locust-k8s-operator > "$work/pulled-$arch"
  cmp "$work/pulled-$arch" "$dist/locust-k8s-operator-linux-$arch" \
    || fail "the linux/$arch image's binary differs from $dist/locust-k8s-operator-linux-$arch"
done
mkdir -p "$work/bundle-pulled"
c export "$bundle_image:v$VERSION" - | tar -x -C "$work/bundle-pulled"
for d in manifests metadata tests; do
  diff -r "bundle/$d" "$work/bundle-pulled/$d" > /dev/null || fail "the bundle image's $d/ differs from bundle/$d/"
done
bundle_labels="$(c config "$bundle_image:v$VERSION")"
grep -q '"operators.operatorframework.io.bundle.package.v1":"locust-k8s-operator"' <<< "$bundle_labels" \
  || fail "the bundle image lacks the package label"
mkdir -p "$work/chart-pulled"
"$helm" pull "oci://$reg/charts/locust-k8s-operator" --version "$VERSION" --plain-http \
  --destination "$work/chart-pulled" > /dev/null 2>&1 || fail "helm pull of the pushed chart"
cmp "$work/chart-pulled/locust-k8s-operator-$VERSION.tgz" "$chart" || fail "the pulled chart differs from $chart"

# ---- signatures: cosign with a generated key pair, no transparency log ----
# (The workflow signs keyless with GitHub's OIDC token and Sigstore's public services.)
export COSIGN_PASSWORD="" COSIGN_YES=true
(cd "$work" && "$cosign" generate-key-pair > /dev/null 2>> "$work/cosign.log") || fail "cosign generate-key-pair: $(cat "$work/cosign.log")"
sums="$dist/SHA256SUMS"
[ -f "$sums" ] || fail "no $sums: run make release-checksums"
sign() { "$cosign" "$@" 2>> "$work/cosign.log" > /dev/null || fail "cosign $1: $(tail -n 5 "$work/cosign.log")"; }
sign sign-blob --key "$work/cosign.key" --tlog-upload=false --output-signature "$work/SHA256SUMS.sig" "$sums"
sign verify-blob --key "$work/cosign.pub" --insecure-ignore-tlog --signature "$work/SHA256SUMS.sig" "$sums"
{ cat "$sums"; echo "0000  tampered"; } > "$work/SHA256SUMS.tampered"
if "$cosign" verify-blob --key "$work/cosign.pub" --insecure-ignore-tlog --signature "$work/SHA256SUMS.sig" \
  "$work/SHA256SUMS.tampered" > /dev/null 2>&1; then
  fail "cosign accepted the signature for a changed SHA256SUMS"
fi
image_digest="$(c digest "$image:$VERSION")"
chart_digest="$(sed -n 's/^Digest: //p' "$work/push.log")"
[ -n "$chart_digest" ] || fail "helm push printed no digest: $(cat "$work/push.log")"
for ref in "$image@$image_digest" "$bundle_image@$(c digest "$bundle_image:v$VERSION")" \
  "$reg/charts/locust-k8s-operator@$chart_digest"; do
  sign sign --key "$work/cosign.key" --tlog-upload=false --allow-http-registry "$ref"
  sign verify --key "$work/cosign.pub" --insecure-ignore-tlog --allow-http-registry "$ref"
done

# The index as an OCI image layout, for inspection or `crane push` elsewhere.
rm -rf "$dist/oci"
c pull --format oci "$image:$VERSION" "$dist/oci" > /dev/null
python3 -c 'import json,sys; i=json.load(open(sys.argv[1])); assert i["schemaVersion"] == 2 and i["manifests"], i' "$dist/oci/index.json" \
  || fail "$dist/oci is not an OCI image layout"
say "ok: $image:$VERSION ($image_digest; linux/amd64, linux/arm64; binaries identical), bundle image, chart pushed and pulled back identical; SHA256SUMS, images and chart signed and verified (cosign, generated key); OCI layout in $dist/oci"
