package main

import (
	"context"
	"fmt"

	"github.com/liaisonhq/liaison/fhir"
)

func fhirValidate(ctx context.Context, s *stdio, args []string) int {
	f := newFlags("fhir validate", "[FILE...]", `
Validates FHIR R4 resources, in JSON or XML, against the R4 model: each FILE,
or standard input when there is none or for "-". For each file it prints
"FILE: valid" or "FILE: invalid" on standard error, with any warnings.

When every file is valid it exits 0. Otherwise it writes one
OperationOutcome in JSON to standard output holding every error, each
located by a FHIRPath expression ("Patient.name[0].given") or, for a file
that cannot be read or parsed, by line and column, and exits 1. With several
files, each issue's diagnostics start with its file's name.`)
	names, code, ok := f.parse(s, args)
	if !ok {
		return code
	}
	if len(names) == 0 {
		names = []string{stdinName}
	}

	var errs fhir.Issues
	for _, name := range names {
		if ctx.Err() != nil {
			fmt.Fprintf(s.err, "liaison fhir validate: %v\n", ctx.Err())
			return exitFail
		}
		file := displayName(name)
		n := 0
		for _, is := range validateFile(s, name) {
			if is.Severity != fhir.SeverityError && is.Severity != fhir.SeverityFatal {
				fmt.Fprintf(s.err, "%s: %s\n", file, is)
				continue
			}
			n++
			if len(names) > 1 {
				is.Diagnostics = prefix(file, is.Diagnostics)
			}
			errs = append(errs, is)
		}
		if n == 0 {
			fmt.Fprintf(s.err, "%s: valid\n", file)
		} else {
			fmt.Fprintf(s.err, "%s: invalid (%d %s)\n", file, n, plural(n, "error", "errors"))
		}
	}
	if len(errs) > 0 {
		return writeOutcome(s, errs)
	}
	return exitOK
}

// validateFile reads, parses and validates one file; a file that cannot be
// read or parsed gives that error's issue.
func validateFile(s *stdio, name string) fhir.Issues {
	data, err := readInput(s, name)
	if err != nil {
		return fhir.ErrorIssues(err)
	}
	res, _, err := fhir.Parse(data)
	if err != nil {
		return fhir.ErrorIssues(err)
	}
	return fhir.Validate(res)
}

func prefix(file, diagnostics string) string {
	if diagnostics == "" {
		return file
	}
	return file + ": " + diagnostics
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}
