package main

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"text/tabwriter"

	"github.com/liaisonhq/liaison/transform"
)

func mapExplain(ctx context.Context, s *stdio, args []string) int {
	f := newFlags("map explain", "[--mappings DIR] [--json] NAME|FILE [INPUT]", `
Maps one record of INPUT, or of standard input when INPUT is absent or "-",
like "liaison map run", and shows for each output field the rule that
produced it and the input paths that rule read: a table on standard output
of output path, rule (file:line) and input paths. With --json it writes
{"output": ..., "trace": [...]} instead. Of a CSV input holding several
records it explains the first.

When the mapping fails, the table shows the fields made before the failing
rule and the error follows on standard error (with --json, the error is an
OperationOutcome instead); a FHIR output that does not validate prints its
issues on standard error. Either way it exits 1.`)
	dir := f.String("mappings", "", mappingsFlagUsage)
	asJSON := f.Bool("json", false, `write {"output": ..., "trace": [...]} and errors as an OperationOutcome`)
	pos, code, ok := f.parse(s, args)
	if !ok {
		return code
	}
	input, code, ok := mappingInput(f, s, pos)
	if !ok {
		return code
	}

	t, err := findMapping(*dir, pos[0])
	if err != nil {
		return reportErrors(s, "map explain", *asJSON, splitErrors(err)...)
	}
	data, err := readInput(s, input)
	if err != nil {
		return reportErrors(s, "map explain", *asJSON, err)
	}
	records, err := t.m.Decode(data)
	if err != nil {
		return reportErrors(s, "map explain", *asJSON, err)
	}
	if len(records) == 0 {
		return reportErrors(s, "map explain", *asJSON, fmt.Errorf("%w: the input holds no record", transform.ErrInput))
	}
	if len(records) > 1 {
		fmt.Fprintf(s.err, "liaison map explain: the input holds %d records; explaining the first\n", len(records))
	}
	out, traces, err := t.m.Explain(records[0])
	if err == nil {
		err = t.m.Check(out)
	}
	err = t.relocate(err)
	for i := range traces {
		if traces[i].File == "" || traces[i].File == t.m.File {
			traces[i].File = t.file
		}
	}

	if *asJSON {
		if err != nil {
			return reportErrors(s, "map explain", true, err)
		}
		if traces == nil {
			traces = []transform.Trace{}
		}
		var output any = out
		if t.m.Output == transform.FormatFHIR { // in FHIR's element order
			b, err := t.m.Encode(out)
			if err != nil {
				return reportErrors(s, "map explain", true, err)
			}
			output = json.RawMessage(b)
		}
		return writeJSON(s, "map explain", struct {
			Output any               `json:"output"`
			Trace  []transform.Trace `json:"trace"`
		}{output, traces})
	}
	w := tabwriter.NewWriter(s.out, 0, 0, 2, ' ', 0)
	fmt.Fprintln(w, "OUTPUT\tRULE\tINPUT")
	for _, tr := range traces {
		in := strings.Join(tr.Input, ", ")
		if in == "" {
			in = "-"
		}
		fmt.Fprintf(w, "%s\t%s (%s:%d)\t%s\n", tr.Output, tr.Rule, tr.File, tr.Line, in)
	}
	if werr := w.Flush(); werr != nil {
		fmt.Fprintf(s.err, "liaison map explain: write: %v\n", werr)
		return exitFail
	}
	if err != nil {
		return reportErrors(s, "map explain", false, err)
	}
	return exitOK
}
