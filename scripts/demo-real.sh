#!/usr/bin/env bash
# `make demo REAL=1`: the same story as `make demo`, on a real node (kubelet, containerd,
# kube-proxy, CoreDNS; tests/e2e/node.sh): `helm install` of the chart as a user would,
# examples/checkout.yaml with real Locust in real containers, the web UI at a printed URL
# while it runs, the verdict and Locust's numbers at the end. Needs root. Takes the node
# down at the end (the host is restored), also on Ctrl-C or failure; KEEP=1 leaves it up.
set -euo pipefail
cd "$(dirname "$0")/.."
export E2E_DIR=${E2E_DIR:-$PWD/target/e2e}
bin=${K8S_BIN_DIR:-$PWD/target/k8s-bin}
ns=shop

step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
k() { echo "\$ kubectl $*"; "$bin/kubectl" "$@"; }

step "Building the node and the images (cached after the first run: 25-35 min cold)"
tests/cluster/build.sh
tests/e2e/build.sh
cargo build -q -p test-cluster
tests/e2e/images.sh

cleanup() {
  if [ "${KEEP:-0}" = 1 ]; then
    step "KEEP=1: the node stays up. export KUBECONFIG=$E2E_DIR/cluster/kubeconfig; make e2e-cluster-down"
    return
  fi
  step "Taking the node down (the host is restored)"
  tests/e2e/node.sh down
}
trap cleanup EXIT

step "Starting a real node joined to a local control plane"
tests/e2e/node.sh up
export KUBECONFIG=$E2E_DIR/cluster/kubeconfig
k get nodes -o wide

step "helm install, with the chart's defaults"
"$bin/helm" install locust-k8s-operator charts/locust-k8s-operator \
  --namespace locust-k8s-operator-system --create-namespace --wait --timeout 5m
k get pods -n locust-k8s-operator-system -o wide

step "examples/checkout.yaml: a target, a locustfile and a library, settings, a Secret, a LocustTest"
k create namespace "$ns"
k apply -n "$ns" -f examples/checkout.yaml
k wait -n "$ns" lotest/checkout --for=jsonpath='{.status.phase}'=Running --timeout=300s
ip=$("$bin/kubectl" get svc -n "$ns" checkout-master -o jsonpath='{.spec.clusterIP}')
step "The Locust web UI while the test runs"
echo "  http://$ip:8089/   (from this machine)"
echo "  or: kubectl port-forward -n $ns svc/checkout-master 8089 --address 127.0.0.1  ->  http://127.0.0.1:8089/"
# The Service's endpoints reach kube-proxy a moment after the pod is Ready, and the
# locustfile holds the load until the target answers: wait for users.
for _ in $(seq 60); do
  stats=$(curl -sf -m 2 "http://$ip:8089/stats/requests") &&
    python3 -c 'import json,sys; sys.exit(json.load(sys.stdin)["user_count"] == 0)' <<<"$stats" &&
    break
  sleep 1
done
echo "\$ curl http://$ip:8089/stats/requests"
python3 -c 'import json,sys; s=json.load(sys.stdin); print("  live:", s["state"], s["user_count"], "users,", round(s["total_rps"],1), "req/s,", s["worker_count"], "workers")' <<<"$stats"

step "Watching the phase (Pending -> Running -> Succeeded)"
k get lotest -n "$ns"
k wait -n "$ns" lotest/checkout --for=jsonpath='{.status.phase}'=Succeeded --timeout=300s
k get lotest -n "$ns" -o wide
k get lotest -n "$ns" checkout -o jsonpath='{.status.result}{"\n"}{.status.conditions[?(@.type=="Ready")].message}{"\n"}'
k get events -n "$ns" --field-selector involvedObject.kind=LocustTest
echo "The HTML report: kubectl get configmap -n $ns checkout-report -o jsonpath='{.binaryData.report\\.html\\.gz}' | base64 -d | gunzip > report.html"
