package main

import (
	"fmt"
	"io"
	"os"

	"github.com/liaisonhq/liaison/fhir"
)

// stdinName is the FILE argument that means standard input.
const stdinName = "-"

// readInput reads the file name, or standard input for "-".
func readInput(s *stdio, name string) ([]byte, error) {
	if name == stdinName {
		data, err := io.ReadAll(s.in)
		if err != nil {
			return nil, fmt.Errorf("read standard input: %w", err)
		}
		return data, nil
	}
	return os.ReadFile(name)
}

// displayName is how messages name the file: standard input as "<stdin>".
func displayName(name string) string {
	if name == stdinName {
		return "<stdin>"
	}
	return name
}

// writeOutcome writes one OperationOutcome holding the issues to standard
// output, as indented JSON, and returns exitFail.
func writeOutcome(s *stdio, issues fhir.Issues) int {
	out, err := fhir.EncodeJSONIndent(fhir.Outcome(issues...), "  ")
	if err != nil { // an outcome holds strings only: never happens
		fmt.Fprintf(s.err, "liaison: encode OperationOutcome: %v\n", err)
		return exitFail
	}
	if _, err := s.out.Write(out); err != nil {
		fmt.Fprintf(s.err, "liaison: write: %v\n", err)
	}
	return exitFail
}
