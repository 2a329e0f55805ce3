#!/usr/bin/env bash
# Prints the release's names as KEY=value lines, all derived from Cargo.toml (the one
# place they are written): the version, the tag, the source repository, and where the
# images and the chart go. The release workflow appends them to $GITHUB_ENV; the dry run
# and `make chart` source them.
#   scripts/release/env.sh            # TAG defaults to v<version>
#   TAG=v1.2.3 scripts/release/env.sh # the workflow passes the pushed tag (checked later)
set -euo pipefail
repo="$(cd "$(dirname "$0")/../.." && pwd)"
cargo="$repo/Cargo.toml"
# `key = "value"` of one table of Cargo.toml.
field() {
  awk -v table="[$1]" -v key="$2" '
    /^\[/ { in_table = ($0 == table); next }
    in_table && $1 == key && $2 == "=" { v = $3; gsub(/"/, "", v); print v; exit }
  ' "$cargo"
}
version="$(field package version)"
repository="$(field package repository)"
registry="$(field package.metadata.release registry)"
for pair in "version:$version" "repository:$repository" "registry:$registry"; do
  [ -n "${pair#*:}" ] || { echo "env.sh: no ${pair%%:*} in $cargo" >&2; exit 1; }
done
echo "VERSION=$version"
echo "TAG=${TAG:-v$version}"
echo "REPOSITORY=$repository"
echo "REGISTRY=$registry"
echo "IMAGE=$registry/locust-k8s-operator"
echo "BUNDLE_IMAGE=$registry/locust-k8s-operator-bundle"
echo "CHART_REPO=oci://$registry/charts"
echo "REGISTRY_HOST=${registry%%/*}"
