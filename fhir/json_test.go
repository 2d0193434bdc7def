package fhir

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
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
