package fhir

import (
	"os"
	"reflect"
	"testing"
)

// FuzzParseJSON: ParseJSON never panics, and whatever it accepts survives
// EncodeJSON → ParseJSON unchanged.
func FuzzParseJSON(f *testing.F) {
	for _, path := range examples(f, "json") {
		data, err := os.ReadFile(path)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	for _, s := range []string{`{}`, `{"a":[1,2.50,-0.0e+3]}`, `{"a":"\ud83d\ude00\u00e9\n"}`, `{"a":"\ud800"}`, `[]`, `{"a":{"a":{"a":{}}}}`, `{"a":1}x`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		res, err := ParseJSON(data)
		if err != nil {
			return
		}
		out, err := EncodeJSON(res)
		if err != nil {
			t.Fatalf("encode of a parsed resource: %v", err)
		}
		again, err := ParseJSON(out)
		if err != nil {
			t.Fatalf("parse of our own output: %v\n%s", err, out)
		}
		if !reflect.DeepEqual(res, again) {
			t.Fatalf("round trip changed the resource\nin:  %s\nout: %s", data, out)
		}
	})
}
