package main

// This file is the "liaison map test" command (map_test.go would be a Go
// test file).

import (
	"context"
	"fmt"
	"regexp"
	"strings"
)

func mapTest(ctx context.Context, s *stdio, args []string) int {
	f := newFlags("map test", "[--mappings DIR] [-v] [-run REGEXP] [PATH...]", `
Runs the tests written in mapping files: of every mapping of the embedded
set plus --mappings DIR when no PATH is given, else of the mapping files
named, a PATH being a file or a folder (read recursively). Sub-maps are
found in the embedded set, --mappings DIR and the PATHs together.

The report goes to standard output, like "go test": each failed test as
"--- FAIL: mapping/test (file:line)" followed by what differs, indented;
then one line per mapping ("ok", "FAIL", or "?" when it has no tests);
then PASS or FAIL. It exits 1 when a test fails or a mapping does not load.`)
	dir := f.String("mappings", "", mappingsFlagUsage)
	verbose := f.Bool("v", false, "list every test run, passed ones too")
	runPattern := f.String("run", "", "run only the tests whose \"mapping/test\" name matches the `regexp`")
	paths, code, ok := f.parse(s, args)
	if !ok {
		return code
	}
	var match *regexp.Regexp
	if *runPattern != "" {
		re, err := regexp.Compile(*runPattern)
		if err != nil {
			return f.usageError(s, "-run: %v", err)
		}
		match = re
	}

	targets, errs := loadTargets(*dir, paths)
	for _, err := range errs {
		fmt.Fprintln(s.out, err)
	}
	failed := len(errs) > 0
	width := 0
	for _, t := range targets {
		width = max(width, len(t.m.Name))
	}
	for _, t := range targets {
		if ctx.Err() != nil {
			fmt.Fprintf(s.err, "liaison map test: %v\n", ctx.Err())
			return exitFail
		}
		ran, fails := 0, 0
		for _, r := range t.m.RunTests() {
			name := r.Mapping + "/" + r.Test
			if match != nil && !match.MatchString(name) {
				continue
			}
			ran++
			if *verbose {
				fmt.Fprintf(s.out, "=== RUN   %s\n", name)
			}
			where := fmt.Sprintf("%s:%d", t.file, r.Line)
			if r.Err == nil {
				if *verbose {
					fmt.Fprintf(s.out, "--- PASS: %s (%s)\n", name, where)
				}
				continue
			}
			fails++
			fmt.Fprintf(s.out, "--- FAIL: %s (%s)\n", name, where)
			for line := range strings.SplitSeq(strings.TrimRight(t.relocate(r.Err).Error(), "\n"), "\n") {
				fmt.Fprintf(s.out, "    %s\n", line)
			}
		}
		switch {
		case len(t.m.Tests) == 0:
			fmt.Fprintf(s.out, "?    %-*s  [no tests]\n", width, t.m.Name)
		case ran == 0:
			fmt.Fprintf(s.out, "?    %-*s  [no tests to run]\n", width, t.m.Name)
		case fails > 0:
			failed = true
			fmt.Fprintf(s.out, "FAIL %-*s  %d of %d %s failed\n", width, t.m.Name, fails, ran, plural(ran, "test", "tests"))
		default:
			fmt.Fprintf(s.out, "ok   %-*s  %d %s\n", width, t.m.Name, ran, plural(ran, "test", "tests"))
		}
	}
	if failed {
		fmt.Fprintln(s.out, "FAIL")
		return exitFail
	}
	fmt.Fprintln(s.out, "PASS")
	return exitOK
}

// loadTargets loads the mappings a command checks or tests: every mapping
// of the embedded set plus the --mappings folder when paths is empty, else
// those of the files and folders named. The errors are the load errors, one
// per problem, each *transform.Error naming its file as the user knows it.
func loadTargets(dir string, paths []string) ([]target, []error) {
	var srcs []source
	var errs []error
	for _, p := range paths {
		src, err := pathSource(p)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		srcs = append(srcs, src)
	}
	if len(errs) > 0 {
		return nil, errs
	}
	l, err := loadMappings(dir, srcs...)
	if err != nil {
		return nil, splitErrors(err)
	}
	if len(paths) == 0 {
		return l.all(), nil
	}
	var out []target
	for _, src := range srcs {
		ts, es := l.from(src)
		out = append(out, ts...)
		errs = append(errs, es...)
	}
	return out, errs
}
