package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"

	"github.com/liaisonhq/liaison/transform"
)

func mapRun(ctx context.Context, s *stdio, args []string) int {
	f := newFlags("map run", "[--mappings DIR] [--ndjson] [--json] NAME|FILE [INPUT]", `
Maps INPUT, or standard input when INPUT is absent or "-", with a mapping:
one of the embedded set (plus --mappings DIR) by NAME, or a mapping FILE (a
name ending in .yaml or .yml, or holding a "/"), whose sub-maps are found in
that set. The input is in the mapping's input format; the output goes to
standard output in its output format: JSON (fhir, json) indented by two
spaces, text (fhir+xml, xml, hl7v2) as it is. A FHIR output is validated.
A CSV input gives one output per record, one a line: compact JSON, or a JSON
string for text outputs.

On failure it exits 1 and prints the error on standard error: a mapping
error as "file:line:col: rule: message (input paths)", a FHIR validation
failure as its issues, one a line. With --json the error is an
OperationOutcome on standard output instead.

With --ndjson it is a streaming filter: each line of the input is one
record and gives one line of output, in order — compact JSON, or a JSON
string for text outputs. For a text input format a line is the record's
text, raw or as a JSON string; for a CSV input also a JSON object of column
names to text. Blank lines are skipped. A record that fails gives the line
{"error": "...", "line": N} and the stream goes on; the exit status is 1 if
any record failed. Output is flushed whenever no more input is waiting, so
it works inside pipelines. When standard error is a terminal and standard
output is not, a progress line shows records done, records/s and errors.`)
	dir := f.String("mappings", "", mappingsFlagUsage)
	ndjson := f.Bool("ndjson", false, "stream: one input record per line, one output line each")
	asJSON := f.Bool("json", false, "write errors as an OperationOutcome on standard output")
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
		return reportErrors(s, "map run", *asJSON, splitErrors(err)...)
	}
	if *ndjson {
		in := s.in
		if input != stdinName {
			file, err := os.Open(input)
			if err != nil {
				return reportErrors(s, "map run", *asJSON, err)
			}
			defer file.Close()
			in = file
		}
		return mapNDJSON(ctx, s, t, in)
	}

	data, err := readInput(s, input)
	if err != nil {
		return reportErrors(s, "map run", *asJSON, err)
	}
	outs, err := t.translate(data)
	if err != nil {
		return reportErrors(s, "map run", *asJSON, err)
	}
	var b bytes.Buffer
	for _, out := range outs {
		if t.m.Input == transform.FormatCSV {
			line, err := t.line(out)
			if err != nil {
				return reportErrors(s, "map run", *asJSON, err)
			}
			b.Write(line)
			b.WriteByte('\n')
			continue
		}
		if err := t.pretty(&b, out); err != nil {
			return reportErrors(s, "map run", *asJSON, err)
		}
	}
	if _, err := s.out.Write(b.Bytes()); err != nil {
		fmt.Fprintf(s.err, "liaison map run: write: %v\n", err)
		return exitFail
	}
	return exitOK
}

// translate is Mapping.Translate with errors that name the record of a CSV
// input and the mapping file as the user knows it.
func (t target) translate(data []byte) ([][]byte, error) {
	records, err := t.m.Decode(data)
	if err != nil {
		return nil, err
	}
	outs := make([][]byte, 0, len(records))
	for i, rec := range records {
		out, err := t.mapRecord(rec)
		if err != nil {
			if t.m.Input == transform.FormatCSV {
				err = fmt.Errorf("record %d: %w", i+1, err)
			}
			return nil, err
		}
		outs = append(outs, out)
	}
	return outs, nil
}

// mapRecord maps, validates and encodes one decoded record.
func (t target) mapRecord(rec any) ([]byte, error) {
	v, err := t.m.Map(rec)
	if err != nil {
		return nil, t.relocate(err)
	}
	return t.m.Encode(v)
}

// jsonOutput tells whether the mapping writes JSON, as opposed to text.
func (t target) jsonOutput() bool {
	return t.m.Output == transform.FormatFHIR || t.m.Output == transform.FormatJSON
}

// pretty writes one output for a reader: JSON indented by two spaces, text
// as it is; either ends with a newline.
func (t target) pretty(w *bytes.Buffer, out []byte) error {
	if t.jsonOutput() {
		if err := json.Indent(w, out, "", "  "); err != nil {
			return fmt.Errorf("output: %w", err)
		}
	} else {
		w.Write(out)
	}
	if !bytes.HasSuffix(w.Bytes(), []byte("\n")) {
		w.WriteByte('\n')
	}
	return nil
}

// line writes one output on one line, without the newline: JSON compact,
// text as a JSON string.
func (t target) line(out []byte) ([]byte, error) {
	var b bytes.Buffer
	if t.jsonOutput() {
		if err := json.Compact(&b, out); err != nil {
			return nil, fmt.Errorf("output: %w", err)
		}
		return b.Bytes(), nil
	}
	if err := encodeLine(&b, string(out)); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(b.Bytes(), []byte("\n")), nil
}

// encodeLine writes v as one line of JSON, leaving <, > and & as they are
// (XML and HL7 text stays readable).
func encodeLine(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	return enc.Encode(v)
}
