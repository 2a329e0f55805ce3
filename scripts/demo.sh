#!/usr/bin/env bash
# `make demo`: a local control plane (real API server, controller-manager, scheduler, kwok
# nodes), the LocustTest CRD, the API server's own validation, and the operator running a
# LocustTest Pending -> Running -> Succeeded on simulated nodes. Tears everything down at
# the end, also on Ctrl-C or failure.
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
"$bin" render -f examples/minimal-v2.yaml | grep -E '^kind:|^  name:' || true

step "Running the operator (locust-k8s-operator run, log in $dir/operator.log)"
LOG_FORMAT=text "$bin" run --leader-elect=false > "$dir/operator.log" 2>&1 &
operator=$!
trap 'kill $operator 2>/dev/null || true; cleanup' EXIT
k create configmap demo-locustfile --from-literal=locustfile.py='from locust import HttpUser'
# The simulated pods start after 3 s and run 8 s (kwok stages read these annotations).
sed -e 's/^  master:$/  master:\n    annotations: {test.locust.io\/start-seconds: "3", test.locust.io\/run-seconds: "8"}/' \
    -e 's/^  worker:$/  worker:\n    annotations: {test.locust.io\/start-seconds: "3", test.locust.io\/run-seconds: "8"}/' examples/minimal-v2.yaml \
  | k apply -f -
echo "\$ kubectl get locusttests -w   (until the test ends)"
last=""
for _ in $(seq 90); do
  line=$(target/k8s-bin/kubectl get locusttest demo --no-headers 2>/dev/null || true)
  phase=$(target/k8s-bin/kubectl get locusttest demo -o jsonpath='{.status.phase}' 2>/dev/null || true)
  if [ "$line" != "$last" ]; then echo "  $line"; last=$line; fi
  case $phase in Succeeded|Failed) break ;; esac
  sleep 1
done
k get jobs,pods
k get events --field-selector involvedObject.kind=LocustTest
k wait --for=jsonpath='{.status.phase}'=Succeeded locusttest/demo --timeout=10s
