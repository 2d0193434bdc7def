package transform

import (
	"bytes"
	"encoding/json"
	"fmt"
	"reflect"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/liaisonhq/liaison/fhir"
)

// TestCase is one test written in a mapping file: an input and either the
// expected output or the expected error (a piece of its text).
//
//	tests:
//	  - name: cancelled slot
//	    input: { appointmentId: A1, status: cancelled, ... }   # or text, for hl7v2, csv and xml input
//	    expect: { resourceType: Appointment, status: cancelled, ... }
//	  - name: unknown status
//	    input: { ... }
//	    error: "status"
type TestCase struct {
	Name   string
	Line   int
	Input  any    // a YAML value: an object, or text for text formats
	Expect any    // the expected output: an object, or text for text outputs
	Error  string // when set, the mapping must fail with an error containing it
}

// TestResult is the outcome of one TestCase.
type TestResult struct {
	Mapping string
	Test    string
	File    string
	Line    int
	Err     error // nil when the test passed
}

func (c *compiler) tests(n *yaml.Node) []TestCase {
	if n == nil {
		return nil
	}
	if n.Kind != yaml.SequenceNode {
		c.errorf(n, "tests", "tests is a list")
		return nil
	}
	var out []TestCase
	for i, item := range n.Content {
		rule := fmt.Sprintf("tests[%d]", i)
		var tc struct {
			Name   string `yaml:"name"`
			Input  any    `yaml:"input"`
			Expect any    `yaml:"expect"`
			Error  string `yaml:"error"`
		}
		if err := decodeStrict(item, &tc); err != nil {
			c.errorf(item, rule, "%v", err)
			continue
		}
		if tc.Name == "" {
			tc.Name = fmt.Sprintf("test %d", i+1)
		}
		if (tc.Expect == nil) == (tc.Error == "") {
			c.errorf(item, rule, "a test has either expect or error")
			continue
		}
		out = append(out, TestCase{Name: tc.Name, Line: item.Line, Input: yamlToJSON(tc.Input), Expect: yamlToJSON(tc.Expect), Error: tc.Error})
	}
	return out
}

// RunTests runs the mapping's own tests.
func (m *Mapping) RunTests() []TestResult {
	out := make([]TestResult, 0, len(m.Tests))
	for _, tc := range m.Tests {
		out = append(out, TestResult{Mapping: m.Name, Test: tc.Name, File: m.File, Line: tc.Line, Err: m.runTest(tc)})
	}
	return out
}

func (m *Mapping) runTest(tc TestCase) error {
	got, err := m.testOutput(tc.Input)
	if tc.Error != "" {
		if err == nil {
			return fmt.Errorf("expected an error containing %q, got none", tc.Error)
		}
		if !strings.Contains(err.Error(), tc.Error) {
			return fmt.Errorf("expected an error containing %q, got: %v", tc.Error, err)
		}
		return nil
	}
	if err != nil {
		return err
	}
	if s, ok := tc.Expect.(string); ok && m.Output == FormatFHIRXML {
		// A FHIR XML expectation compares as the resource it holds, so
		// whitespace, the XML declaration and attribute quoting do not matter.
		r, err := fhir.ParseXML([]byte(s))
		if err != nil {
			return fmt.Errorf("expect: %v", err)
		}
		if tc.Expect, err = resourceValue(r); err != nil {
			return fmt.Errorf("expect: %v", err)
		}
	}
	if s, ok := tc.Expect.(string); ok {
		text, _ := got.(string)
		if normalizeText(text) != normalizeText(s) {
			return fmt.Errorf("output differs\n--- expected\n%s\n--- got\n%s", s, text)
		}
		return nil
	}
	want, _ := json.Marshal(tc.Expect)
	have, _ := json.Marshal(got)
	if !bytes.Equal(canonicalJSON(want), canonicalJSON(have)) {
		return fmt.Errorf("output differs\n--- expected\n%s\n--- got\n%s", indentJSON(want), indentJSON(have))
	}
	return nil
}

// testOutput maps a test input and returns the output as a comparable
// value: parsed JSON for object outputs, text for text outputs.
func (m *Mapping) testOutput(input any) (any, error) {
	var data []byte
	if s, ok := input.(string); ok {
		data = []byte(s)
	} else {
		var err error
		if data, err = json.Marshal(input); err != nil {
			return nil, err
		}
	}
	outs, err := m.Translate(data)
	if err != nil {
		return nil, err
	}
	if len(outs) != 1 {
		return nil, fmt.Errorf("the input held %d records, a test takes one", len(outs))
	}
	switch m.Output {
	case FormatFHIR, FormatJSON:
		var v any
		d := json.NewDecoder(bytes.NewReader(outs[0]))
		d.UseNumber()
		if err := d.Decode(&v); err != nil {
			return nil, err
		}
		return v, nil
	case FormatFHIRXML:
		r, err := fhir.ParseXML(outs[0])
		if err != nil {
			return nil, err
		}
		return resourceValue(r)
	}
	return string(outs[0]), nil
}

// resourceValue is a FHIR resource as a plain JSON value, for comparison.
func resourceValue(r fhir.Resource) (any, error) {
	data, err := fhir.EncodeJSON(r)
	if err != nil {
		return nil, err
	}
	var v any
	d := json.NewDecoder(bytes.NewReader(data))
	d.UseNumber()
	return v, d.Decode(&v)
}

func normalizeText(s string) string {
	s = strings.ReplaceAll(s, "\r\n", "\n")
	s = strings.ReplaceAll(s, "\r", "\n")
	return strings.TrimSpace(s)
}

// canonicalJSON re-encodes JSON with sorted keys and numbers by value, so
// 1 and 1.0 in a test's YAML compare equal to the output.
func canonicalJSON(b []byte) []byte {
	var v any
	if err := json.Unmarshal(b, &v); err != nil {
		return b
	}
	out, _ := json.Marshal(v)
	return out
}

func indentJSON(b []byte) string {
	var buf bytes.Buffer
	if json.Indent(&buf, canonicalJSON(b), "", "  ") != nil {
		return string(b)
	}
	return buf.String()
}

// yamlToJSON turns decoded YAML (map[string]any with any keys) into JSON values.
func yamlToJSON(v any) any {
	switch x := v.(type) {
	case map[string]any:
		for k, e := range x {
			x[k] = yamlToJSON(e)
		}
		return x
	case map[any]any:
		out := make(map[string]any, len(x))
		for k, e := range x {
			out[fmt.Sprint(k)] = yamlToJSON(e)
		}
		return out
	case []any:
		for i := range x {
			x[i] = yamlToJSON(x[i])
		}
		return x
	}
	if v != nil && reflect.TypeOf(v).Kind() == reflect.Map {
		return fmt.Sprint(v)
	}
	return v
}
