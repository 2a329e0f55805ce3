#!/usr/bin/env bash
# Installs a pinned crates.io tool with `cargo install --locked`, once, into a folder cached
# by name and version, and prints its bin directory on stdout (everything else on stderr).
#   scripts/cargo-tool.sh cargo-deny 0.20.2
#   scripts/cargo-tool.sh mdbook 0.5.4 --no-default-features --features search
# Arguments after the version go to `cargo install` (features) and are part of the key.
# The folder is ~/.cache/locust-k8s-operator/<crate>-<version>[-<args>]; a run cut short
# leaves no `.installed` stamp and the next run starts over. Built with the repo's toolchain
# (rust-toolchain.toml), niced: it shares the machine with the tests.
set -euo pipefail
[ $# -ge 2 ] || { echo "usage: $0 CRATE VERSION [CARGO-INSTALL-ARGS...]" >&2; exit 2; }
crate="$1" version="$2"
shift 2
key="$crate-$version"
[ $# -eq 0 ] || key="$key-$(printf '%s' "$*" | tr -cs 'A-Za-z0-9' '-' | sed 's/^-*//; s/-*$//')"
root="${XDG_CACHE_HOME:-$HOME/.cache}/locust-k8s-operator/$key"
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
  --version "=$version" "$@" "$crate" >&2
touch "$root/.installed"
echo "cargo-tool.sh: $crate $version installed in $root in $((SECONDS - start)) s" >&2
echo "$root/bin"
