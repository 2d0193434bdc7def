package fhir

import (
	"bytes"
	"encoding/json"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"testing"
)

// referenceDefects lists the examples whose reference XML (testdata/fhir/
// examples/NAME.xml, written by the "fhir" npm package, not by HL7) the
// specification decides against, and why. Each is checked to differ in
// exactly the way described, so the list cannot go stale or hide another
// difference.
//
// All seven are one defect: the reference drops a repeating primitive
// whose repetitions carry extensions but no value — JSON
// "timingTiming": {"_event": [{"extension": [cqf-expression]}]} with no
// "event" array — and then the Timing left empty. The rule that decides it:
// hl7.org/fhir/R4/xml.html, "FHIR elements are never empty. If an element is
// present in the resource, it SHALL have either a value attribute, child
// elements as defined for its type, or 1 or more extensions", so the
// repetition is <event><extension url="…">…</extension></event> (and the JSON
// side is json.html's "_event" array, which carries the id and extensions
// of repetitions whose value is absent). Dropping it loses the
// cqf-expression that says when the activity happens; EncodeXML keeps it.
var referenceDefects = map[string]string{
	"ActivityDefinition-administer-zika-virus-exposure-assessment.json": dropsExtensionOnlyRepeats,
	"ActivityDefinition-heart-valve-replacement.json":                   dropsExtensionOnlyRepeats,
	"ActivityDefinition-provide-mosquito-prevention-advice.json":        dropsExtensionOnlyRepeats,
	"ActivityDefinition-referralPrimaryCareMentalHealth-initial.json":   dropsExtensionOnlyRepeats,
	"ActivityDefinition-serum-zika-dengue-virus-igm.json":               dropsExtensionOnlyRepeats,
	"PlanDefinition-example-cardiology-os.json":                         dropsExtensionOnlyRepeats,
	"PlanDefinition-low-suicide-risk-order-set.json":                    dropsExtensionOnlyRepeats,
}

const dropsExtensionOnlyRepeats = "reference drops timingTiming.event repetitions that have extensions but no value " +
	"(xml.html: an element SHALL have a value attribute, children or 1 or more extensions; it is not empty, so it is written)"

// withoutExtensionOnlyRepeats returns a deep copy of v as the reference
// tool sees it: "_name" arrays without their "name" array removed, then
// objects left empty removed.
func withoutExtensionOnlyRepeats(v any) any {
	switch v := v.(type) {
	case map[string]any:
		out := make(map[string]any, len(v))
		for k, x := range v {
			if _, isList := x.([]any); isList && len(k) > 1 && k[0] == '_' {
				if _, has := v[k[1:]]; !has {
					continue
				}
			}
			x = withoutExtensionOnlyRepeats(x)
			if m, ok := x.(map[string]any); ok && len(m) == 0 {
				continue
			}
			out[k] = x
		}
		return out
	case Resource:
		return Resource(withoutExtensionOnlyRepeats(map[string]any(v)).(map[string]any))
	case []any:
		out := make([]any, len(v))
		for i, x := range v {
			out[i] = withoutExtensionOnlyRepeats(x)
		}
		return out
	}
	return v
}

func loadJSONExample(t testing.TB, path string) Resource {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	res, err := ParseJSON(data)
	if err != nil {
		t.Fatalf("%s: %v", filepath.Base(path), err)
	}
	return res
}

