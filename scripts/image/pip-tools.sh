#!/usr/bin/env bash
# Installs pinned PyPI packages into a venv cached by name and versions, once, and prints
# the venv's bin directory on stdout (everything else goes to stderr).
#   scripts/image/pip-tools.sh ziglang==0.17.0 cargo-zigbuild==0.24.0
# The venv is ~/.cache/locust-k8s-operator/venv-<pkg>-<version>[-<pkg>-<version>...]; a run
# cut short leaves no `.installed` stamp and the next run starts over. Needs python3 with
# venv (installed from Debian when missing and running as root, e.g. in the Dockerfile).
set -euo pipefail
[ $# -gt 0 ] || { echo "usage: $0 PKG==VERSION..." >&2; exit 2; }
name="venv"
for spec in "$@"; do
  case "$spec" in
    *==*) name="$name-${spec%%==*}-${spec##*==}" ;;
    *) echo "pip-tools.sh: pin every package (NAME==VERSION), got '$spec'" >&2; exit 2 ;;
  esac
done
venv="${XDG_CACHE_HOME:-$HOME/.cache}/locust-k8s-operator/$name"
if [ -f "$venv/.installed" ]; then
  echo "$venv/bin"
  exit 0
fi
if ! { command -v python3 >/dev/null && python3 -c 'import ensurepip' 2>/dev/null; }; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    echo "pip-tools.sh: installing python3-venv from Debian" >&2
    apt-get update -qq >&2 && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends python3 python3-venv >&2
  else
    echo "pip-tools.sh: python3 with venv is needed (Debian: apt-get install python3-venv)" >&2
    exit 1
  fi
fi
start=$SECONDS
rm -rf "$venv"
mkdir -p "$(dirname "$venv")"
python3 -m venv "$venv" >&2
"$venv/bin/pip" install -q --disable-pip-version-check "$@" >&2
touch "$venv/.installed"
echo "pip-tools.sh: $* installed in $venv in $((SECONDS - start)) s" >&2
echo "$venv/bin"
