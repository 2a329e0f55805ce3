#!/usr/bin/env bash
# `make e2e-roundtrip`: brings the real node up and down twice, with a pod run each time,
# and fails if the host (tests/e2e/host-state.sh) differs from before the first `up`.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
export E2E_DIR=${E2E_DIR:-$root/target/e2e}
# The pod below needs the Locust image only (the sandbox needs pause).
export E2E_IMAGES=${E2E_IMAGES:-pause locust}
BIN=${K8S_BIN_DIR:-$root/target/k8s-bin}
mkdir -p "$E2E_DIR"
"$here/host-state.sh" >"$E2E_DIR/roundtrip-before.txt"
status=0
for round in 1 2; do
  start=$SECONDS
  "$here/node.sh" up
  kc=("$BIN/kubectl" --kubeconfig "$E2E_DIR/cluster/kubeconfig")
  # A pod that resolves a Service name through CoreDNS and reaches the API server.
  "${kc[@]}" run dns-check --image=locustio/locust:2.43.1 --restart=Never --command -- \
    python3 -c 'import socket; print(socket.gethostbyname("kubernetes.default.svc.cluster.local"))'
  "${kc[@]}" wait pod/dns-check --for=jsonpath='{.status.phase}'=Succeeded --timeout=120s || status=1
  "${kc[@]}" logs dns-check || status=1
  "$here/node.sh" down
  "$here/host-state.sh" >"$E2E_DIR/roundtrip-after-$round.txt"
  if diff -u "$E2E_DIR/roundtrip-before.txt" "$E2E_DIR/roundtrip-after-$round.txt"; then
    echo "round $round: host state identical ($((SECONDS - start)) s)" >&2
  else
    echo "round $round: the host differs" >&2
    status=1
  fi
done
exit $status
