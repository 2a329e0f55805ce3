#!/usr/bin/env bash
# Prints what a real node can change on this host, one fact per line, sorted, so that two
# snapshots diff cleanly: the sysctls the node's components touch, the nftables ruleset,
# links, addresses, routes, network namespaces, mounts, cgroups (two levels deep), the
# fixed host paths kubelet/containerd/CNI write regardless of their folder flags, and
# processes of the node. `make e2e` takes one before `up` and one after `down` and fails
# on any difference; tests/e2e/roundtrip.sh does it twice without tests.
set -euo pipefail
export LC_ALL=C

section() { sed "s/^/$1: /"; }

# Sysctls: forwarding, bridge netfilter, what kubelet sets (overcommit, panic), conntrack
# and per-interface settings of lo/eth0/all/default. Counters are left out.
sysctl -a 2>/dev/null |
  grep -E '^(net\.ipv4\.ip_forward|net\.ipv4\.conf\.(all|default|lo|eth0)\.(forwarding|route_localnet|rp_filter|proxy_arp)|net\.ipv6\.conf\.(all|default)\.forwarding|net\.bridge\.|vm\.overcommit_memory|vm\.panic_on_oom|kernel\.panic|kernel\.keys\.root_max|net\.netfilter\.nf_conntrack_(max|tcp_timeout_established|tcp_timeout_close_wait|udp_timeout|udp_timeout_stream)|net\.core\.somaxconn|fs\.inotify\.max_user_(instances|watches)) ' |
  sort | section sysctl

{ nft list ruleset 2>/dev/null || true; } | sed '/^\s*$/d' | section nft
ip -o link show | sed -E 's/^[0-9]+: //; s/ qlen [0-9]+//; s/\\.*$//' | sort | section link
ip -o addr show | awk '{print $2, $3, $4}' | sort | section addr
ip route show table all 2>/dev/null | sort | section route
{ ip netns list 2>/dev/null || true; } | sort | section netns
findmnt -rn -o TARGET,FSTYPE,PROPAGATION | sort | section mount
for h in /sys/fs/cgroup/*/; do
  find "$h" -mindepth 1 -maxdepth 2 -type d 2>/dev/null
done | grep -v '/process_api/' | sort | section cgroup  # the sandbox agent's, per command
for p in /var/lib/kubelet /var/log/containers /var/log/pods /var/lib/cni /run/netns \
  /run/containerd /run/nri /etc/cni /opt/cni /var/lib/containerd /etc/containerd; do
  if [ -e "$p" ]; then find "$p" -maxdepth 3 | sort; else echo "$p absent"; fi
done | section path
ps -eo comm= | grep -E '^(kubelet|kube-proxy|kube-apiserver|kube-controller|kube-scheduler|etcd|containerd|containerd-shim|coredns|pause|locust|runc|otelcol)' |
  sort | section process || true
