package fhir

import (
	"os"
	"reflect"
	"testing"
)

// FuzzValidate: whatever ParseJSON accepts, Validate checks without
// panicking or modifying it, gives well-formed issues, and gives the same
// issues again.
func FuzzValidate(f *testing.F) {
	for _, path := range examples(f, "json") {
		data, err := os.ReadFile(path)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	for _, s := range []string{
		`{}`, `{"resourceType":null}`, `{"resourceType":"Patient","name":[null]}`,
		`{"resourceType":"Patient","_birthDate":[null]}`, `{"resourceType":"Patient","name":[{"_given":[null,{}]}]}`,
		`{"resourceType":"Bundle","entry":[{"resource":{"resourceType":"Bundle","entry":[{"resource":{}}]}}]}`,
		`{"resourceType":"Patient","contained":[{"resourceType":"Patient","contained":[1]}]}`,
		`{"resourceType":"Patient","extension":[{"url":"u","extension":[{"url":"v","valueQuantity":{"value":1e999}}]}]}`,
		`{"resourceType":"Patient","_":{},"__given":1,"_resourceType":"x"}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		r, err := ParseJSON(data)
		if err != nil {
			return
		}
		before := valDeepCopy(r)
		is := Validate(r)
		valCheckIssues(t, is)
		if !reflect.DeepEqual(before, r) {
			t.Fatal("Validate modified the resource")
		}
		if again := Validate(r); !reflect.DeepEqual(is, again) {
			t.Fatalf("second validation differs:\n%v\n%v", is, again)
		}
	})
}
