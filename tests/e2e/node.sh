#!/usr/bin/env bash
# A real Kubernetes node on this machine, joined to our local control plane:
#   tests/e2e/node.sh up      # bridge, control plane, containerd, images, kubelet,
#                             # kube-proxy, CoreDNS; returns once pods can run
#   tests/e2e/node.sh down    # stops everything and restores the host as `up` found it
#   tests/e2e/node.sh status  # what runs
# Facts it relies on (and why each setting is here): shared/design/real-node.md and
# docs/e2e.md. Binaries come from `make e2e-bins` (tests/e2e/build.sh, tests/cluster/
# build.sh), images from tests/e2e/images.sh. Needs root (network, mounts, cgroups).
# Everything listens on the bridge address or 127.0.0.1; state lives in $E2E_DIR.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)

E2E_DIR=${E2E_DIR:-$root/target/e2e}
BIN=${K8S_BIN_DIR:-$root/target/k8s-bin}
TEST_CLUSTER=${TEST_CLUSTER:-$root/target/debug/test-cluster}
BRIDGE=cni0
NODE_IP=10.244.0.1
POD_SUBNET=10.244.0.0/24
CLUSTER_CIDR=10.244.0.0/16
DNS_IP=10.96.0.10
NODE_NAME=e2e-node
SANDBOX_IMAGE=registry.k8s.io/pause:3.10
RUNC=${RUNC:-$(command -v runc || echo /usr/sbin/runc)}
CNI_BIN=${CNI_BIN:-/usr/lib/cni}

cluster=$E2E_DIR/cluster
run=$E2E_DIR/run
logs=$E2E_DIR/logs
saved=$E2E_DIR/host-saved
sock=$run/containerd.sock
# Paths kubelet, containerd and CNI write whatever their folder flags say.
FIXED_PATHS=(/var/lib/kubelet /var/log/containers /var/log/pods /var/lib/cni /run/netns
  /run/containerd /run/nri /etc/cni /opt/cni)
# Sysctls the node changes: forwarding and bridge netfilter here, kubelet's own three.
SYSCTLS=(net.ipv4.ip_forward net.bridge.bridge-nf-call-iptables
  net.bridge.bridge-nf-call-ip6tables vm.overcommit_memory kernel.panic kernel.panic_on_oops
  kernel.keys.root_maxkeys kernel.keys.root_maxbytes)
NODE_PROCS=(coredns kube-proxy kubelet containerd)

log() { printf '%s node.sh: %s\n' "$(date +%T)" "$*" >&2; }
die() { log "error: $*"; exit 1; }
kubectl() { "$BIN/kubectl" --kubeconfig "$cluster/kubeconfig" "$@"; }
ctr() { "$BIN/ctr" --address "$sock" --namespace k8s.io "$@"; }

# start NAME CMD...: runs CMD in its own session, logs to $logs/NAME.log, pid in $run.
start() {
  local name=$1; shift
  setsid bash -c 'echo $$ > "$1"; shift; exec "$@"' _ "$run/$name.pid" "$@" \
    </dev/null >>"$logs/$name.log" 2>&1 &
  local i
  for i in $(seq 50); do [ -s "$run/$name.pid" ] && return 0; sleep 0.1; done
  die "$name did not start (log: $logs/$name.log)"
}

# wait_for WHAT SECONDS CMD...: polls CMD every 0.5 s.
wait_for() {
  local what=$1 secs=$2; shift 2
  local deadline=$((SECONDS + secs))
  until "$@" >/dev/null 2>&1; do
    for p in "${NODE_PROCS[@]}"; do
      if [ -s "$run/$p.pid" ] && ! kill -0 "$(cat "$run/$p.pid")" 2>/dev/null; then
        tail -n 30 "$logs/$p.log" >&2 || true
        die "$p exited while waiting for $what (log: $logs/$p.log)"
      fi
    done
    [ $SECONDS -lt $deadline ] || die "timed out after ${secs} s waiting for $what"
    sleep 0.5
  done
}