func referenceXML(t testing.TB, jsonPath string) []byte {
	t.Helper()
	data, err := os.ReadFile(strings.TrimSuffix(jsonPath, ".json") + ".xml")
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// Every example survives JSON → EncodeXML → ParseXML unchanged, compact and
// indented: numbers keep their text, primitive extensions their place, the
// narrative its bytes.
func TestXMLRoundTripExamples(t *testing.T) {
	paths := examples(t, "json")
	for _, indent := range []string{"", "  "} {
		ok := 0
		for _, path := range paths {
			res := loadJSONExample(t, path)
			out, err := EncodeXMLIndent(res, indent)
			if err != nil {
				t.Errorf("%s: encode: %v", filepath.Base(path), err)
				continue
			}
			back, err := ParseXML(out)
			if err != nil {
				t.Errorf("%s: parse of our XML: %v", filepath.Base(path), err)
				continue
			}
			if !reflect.DeepEqual(res, back) {
				var diffs []string
				diffResource(map[string]any(res), map[string]any(back), res.Type(), false, &diffs)
				t.Errorf("%s: round trip differs: %s", filepath.Base(path), strings.Join(diffs, "; "))
				continue
			}
			ok++
		}
		t.Logf("indent %q: %d/%d examples round-trip JSON → XML → JSON unchanged", indent, ok, len(paths))
	}
}

// EncodeXML agrees with the reference XML after canonicalisation for every
// example but the listed reference defects, which are checked to be exactly
// that defect.
func TestEncodeXMLMatchesReference(t *testing.T) {
	paths := examples(t, "json")
	matched, explained := 0, 0
	for _, path := range paths {
		name := filepath.Base(path)
		res := loadJSONExample(t, path)
		want, err := canonXML(referenceXML(t, path))
		if err != nil {
			t.Fatalf("%s: reference XML: %v", name, err)
		}
		out, err := EncodeXML(res)
		if err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		got, err := canonXML(out)
		if err != nil {
			t.Errorf("%s: our XML: %v", name, err)
			continue
		}
		diff := canonDiff(got, want, "")
		reason, listed := referenceDefects[name]
		switch {
		case diff == "" && listed:
			t.Errorf("%s: listed as a reference defect but matches: remove it from referenceDefects", name)
		case diff == "":
			matched++
		case !listed:
			t.Errorf("%s: differs from the reference: %s", name, diff)
		default:
			// The difference must be that defect and nothing else.
			fixed, err := EncodeXML(withoutExtensionOnlyRepeats(res).(Resource))
			if err != nil {
				t.Fatalf("%s: %v", name, err)
			}
			got, err := canonXML(fixed)
			if err != nil {
				t.Fatalf("%s: %v", name, err)
			}
			if d := canonDiff(got, want, ""); d != "" {
				t.Errorf("%s: differs beyond the listed defect (%s): %s", name, reason, d)
				continue
			}
			explained++
			t.Logf("%s: explained difference: %s (%s)", name, reason, diff)
		}
	}
	n := len(paths)
	t.Logf("EncodeXML = reference XML (canonical): %d/%d = %.2f%%; explained reference defects: %d; total accounted for: %d/%d",
		matched, n, 100*float64(matched)/float64(n), explained, matched+explained, n)
	// The figure asked for is 99%; it is 98.6% because the reference drops
	// data in 1.4% of the examples, which the specification forbids (see
	// referenceDefects). The assertion is therefore exact: every example
	// matches except those, and those differ only by that defect.
	if matched+explained != n || matched != n-len(referenceDefects) {
		t.Errorf("%d matched + %d explained of %d examples: every example must match the reference or be a listed defect", matched, explained, n)
	}
}

// ParseXML of each reference XML gives ParseJSON of its example. The
// narrative div is compared as canonical XHTML when its bytes differ: the
// reference tool re-serialised the XHTML (it dropped whitespace-only text
// nodes and rewrote entities: &quot; in text became a literal "), so its
// bytes are not the example's, while its XML information is. ParseXML keeps
// the div's bytes exactly as they are in the XML it reads.
func TestParseXMLReference(t *testing.T) {
	paths := examples(t, "json")
	exact, divCanon, explained := 0, 0, 0
	for _, path := range paths {
		name := filepath.Base(path)
		want := loadJSONExample(t, path)
		got, err := ParseXML(referenceXML(t, path))
		if err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		if reason, listed := referenceDefects[name]; listed {
			var diffs []string
			diffResource(map[string]any(want), map[string]any(got), want.Type(), true, &diffs)
			if len(diffs) == 0 {
				t.Errorf("%s: listed as a reference defect but matches", name)
				continue
			}
			want = withoutExtensionOnlyRepeats(want).(Resource)
			diffs = diffs[:0]
			diffResource(map[string]any(want), map[string]any(got), want.Type(), true, &diffs)
			if len(diffs) > 0 {
				t.Errorf("%s: differs beyond the listed defect (%s): %s", name, reason, strings.Join(diffs, "; "))
				continue
			}
			explained++
			continue
		}
		if reflect.DeepEqual(want, got) {
			exact++
			continue
		}
		var diffs []string
		diffResource(map[string]any(want), map[string]any(got), want.Type(), true, &diffs)
		if len(diffs) > 0 {
			t.Errorf("%s: ParseXML(reference) differs from ParseJSON: %s", name, strings.Join(diffs, "; "))
			continue
		}
		divCanon++
	}
	n := len(paths)
	t.Logf("ParseXML(reference) = ParseJSON(example): %d/%d exactly, %d more with the re-serialised div compared as canonical XHTML (%d/%d = %.2f%%), %d reference defects",
		exact, n, divCanon, exact+divCanon, n, 100*float64(exact+divCanon)/float64(n), explained)
	if exact+divCanon+explained != n {
		t.Errorf("only %d of %d examples accounted for", exact+divCanon+explained, n)
	}
}

// canonNode is an element reduced the way canon in
// /work/shared/tools/fhir-examples-check.py reduces it with ElementTree:
// namespace-qualified name, sorted attributes (namespace declarations are
// not attributes), the text before the first child with whitespace runs
// collapsed, the children; text after a child (its "tail") is ignored.
type canonNode struct {
	name  string
	attrs []string
	text  string
	kids  []*canonNode
}

// canonXML parses a document into canonNodes. The reference XML files begin
// with two XML declarations, a defect of the tool that wrote them: XML 1.0
// §2.8 allows the declaration only at the very start of the document, so
// strict parsers (expat, and thus Python's ElementTree) reject the files.
// encoding/xml does not check where a declaration is and accepts them, as
// does ParseXML before the root element.
func canonXML(data []byte) (*canonNode, error) {
	d := xml.NewDecoder(bytes.NewReader(data))
	var stack []*canonNode
	var texts []*strings.Builder
	var root *canonNode
	for {
		tok, err := d.Token()
		if err == io.EOF {
			if root == nil || len(stack) > 0 {
				return nil, io.ErrUnexpectedEOF
			}
			return root, nil
		}
		if err != nil {
			return nil, err
		}
		switch tok := tok.(type) {
		case xml.StartElement:
			n := &canonNode{name: "{" + tok.Name.Space + "}" + tok.Name.Local}
			for _, a := range tok.Attr {
				if a.Name.Space == "xmlns" || (a.Name.Space == "" && a.Name.Local == "xmlns") {
					continue
				}
				key := a.Name.Local
				if a.Name.Space != "" {
					key = "{" + a.Name.Space + "}" + key
				}
				n.attrs = append(n.attrs, key+"="+a.Value)
			}
			sort.Strings(n.attrs)
			if len(stack) > 0 {
				parent := stack[len(stack)-1]
				if len(parent.kids) == 0 {
					parent.text = strings.Join(strings.Fields(texts[len(texts)-1].String()), " ")
				}
				parent.kids = append(parent.kids, n)
			} else {
				root = n
			}
			stack = append(stack, n)
			texts = append(texts, new(strings.Builder))
		case xml.EndElement:
			n := stack[len(stack)-1]
			if len(n.kids) == 0 {
				n.text = strings.Join(strings.Fields(texts[len(texts)-1].String()), " ")
			}
			stack, texts = stack[:len(stack)-1], texts[:len(texts)-1]
		case xml.CharData:
			if len(stack) > 0 && len(stack[len(stack)-1].kids) == 0 {
				texts[len(texts)-1].Write(tok)
			}
		}
	}
}

// canonDiff returns "" when the trees are equal, else where they first differ.
func canonDiff(a, b *canonNode, path string) string {
	if a.name != b.name {
		return fmt.Sprintf("%s: element %s vs %s", path, a.name, b.name)
	}
	path += "/" + a.name
	if strings.Join(a.attrs, "\x00") != strings.Join(b.attrs, "\x00") {
		return fmt.Sprintf("%s: attributes %q vs %q", path, a.attrs, b.attrs)
	}
	if a.text != b.text {
		return fmt.Sprintf("%s: text %q vs %q", path, a.text, b.text)
	}
	for i := 0; i < len(a.kids) && i < len(b.kids); i++ {
		if d := canonDiff(a.kids[i], b.kids[i], path); d != "" {
			return d
		}
	}
	if len(a.kids) != len(b.kids) {
		return fmt.Sprintf("%s: %d children vs %d", path, len(a.kids), len(b.kids))
	}
	return ""
}

// canonXHTML reduces a narrative div to its XML information: elements with
// resolved namespaces and sorted attributes, text with entities and
// character references decoded, comments; whitespace-only text nodes, which
// the reference tool dropped, are left out.
func canonXHTML(s string) (string, error) {
	d := xml.NewDecoder(strings.NewReader(s))
	var b strings.Builder
	for {
		tok, err := d.Token()
		if err == io.EOF {
			return b.String(), nil
		}
		if err != nil {
			return "", err
		}
		switch tok := tok.(type) {
		case xml.StartElement:
			var attrs []string
			for _, a := range tok.Attr {
				if a.Name.Space == "xmlns" || (a.Name.Space == "" && a.Name.Local == "xmlns") {
					continue
				}
				attrs = append(attrs, fmt.Sprintf("{%s}%s=%q", a.Name.Space, a.Name.Local, a.Value))
			}
			sort.Strings(attrs)
			fmt.Fprintf(&b, "<{%s}%s %s>", tok.Name.Space, tok.Name.Local, strings.Join(attrs, " "))
		case xml.EndElement:
			fmt.Fprintf(&b, "</{%s}%s>", tok.Name.Space, tok.Name.Local)
		case xml.CharData:
			if strings.TrimSpace(string(tok)) != "" {
				fmt.Fprintf(&b, "%q", string(tok))
			}
		case xml.Comment:
			fmt.Fprintf(&b, "<!--%q-->", string(tok))
		}
	}
}

// diffResource appends where two resources differ ("Patient.name[0].given");
// with divCanon, narrative divs are compared as canonical XHTML.
func diffResource(a, b any, path string, divCanon bool, out *[]string) {
	switch a := a.(type) {
	case map[string]any:
		bm, ok := b.(map[string]any)
		if !ok {
			*out = append(*out, path+": an object and something else")
			return
		}
		keys := make([]string, 0, len(a)+len(bm))
		for k := range a {
			keys = append(keys, k)
		}
		for k := range bm {
			if _, ok := a[k]; !ok {
				keys = append(keys, k)
			}
		}
		sort.Strings(keys)
		for _, k := range keys {
			av, aok := a[k]
			bv, bok := bm[k]
			switch {
			case !aok:
				*out = append(*out, path+"."+k+": only in the second")
			case !bok:
				*out = append(*out, path+"."+k+": only in the first")
			case k == "div" && divCanon:
				as, _ := av.(string)
				bs, _ := bv.(string)
				if as == bs {
					continue
				}
				ca, err1 := canonXHTML(as)
				cb, err2 := canonXHTML(bs)
				if err1 != nil || err2 != nil || ca != cb {
					*out = append(*out, path+".div: canonical XHTML differs")
				}
			default:
				diffResource(av, bv, path+"."+k, divCanon, out)
			}
		}
	case []any:
		bl, ok := b.([]any)
		if !ok || len(a) != len(bl) {
			*out = append(*out, path+": arrays differ in length")
			return
		}
		for i := range a {
			diffResource(a[i], bl[i], fmt.Sprintf("%s[%d]", path, i), divCanon, out)
		}
	default:
		if !reflect.DeepEqual(a, b) {
			*out = append(*out, fmt.Sprintf("%s: %#v vs %#v", path, a, b))
		}
	}
}

const (
	xmlHead = `<?xml version="1.0" encoding="UTF-8"?>` + "\n"
	ns      = ` xmlns="http://hl7.org/fhir"`
	divNS   = ` xmlns="http://www.w3.org/1999/xhtml"`
)

// EncodeXML writes each JSON construct the way xml.html says, and ParseXML
// reads it back to the same JSON.
func TestXMLForms(t *testing.T) {
	tests := []struct {
		name string
		json string
		xml  string // after the XML declaration
	}{
		{"resource id is an element, primitives in value",
			`{"resourceType":"Patient","id":"p1","active":true,"gender":"male"}`,
			`<Patient` + ns + `><id value="p1"/><active value="true"/><gender value="male"/></Patient>`},
		{"definition order, whatever the JSON order",
			`{"gender":"male","birthDate":"1970","resourceType":"Patient","id":"p1"}`,
			`<Patient` + ns + `><id value="p1"/><gender value="male"/><birthDate value="1970"/></Patient>`},
		{"Element.id and Extension.url are attributes",
			`{"resourceType":"Patient","name":[{"id":"n1","extension":[{"url":"http://e","valueString":"x"}],"family":"F"}]}`,
			`<Patient` + ns + `><name id="n1"><extension url="http://e"><valueString value="x"/></extension><family value="F"/></name></Patient>`},
		{"primitive id and extensions on the same element",
			`{"resourceType":"Patient","birthDate":"1970","_birthDate":{"id":"b","extension":[{"url":"http://e","valueCode":"c"}]}}`,
			`<Patient` + ns + `><birthDate id="b" value="1970"><extension url="http://e"><valueCode value="c"/></extension></birthDate></Patient>`},
		{"primitive with extensions and no value",
			`{"resourceType":"Patient","_birthDate":{"extension":[{"url":"http://hl7.org/fhir/StructureDefinition/data-absent-reason","valueCode":"unknown"}]}}`,
			`<Patient` + ns + `><birthDate><extension url="http://hl7.org/fhir/StructureDefinition/data-absent-reason"><valueCode value="unknown"/></extension></birthDate></Patient>`},
		{"repeating primitive merged with its _name by index, nulls on either side",
			`{"resourceType":"Patient","name":[{"given":["a",null,"c"],"_given":[null,{"id":"g2"},{"extension":[{"url":"http://e","valueBoolean":false}]}]}]}`,
			`<Patient` + ns + `><name><given value="a"/><given id="g2"/><given value="c"><extension url="http://e"><valueBoolean value="false"/></extension></given></name></Patient>`},
		{"repeating primitive with ids only and no values",
			`{"resourceType":"Patient","name":[{"_given":[{"id":"a"},{"id":"b"}]}]}`,
			`<Patient` + ns + `><name><given id="a"/><given id="b"/></name></Patient>`},
		{"numbers keep their text; choice names keep the type",
			`{"resourceType":"Observation","status":"final","code":{"text":"t"},"valueQuantity":{"value":1.50,"unit":"mg"},"component":[{"code":{"text":"c"},"valueInteger":-0}]}`,
			`<Observation` + ns + `><status value="final"/><code><text value="t"/></code><valueQuantity><value value="1.50"/><unit value="mg"/></valueQuantity><component><code><text value="c"/></code><valueInteger value="-0"/></component></Observation>`},
		{"contained resources inherit the namespace",
			`{"resourceType":"Patient","contained":[{"resourceType":"Organization","id":"o1","name":"O"}],"managingOrganization":{"reference":"#o1"}}`,
			`<Patient` + ns + `><contained><Organization><id value="o1"/><name value="O"/></Organization></contained><managingOrganization><reference value="#o1"/></managingOrganization></Patient>`},
		{"bundle entries and parameter resources are containers",
			`{"resourceType":"Bundle","type":"collection","entry":[{"resource":{"resourceType":"Parameters","parameter":[{"name":"p","resource":{"resourceType":"Basic","code":{"text":"b"}}}]}}]}`,
			`<Bundle` + ns + `><type value="collection"/><entry><resource><Parameters><parameter><name value="p"/><resource><Basic><code><text value="b"/></code></Basic></resource></parameter></Parameters></resource></entry></Bundle>`},
		{"narrative div verbatim",
			`{"resourceType":"Basic","text":{"status":"generated","div":"<div xmlns=\"http://www.w3.org/1999/xhtml\">\n  <p>a &amp; b&#160;<br/>\u00e9</p>\n</div>"},"code":{"text":"x"}}`,
			`<Basic` + ns + `><text><status value="generated"/><div` + divNS + ">\n  <p>a &amp; b&#160;<br/>\u00e9</p>\n</div></text><code><text value=\"x\"/></code></Basic>"},
		{"attribute values escaped so that normalisation keeps them",
			"{\"resourceType\":\"Basic\",\"code\":{\"text\":\" a&b<c>\\\"d' \\n\\r\\tz \\u00e9\\ud83d\\ude00\"}}",
			`<Basic` + ns + `><code><text value=" a&amp;b&lt;c&gt;&quot;d' &#10;&#13;&#9;z ` + "\u00e9\U0001F600" + `"/></code></Basic>`},
		{"empty object and empty resource",
			`{"resourceType":"Patient","name":[{}]}`,
			`<Patient` + ns + `><name/></Patient>`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res, err := ParseJSON([]byte(tt.json))
			if err != nil {
				t.Fatal(err)
			}
			out, err := EncodeXML(res)
			if err != nil {
				t.Fatalf("EncodeXML: %v", err)
			}
			if want := xmlHead + tt.xml; string(out) != want {
				t.Errorf("EncodeXML\n got  %s\n want %s", out, want)
			}
			back, err := ParseXML(out)
			if err != nil {
				t.Fatalf("ParseXML: %v", err)
			}
			if !reflect.DeepEqual(res, back) {
				a, _ := EncodeJSON(back)
				t.Errorf("ParseXML\n got  %s\n want %s", a, tt.json)
			}
		})
	}
}

