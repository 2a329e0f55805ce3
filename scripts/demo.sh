#!/usr/bin/env bash
# `make demo`: a local control plane (real API server, controller-manager, scheduler, kwok
# nodes), the LocustTest CRD, the operator with its webhooks registered on 127.0.0.1, and a
# LocustTest going Pending -> Running -> Succeeded on simulated nodes. Tears everything
# down at the end, also on Ctrl-C or failure.
set -euo pipefail
cd "$(dirname "$0")/.."
dir=target/cluster
bin=target/debug/locust-k8s-operator
health=127.0.0.1:18081
webhook_port=18443

step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

step "Building the control plane (cached after the first run) and the operator"
tests/cluster/build.sh
cargo build -q --bin locust-k8s-operator -p locust-k8s-operator -p test-cluster

operator=""
cleanup() {
  [ -n "$operator" ] && kill "$operator" 2>/dev/null && wait "$operator" 2>/dev/null || true
  step "Tearing down"
  cargo run -q -p test-cluster -- down --dir "$dir" || true
}
trap cleanup EXIT

step "Starting the local cluster"
cargo run -q -p test-cluster -- up --dir "$dir"
export KUBECONFIG=$PWD/$dir/kubeconfig
k() { echo "\$ kubectl $*"; target/k8s-bin/kubectl "$@"; }
k get nodes

step "Installing the LocustTest CRD (generated from the Rust types)"
"$bin" crd > "$dir/crd.yaml"
k apply --server-side -f "$dir/crd.yaml"
# kubectl wait fails at once (instead of waiting) while a brand-new CRD has no status yet.
echo "\$ kubectl wait --for=condition=Established crd/locusttests.locust.io"
for _ in $(seq 120); do
  established=$(target/k8s-bin/kubectl get crd locusttests.locust.io \
    -o jsonpath='{.status.conditions[?(@.type=="Established")].status}' 2>/dev/null || true)
  [ "$established" = True ] && break
  sleep 0.5
done
[ "$established" = True ] || { echo "the CRD was not Established within 60 s" >&2; exit 1; }
# Discovery needs a moment to list the new resource.
for _ in $(seq 20); do target/k8s-bin/kubectl explain locusttest >/dev/null 2>&1 && break; sleep 0.5; done
k explain locusttest.spec.master.autoquit

step "Starting the operator (log: $dir/operator.log; webhooks registered on 127.0.0.1:$webhook_port)"
LOG_FORMAT=text WEBHOOK_MODE=local WEBHOOK_PORT=$webhook_port HEALTH_ADDR=$health \
  WEBHOOK_CERT_DIR="$PWD/$dir/webhook-certs" POD_HEALTH_GRACE_SECONDS=30 \
  "$bin" run --leader-elect=false > "$dir/operator.log" 2>&1 &
operator=$!
for _ in $(seq 60); do curl -sf "http://$health/readyz" >/dev/null && break; sleep 0.5; done
echo "\$ curl http://$health/readyz"; curl -s "http://$health/readyz"; echo

step "Invalid tests are rejected at once, naming the fields (schema, CEL and the admission webhook)"
cat > "$dir/invalid.yaml" <<'YAML'
apiVersion: locust.io/v2
kind: LocustTest
metadata: {name: invalid-demo}
spec:
  image: locustio/locust:2.43.1
  master: {command: "locust -f /lotest/src/locustfile.py", autoquit: {timeout: -5}}
  worker: {command: "locust -f /lotest/src/locustfile.py", replicas: 2}
  testFiles: {configMapRef: demo}
  observability: {openTelemetry: {enabled: true}}
YAML
if k apply -f "$dir/invalid.yaml"; then echo "unexpected: the invalid test was accepted" >&2; exit 1; fi
cat > "$dir/invalid-webhook.yaml" <<'YAML'
apiVersion: locust.io/v2
kind: LocustTest
metadata: {name: invalid-demo}
spec:
  image: locustio/locust:2.43.1
  master: {command: "locust -f /lotest/src/locustfile.py --headless", labels: {team: "perf team"}}
  worker: {command: "locust -f '/lotest/src/locustfile.py", replicas: 2}
YAML
if k apply -f "$dir/invalid-webhook.yaml"; then echo "unexpected: the invalid test was accepted" >&2; exit 1; fi

step "A test whose ConfigMaps do not exist waits, and says why"
k apply -f examples/full-v2.yaml
sleep 2
k get locusttest example-test -o jsonpath='{range .status.conditions[*]}{.type}={.status} {.reason}: {.message}{"\n"}{end}'

step "A deprecated v1 test is converted by the operator's webhook and stored as v2"
k apply -f examples/v1.yaml
k get locusttests.v2.locust.io legacy-test -o jsonpath='{.apiVersion} master.command={.spec.master.command}{"\n"}'
k get locusttests.v1.locust.io legacy-test -o jsonpath='{.apiVersion} masterCommandSeed={.spec.masterCommandSeed}{"\n"}'

step "A LocustTest runs: Pending -> Running -> Succeeded"
k create configmap demo-locustfile --from-literal=locustfile.py='from locust import HttpUser'
# The simulated pods start after 3 s and run 8 s (kwok stages read these annotations).
sed -e 's/^  master:$/  master:\n    annotations: {test.locust.io\/start-seconds: "3", test.locust.io\/run-seconds: "8"}/' \
    -e 's/^  worker:$/  worker:\n    annotations: {test.locust.io\/start-seconds: "3", test.locust.io\/run-seconds: "8"}/' \
    examples/minimal-v2.yaml | k apply -f -
echo "\$ kubectl get locusttest demo -w   (until the test ends)"
last=""
for _ in $(seq 90); do
  line=$(target/k8s-bin/kubectl get locusttest demo --no-headers 2>/dev/null || true)
  phase=$(target/k8s-bin/kubectl get locusttest demo -o jsonpath='{.status.phase}' 2>/dev/null || true)
  if [ "$line" != "$last" ]; then echo "  $line"; last=$line; fi
  case $phase in Succeeded|Failed) break ;; esac
  sleep 1
done
k wait --for=jsonpath='{.status.phase}'=Succeeded locusttest/demo --timeout=10s
k get jobs,pods -l performance-test-name=demo
k get events --field-selector involvedObject.name=demo

step "The operator's metrics"
echo "\$ curl -s http://$health/metrics | grep -E '^locust_operator_(tests|reconcile_total)'"
curl -s "http://$health/metrics" | grep -E '^locust_operator_(tests|reconcile_total)' || true
