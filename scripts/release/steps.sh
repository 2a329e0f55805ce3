#!/usr/bin/env bash
# One step of a release, into DIST (default target/dist), each checking its own output.
# `make release-dry-run` runs them all here; .github/workflows/release.yml runs the same
# make targets on a pushed tag, then does what needs the real registries (pushes, keyless
# signing) with the files they leave in DIST. CONTRIBUTING.md ("Releasing") explains.
#   scripts/release/steps.sh binaries|sbom|chart|bundle|notes|checksums|workflow|local-publish
# Environment: DIST, TAG (default v<Cargo.toml version>), K8S_BIN_DIR (helm,
# operator-sdk, actionlint, crane), CARGO.
# shellcheck disable=SC2153 # VERSION, IMAGE, ... come from env.sh through eval
set -euo pipefail
repo="$(cd "$(dirname "$0")/../.." && pwd)"
cd "$repo"
eval "$(scripts/release/env.sh)"
dist="${DIST:-$repo/target/dist}"
bins="${K8S_BIN_DIR:-$repo/target/k8s-bin}"
cargo="${CARGO:-cargo}"
mkdir -p "$dist"
step="${1:?usage: steps.sh STEP}"
say() { echo "release $step: $*" >&2; }
fail() { echo "release $step: FAILED: $*" >&2; exit 1; }
repo_gen() { "$cargo" run -q -p repo-gen -- "$@"; }

CARGO_CYCLONEDX_VERSION=0.5.9 # crates.io, built once by scripts/cargo-tool.sh

case "$step" in
binaries)
  # The static musl binaries the image is made of (the Dockerfile runs the same script).
  for arch in amd64 arm64; do
    bin="$(scripts/image/build-static.sh "$arch")"
    scripts/image/check-static.sh "$bin" "$arch" >&2
    cp "$bin" "$dist/locust-k8s-operator-linux-$arch"
  done
  native="$dist/locust-k8s-operator-linux-amd64"
  [ "$(uname -m)" = x86_64 ] || native="$dist/locust-k8s-operator-linux-arm64"
  version_line="$("$native" --version)"
  [[ "$version_line" == *" $VERSION" ]] || fail "--version printed '$version_line', expected version $VERSION"
  # The other architecture's binary runs under qemu-user and prints the same.
  ARM64_BIN="$dist/locust-k8s-operator-linux-arm64" NATIVE_BIN="$native" scripts/image/check-arm64.sh >&2
  say "ok: locust-k8s-operator-linux-amd64, locust-k8s-operator-linux-arm64 ($version_line)"
  ;;
sbom)
  # CycloneDX 1.5 SBOM of the operator crate, from Cargo.lock's resolution for each
  # image architecture; timestamp = the commit's date (SOURCE_DATE_EPOCH), so it is
  # reproducible. cargo-cyclonedx writes beside every workspace manifest: keep the root's.
  tool="$(scripts/cargo-tool.sh cargo-cyclonedx "$CARGO_CYCLONEDX_VERSION")"
  export SOURCE_DATE_EPOCH="${SOURCE_DATE_EPOCH:-$(git log -1 --format=%ct)}"
  for arch in amd64 arm64; do
    case "$arch" in amd64) triple=x86_64-unknown-linux-musl ;; arm64) triple=aarch64-unknown-linux-musl ;; esac
    name="release-sbom-$$"
    "$tool/cargo-cyclonedx" cyclonedx --manifest-path Cargo.toml --format json --spec-version 1.5 \
      --target "$triple" --override-filename "$name" --quiet
    mv "$name.json" "$dist/locust-k8s-operator-linux-$arch.cdx.json"
    find . -name "$name.json" -not -path './target/*' -delete
    repo_gen --file "$dist/locust-k8s-operator-linux-$arch.cdx.json" release-sbom \
      || fail "the $arch SBOM does not describe the operator (above)"
  done
  count="$(grep -c '"bom-ref": "registry+' "$dist/locust-k8s-operator-linux-amd64.cdx.json" || true)"
  say "ok: CycloneDX SBOMs for amd64 and arm64 ($count crates with versions, licenses and Cargo.lock's checksums)"
  ;;