// ParseXML gives each primitive its JSON kind and "_name" arrays aligned
// with null; comments, whitespace and a byte-order mark are not content.
func TestParseXMLKinds(t *testing.T) {
	in := "\xef\xbb\xbf<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<!-- a comment -->\n" +
		`<Observation xmlns="http://hl7.org/fhir">
  <!-- comments and whitespace between elements are ignored -->
  <status value="final"/>
  <code><coding><system value="http://loinc.org"/><code value="1-8"/></coding></code>
  <valueQuantity><value value="1.50e-3"/></valueQuantity>
  <component>
    <code><text value="a"/></code>
    <valueBoolean value="false"/>
  </component>
  <component>
    <code><text value="b"/></code>
    <valueSampledData><origin><value value="0"/></origin><period value="10.0"/><dimensions value="2"/><data value="1 2"/></valueSampledData>
  </component>
</Observation>
<!-- trailing comment -->
`
	got, err := ParseXML([]byte(in))
	if err != nil {
		t.Fatal(err)
	}
	want := Resource{
		"resourceType":  "Observation",
		"status":        "final",
		"code":          map[string]any{"coding": []any{map[string]any{"system": "http://loinc.org", "code": "1-8"}}},
		"valueQuantity": map[string]any{"value": json.Number("1.50e-3")},
		"component": []any{
			map[string]any{"code": map[string]any{"text": "a"}, "valueBoolean": false},
			map[string]any{"code": map[string]any{"text": "b"}, "valueSampledData": map[string]any{
				"origin": map[string]any{"value": json.Number("0")}, "period": json.Number("10.0"),
				"dimensions": json.Number("2"), "data": "1 2"}},
		},
	}
	if !reflect.DeepEqual(got, want) {
		a, _ := EncodeJSON(got)
		t.Errorf("got %s", a)
	}
}

