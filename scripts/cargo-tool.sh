#!/usr/bin/env bash
# Installs a pinned crates.io tool with `cargo install --locked`, once, into a folder cached
# by name and version, and prints its bin directory on stdout (everything else on stderr).
#   scripts/cargo-tool.sh cargo-deny 0.20.2
# The folder is ~/.cache/locust-k8s-operator/<crate>-<version>; a run cut short leaves
# no `.installed` stamp and the next run starts over. Built with the repo's toolchain
# (rust-toolchain.toml), niced: it shares the machine with the tests.
set -euo pipefail
[ $# -eq 2 ] || { echo "usage: $0 CRATE VERSION" >&2; exit 2; }
crate="$1" version="$2"
root="${XDG_CACHE_HOME:-$HOME/.cache}/locust-k8s-operator/$crate-$version"
if [ -f "$root/.installed" ]; then
  echo "$root/bin"
  exit 0
fi
start=$SECONDS
rm -rf "$root"
mkdir -p "$root"
# Its own target dir (removed afterwards): the workspace's would mix with the project's.
build="$(mktemp -d)"
trap 'rm -rf "$build"' EXIT
CARGO_TARGET_DIR="$build" nice -n 10 cargo install --locked --quiet --root "$root" \
  --version "=$version" "$crate" >&2
touch "$root/.installed"
echo "cargo-tool.sh: $crate $version installed in $root in $((SECONDS - start)) s" >&2
echo "$root/bin"
