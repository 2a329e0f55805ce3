#!/usr/bin/env bash
# Installs the pinned Locust (with the `otel` extra) from PyPI into a cached venv, once.
# Prints the path of the `locust` executable on stdout (everything else goes to stderr).
# Warm runs find the finished venv (its `.installed` stamp) and return at once; a run cut
# short leaves no stamp and the next run starts over. Needs python3 (>= 3.10) with venv and
# network access to PyPI on the first run.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
# Keep in step with requirements.txt (the pin) and LOCUST_VERSION in tests/integration/locust_real.rs.
LOCUST_VERSION=2.43.1
venv="${XDG_CACHE_HOME:-$HOME/.cache}/locust-k8s-operator/venv-locust-${LOCUST_VERSION}"
bin="$venv/bin/locust"
if [ -f "$venv/.installed" ] && [ -x "$bin" ]; then
  echo "$bin"
  exit 0
fi
command -v python3 >/dev/null || { echo "install.sh: python3 is needed to install Locust" >&2; exit 1; }
start=$SECONDS
rm -rf "$venv"
mkdir -p "$(dirname "$venv")"
python3 -m venv "$venv" >&2
"$venv/bin/pip" install -q --disable-pip-version-check -r "$here/requirements.txt" >&2
"$bin" --version >&2
touch "$venv/.installed"
echo "install.sh: Locust ${LOCUST_VERSION} installed in $((SECONDS - start)) s" >&2
echo "$bin"