require() {
  [ "$(id -u)" = 0 ] || die "a real node needs root (network, mounts, cgroups)"
  local b
  for b in kube-apiserver kubelet kube-proxy kubectl containerd containerd-shim-runc-v2 ctr coredns; do
    [ -x "$BIN/$b" ] || die "$BIN/$b is missing: run make e2e-bins"
  done
  [ -x "$TEST_CLUSTER" ] || die "$TEST_CLUSTER is missing: cargo build -p test-cluster"
  [ -x "$RUNC" ] || die "runc is missing: apt-get install runc"
  for b in bridge host-local portmap loopback; do
    [ -x "$CNI_BIN/$b" ] || die "$CNI_BIN/$b is missing: apt-get install containernetworking-plugins"
  done
  command -v nft >/dev/null || die "nft is missing: apt-get install nftables"
  command -v iptables >/dev/null || die "iptables is missing: apt-get install iptables"
}

save_host() {
  mkdir -p "$saved"
  local s p
  for s in "${SYSCTLS[@]}"; do
    sysctl -n "$s" >/dev/null 2>&1 && echo "$s=$(sysctl -n "$s")"
  done >"$saved/sysctls"
  nft list ruleset >"$saved/nft.rules"
  for p in "${FIXED_PATHS[@]}"; do [ -e "$p" ] && echo "$p"; done >"$saved/existing-paths" || true
  for h in /sys/fs/cgroup/*/; do find "$h" -mindepth 1 -maxdepth 1 -type d; done \
    >"$saved/cgroups" 2>/dev/null || true
  findmnt -rn -o TARGET >"$saved/mounts"
}

write_configs() {
  mkdir -p "$E2E_DIR/containerd" "$E2E_DIR/cni/net.d" "$E2E_DIR/kubelet" "$E2E_DIR/pod-logs"
  # containerd 2.x (config version 3). restrict_oom_score_adj: root here lacks
  # CAP_SYS_RESOURCE, so runc cannot lower oom_score_adj. Network namespaces under the
  # state folder rather than /run/netns. NRI and the TCP CRI server off.
  cat >"$E2E_DIR/containerd/config.toml" <<EOF
version = 3
root = "$E2E_DIR/containerd/root"
state = "$E2E_DIR/containerd/state"
disabled_plugins = ["io.containerd.nri.v1.nri", "io.containerd.internal.v1.tracing",
  "io.containerd.snapshotter.v1.btrfs", "io.containerd.snapshotter.v1.zfs",
  "io.containerd.snapshotter.v1.devmapper", "io.containerd.snapshotter.v1.blockfile",
  "io.containerd.snapshotter.v1.erofs"]

[grpc]
  address = "$sock"

[ttrpc]
  address = "$sock.ttrpc"

[plugins."io.containerd.cri.v1.runtime"]
  restrict_oom_score_adj = true
  netns_mounts_under_state_dir = true

[plugins."io.containerd.cri.v1.runtime".containerd.runtimes.runc]
  runtime_type = "io.containerd.runc.v2"

[plugins."io.containerd.cri.v1.runtime".containerd.runtimes.runc.options]
  BinaryName = "$RUNC"
  SystemdCgroup = false

[plugins."io.containerd.cri.v1.runtime".cni]
  bin_dirs = ["$CNI_BIN"]
  conf_dir = "$E2E_DIR/cni/net.d"

[plugins."io.containerd.cri.v1.images".pinned_images]
  sandbox = "$SANDBOX_IMAGE"

[plugins."io.containerd.grpc.v1.cri"]
  stream_server_address = "127.0.0.1"
  stream_server_port = "0"
EOF
  # One bridge for the node, addresses from host-local, hairpin for a pod reaching itself
  # through its Service, portmap for hostPort.
  cat >"$E2E_DIR/cni/net.d/10-e2e.conflist" <<EOF
{
  "cniVersion": "1.0.0",
  "name": "e2e",
  "plugins": [
    {
      "type": "bridge",
      "bridge": "$BRIDGE",
      "isGateway": true,
      "ipMasq": false,
      "hairpinMode": true,
      "ipam": {
        "type": "host-local",
        "dataDir": "$E2E_DIR/cni/ipam",
        "ranges": [[{ "subnet": "$POD_SUBNET", "gateway": "$NODE_IP" }]],
        "routes": [{ "dst": "0.0.0.0/0" }]
      }
    },
    { "type": "portmap", "capabilities": { "portMappings": true } }
  ]
}
EOF
  # kubelet 1.37 on this host's cgroup v1 hierarchy (failCgroupV1: false), cgroupfs
  # driver, serving on the bridge address, health on 127.0.0.1, no read-only port,
  # client certificates and webhook authn/authz, eviction that tolerates a busy disk.
  cat >"$E2E_DIR/kubelet/config.yaml" <<EOF
apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
address: $NODE_IP
port: 10250
healthzBindAddress: 127.0.0.1
healthzPort: 10248
readOnlyPort: 0
failCgroupV1: false
cgroupDriver: cgroupfs
failSwapOn: false
containerRuntimeEndpoint: unix://$sock
podLogsDir: $E2E_DIR/pod-logs
clusterDNS: [$DNS_IP]
clusterDomain: cluster.local
resolvConf: /etc/resolv.conf
authentication:
  anonymous: {enabled: false}
  webhook: {enabled: true}
  x509: {clientCAFile: $cluster/pki/client-ca.crt}
authorization:
  mode: Webhook
evictionHard: {memory.available: 100Mi, nodefs.available: 1%, imagefs.available: 1%, nodefs.inodesFree: 1%}
imageGCHighThresholdPercent: 99
imageGCLowThresholdPercent: 98
serializeImagePulls: false
maxPods: 110
EOF
  # kube-proxy in nftables mode; NodePorts only on the bridge address; conntrack sysctls
  # left as they are (0 = do not touch).
  cat >"$E2E_DIR/kube-proxy.yaml" <<EOF
apiVersion: kubeproxy.config.k8s.io/v1alpha1
kind: KubeProxyConfiguration
mode: nftables
clientConnection:
  kubeconfig: $cluster/pki/kube-proxy.kubeconfig
hostnameOverride: $NODE_NAME
clusterCIDR: $CLUSTER_CIDR
metricsBindAddress: 127.0.0.1:10249
healthzBindAddress: 127.0.0.1:10256
nodePortAddresses: [$NODE_IP/32]
conntrack:
  maxPerCore: 0
  min: 0
  tcpEstablishedTimeout: 0s
  tcpCloseWaitTimeout: 0s
  udpTimeout: 0s
  udpStreamTimeout: 0s
EOF
  cat >"$E2E_DIR/Corefile" <<EOF
.:53 {
    bind $NODE_IP
    errors
    health 127.0.0.1:18080
    ready 127.0.0.1:18181
    kubernetes cluster.local in-addr.arpa ip6.arpa {
        kubeconfig $cluster/pki/coredns.kubeconfig test-cluster
        pods insecure
        fallthrough in-addr.arpa ip6.arpa
    }
    cache 30
    loadbalance
}
EOF
}

node_ready() {
  [ "$(kubectl get node "$NODE_NAME" -o jsonpath='{.status.conditions[?(@.type=="Ready")].status}')" = True ]
}

up() {
  require
  if [ -s "$run/kubelet.pid" ] && kill -0 "$(cat "$run/kubelet.pid")" 2>/dev/null; then
    log "a node already runs in $E2E_DIR"; return 0
  fi
  [ ! -e "$saved/sysctls" ] || die "$E2E_DIR holds a node that was not taken down: run $0 down first"
  local started=$SECONDS
  rm -rf "$run" "$logs" "$E2E_DIR/kubelet" "$E2E_DIR/containerd" "$E2E_DIR/cni" "$E2E_DIR/pod-logs"
  mkdir -p "$run" "$logs"
  save_host
  # From here on, a failure (a failed command, or `die`) takes everything down again.
  trap 'rc=$?; trap - EXIT; if [ $rc -ne 0 ]; then log "start-up failed: taking the node down"; down || true; fi; exit $rc' EXIT

  sysctl -qw net.ipv4.ip_forward=1 net.bridge.bridge-nf-call-iptables=1 \
    net.bridge.bridge-nf-call-ip6tables=1
  ip link add "$BRIDGE" type bridge
  ip addr add "$NODE_IP/24" dev "$BRIDGE"
  ip link set "$BRIDGE" up

  log "control plane (API server on $NODE_IP)"
  "$TEST_CLUSTER" up --dir "$cluster" --node-ip "$NODE_IP" >&2
  write_configs

  log "containerd"
  PATH="$BIN:$PATH" start containerd "$BIN/containerd" --config "$E2E_DIR/containerd/config.toml"
  wait_for "containerd" 30 ctr version
  local tars
  # shellcheck disable=SC2086 # E2E_IMAGES: a space-separated subset, e.g. "pause locust"
  tars=$("$here/images.sh" ${E2E_IMAGES:-})
  while read -r name tar; do
    [ -n "$name" ] || continue
    log "importing $name"
    ctr images import "$tar" >/dev/null ||
      die "importing $tar into containerd failed"
  done <<<"$tars"

  log "kubelet"
  PATH="$BIN:$PATH" start kubelet "$BIN/kubelet" --config="$E2E_DIR/kubelet/config.yaml" \
    --kubeconfig="$cluster/pki/kubelet.kubeconfig" --root-dir="$E2E_DIR/kubelet" \
    --hostname-override="$NODE_NAME" --node-ip="$NODE_IP" --v=1
  log "kube-proxy"
  start kube-proxy "$BIN/kube-proxy" --config="$E2E_DIR/kube-proxy.yaml" --v=1
  log "CoreDNS"
  kubectl apply -f "$here/manifests/coredns.yaml" >/dev/null
  start coredns "$BIN/coredns" -conf "$E2E_DIR/Corefile"

  wait_for "node $NODE_NAME to be Ready" 120 node_ready
  wait_for "CoreDNS to be ready" 60 curl -fsS http://127.0.0.1:18181/ready
  wait_for "kube-proxy to be healthy" 60 curl -fsS http://127.0.0.1:10256/healthz
  trap - EXIT
  log "node ready in $((SECONDS - started)) s; KUBECONFIG=$cluster/kubeconfig"
}

# kill_pidfile NAME SIGNAL-WAIT-SECONDS
stop_process() {
  local name=$1 grace=${2:-10} pid
  [ -s "$run/$name.pid" ] || return 0
  pid=$(cat "$run/$name.pid")
  if kill -0 "$pid" 2>/dev/null; then
    kill -TERM "$pid" 2>/dev/null || true
    local deadline=$((SECONDS + grace))
    while kill -0 "$pid" 2>/dev/null && [ $SECONDS -lt $deadline ]; do sleep 0.2; done
    kill -KILL "$pid" 2>/dev/null || true
    while kill -0 "$pid" 2>/dev/null; do sleep 0.1; done
  fi
  rm -f "$run/$name.pid"
}

# Every process in a kubepods cgroup (containers and pause), then the shims of our
# containerd (they outlive it), are killed; the kernel tears their namespaces down.
kill_containers() {
  local pids
  for _ in 1 2 3; do
    pids=$(cat /sys/fs/cgroup/*/kubepods/cgroup.procs /sys/fs/cgroup/*/kubepods/*/cgroup.procs \
      /sys/fs/cgroup/*/kubepods/*/*/cgroup.procs /sys/fs/cgroup/*/kubepods/*/*/*/cgroup.procs \
      2>/dev/null | sort -u || true)
    pids="$pids $(pgrep -f "containerd-shim-runc-v2 .*$sock" || true)"
    [ -n "${pids// /}" ] || break
    # shellcheck disable=SC2086
    kill -KILL $pids 2>/dev/null || true
    sleep 0.5
  done
}

unmount_under() {
  local prefix=$1 targets
  for _ in 1 2 3 4 5; do
    targets=$(findmnt -rn -o TARGET | awk -v p="$prefix" 'index($0, p) == 1' | sort -r)
    [ -n "$targets" ] || return 0
    while read -r t; do umount "$t" 2>/dev/null || umount -l "$t" 2>/dev/null || true; done <<<"$targets"
  done
}

# Removes cgroups created since `up` (deepest first); the host's own stay.
remove_cgroups() {
  local h dir
  for h in /sys/fs/cgroup/*/; do
    for dir in $(find "$h" -mindepth 1 -maxdepth 1 -type d 2>/dev/null); do
      grep -qxF "$dir" "$saved/cgroups" 2>/dev/null && continue
      find "$dir" -depth -type d -exec rmdir {} \; 2>/dev/null || true
    done
  done
}

