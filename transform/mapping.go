package transform

import (
	"fmt"
	"maps"

	"github.com/liaisonhq/liaison/fhir"
)

// Mapping is one compiled mapping file. It is immutable and safe for
// concurrent use: every Map call has its own run state.
type Mapping struct {
	Name        string
	Description string
	File        string // the file it was loaded from, for errors and explain
	Input       Format
	Output      Format
	Resource    string     // the FHIR resource type of a fhir output
	Version     string     // a hash of the file's content: every output records it
	Tests       []TestCase // the tests written in the file

	lets     []letDef
	root     node
	lookups  map[string]*lookupTable
	letReads map[string][]string
	calls    []subMapCall
	resolve  func(name string) *Mapping // finds sub-maps; set by the Set
	csv      csvOptions
	xml      xmlOptions
}

type letDef struct {
	name  string
	value node
}

type csvOptions struct {
	Delimiter string   `yaml:"delimiter"` // default ","
	Header    *bool    `yaml:"header"`    // default true: the first row names the columns
	Columns   []string `yaml:"columns"`   // column names when there is no header row
}

type xmlOptions struct {
	Root string `yaml:"root"` // root element name of xml output; default "record"
}

// maxSubMapDepth bounds apply() nesting, so a sub-map that applies itself fails cleanly.
const maxSubMapDepth = 16

// Map maps one parsed input record (as Decode returns it) to the output
// value: a map[string]any for fhir, json and xml output, and for hl7v2
// output a map of segments. It does not validate or encode; Encode does.
func (m *Mapping) Map(input any) (any, error) {
	r := m.newRun(input, false)
	return m.eval(r)
}

// Explain maps one record and says, for each output field, which rule
// produced it and which input paths it read.
func (m *Mapping) Explain(input any) (any, []Trace, error) {
	r := m.newRun(input, true)
	out, err := m.eval(r)
	return out, r.traces, err
}

func (m *Mapping) newRun(input any, explain bool) *run {
	r := &run{m: m, env: make(map[string]any, len(m.lets)+4), explain: explain}
	r.env["input"] = input
	r.env["__run"] = r
	return r
}

func (m *Mapping) eval(r *run) (any, error) {
	for _, l := range m.lets {
		var v any
		var err error
		if e, ok := l.value.(*exprNode); ok {
			// A variable keeps what its expression returns (a time stays a time).
			v, err = e.run(r)
		} else {
			v, err = l.value.eval(r, "")
		}
		if err != nil {
			return nil, err
		}
		r.env[l.name] = v
	}
	out, err := m.root.eval(r, "")
	if err != nil {
		return nil, err
	}
	if out == nil {
		out = map[string]any{}
	}
	return out, nil
}

// apply runs a sub-map on a value inside a run, sharing its depth bound.
func (m *Mapping) apply(r *run, name string, input any) (any, error) {
	if m.resolve == nil {
		return nil, fmt.Errorf("apply %s: %w", name, ErrNotFound)
	}
	sub := m.resolve(name)
	if sub == nil {
		return nil, fmt.Errorf("apply %s: %w", name, ErrNotFound)
	}
	if r.depth >= maxSubMapDepth {
		return nil, fmt.Errorf("apply %s: sub-maps nested more than %d deep", name, maxSubMapDepth)
	}
	sr := sub.newRun(input, false)
	sr.depth = r.depth + 1
	return sub.eval(sr)
}

// Translate reads one input in the mapping's input format, maps it and
// writes the output in its output format. A fhir output is validated: an
// invalid one fails with ErrInvalidOutput and the fhir.Issues. Inputs that
// hold several records (CSV rows) give one output each.
func (m *Mapping) Translate(data []byte) ([][]byte, error) {
	records, err := m.Decode(data)
	if err != nil {
		return nil, err
	}
	outs := make([][]byte, 0, len(records))
	for _, rec := range records {
		v, err := m.Map(rec)
		if err != nil {
			return nil, err
		}
		b, err := m.Encode(v)
		if err != nil {
			return nil, err
		}
		outs = append(outs, b)
	}
	return outs, nil
}

// Check validates a mapped value for the mapping's output: for fhir and
// fhir+xml output the FHIR R4 validation of the resource (and that it is
// the declared resource type).
func (m *Mapping) Check(out any) error {
	if m.Output != FormatFHIR && m.Output != FormatFHIRXML {
		return nil
	}
	obj, ok := out.(map[string]any)
	if !ok {
		return fmt.Errorf("%w: the rules produced %s, not a resource", ErrInvalidOutput, typeName(out))
	}
	res := fhir.Resource(obj)
	if m.Resource != "" && res.Type() != m.Resource {
		return fmt.Errorf("%w: resourceType is %q, the mapping declares %s", ErrInvalidOutput, res.Type(), m.Resource)
	}
	if issues := fhir.Validate(res); issues.HasErrors() {
		return fmt.Errorf("%w: %w", ErrInvalidOutput, issues)
	}
	return nil
}

// Lookups lists the names of the mapping's lookup tables.
func (m *Mapping) Lookups() []string {
	return sortedKeys(maps.Keys(m.lookups))
}

func isResourceType(name string) bool { return fhir.IsResourceType(name) }