chart)
  # `helm package` with the release version, lint of the package, its metadata checked.
  helm="$bins/helm"
  [ -x "$helm" ] || fail "$helm is missing: run tests/cluster/build.sh helm"
  rm -f "$dist"/locust-k8s-operator-*.tgz
  "$helm" package charts/locust-k8s-operator --version "$VERSION" --app-version "$VERSION" \
    --destination "$dist" >&2
  pkg="$dist/locust-k8s-operator-$VERSION.tgz"
  [ -f "$pkg" ] || fail "helm package wrote no $pkg"
  "$helm" lint --strict "$pkg" >&2
  "$helm" show chart "$pkg" > "$dist/.chart.yaml"
  repo_gen --file "$dist/.chart.yaml" release-chart || fail "the packaged chart's metadata (above)"
  rm -f "$dist/.chart.yaml"
  # The package renders (the CRD and the operator Deployment with the release image).
  rendered="$("$helm" template release-check "$pkg")"
  grep -q "image: \"$IMAGE:$VERSION\"" <<< "$rendered" || fail "the packaged chart does not run $IMAGE:$VERSION"
  grep -q '^kind: CustomResourceDefinition' <<< "$rendered" || fail "the packaged chart has no CRD"
  say "ok: $(basename "$pkg") (helm lint --strict, version $VERSION, image $IMAGE:$VERSION)"
  ;;
bundle)
  # The committed bundle is what the generator makes now, and operator-sdk validates it;
  # the bundle image's content (bundle.Dockerfile's COPY lines) as a tarball.
  "$cargo" run -q -p olm-bundle -- --check "$repo" >&2
  sdk="$bins/operator-sdk"
  [ -x "$sdk" ] || fail "$sdk is missing: run make olm-bins"
  "$sdk" bundle validate ./bundle --select-optional suite=operatorframework >&2
  "$sdk" scorecard ./bundle --list --output text > /dev/null
  tar --sort=name --owner=0 --group=0 --numeric-owner --mtime="@$(git log -1 --format=%ct)" \
    -czf "$dist/locust-k8s-operator-bundle-$VERSION.tar.gz" -C bundle manifests metadata tests
  say "ok: bundle current and valid; $(basename "$dist/locust-k8s-operator-bundle-$VERSION.tar.gz")"
  ;;
notes)
  repo_gen --tag "$TAG" release-notes > "$dist/RELEASE-NOTES.md"
  head -n 1 "$dist/RELEASE-NOTES.md" | grep -q "^## $TAG" || fail "RELEASE-NOTES.md does not start with '## $TAG'"
  grep -q '^- ' "$dist/RELEASE-NOTES.md" || fail "RELEASE-NOTES.md lists no change"
  say "ok: RELEASE-NOTES.md ($(grep -c '^- ' "$dist/RELEASE-NOTES.md") changes)"
  ;;
checksums)
  (
    cd "$dist"
    files=(locust-k8s-operator-linux-amd64 locust-k8s-operator-linux-arm64
      locust-k8s-operator-linux-amd64.cdx.json locust-k8s-operator-linux-arm64.cdx.json
      "locust-k8s-operator-$VERSION.tgz" "locust-k8s-operator-bundle-$VERSION.tar.gz")
    for f in "${files[@]}"; do [ -f "$f" ] || fail "$f is missing: run the earlier release steps"; done
    sha256sum "${files[@]}" > SHA256SUMS
    sha256sum --check --quiet SHA256SUMS
  )
  say "ok: SHA256SUMS ($(wc -l < "$dist/SHA256SUMS") files) verifies"
  ;;
workflow)
  # actionlint (Go module, cached by version) on every workflow, with shellcheck (Debian)
  # on their `run:` scripts, and shellcheck on the release scripts; the workflow's make
  # targets against the dry run's are checked by `make release-check`.
  lint="$bins/actionlint"
  [ -x "$lint" ] || fail "$lint is missing: run tests/cluster/build.sh actionlint"
  if ! command -v shellcheck > /dev/null; then
    if [ "$(id -u)" = 0 ] && command -v apt-get > /dev/null; then
      say "installing shellcheck from Debian"
      apt-get update -qq >&2 && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq shellcheck >&2
    else
      fail "shellcheck is needed (Debian: apt-get install shellcheck)"
    fi
  fi
  "$lint" -shellcheck="$(command -v shellcheck)" -pyflakes= .github/workflows/*.yml
  shellcheck -x scripts/release/*.sh
  say "ok: actionlint $("$lint" -version | head -n 1) with shellcheck $(shellcheck --version | sed -n 's/^version: //p') passes"
  ;;
local-publish)
  # shellcheck source=scripts/release/local-publish.sh
  . scripts/release/local-publish.sh
  ;;
*)
  fail "unknown step (binaries|sbom|chart|bundle|notes|checksums|workflow|local-publish)"
  ;;
esac
