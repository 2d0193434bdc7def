package main

import (
	"context"
	"fmt"
	"runtime"
	"runtime/debug"
)

// buildVersion is set at link time: -ldflags "-X main.buildVersion=v1.2.3".
// Without it, the module version or VCS revision Go recorded is used.
var buildVersion = ""

func version(ctx context.Context, s *stdio, args []string) int {
	f := newFlags("version", "", "Prints the version, the Go release that built it and the platform.")
	pos, code, ok := f.parse(s, args)
	if !ok {
		return code
	}
	if len(pos) > 0 {
		return f.usageError(s, "unexpected argument %q", pos[0])
	}
	fmt.Fprintf(s.out, "liaison %s %s %s/%s\n", versionString(), runtime.Version(), runtime.GOOS, runtime.GOARCH)
	return exitOK
}

// versionString is buildVersion, else the main module's version, else the
// VCS revision the build recorded, else "dev".
func versionString() string {
	if buildVersion != "" {
		return buildVersion
	}
	info, ok := debug.ReadBuildInfo()
	if !ok {
		return "dev"
	}
	if v := info.Main.Version; v != "" && v != "(devel)" {
		return v
	}
	rev, dirty := "", false
	for _, kv := range info.Settings {
		switch kv.Key {
		case "vcs.revision":
			rev = kv.Value
		case "vcs.modified":
			dirty = kv.Value == "true"
		}
	}
	if rev == "" {
		return "dev"
	}
	if len(rev) > 12 {
		rev = rev[:12]
	}
	if dirty {
		rev += "-dirty"
	}
	return "dev-" + rev
}
