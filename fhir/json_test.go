package fhir

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// examples returns the paths of the R4 examples copied into testdata.
func examples(t testing.TB, ext string) []string {
	t.Helper()
	paths, err := filepath.Glob(filepath.Join("..", "testdata", "fhir", "examples", "*."+ext))
	if err != nil || len(paths) == 0 {
		t.Fatalf("no examples in testdata/fhir/examples: %v", err)
	}
	return paths
}

// decodeStd decodes with encoding/json, numbers as json.Number, for comparison.
func decodeStd(t testing.TB, data []byte) map[string]any {
	t.Helper()
	d := json.NewDecoder(bytes.NewReader(data))
	d.UseNumber()
	var m map[string]any
	if err := d.Decode(&m); err != nil {
		t.Fatalf("encoding/json: %v", err)
	}
	return m
}

func TestJSONRoundTripExamples(t *testing.T) {
	for _, path := range examples(t, "json") {
		data, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		res, err := ParseJSON(data)
		if err != nil {
			t.Errorf("%s: %v", filepath.Base(path), err)
			continue
		}
		if want := decodeStd(t, data); !reflect.DeepEqual(map[string]any(res), want) {
			t.Errorf("%s: ParseJSON differs from encoding/json", filepath.Base(path))
			continue
		}
		out, err := EncodeJSON(res)
		if err != nil {
			t.Errorf("%s: encode: %v", filepath.Base(path), err)
			continue
		}
		if !reflect.DeepEqual(decodeStd(t, out), decodeStd(t, data)) {
			t.Errorf("%s: encode → decode differs from the original", filepath.Base(path))
		}
	}
}

func TestParseJSONErrors(t *testing.T) {
	tests := []struct {
		name      string
		in        string
		line, col int
		msg       string
	}{
		{"not an object", `[1]`, 1, 1, "must be a JSON object"},
		{"trailing comma", "{\n  \"a\": 1,\n}", 3, 1, "quoted property name"},
		{"duplicate key", "{\"id\": \"a\",\n \"id\": \"b\"}", 2, 2, `duplicate property "id"`},
		{"bad number", `{"a": 01}`, 1, 8, "expected ',' or '}'"},
		{"leading dot", `{"a": .5}`, 1, 7, "unexpected character"},
		{"unterminated", `{"a": "b`, 1, 9, "unterminated string"},
		{"raw newline in string", "{\"a\": \"b\nc\"}", 1, 9, "control character"},
		{"invalid utf-8", "{\"a\": \"\xff\"}", 1, 8, "invalid UTF-8"},
		{"lone surrogate", `{"a": "\udc00"}`, 1, 14, "unpaired UTF-16 surrogate"},
		{"trailing content", `{} {}`, 1, 4, "after the resource"},
		{"empty", ``, 1, 1, "must be a JSON object"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseJSON([]byte(tt.in))
			se, ok := err.(*SyntaxError)
			if !ok {
				t.Fatalf("error = %v, want *SyntaxError", err)
			}
			if se.Line != tt.line || se.Col != tt.col || !strings.Contains(se.Msg, tt.msg) {
				t.Errorf("got %d:%d %q, want %d:%d containing %q", se.Line, se.Col, se.Msg, tt.line, tt.col, tt.msg)
			}
		})
	}
}

func TestParseJSONDepthLimit(t *testing.T) {
	deep := strings.Repeat(`{"a":`, 10000) + "1" + strings.Repeat("}", 10000)
	if _, err := ParseJSON([]byte(deep)); err == nil || !strings.Contains(err.Error(), "nested too deeply") {
		t.Fatalf("error = %v, want a depth error", err)
	}
}

// Decimals keep their exact text through decode and encode: 1.50 is not 1.5.
func TestJSONKeepsNumberText(t *testing.T) {
	in := `{"resourceType":"Observation","status":"final","code":{"text":"x"},"valueQuantity":{"value":1.50,"unit":"mg"},"component":[{"code":{"text":"y"},"valueInteger":0}],"extension":[{"url":"http://e","valueDecimal":1.0e-7}]}`
	res, err := ParseJSON([]byte(in))
	if err != nil {
		t.Fatal(err)
	}
	out, err := EncodeJSON(res)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`"value":1.50`, `"valueDecimal":1.0e-7`, `"valueInteger":0`} {
		if !strings.Contains(string(out), want) {
			t.Errorf("output lacks %s: %s", want, out)
		}
	}
}

// EncodeJSON writes resourceType first, then elements in definition order
// with each "_name" right after its element, whatever order they came in.
func TestEncodeJSONOrder(t *testing.T) {
	in := `{"birthDate":"1970","gender":"male","_birthDate":{"extension":[{"valueString":"x","url":"http://e"}]},"id":"p1","resourceType":"Patient","zzz":1}`
	res, err := ParseJSON([]byte(in))
	if err != nil {
		t.Fatal(err)
	}
	out, err := EncodeJSON(res)
	if err != nil {
		t.Fatal(err)
	}
	want := `{"resourceType":"Patient","id":"p1","gender":"male","birthDate":"1970","_birthDate":{"extension":[{"url":"http://e","valueString":"x"}]},"zzz":1}`
	if string(out) != want {
		t.Errorf("got  %s\nwant %s", out, want)
	}
}

// Maps built by other code (a mapping's output) encode too: plain Go numbers.
func TestEncodeJSONGoValues(t *testing.T) {
	res := Resource{"resourceType": "Observation", "valueQuantity": map[string]any{"value": 2.5, "comparator": "<"}, "component": []any{map[string]any{"valueInteger": 3}}}
	out, err := EncodeJSON(res)
	if err != nil {
		t.Fatal(err)
	}
	if want := `{"resourceType":"Observation","valueQuantity":{"value":2.5,"comparator":"<"},"component":[{"valueInteger":3}]}`; string(out) != want {
		t.Errorf("got  %s\nwant %s", out, want)
	}
	if _, err := EncodeJSON(Resource{"resourceType": "Observation", "valueDecimal": json.Number("1.2.3")}); err == nil {
		t.Error("an invalid json.Number encoded without error")
	}
}
