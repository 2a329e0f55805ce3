// Command etcd is etcd's own server entry point, built from the pinned module version
// (go install refuses etcd's module because of its relative replaces).
package main

import (
	"os"

	"go.etcd.io/etcd/server/v3/etcdmain"
)

func main() { etcdmain.Main(os.Args) }