// EncodeXMLIndent puts each element on its own line and leaves the
// narrative alone: its whitespace is content.
func TestEncodeXMLIndent(t *testing.T) {
	div := "<div xmlns=\"http://www.w3.org/1999/xhtml\"><p>x</p>\n<p>y  z</p></div>"
	res := Resource{"resourceType": "Patient", "id": "p",
		"text":      map[string]any{"status": "generated", "div": div},
		"name":      []any{map[string]any{"given": []any{"a", "b"}, "_given": []any{nil, map[string]any{"extension": []any{map[string]any{"url": "http://e", "valueString": "v"}}}}}},
		"contained": []any{map[string]any{"resourceType": "Organization", "id": "o"}},
	}
	out, err := EncodeXMLIndent(res, "  ")
	if err != nil {
		t.Fatal(err)
	}
	want := xmlHead + `<Patient xmlns="http://hl7.org/fhir">
  <id value="p"/>
  <text>
    <status value="generated"/>
    ` + div + `
  </text>
  <contained>
    <Organization>
      <id value="o"/>
    </Organization>
  </contained>
  <name>
    <given value="a"/>
    <given value="b">
      <extension url="http://e">
        <valueString value="v"/>
      </extension>
    </given>
  </name>
</Patient>
`
	if string(out) != want {
		t.Errorf("got\n%s\nwant\n%s", out, want)
	}
	back, err := ParseXML(out)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(Resource(res), back) {
		t.Errorf("indented XML does not read back the same")
	}
}

