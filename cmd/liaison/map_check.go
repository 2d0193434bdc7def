package main

import (
	"context"
	"fmt"
)

func mapCheck(ctx context.Context, s *stdio, args []string) int {
	f := newFlags("map check", "[--mappings DIR] [PATH...]", `
Compiles mapping files as the gateway does at start-up: every mapping of the
embedded set plus --mappings DIR when no PATH is given, else the mapping
files named, a PATH being a file or a folder (read recursively). Sub-maps
are found in the embedded set, --mappings DIR and the PATHs together, and
each one applied must exist.

Every error goes to standard output, one a line, as
"file:line:col: rule: message", and the exit status is 1. Otherwise it
prints "ok N mappings" on standard error.`)
	dir := f.String("mappings", "", mappingsFlagUsage)
	paths, code, ok := f.parse(s, args)
	if !ok {
		return code
	}
	targets, errs := loadTargets(*dir, paths)
	if len(errs) > 0 {
		for _, err := range errs {
			fmt.Fprintln(s.out, err)
		}
		return exitFail
	}
	fmt.Fprintf(s.err, "ok %d %s\n", len(targets), plural(len(targets), "mapping", "mappings"))
	return exitOK
}
