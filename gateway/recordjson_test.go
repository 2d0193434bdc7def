package gateway

import (
	"bytes"
	"encoding/json"
	"errors"
	"reflect"
	"testing"
)

// canonicalSeeds are records whose canonical form must be Marshal's byte
// for byte: escapes, invalid UTF-8, U+2028, numbers as written, nesting.
var canonicalSeeds = []string{
	`{}`,
	`{"appointmentId":"A1","patientId":"P9","durationMin":15,"status":"booked"}`,
	`{"b":1,"a":{"d":[1,2.50,-0,3e10,{"z":null,"y":true}],"c":false}}`,
	`{"html":"<a href=\"x\">&amp;</a>","ctl":"\u0000\u0001\b\f\n\r\t\u001f\u007f","ls":"\u2028\u2029","uni":"ünïcødé 日本 🙂"}`,
	"{\"bad\":\"\xff\xfe\",\"k\xffey\":1}",
	`{"":"empty key","\"q\"":"quoted key","<k>":"html key"}`,
	`{"n":[1E+2,1e-2,0.0001,123456789012345678901234567890]}`,
}

func TestCanonicalJSONIsMarshal(t *testing.T) {
	for _, s := range canonicalSeeds {
		compareCanonical(t, []byte(s))
	}
	// Values a decoded record never holds still come out as Marshal's.
	for _, rec := range []map[string]any{{"f": 1.5, "i": 7}, {"n": json.Number("1x")}, {"m": map[string]any(nil)}} {
		got, gotErr := canonicalJSON(rec)
		want, wantErr := json.Marshal(rec)
		if !bytes.Equal(got, want) || (gotErr == nil) != (wantErr == nil) {
			t.Errorf("%#v: got %s, %v; Marshal %s, %v", rec, got, gotErr, want, wantErr)
		}
	}
}

func FuzzCanonicalJSON(f *testing.F) {
	for _, s := range canonicalSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(compareCanonical)
}

// compareCanonical decodes data as a record is decoded and checks that
// canonicalJSON writes what Marshal writes.
func compareCanonical(t *testing.T, data []byte) {
	rec, err := decodeRecord(data)
	if err != nil {
		return
	}
	got, err := canonicalJSON(rec)
	if err != nil {
		t.Fatalf("%q: %v", data, err)
	}
	want, err := json.Marshal(rec)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("%q:\ncanonical %s\nMarshal   %s", data, got, want)
	}
}

// recordSeeds are bodies the record decoder reads as encoding/json does,
// or refuses.
var recordSeeds = []string{
	`{"appointmentId":"A1","patientId":"P9","datetime":"2024-06-15 09:30","durationMin":15,"status":"booked"}`,
	` {"a": [1, -2.5e+3, 0, true, false, null, {"b": []}, {}]} trailing`,
	`{"a":1,"a":2}`,
	`{"s":"\u00e9\ud83d\ude00\\\/\b\f\n\r\t\"<&>\u2028"}`, `{"s":"\ud800x"}`, `{"bad":"` + "\xff\xc3" + `"}`,
	`{"n":01}`, `{"n":-}`, `{"n":1.}`, `{"n":1e}`, `{"n":.5}`, `[1]`, `null`, `"x"`, `{`, `{"a"}`, `{"a":1,}`, `{"a":tru}`,
	"{\"c\":\"\x01\"}", `{"u":"\u12"}`, `{"u":"\uZZZZ"}`, `{"x":"\q"}`, "\ufeff{}", `{"a":[1,]}`, `{"a":[1 2]}`,
}

// What the record decoder accepts, encoding/json's Decoder (with
// UseNumber, as records were read before) reads as the same values, so
// the content hashes of records stored before stay the same; what
// encoding/json refuses, the decoder refuses. It refuses more: a key given
// twice, an unpaired surrogate, invalid UTF-8, text after the object.
func FuzzDecodeRecord(f *testing.F) {
	for _, s := range recordSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		got, gotErr := decodeRecord(data)
		d := json.NewDecoder(bytes.NewReader(data))
		d.UseNumber()
		var want map[string]any
		wantErr := d.Decode(&want)
		if wantErr == nil && want == nil {
			wantErr = errors.New("null")
		}
		if gotErr == nil && wantErr != nil {
			t.Fatalf("%q: decodeRecord accepts what encoding/json refuses: %v", data, wantErr)
		}
		if gotErr == nil && !reflect.DeepEqual(got, want) {
			t.Fatalf("%q:\ndecodeRecord %#v\nencoding/json %#v", data, got, want)
		}
	})
}