down() {
  local started=$SECONDS
  for p in coredns kube-proxy; do stop_process "$p" 5; done
  stop_process kubelet 10
  kill_containers
  stop_process containerd 10
  kill_containers
  unmount_under "$E2E_DIR/"
  [ -x "$TEST_CLUSTER" ] && [ -d "$cluster" ] && "$TEST_CLUSTER" down --dir "$cluster" >&2 || true

  # Pod interfaces left behind by a namespace still held (there should be none), then
  # the bridge.
  for l in $(ip -o link show master "$BRIDGE" 2>/dev/null | awk -F': ' '{print $2}' | cut -d@ -f1); do
    ip link del "$l" 2>/dev/null || true
  done
  ip link del "$BRIDGE" 2>/dev/null || true
  if [ -f "$saved/nft.rules" ]; then
    nft flush ruleset
    nft -f "$saved/nft.rules"
  fi
  remove_cgroups
  if [ -f "$saved/sysctls" ]; then
    while IFS='=' read -r k v; do sysctl -qw "$k=$v" || true; done <"$saved/sysctls"
  fi
  for p in "${FIXED_PATHS[@]}"; do
    [ -e "$p" ] || continue
    grep -qxF "$p" "$saved/existing-paths" 2>/dev/null && continue
    unmount_under "$p"
    rm -rf "$p"
  done
  # /run/netns may have become a (shared) mount point of its own.
  if [ -f "$saved/mounts" ]; then
    findmnt -rn -o TARGET | sort -r | while read -r t; do
      grep -qxF "$t" "$saved/mounts" || umount "$t" 2>/dev/null || umount -l "$t" 2>/dev/null || true
    done
  fi
  rm -rf "$saved" "$E2E_DIR/containerd" "$E2E_DIR/kubelet"
  local left
  left=$(pgrep -f "$E2E_DIR" || true)
  [ -z "$left" ] || { ps -o pid,cmd -p $left >&2; die "processes left behind"; }
  log "node down in $((SECONDS - started)) s"
}

status() {
  local p
  for p in "${NODE_PROCS[@]}"; do
    if [ -s "$run/$p.pid" ] && kill -0 "$(cat "$run/$p.pid")" 2>/dev/null; then
      echo "$p: running (pid $(cat "$run/$p.pid"))"
    else
      echo "$p: stopped"
    fi
  done
  [ -f "$cluster/kubeconfig" ] && kubectl get nodes -o wide 2>/dev/null || true
}

case ${1:-} in
  up) up ;;
  down) down ;;
  status) status ;;
  *) echo "usage: $0 up|down|status" >&2; exit 2 ;;
esac
