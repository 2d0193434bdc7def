package main

import (
	"context"
	"encoding/json"
	"fmt"
	"text/tabwriter"
)

func mapList(ctx context.Context, s *stdio, args []string) int {
	f := newFlags("map list", "[--mappings DIR] [--json]", `
Lists the mappings of the embedded set plus --mappings DIR, in name order,
as a table on standard output: name, input and output formats, FHIR
resource type, version (a hash of the file's content, recorded with every
output) and file. With --json it writes a JSON array instead, each mapping
with its description and number of tests too.`)
	dir := f.String("mappings", "", mappingsFlagUsage)
	asJSON := f.Bool("json", false, "write a JSON array")
	pos, code, ok := f.parse(s, args)
	if !ok {
		return code
	}
	if len(pos) > 0 {
		return f.usageError(s, "unexpected argument %q", pos[0])
	}
	l, err := loadMappings(*dir)
	if err != nil {
		return reportErrors(s, "map list", *asJSON, splitErrors(err)...)
	}
	targets := l.all()

	if *asJSON {
		type entry struct {
			Name        string `json:"name"`
			Description string `json:"description,omitempty"`
			Input       string `json:"input"`
			Output      string `json:"output"`
			Resource    string `json:"resource,omitempty"`
			Version     string `json:"version"`
			File        string `json:"file"`
			Tests       int    `json:"tests"`
		}
		list := make([]entry, len(targets))
		for i, t := range targets {
			m := t.m
			list[i] = entry{m.Name, m.Description, string(m.Input), string(m.Output), m.Resource, m.Version, t.file, len(m.Tests)}
		}
		return writeJSON(s, "map list", list)
	}
	w := tabwriter.NewWriter(s.out, 0, 0, 2, ' ', 0)
	fmt.Fprintln(w, "NAME\tINPUT\tOUTPUT\tRESOURCE\tVERSION\tFILE")
	for _, t := range targets {
		m := t.m
		resource := m.Resource
		if resource == "" {
			resource = "-"
		}
		fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\t%s\n", m.Name, m.Input, m.Output, resource, m.Version, t.file)
	}
	if err := w.Flush(); err != nil {
		fmt.Fprintf(s.err, "liaison map list: write: %v\n", err)
		return exitFail
	}
	return exitOK
}

// writeJSON writes v to standard output as JSON indented by two spaces.
func writeJSON(s *stdio, cmd string, v any) int {
	enc := json.NewEncoder(s.out)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(v); err != nil {
		fmt.Fprintf(s.err, "liaison %s: write: %v\n", cmd, err)
		return exitFail
	}
	return exitOK
}
