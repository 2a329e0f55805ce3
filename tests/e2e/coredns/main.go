// Command coredns is the cluster DNS of the real node that `make e2e` runs: CoreDNS with
// only the plugins a test cluster's Corefile needs (kubernetes, forward, cache, errors,
// log, health, ready, reload, loadbalance, and bind for a CoreDNS run outside a pod)
// instead of CoreDNS's full, generated plugin list. Built from the pinned Go modules by
// tests/e2e/build.sh, against the client-go of the cluster's Kubernetes version (go.mod).
//
// Each plugin registers itself in its package's init(), so importing it is enough;
// directives then fixes the order in which a request passes through the plugins, the
// order of CoreDNS's own plugin.cfg (the order in a Corefile does not matter). Some
// plugins import, and so register, others (cache: metadata and prometheus; forward: debug
// and dnstap; kubernetes: transfer): they are listed too, so `coredns -plugins` and the
// directives agree and each is usable from a Corefile. There is no whoami, so coredns
// needs a Corefile (-conf): its built-in default uses whoami.
package main

import (
	"fmt"
	"os"

	"github.com/coredns/coredns/core/dnsserver"
	"github.com/coredns/coredns/coremain"

	_ "github.com/coredns/coredns/plugin/bind"
	_ "github.com/coredns/coredns/plugin/cache"
	_ "github.com/coredns/coredns/plugin/debug"
	_ "github.com/coredns/coredns/plugin/dnstap"
	_ "github.com/coredns/coredns/plugin/errors"
	_ "github.com/coredns/coredns/plugin/forward"
	_ "github.com/coredns/coredns/plugin/health"
	_ "github.com/coredns/coredns/plugin/kubernetes"
	_ "github.com/coredns/coredns/plugin/loadbalance"
	_ "github.com/coredns/coredns/plugin/log"
	_ "github.com/coredns/coredns/plugin/metadata"
	_ "github.com/coredns/coredns/plugin/metrics"
	_ "github.com/coredns/coredns/plugin/ready"
	_ "github.com/coredns/coredns/plugin/reload"
	_ "github.com/coredns/coredns/plugin/transfer"
)

// directives is the execution order: each plugin sees a request before the ones after it.
// prometheus is the directive of the metrics package.
var directives = []string{
	"metadata",
	"reload",
	"bind",
	"debug",
	"ready",
	"health",
	"prometheus",
	"errors",
	"log",
	"dnstap",
	"loadbalance",
	"cache",
	"transfer",
	"kubernetes",
	"forward",
}

func main() {
	if err := dnsserver.SetDirectives(directives); err != nil {
		fmt.Fprintln(os.Stderr, "coredns:", err)
		os.Exit(1)
	}
	coremain.Run()
}
