// The Pulumi Kubernetes provider's own entry point (cmd/pulumi-resource-kubernetes), which embeds files its
// Makefile generates: setup.sh writes them beside this file (the module's schema.json with the version set, and its
// terraform-mapping.json, both minified) before it builds.
package main

import (
	_ "embed"

	"github.com/pulumi/pulumi-kubernetes/provider/v4/pkg/provider"
	"github.com/pulumi/pulumi-kubernetes/provider/v4/pkg/version"
)

//go:embed schema-embed.json
var pulumiSchema []byte

//go:embed terraform-mapping-embed.json
var terraformMapping []byte

func main() {
	provider.Serve("kubernetes", version.Version, pulumiSchema, terraformMapping)
}
