package main

import (
	"bytes"
	"context"
	"fmt"
	"strings"

	"github.com/liaisonhq/liaison/fhir"
)

func fhirConvert(ctx context.Context, s *stdio, args []string) int {
	f := newFlags("fhir convert", "--to xml|json [--indent] [FILE]", `
Reads one FHIR R4 resource from FILE, or from standard input when FILE is
absent or "-", in FHIR JSON or FHIR XML (told apart by the first byte), and
writes it to standard output in the format --to names: JSON indented by two
spaces, XML compact unless --indent. Nothing is dropped: what the other
format cannot hold is an error, not a loss.

On bad input (not well-formed, or not expressible in the target format) it
writes an OperationOutcome in JSON to standard output, with the line and
column or the element's location, and exits 1.`)
	to := f.String("to", "", "output `format`: xml or json (required)")
	indent := f.Bool("indent", false, "indent XML output by two spaces (JSON output is always indented)")
	pos, code, ok := f.parse(s, args)
	if !ok {
		return code
	}
	format := fhir.Format(strings.ToLower(*to))
	switch {
	case *to == "":
		return f.usageError(s, "--to is required")
	case format != fhir.FormatXML && format != fhir.FormatJSON:
		return f.usageError(s, "--to %q: want xml or json", *to)
	case len(pos) > 1:
		return f.usageError(s, "one FILE at most, got %d", len(pos))
	}
	name := stdinName
	if len(pos) == 1 {
		name = pos[0]
	}

	data, err := readInput(s, name)
	if err != nil {
		return writeOutcome(s, fhir.ErrorIssues(err))
	}
	res, _, err := fhir.Parse(data)
	if err != nil {
		return writeOutcome(s, fhir.ErrorIssues(err))
	}
	var out []byte
	switch {
	case format == fhir.FormatJSON:
		out, err = fhir.EncodeJSONIndent(res, "  ")
	case *indent:
		out, err = fhir.EncodeXMLIndent(res, "  ")
	default:
		out, err = fhir.EncodeXML(res)
	}
	if err != nil {
		return writeOutcome(s, fhir.ErrorIssues(err))
	}
	if !bytes.HasSuffix(out, []byte("\n")) {
		out = append(out, '\n')
	}
	if _, err := s.out.Write(out); err != nil {
		fmt.Fprintf(s.err, "liaison fhir convert: write: %v\n", err)
		return exitFail
	}
	return exitOK
}
