#!/usr/bin/env bash
# Fails unless BINARY is a statically linked ELF executable for ARCH (no program
# interpreter, no NEEDED shared libraries) no larger than STATIC_SIZE_LIMIT_MIB (15);
# reports its size; fails if the dependency graph holds OpenSSL (TLS is rustls on ring).
# When ARCH is this machine's, also runs it: `--version` must name the
# crate's version and `crd` must print the committed CRD byte for byte.
#   scripts/image/check-static.sh BINARY [amd64|arm64|x86_64|aarch64]   (default: this machine's)
#   scripts/image/check-static.sh --self-test   (the check must reject a dynamic binary)
set -euo pipefail
repo="$(cd "$(dirname "$0")/../.." && pwd)"
limit_mib="${STATIC_SIZE_LIMIT_MIB:-15}"

fail() { echo "check-static.sh: $*" >&2; exit 1; }

# Prints nothing and returns 0 when $1 is static; otherwise says why and returns 1.
is_static() {
  local bin="$1" why=""
  readelf -lW "$bin" | grep -q 'Requesting program interpreter' && why="it requests a program interpreter"
  if readelf -dW "$bin" | grep -q '(NEEDED)'; then
    why="${why:+$why and }it needs shared libraries: $(readelf -dW "$bin" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p' | paste -sd, -)"
  fi
  [ -z "$why" ] || { echo "$bin is not static: $why" >&2; return 1; }
}

if [ "${1:-}" = "--self-test" ]; then
  dynamic="$(readlink -f "$(command -v bash)")"
  readelf -dW "$dynamic" | grep -q '(NEEDED)' || fail "self-test needs a dynamically linked $dynamic"
  if is_static "$dynamic" 2>/dev/null; then
    fail "self-test: the check accepted the dynamically linked $dynamic"
  fi
  echo "check-static.sh: self-test ok (rejects the dynamically linked $dynamic)"
  exit 0
fi

bin="${1:?usage: $0 BINARY [ARCH] | --self-test}"
arch="${2:-$(uname -m)}"
case "$arch" in
  amd64 | x86_64) arch=x86_64 machine='Advanced Micro Devices X86-64' ;;
  arm64 | aarch64) arch=aarch64 machine='AArch64' ;;
  *) fail "unsupported architecture '$arch'" ;;
esac
[ -f "$bin" ] || fail "$bin does not exist (run make build-static)"
command -v readelf >/dev/null || fail "readelf is needed (Debian: binutils)"

readelf -hW "$bin" | grep -q "Machine: *$machine\$" \
  || fail "$bin is not an $arch ELF executable: $(readelf -hW "$bin" | sed -n 's/^ *Machine: *//p')"
is_static "$bin" || exit 1

if command -v cargo >/dev/null; then
  crates="$(cd "$repo" && cargo tree --locked --target all -e normal,build --prefix none | sed 's/ .*//' | sort -u)"
  grep -qx ring <<< "$crates" || fail "ring is not in the dependency graph (cargo tree)"
  tls_c="$(grep -xE 'openssl|openssl-sys|native-tls|aws-lc-sys|aws-lc-rs' <<< "$crates" | paste -sd, - || true)"
  [ -z "$tls_c" ] || fail "the dependency graph holds $tls_c; the binary must use rustls on ring only"
fi

bytes="$(stat -c %s "$bin")"
mib="$(awk -v b="$bytes" 'BEGIN { printf "%.1f", b / 1048576 }')"
[ "$bytes" -le $((limit_mib * 1048576)) ] || fail "$bin is $mib MiB, over the $limit_mib MiB limit"
command -v file >/dev/null && echo "check-static.sh: $(file -b "$bin")"

if [ "$arch" = "$(uname -m)" ]; then
  version="$(sed -n 's/^version = "\(.*\)"$/\1/p' "$repo/Cargo.toml" | head -n 1)"
  out="$("$bin" --version)"
  [ "$out" = "locust-k8s-operator $version" ] || fail "$bin --version printed '$out', expected 'locust-k8s-operator $version'"
  "$bin" crd | cmp -s - "$repo/crd/locusttests.locust.io.yaml" \
    || fail "$bin crd differs from crd/locusttests.locust.io.yaml"
  echo "check-static.sh: runs here: '$out', crd matches crd/locusttests.locust.io.yaml"
fi
echo "check-static.sh: ok: $bin is a static $arch executable of $bytes bytes ($mib MiB, limit $limit_mib MiB)"