// What XML cannot carry is an error with its location, never dropped.
func TestEncodeXMLErrors(t *testing.T) {
	ext := func(m map[string]any) map[string]any { return m }
	tests := []struct {
		name  string
		res   Resource
		where string
		msg   string
	}{
		{"unknown element", Resource{"resourceType": "Patient", "foo": "x"}, "Patient.foo", "unknown element"},
		{"unknown nested element", Resource{"resourceType": "Patient", "name": []any{map[string]any{}, map[string]any{"nickname": "x"}}}, "Patient.name[1].nickname", "unknown element"},
		{"unknown key in contained", Resource{"resourceType": "Bundle", "entry": []any{map[string]any{"resource": map[string]any{"resourceType": "Patient", "bogus": true}}}}, "Bundle.entry[0].resource.bogus", "unknown element"},
		{"unknown key in a _name object", Resource{"resourceType": "Patient", "_gender": map[string]any{"foo": "x"}}, "Patient.gender.foo", "only id and extension"},
		{"extension on an attribute", Resource{"resourceType": "Patient", "extension": []any{ext(map[string]any{"url": "http://e", "_url": map[string]any{"id": "u"}, "valueString": "x"})}}, "Patient.extension[0].url", "attribute"},
		{"_name of a complex element", Resource{"resourceType": "Patient", "_maritalStatus": map[string]any{"id": "m"}}, "Patient.maritalStatus", "primitive"},
		{"missing resourceType", Resource{"id": "x"}, "resourceType", "resourceType missing"},
		{"unknown resource type", Resource{"resourceType": "Patientx"}, "resourceType", "unknown resource type"},
		{"abstract contained", Resource{"resourceType": "Patient", "contained": []any{map[string]any{"resourceType": "DomainResource"}}}, "Patient.contained[0]", "unknown resource type"},
		{"string for a boolean", Resource{"resourceType": "Patient", "active": "true"}, "Patient.active", "expected a boolean"},
		{"number for a string", Resource{"resourceType": "Patient", "gender": json.Number("1")}, "Patient.gender", "expected a string"},
		{"bad number", Resource{"resourceType": "Observation", "valueQuantity": map[string]any{"value": json.Number("1.")}}, "Observation.valueQuantity.value", "not a valid decimal"},
		{"fraction in an integer", Resource{"resourceType": "Observation", "valueInteger": json.Number("1.0")}, "Observation.valueInteger", "fraction or exponent"},
		{"control character", Resource{"resourceType": "Patient", "gender": "a\x01"}, "Patient.gender", "control character"},
		{"invalid UTF-8", Resource{"resourceType": "Patient", "gender": "a\xff"}, "Patient.gender", "invalid UTF-8"},
		{"array for a single element", Resource{"resourceType": "Patient", "gender": []any{"male"}}, "Patient.gender", "does not repeat"},
		{"single value for a repeating element", Resource{"resourceType": "Patient", "name": map[string]any{}}, "Patient.name", "expected an array"},
		{"primitive with an empty _name", Resource{"resourceType": "Patient", "_birthDate": map[string]any{"extension": []any{}}}, "Patient.birthDate", "no value, id or extensions"},
		{"null primitive", Resource{"resourceType": "Patient", "name": []any{map[string]any{"given": []any{"a", nil}}}}, "Patient.name[0].given[1]", "no value, id or extensions"},
		{"narrative without namespace", Resource{"resourceType": "Patient", "text": map[string]any{"status": "generated", "div": "<div>x</div>"}}, "Patient.text.div", "xmlns"},
		{"narrative not well-formed", Resource{"resourceType": "Patient", "text": map[string]any{"status": "generated", "div": `<div xmlns="http://www.w3.org/1999/xhtml"><p>x</div>`}}, "Patient.text.div", "closed by"},
		{"narrative with a DTD entity", Resource{"resourceType": "Patient", "text": map[string]any{"status": "generated", "div": `<div xmlns="http://www.w3.org/1999/xhtml">a&nbsp;b</div>`}}, "Patient.text.div", "undefined entity"},
		{"narrative with content after it", Resource{"resourceType": "Patient", "text": map[string]any{"status": "generated", "div": `<div xmlns="http://www.w3.org/1999/xhtml"/><p/>`}}, "Patient.text.div", "after the div"},
		{"narrative with an undeclared prefix", Resource{"resourceType": "Patient", "text": map[string]any{"status": "generated", "div": `<div xmlns="http://www.w3.org/1999/xhtml"><h:p/></div>`}}, "Patient.text.div", "undeclared namespace prefix"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, err := EncodeXML(tt.res)
			var issues Issues
			if !errors.As(err, &issues) {
				t.Fatalf("error = %v (output %s), want Issues", err, out)
			}
			for _, is := range issues {
				if is.Severity == SeverityError && len(is.Expression) == 1 && is.Expression[0] == tt.where && strings.Contains(is.Diagnostics, tt.msg) {
					return
				}
			}
			t.Errorf("issues %v lack one at %s containing %q", issues, tt.where, tt.msg)
		})
	}
}

