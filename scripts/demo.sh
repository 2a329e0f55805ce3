#!/usr/bin/env bash
# `make demo`: a local control plane (real API server, controller-manager, scheduler, kwok
# nodes), the LocustTest CRD, and what the API server and the operator make of the
# requirements' example. Tears everything down at the end, also on Ctrl-C or failure.
set -euo pipefail
cd "$(dirname "$0")/.."
dir=target/cluster
bin=target/debug/locust-k8s-operator

step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

step "Building the control plane (cached after the first run) and the operator"
tests/cluster/build.sh
cargo build -q --bin locust-k8s-operator -p locust-k8s-operator -p test-cluster

cleanup() { step "Tearing down"; cargo run -q -p test-cluster -- down --dir "$dir" || true; }
trap cleanup EXIT

step "Starting the local cluster"
cargo run -q -p test-cluster -- up --dir "$dir"
export KUBECONFIG=$PWD/$dir/kubeconfig
k() { echo "\$ kubectl $*"; target/k8s-bin/kubectl "$@"; }

k version
k get nodes -o wide

step "Installing the LocustTest CRD (generated from the Rust types)"
"$bin" crd > "$dir/crd.yaml"
k apply --server-side -f "$dir/crd.yaml"
k wait --for=condition=Established crd/locusttests.locust.io --timeout=60s

step "Applying the requirements' full example (examples/full-v2.yaml)"
k apply -f examples/full-v2.yaml
k get locusttests -o wide
k explain locusttest.spec.master.autoquit

step "The API server itself rejects an invalid test (schema + CEL rules)"
cat > "$dir/invalid.yaml" <<'YAML'
apiVersion: locust.io/v2
kind: LocustTest
metadata: {name: invalid-demo}
spec:
  image: locustio/locust:2.43.1
  master: {command: "locust -f /lotest/src/locustfile.py", autoquit: {timeout: -5}}
  worker: {command: "locust -f /lotest/src/locustfile.py", replicas: 0}
  testFiles: {configMapRef: demo}
  observability: {openTelemetry: {enabled: true}}
YAML
if k apply -f "$dir/invalid.yaml"; then echo "unexpected: the invalid test was accepted" >&2; exit 1; fi

step "What the operator will create for a test (locust-k8s-operator render)"
echo "\$ locust-k8s-operator render -f examples/minimal-v2.yaml"
"$bin" render -f examples/minimal-v2.yaml > "$dir/children.yaml"
grep -E '^kind:|^  name:|^        - (--|-f|locust)' "$dir/children.yaml" || true

step "Running those objects on the simulated nodes (applied by hand: the controller is not built yet)"
k apply -f examples/minimal-v2.yaml
k apply -f "$dir/children.yaml"
for _ in $(seq 60); do
  k get jobs,pods -o wide --no-headers | sed 's/^/  /'
  [ "$(target/k8s-bin/kubectl get jobs -o jsonpath='{.items[?(@.status.completionTime)].metadata.name}' | wc -w)" -eq 2 ] && break
  sleep 2
done
k get jobs
echo
echo "The controller (locust-k8s-operator run) is not built yet: this demo stops here."
