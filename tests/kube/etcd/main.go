// etcd for plumb's tests: the same entry point as etcd's own main package
// (go.etcd.io/etcd/v3, which the module proxy does not serve), built from
// this module so that its dependency versions stay apart from the API
// server's.
package main

import (
	"os"

	"go.etcd.io/etcd/server/v3/etcdmain"
)

func main() {
	etcdmain.Main(os.Args)
}