// Malformed XML is a *SyntaxError with its position.
func TestParseXMLSyntaxErrors(t *testing.T) {
	tests := []struct {
		name      string
		in        string
		line, col int
		msg       string
	}{
		{"unclosed", `<Patient xmlns="http://hl7.org/fhir"><id value="a"/>`, 1, 53, "unexpected EOF"},
		{"mismatched", "<Patient xmlns=\"http://hl7.org/fhir\">\n<name></nam></Patient>", 2, 13, "closed by"},
		{"DOCTYPE", "<!DOCTYPE Patient [<!ENTITY x \"y\">]>\n<Patient xmlns=\"http://hl7.org/fhir\"/>", 1, 1, "DTD"},
		{"undefined entity", `<Patient xmlns="http://hl7.org/fhir"><id value="&x;"/></Patient>`, 1, 52, "entity"},
		{"wrong namespace", `<Patient xmlns="http://hl7.org/fhir/x"/>`, 1, 1, "namespace http://hl7.org/fhir"},
		{"no namespace", "\n <Patient/>", 2, 2, "namespace"},
		{"not a resource", `<HumanName xmlns="http://hl7.org/fhir"/>`, 1, 1, "not a FHIR R4 resource type"},
		{"abstract resource", `<DomainResource xmlns="http://hl7.org/fhir"/>`, 1, 1, "not a FHIR R4 resource type"},
		{"text before root", `x<Patient xmlns="http://hl7.org/fhir"/>`, 1, 1, "before the root"},
		{"second root", `<Patient xmlns="http://hl7.org/fhir"/><Patient xmlns="http://hl7.org/fhir"/>`, 1, 39, "after the root"},
		{"duplicate attribute", `<Patient xmlns="http://hl7.org/fhir"><id value="a" value="b"/></Patient>`, 1, 38, "duplicate attribute"},
		{"declaration inside", `<Patient xmlns="http://hl7.org/fhir"><?xml version="1.0"?></Patient>`, 1, 38, "XML declaration"},
		{"not UTF-8", `<?xml version="1.0" encoding="ISO-8859-1"?><Patient xmlns="http://hl7.org/fhir"/>`, 1, 44, "ISO-8859-1"},
		{"invalid UTF-8", "<Patient xmlns=\"http://hl7.org/fhir\"><id value=\"\xff\"/></Patient>", 1, 51, "UTF-8"},
		{"empty", ``, 1, 1, "no root"},
		{"deep", `<Patient xmlns="http://hl7.org/fhir">` + strings.Repeat(`<contained><Patient>`, 600), 1, 10258, "nested too deeply"},
		{"deep narrative", `<Patient xmlns="http://hl7.org/fhir"><text><div xmlns="http://www.w3.org/1999/xhtml">` + strings.Repeat(`<b>`, 600), 1, 1610, "nested too deeply"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseXML([]byte(tt.in))
			var se *SyntaxError
			if !errors.As(err, &se) {
				t.Fatalf("error = %v, want *SyntaxError", err)
			}
			if se.Format != "xml" || se.Line != tt.line || se.Col != tt.col || !strings.Contains(se.Msg, tt.msg) {
				t.Errorf("got %s %d:%d %q, want xml %d:%d containing %q", se.Format, se.Line, se.Col, se.Msg, tt.line, tt.col, tt.msg)
			}
		})
	}
}

