#!/usr/bin/env bash
# `make e2e`: the end-to-end tests on a real node.
#   1. builds what is missing (cached by version): control plane, kubelet, kube-proxy,
#      containerd, CoreDNS, the test-cluster harness, the images;
#   2. snapshots the host (tests/e2e/host-state.sh), brings the node up (node.sh up);
#   3. `helm install`s charts/locust-k8s-operator with its defaults;
#   4. runs tests/e2e.rs (`--ignored`), then the helm-uninstall test on its own, last;
#   5. takes the node down and fails if the host differs from the snapshot.
# Timings go to target/e2e/timings.txt. E2E_KEEP=1 leaves the node up for a look
# (take it down with `make e2e-cluster-down`).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
cd "$root"
export E2E_DIR=${E2E_DIR:-$root/target/e2e}
BIN=${K8S_BIN_DIR:-$root/target/k8s-bin}
CARGO=${CARGO:-cargo}
NS=locust-k8s-operator-system
THREADS=${E2E_THREADS:-3}
# The chart to install (another checkout's, say); default: this one.
CHART=${E2E_CHART:-charts/locust-k8s-operator}
mkdir -p "$E2E_DIR"
timings=$E2E_DIR/timings.txt
: >"$timings"
t0=$SECONDS
last=$SECONDS
# mark STEP: how long STEP took, and the total so far.
mark() {
  echo "$1: $((SECONDS - last)) s (total $((SECONDS - t0)) s)" | tee -a "$timings" >&2
  last=$SECONDS
}

"$here/build.sh"
"$CARGO" build -q -p test-cluster
"$CARGO" test --no-run -q --test e2e 2>/dev/null || "$CARGO" test --no-run --test e2e
"$here/images.sh" >/dev/null
mark "built"

"$here/host-state.sh" >"$E2E_DIR/host-before.txt"
finish() {
  local rc=$?
  if [ "${E2E_KEEP:-0}" = 1 ]; then
    echo "E2E_KEEP=1: the node stays up (KUBECONFIG=$E2E_DIR/cluster/kubeconfig)" >&2
    exit $rc
  fi
  "$here/node.sh" down || rc=1
  mark "node down"
  "$here/host-state.sh" >"$E2E_DIR/host-after.txt"
  if ! diff -u "$E2E_DIR/host-before.txt" "$E2E_DIR/host-after.txt" >"$E2E_DIR/host.diff"; then
    echo "the host differs after the node went down:" >&2
    cat "$E2E_DIR/host.diff" >&2
    rc=1
  else
    echo "host state identical before and after" >&2
  fi
  exit $rc
}
trap finish EXIT

"$here/node.sh" up
mark "node up"

export KUBECONFIG=$E2E_DIR/cluster/kubeconfig
"$BIN/helm" install locust-k8s-operator "$CHART" \
  --namespace "$NS" --create-namespace --wait --timeout 5m
mark "helm install (operator ready)"

export E2E_KUBECONFIG=$KUBECONFIG E2E_KUBECTL=$BIN/kubectl E2E_HELM=$BIN/helm \
  E2E_OPERATOR_NAMESPACE=$NS E2E_RESULTS_DIR=$E2E_DIR/results
rm -rf "$E2E_RESULTS_DIR"
mkdir -p "$E2E_RESULTS_DIR"
status=0
"$CARGO" test -q --test e2e -- --ignored --skip helm_uninstall --test-threads="$THREADS" || status=1
mark "tests"
if [ $status -ne 0 ]; then
  mkdir -p "$E2E_DIR/failure"
  "$BIN/kubectl" get all,locusttests,events -A -o wide >"$E2E_DIR/failure/objects.txt" 2>&1 || true
  "$BIN/kubectl" logs -n "$NS" -l app.kubernetes.io/name=locust-k8s-operator --tail=300 \
    --prefix >"$E2E_DIR/failure/operator.log" 2>&1 || true
  echo "objects and operator logs: $E2E_DIR/failure/" >&2
fi
"$CARGO" test -q --test e2e -- --ignored --exact lifecycle::helm_uninstall_keeps_the_crd_and_the_tests || status=1
mark "helm uninstall test"
exit $status
