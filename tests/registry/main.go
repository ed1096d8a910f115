// The OCI registry that plumb's chart tests push charts to and pull them
// from on loopback: distribution's registry command (`registry serve
// CONFIG`), with the storage drivers and authentication a loopback test
// uses. The cloud storage drivers of its own cmd/registry are left out;
// they bring the Azure, Google and AWS SDKs and serve nothing here.
package main

import (
	"github.com/distribution/distribution/v3/registry"
	_ "github.com/distribution/distribution/v3/registry/auth/htpasswd"
	_ "github.com/distribution/distribution/v3/registry/storage/driver/filesystem"
	_ "github.com/distribution/distribution/v3/registry/storage/driver/inmemory"
)

func main() {
	// RootCmd prints its error and exits non-zero itself.
	_ = registry.RootCmd.Execute()
}
