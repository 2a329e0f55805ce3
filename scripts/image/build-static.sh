#!/usr/bin/env bash
# Builds the operator as a static musl binary (Cargo profile `static`: release with
# opt-level "s") and prints its path on stdout (cargo's output goes to stderr). The ONE
# build recipe: `make build-static`, `make build-static-arm64` and the Dockerfile run it.
# Usage:
#   scripts/image/build-static.sh [amd64|arm64|x86_64|aarch64]   (default: this machine's)
# - Adds the rustup target (rust-std ships musl's libc and start files: Rust links
#   self-contained, no musl-tools needed).
# - ring compiles a few C and assembly files. For the machine's own architecture the host
#   C compiler does it (ring's C needs only memcpy/memset from libc, which musl provides).
# - Cross-building (arm64 on x86_64 or the reverse) uses cargo-zigbuild with zig as C
#   compiler and linker, both from PyPI, cached by version (scripts/image/pip-tools.sh).
set -euo pipefail
repo="$(cd "$(dirname "$0")/../.." && pwd)"
ZIG_VERSION=0.17.0            # PyPI ziglang
CARGO_ZIGBUILD_VERSION=0.24.0 # PyPI cargo-zigbuild

arch="${1:-$(uname -m)}"
case "$arch" in
  amd64 | x86_64) triple=x86_64-unknown-linux-musl ;;
  arm64 | aarch64) triple=aarch64-unknown-linux-musl ;;
  *) echo "build-static.sh: unsupported architecture '$arch' (amd64 or arm64)" >&2; exit 2 ;;
esac
host_arch="$(rustc -vV | sed -n 's/^host: \([^-]*\)-.*/\1/p')"

if command -v rustup >/dev/null && ! rustup target list --installed | grep -qx "$triple"; then
  rustup target add "$triple" >&2
fi

cd "$repo"
start=$SECONDS
if [ "$host_arch" = "${triple%%-*}" ]; then
  cc_var="CC_${triple//-/_}"
  export "$cc_var"="${!cc_var:-cc}"
  echo "build-static.sh: cargo build --target $triple ($cc_var=${!cc_var})" >&2
  cargo build --profile static --locked --target "$triple" --bin locust-k8s-operator >&2
else
  tools="$("$repo/scripts/image/pip-tools.sh" "ziglang==$ZIG_VERSION" "cargo-zigbuild==$CARGO_ZIGBUILD_VERSION")"
  export PATH="$tools:$PATH"
  echo "build-static.sh: cargo zigbuild --target $triple (zig $(python3 -m ziglang version))" >&2
  cargo zigbuild --profile static --locked --target "$triple" --bin locust-k8s-operator >&2
fi
echo "build-static.sh: $triple built in $((SECONDS - start)) s" >&2
target_dir="${CARGO_TARGET_DIR:-target}"
case "$target_dir" in /*) ;; *) target_dir="$repo/$target_dir" ;; esac
echo "$target_dir/$triple/static/locust-k8s-operator"