// Well-formed XML that is not a valid FHIR structure gives Issues located
// by FHIRPath.
func TestParseXMLStructureErrors(t *testing.T) {
	const p = `<Patient xmlns="http://hl7.org/fhir">`
	tests := []struct {
		name  string
		in    string
		where string
		msg   string
	}{
		{"unknown element", p + `<foo value="x"/></Patient>`, "Patient.foo", "unknown element"},
		{"unknown nested element", p + `<name><family value="a"/></name><name><nickname value="x"/></name></Patient>`, "Patient.name[1].nickname", "unknown element"},
		{"unknown element in contained", `<Bundle xmlns="http://hl7.org/fhir"><entry><resource><Patient><bogus/></Patient></resource></entry></Bundle>`, "Bundle.entry[0].resource.bogus", "unknown element"},
		{"attribute written as element", p + `<extension><url value="http://e"/></extension></Patient>`, "Patient.extension[0].url", "unknown element"},
		{"unknown attribute", p + `<gender value="male" foo="x"/></Patient>`, "Patient.gender.foo", "unknown attribute"},
		{"id attribute on a resource", `<Patient xmlns="http://hl7.org/fhir" id="x"/>`, "Patient.id", "unknown attribute"},
		{"schema location", `<Patient xmlns="http://hl7.org/fhir" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xsi:schemaLocation="x"/>`, "Patient", `unknown attribute "{http://www.w3.org/2001/XMLSchema-instance}schemaLocation"`},
		{"element in another namespace", p + `<gender xmlns="urn:x" value="male"/></Patient>`, "Patient.gender", "not in the namespace"},
		{"bad boolean", p + `<active value="yes"/></Patient>`, "Patient.active", "not a boolean"},
		{"bad boolean case", p + `<active value="True"/></Patient>`, "Patient.active", "not a boolean"},
		{"bad integer", `<Observation xmlns="http://hl7.org/fhir"><valueInteger value="1.0"/></Observation>`, "Observation.valueInteger", "fraction or exponent"},
		{"bad decimal", `<Observation xmlns="http://hl7.org/fhir"><valueQuantity><value value=".5"/></valueQuantity></Observation>`, "Observation.valueQuantity.value", "not a valid decimal"},
		{"number with spaces", `<Observation xmlns="http://hl7.org/fhir"><valueQuantity><value value=" 1"/></valueQuantity></Observation>`, "Observation.valueQuantity.value", "not a valid decimal"},
		{"text in a primitive", p + `<gender value="male">male</gender></Patient>`, "Patient.gender", "text is not allowed"},
		{"text in a complex element", p + `<name>Smith</name></Patient>`, "Patient.name[0]", "text is not allowed"},
		{"empty primitive", p + `<name><given/></name></Patient>`, "Patient.name[0].given[0]", "empty element"},
		{"child of a primitive", p + `<gender value="male"><value value="x"/></gender></Patient>`, "Patient.gender.value", "only extensions"},
		{"out of order", p + `<gender value="male"/><id value="a"/></Patient>`, "Patient.id", "out of order"},
		{"split repetitions", p + `<name><given value="a"/><prefix value="b"/><given value="c"/></name></Patient>`, "Patient.name[0].given", "out of order"},
		{"repeated single element", p + `<gender value="male"/><gender value="female"/></Patient>`, "Patient.gender", "repeats"},
		{"two choice types", `<Observation xmlns="http://hl7.org/fhir"><valueString value="a"/><valueBoolean value="true"/></Observation>`, "Observation.valueBoolean", "two types"},
		{"empty container", p + `<contained/></Patient>`, "Patient.contained[0]", "empty container"},
		{"two resources in a container", p + `<contained><Basic/><Basic/></contained></Patient>`, "Patient.contained[0]", "one resource only"},
		{"not a resource in a container", p + `<contained><HumanName/></contained></Patient>`, "Patient.contained[0]", "not a FHIR R4 resource type"},
		{"narrative in the FHIR namespace", p + `<text><status value="generated"/><div>x</div></text></Patient>`, "Patient.text.div", "namespace http://www.w3.org/1999/xhtml"},
		{"narrative with a prefix", p + `<text><status value="generated"/><h:div xmlns:h="http://www.w3.org/1999/xhtml">x</h:div></text></Patient>`, "Patient.text.div", "must start with <div"},
		{"narrative relying on an outer prefix", `<Patient xmlns="http://hl7.org/fhir" xmlns:h="http://www.w3.org/1999/xhtml"><text><status value="generated"/><div xmlns="http://www.w3.org/1999/xhtml"><h:p/></div></text></Patient>`, "Patient.text.div", "undeclared namespace prefix"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res, err := ParseXML([]byte(tt.in))
			var issues Issues
			if !errors.As(err, &issues) {
				t.Fatalf("error = %v (resource %v), want Issues", err, res)
			}
			for _, is := range issues {
				if is.Severity == SeverityError && len(is.Expression) == 1 && is.Expression[0] == tt.where && strings.Contains(is.Diagnostics, tt.msg) {
					return
				}
			}
			t.Errorf("issues %v lack one at %s containing %q", issues, tt.where, tt.msg)
		})
	}
}

