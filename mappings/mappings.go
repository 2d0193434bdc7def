// Package mappings holds the mapping files shipped with Liaison. They are
// embedded in the binary and found by name (transform.NewSet(mappings.FS));
// each carries its own tests, run by `liaison map test`.
package mappings

import "embed"

// FS holds the shipped mapping files and the tables they read.
//
//go:embed *.yaml tables
var FS embed.FS
