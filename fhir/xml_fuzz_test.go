package fhir

import (
	"bytes"
	"errors"
	"os"
	"reflect"
	"testing"
)

// FuzzParseXML: ParseXML never panics, and whatever it accepts survives
// EncodeXML → ParseXML unchanged (and EncodeXML accepts it: nothing that
// ParseXML reads is beyond what XML can write back).
func FuzzParseXML(f *testing.F) {
	for _, path := range examples(f, "xml") {
		data, err := os.ReadFile(path)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	for _, s := range []string{
		`<Patient xmlns="http://hl7.org/fhir"/>`,
		`<Patient xmlns="http://hl7.org/fhir"><id value="a"/><name><given value="x"/><given id="g"><extension url="u"><valueBoolean value="true"/></extension></given></name></Patient>`,
		`<Observation xmlns="http://hl7.org/fhir"><status value="final"/><valueQuantity><value value="1.50"/></valueQuantity></Observation>`,
		`<Patient xmlns="http://hl7.org/fhir"><text><status value="generated"/><div xmlns="http://www.w3.org/1999/xhtml"><p>a &amp; b<br/></p></div></text></Patient>`,
		`<Patient xmlns="http://hl7.org/fhir"><contained><Patient><id value="c"/></Patient></contained></Patient>`,
		`<!DOCTYPE Patient [<!ENTITY x "y">]><Patient xmlns="http://hl7.org/fhir"/>`,
		`<Patient xmlns="http://hl7.org/fhir"><active value="yes"/></Patient>`,
		`<Patient xmlns="http://hl7.org/fhir"><name><family value="a"/></name`,
		`<Patient xmlns="http://hl7.org/fhir"><foo/></Patient>`,
		`<Patient><id value="a"/></Patient>`,
		`<DomainResource xmlns="http://hl7.org/fhir"/>`,
		"\xef\xbb\xbf<Basic xmlns=\"http://hl7.org/fhir\"><code><text value=\"a&#10;b\"/></code></Basic>",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		res, err := ParseXML(data)
		if err != nil {
			return
		}
		out, err := EncodeXML(res)
		if err != nil {
			t.Fatalf("encode of a parsed resource: %v\nin: %q", err, data)
		}
		again, err := ParseXML(out)
		if err != nil {
			t.Fatalf("parse of our own output: %v\nin:  %q\nout: %q", err, data, out)
		}
		if !reflect.DeepEqual(res, again) {
			t.Fatalf("round trip changed the resource\nin:  %q\nout: %q", data, out)
		}
	})
}

// FuzzEncodeXML: for any JSON that ParseJSON accepts, EncodeXML either
// reports issues or writes XML that ParseXML reads back to a resource that
// encodes to the very same bytes. Narrative strings, arbitrary keys and
// values come from JSON, so this covers what FuzzParseXML cannot reach:
// checkXHTML must accept nothing that encoding/xml rejects.
func FuzzEncodeXML(f *testing.F) {
	for _, path := range examples(f, "json") {
		data, err := os.ReadFile(path)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	for _, s := range []string{
		`{"resourceType":"Patient","name":[{"given":["a",null],"_given":[null,{"id":"x"}]}]}`,
		`{"resourceType":"Basic","text":{"status":"generated","div":"<div xmlns=\"http://www.w3.org/1999/xhtml\"><p a='1' b=\"&lt;\">x<!-- c --><![CDATA[<]]></p></div>"}}`,
		`{"resourceType":"Basic","text":{"status":"generated","div":"<div xmlns='http://www.w3.org/1999/xhtml' xmlns:s=\"urn:s\"><s:a s:b='&#x1F600;&#10;'/><!----></div>"}}`,
		`{"resourceType":"Basic","code":{"text":"\t\r\n\"<&>'"}}`,
		`{"resourceType":"Observation","valueQuantity":{"value":-0.0e+3}}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		res, err := ParseJSON(data)
		if err != nil {
			return
		}
		out, err := EncodeXML(res)
		if err != nil {
			var issues Issues
			if !errors.As(err, &issues) {
				t.Fatalf("EncodeXML error is not Issues: %v", err)
			}
			return
		}
		back, err := ParseXML(out)
		if err != nil {
			t.Fatalf("ParseXML of EncodeXML output: %v\nin:  %q\nout: %q", err, data, out)
		}
		again, err := EncodeXML(back)
		if err != nil {
			t.Fatalf("EncodeXML of ParseXML output: %v\nin: %q", err, out)
		}
		if !bytes.Equal(out, again) {
			t.Fatalf("XML → JSON → XML changed the XML\nfirst:  %q\nsecond: %q", out, again)
		}
	})
}
