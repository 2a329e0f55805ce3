// kstatus prints how sigs.k8s.io/cli-utils' kstatus (the library Flux, kpt and
// cli-utils' applier use to decide whether an applied object is reconciled) judges each
// object it reads: a JSON object or a Kubernetes list on standard input, one line
// `<status>\t<message>` per object on standard output. tests/kstatus.rs runs it on
// LocustTests read from the test cluster.
package main

import (
	"fmt"
	"io"
	"os"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/util/json"
	"sigs.k8s.io/cli-utils/pkg/kstatus/status"
)

func main() {
	data, err := io.ReadAll(os.Stdin)
	if err != nil {
		fmt.Fprintln(os.Stderr, "reading standard input:", err)
		os.Exit(2)
	}
	// apimachinery's JSON keeps integers as int64, as kstatus expects.
	var obj map[string]interface{}
	if err := json.Unmarshal(data, &obj); err != nil {
		fmt.Fprintln(os.Stderr, "standard input is not a JSON object:", err)
		os.Exit(2)
	}
	objects := []map[string]interface{}{obj}
	if items, ok := obj["items"].([]interface{}); ok {
		objects = objects[:0]
		for _, item := range items {
			if m, ok := item.(map[string]interface{}); ok {
				objects = append(objects, m)
			}
		}
	}
	for _, o := range objects {
		res, err := status.Compute(&unstructured.Unstructured{Object: o})
		if err != nil {
			fmt.Fprintln(os.Stderr, "kstatus:", err)
			os.Exit(1)
		}
		fmt.Printf("%s\t%s\n", res.Status, res.Message)
	}
}