// checkXHTML accepts one self-contained well-formed div and nothing that
// encoding/xml would reject, so EncodeXML never writes XML ParseXML cannot
// read.
func TestCheckXHTML(t *testing.T) {
	const open = `<div xmlns="http://www.w3.org/1999/xhtml"`
	tests := []struct {
		div string
		ok  bool
	}{
		{open + `/>`, true},
		{open + "\n  class='a b'>\n<p>x</p >\r\n</div >", true},
		{open + `><p title="a &amp; b &#60; &#x1F600;">&lt;&gt;&quot;&apos;&#10;</p></div>`, true},
		{open + `><!----><!-- a - b --><![CDATA[ <&> ]]></div>`, true},
		{open + ` xmlns:s="http://www.w3.org/2000/svg"><s:svg s:width="1"/><p xml:lang="en"/></div>`, true},
		{open + `><p xmlns:q="urn:q"><q:x/></p></div>`, true},
		{"<div xmlns=\"http://www.w3.org/1999/xhtml\">\u00e9\U0001F600</div>", true},
		{`<div>x</div>`, false},
		{`<div xmlns="http://www.w3.org/1999/xhtml/">x</div>`, false},
		{` ` + open + `/>`, false},
		{open + `/> `, false},
		{`<p xmlns="http://www.w3.org/1999/xhtml"/>`, false},
		{`<divx xmlns="http://www.w3.org/1999/xhtml"/>`, false},
		{open + `>`, false},
		{open + `><p></div>`, false},
		{open + `></p></div>`, false},
		{open + `>a & b</div>`, false},
		{open + `>&nbsp;</div>`, false},
		{open + `>&#0;</div>`, false},
		{open + `>&#xD800;</div>`, false},
		{open + `>&#x110000;</div>`, false},
		{open + `>&#X41;</div>`, false},
		{open + `>&#;</div>`, false},
		{open + `>]]></div>`, false},
		{open + "><p>\x01</p></div>", false},
		{open + "><p>\xff</p></div>", false},
		{open + "><p>\uFFFE</p></div>", false},
		{open + `><p a="1" a="2"/></div>`, false},
		{open + `><p a=1/></div>`, false},
		{open + `><p a="<"/></div>`, false},
		{open + `><p a="1"b="2"/></div>`, false},
		{open + `><!-- a -- b --></div>`, false},
		{open + `><!-- a ---></div>`, false},
		{open + `><![CDATA[ x </div>`, false},
		{open + `><?pi x?></div>`, false},
		{open + `><!DOCTYPE x></div>`, false},
		{open + `><q:x/></div>`, false},
		{open + `><p q:a="1"/></div>`, false},
		{open + `><p xmlns:q="urn:q"/><q:x/></div>`, false},
		{open + ` xmlns:q=""/>`, false},
		{open + `><a:b:c/></div>`, false},
		{open + `><1p/></div>`, false},
		{open + "><p>" + strings.Repeat("<b>", 600) + "</p></div>", false},
	}
	for _, tt := range tests {
		err := checkXHTML(tt.div)
		if (err == nil) != tt.ok {
			t.Errorf("checkXHTML(%q) = %v, want ok=%v", tt.div, err, tt.ok)
		}
		if err != nil {
			continue
		}
		d := xml.NewDecoder(strings.NewReader(tt.div))
		d.Strict = true
		for {
			if _, err := d.Token(); err == io.EOF {
				break
			} else if err != nil {
				t.Errorf("checkXHTML accepts %q, encoding/xml does not: %v", tt.div, err)
				break
			}
		}
	}
}

// Parse sniffs XML and hands it to ParseXML.
func TestParseSniffsXML(t *testing.T) {
	res, format, err := Parse([]byte("\n  <Patient xmlns=\"http://hl7.org/fhir\"><id value=\"x\"/></Patient>"))
	if err != nil || format != FormatXML || res.ID() != "x" {
		t.Fatalf("Parse = %v, %q, %v", res, format, err)
	}
}

// benchBundle is a collection Bundle of the first 100 examples by file
// name, as plain maps so that encoding/json marshals it by reflection
// rather than through Resource.MarshalJSON.
func benchBundle(b *testing.B) map[string]any {
	b.Helper()
	paths := examples(b, "json")
	sort.Strings(paths)
	entries := make([]any, 0, 100)
	for _, path := range paths[:100] {
		res := loadJSONExample(b, path)
		entries = append(entries, map[string]any{
			"fullUrl":  "http://example.org/fhir/" + res.Type() + "/" + res.ID(),
			"resource": map[string]any(res),
		})
	}
	return map[string]any{"resourceType": "Bundle", "id": "bench", "type": "collection", "entry": entries}
}

// BenchmarkEncodeXMLBundle and BenchmarkJSONMarshalBundle encode the same
// 100-entry Bundle: JSON → XML must cost at most 2.5× encoding/json.
func BenchmarkEncodeXMLBundle(b *testing.B) {
	bundle := benchBundle(b)
	out, err := EncodeXML(bundle)
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(out)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := EncodeXML(bundle); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkJSONMarshalBundle(b *testing.B) {
	bundle := benchBundle(b)
	out, err := json.Marshal(bundle)
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(out)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := json.Marshal(bundle); err != nil {
			b.Fatal(err)
		}
	}
}
