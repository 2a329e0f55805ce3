#!/usr/bin/env bash
# The arm64 half of the image, proven here: cross-builds the static aarch64 binary
# (build-static.sh arm64), checks it is static, then runs it under qemu-user (Debian's
# qemu-user-static, installed when missing and running as root) and compares its
# `--version` and `crd` output with the x86_64 static binary's and the committed CRD.
#   scripts/image/check-arm64.sh
# ARM64_BIN / NATIVE_BIN name already built static binaries to use instead of building.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
fail() { echo "check-arm64.sh: $*" >&2; exit 1; }

arm="${ARM64_BIN:-$("$here/build-static.sh" arm64)}"
native="${NATIVE_BIN:-$("$here/build-static.sh")}"
"$here/check-static.sh" "$arm" arm64

run_arm=()
if [ "$(uname -m)" != aarch64 ]; then
  qemu="$(command -v qemu-aarch64-static || command -v qemu-aarch64 || true)"
  if [ -z "$qemu" ]; then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
      echo "check-arm64.sh: installing qemu-user-static from Debian" >&2
      apt-get update -qq >&2
      DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends qemu-user-static >&2
      qemu="$(command -v qemu-aarch64-static)"
    else
      fail "qemu-aarch64 is needed (Debian: apt-get install qemu-user-static)"
    fi
  fi
  echo "check-arm64.sh: $("$qemu" --version | head -n 1)"
  run_arm=("$qemu")
fi

arm_version="$("${run_arm[@]}" "$arm" --version)"
native_version="$("$native" --version)"
[ "$arm_version" = "$native_version" ] \
  || fail "arm64 --version printed '$arm_version', the $(uname -m) binary '$native_version'"
echo "check-arm64.sh: arm64 --version: $arm_version (same as $(uname -m))"

tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
"${run_arm[@]}" "$arm" crd > "$tmp/arm64.yaml"
"$native" crd > "$tmp/native.yaml"
cmp "$tmp/arm64.yaml" "$tmp/native.yaml" || fail "arm64 crd output differs from the $(uname -m) binary's"
cmp "$tmp/arm64.yaml" "$repo/crd/locusttests.locust.io.yaml" \
  || fail "arm64 crd output differs from crd/locusttests.locust.io.yaml"
echo "check-arm64.sh: ok: arm64 crd output ($(wc -c < "$tmp/arm64.yaml") bytes) is identical to the $(uname -m) binary's and crd/locusttests.locust.io.yaml"
