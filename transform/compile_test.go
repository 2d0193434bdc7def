package transform

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/liaisonhq/liaison/fhir"
)

func compileText(t testing.TB, src string) (*Mapping, error) {
	t.Helper()
	return Compile(fstest.MapFS{"m.yaml": {Data: []byte(src)}}, "m.yaml")
}

// Every load error says file:line:col and the rule it belongs to.
func TestCompileErrorsHavePositions(t *testing.T) {
	head := "name: m\ninput: json\noutput: json\n"
	tests := []struct {
		name string
		src  string
		want string // file:line:col and rule
		msg  string
	}{
		{"unknown top-level key", head + "rulez: {}\n", "m.yaml:4:1", "unknown key"},
		{"bad input format", "name: m\ninput: jsn\noutput: json\nrules: {}\n", "m.yaml:2:8: input", "input must be one of"},
		{"expression syntax", head + "rules:\n  id: input.a +* 2\n", "m.yaml:5:16: rules.id", "expression"},
		{"expression syntax in quotes", head + "rules:\n  id: 'input.a +* 2'\n", "m.yaml:5:17: rules.id", "expression"},
		{"unknown variable", head + "rules:\n  a:\n    b: nosuch.x\n", "m.yaml:6:8: rules.a.b", "unknown name nosuch"},
		{"loop variable outside its loop", head + "rules:\n  a:\n    each: input.xs\n    as: x\n    value: x\n  b: x\n", "m.yaml:9:6: rules.b", "unknown name x"},
		{"undefined lookup table", head + "rules:\n  a: lookup(\"nope\", input.a)\n", "m.yaml:5:6: rules.a", `lookup table "nope"`},
		{"yaml syntax", head + "rules:\n  a: [1, 2\n", "m.yaml:4:1", "did not find expected"},
		{"fhir output without resource", "name: m\ninput: json\noutput: fhir\nrules: {}\n", "m.yaml:3:9: resource", "names its resource"},
		{"unknown resource", "name: m\ninput: json\noutput: fhir\nresource: Patiant\nrules: {}\n", "m.yaml:4:11: resource", "not a FHIR R4 resource type"},
		{"as outside a loop", head + "rules:\n  a:\n    when: true\n    as: x\n    value: 1\n", "m.yaml:7:5: rules.a", "belongs to a loop"},
		{"test with neither expect nor error", head + "rules: {a: input.a}\ntests:\n  - name: t\n    input: {}\n", "m.yaml:6:5: tests[0]", "either expect or error"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := compileText(t, tt.src)
			if err == nil {
				t.Fatal("compiled without error")
			}
			var e *Error
			if !errors.As(err, &e) {
				t.Fatalf("error %T is not a *transform.Error: %v", err, err)
			}
			if !strings.HasPrefix(err.Error(), tt.want) || !strings.Contains(err.Error(), tt.msg) {
				t.Errorf("error = %q\nwant prefix %q containing %q", err, tt.want, tt.msg)
			}
		})
	}
}

func TestRunErrorsNameRuleAndInput(t *testing.T) {
	m, err := compileText(t, "name: m\ninput: json\noutput: json\nrules:\n  items:\n    each: input.phones\n    as: p\n    value: { n: p.number * 2 }\n")
	if err != nil {
		t.Fatal(err)
	}
	_, err = m.Map(map[string]any{"phones": []any{map[string]any{"number": 1}, map[string]any{"number": "secret-555"}}})
	var e *Error
	if !errors.As(err, &e) {
		t.Fatalf("error = %v, want *transform.Error", err)
	}
	if e.Rule != "rules.items.n" || e.Line != 8 || len(e.Input) != 1 || e.Input[0] != "input.phones[1].number" {
		t.Errorf("error = %+v, want rule rules.items.n at line 8 reading input.phones[1].number", e)
	}
	if strings.Contains(err.Error(), "secret-555") {
		t.Errorf("error text carries an input value: %v", err)
	}
}

func TestEmptyValuesDropped(t *testing.T) {
	m, err := compileText(t, "name: m\ninput: json\noutput: json\nrules:\n  a: input.missing\n  b: '\"\"'\n  c: [input.x, input.y]\n  d: { e: input.z }\n  f: '\"kept\"'\n  g: 0\n  h: false\n")
	if err != nil {
		t.Fatal(err)
	}
	out, err := m.Map(map[string]any{})
	if err != nil {
		t.Fatal(err)
	}
	got := out.(map[string]any)
	if len(got) != 3 || got["f"] != "kept" || got["g"] != 0 || got["h"] != false {
		t.Errorf("output = %v, want only f, g and h", got)
	}
}

// The seed's inline rename map ({"hmsPatientId": "id"}) is a mapping whose
// rules copy input fields to new names.
func TestRenameMap(t *testing.T) {
	m, err := RenameMapping("StateEHR", map[string]string{"hmsPatientId": "id", "hmsName": "name"})
	if err != nil {
		t.Fatal(err)
	}
	out, err := m.Map(map[string]any{"hmsPatientId": "P1", "hmsName": "Ada", "other": 1})
	if err != nil {
		t.Fatal(err)
	}
	got := out.(map[string]any)
	if got["id"] != "P1" || got["name"] != "Ada" || len(got) != 2 {
		t.Errorf("renamed = %v", got)
	}
	again, _ := RenameMapping("StateEHR", map[string]string{"hmsName": "name", "hmsPatientId": "id"})
	other, _ := RenameMapping("StateEHR", map[string]string{"hmsPatientId": "id", "hmsName": "family"})
	if len(m.Version) != 12 || again.Version != m.Version || other.Version == m.Version {
		t.Errorf("versions %q, %q (same fields), %q (other fields): want a stable content hash", m.Version, again.Version, other.Version)
	}
	if _, err := RenameMapping("x", map[string]string{"a": ""}); err == nil {
		t.Error("an empty target name was accepted")
	}
}

func TestSubMapsAndLookups(t *testing.T) {
	fsys := fstest.MapFS{
		"main.yaml": {Data: []byte(`name: main
input: json
output: json
rules:
  home: apply("addr", input.address)
  color: lookup("colors", input.c, "none")
  code: lookup("cm", input.s)
  cvx: lookup("cvx", input.v)
lookups:
  colors: { r: red }
  cm: { conceptmap: cm.json }
  cvx: { csv: cvx.csv, default: unknown }
`)},
		"addr.yaml": {Data: []byte("name: addr\ninput: json\noutput: json\nrules: { town: upper(input.city) }\n")},
		"loop.yaml": {Data: []byte("name: loop\ninput: json\noutput: json\nrules:\n  again: apply(\"loop\", input)\n")},
		"cm.json":   {Data: []byte(`{"resourceType":"ConceptMap","group":[{"element":[{"code":"booked","target":[{"code":"B","equivalence":"equal"}]},{"code":"x","target":[{"code":"X","equivalence":"unmatched"}]}]}]}`)},
		"cvx.csv":   {Data: []byte("code,name\n08,Hep B\n")},
	}
	set, err := NewSet(fsys)
	if err != nil {
		t.Fatal(err)
	}
	m, _ := set.Get("main")
	out, err := m.Map(map[string]any{"address": map[string]any{"city": "Leeds"}, "c": "b", "s": "booked", "v": "99"})
	if err != nil {
		t.Fatal(err)
	}
	got := out.(map[string]any)
	if got["home"].(map[string]any)["town"] != "LEEDS" || got["color"] != "none" || got["code"] != "B" || got["cvx"] != "unknown" {
		t.Errorf("output = %v", got)
	}
	loop, _ := set.Get("loop")
	if _, err := loop.Map(map[string]any{}); err == nil || !strings.Contains(err.Error(), "nested more than") {
		t.Errorf("a self-applying sub-map gave %v, want a nesting error", err)
	}
	delete(fsys, "addr.yaml")
	if err := set.Reload(fsys); err == nil || !strings.Contains(err.Error(), `main.yaml:5:9: rules.home: apply: no mapping named "addr"`) {
		t.Errorf("reload without the sub-map: %v", err)
	}
	if _, err := set.Get("addr"); err != nil {
		t.Error("a failed reload replaced the set")
	}
}

// A YAML anchor that contains its own alias, or an alias bomb, is a load
// error at the alias, not a hang.
func TestCompileBoundsAliases(t *testing.T) {
	head := "name: m\ninput: json\noutput: json\n"
	bomb := head + "let:\n  a: &a [x, x, x, x, x, x, x, x, x, x]\n  b: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a, *a]\n  c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b, *b]\n  d: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c, *c]\n  e: &e [*d, *d, *d, *d, *d, *d, *d, *d, *d, *d]\nrules:\n  x: 1\n"
	for name, tc := range map[string]struct{ file, want string }{
		"self":  {head + "rules: &r\n  x: [*r]\n", "m.yaml:5:7: rules.x[0].x[0]: alias *r refers to a node that contains it"},
		"bomb":  {bomb, "aliases expand to more than 10000 nodes"},
		"index": {head + "rules:\n  x: {when: true, index: i, value: 1}\n", "m.yaml:5:19: rules.x: index belongs to a loop (each)"},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := Compile(fstest.MapFS{"m.yaml": {Data: []byte(tc.file)}}, "m.yaml")
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error = %v, want %q", err, tc.want)
			}
		})
	}
}

// The example mapping of DESIGN.md, with FHIR XML output: its in-file test
// compares the XML as the resource it holds, and a wrong expectation fails
// with both sides shown.
func TestFHIRXMLOutput(t *testing.T) {
	src, err := os.ReadFile("testdata/design-appointment.yaml")
	if err != nil {
		t.Fatal(err)
	}
	m, err := Compile(fstest.MapFS{"m.yaml": {Data: src}}, "m.yaml")
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range m.RunTests() {
		if r.Err != nil {
			t.Errorf("%s: %v", r.Test, r.Err)
		}
	}
	out, err := m.Translate([]byte(`{"appointmentId":"A2","patientId":"P9","datetime":"2024-01-15 09:30","tz":"America/New_York","status":"booked","vaccine":{"code":"208"}}`))
	if err != nil {
		t.Fatal(err)
	}
	r, err := fhir.ParseXML(out[0])
	if err != nil {
		t.Fatalf("output is not FHIR XML: %v\n%s", err, out[0])
	}
	if r["start"] != "2024-01-15T14:30:00Z" || len(fhir.Validate(r)) != 0 {
		t.Errorf("start = %v, issues %v", r["start"], fhir.Validate(r))
	}

	wrong := strings.Replace(string(src), `<status value="cancelled"/>`, `<status value="booked"/>`, 1)
	m, err = Compile(fstest.MapFS{"m.yaml": {Data: []byte(wrong)}}, "m.yaml")
	if err != nil {
		t.Fatal(err)
	}
	res := m.RunTests()
	if len(res) != 1 || res[0].Err == nil || !strings.Contains(res[0].Err.Error(), `"status": "cancelled"`) {
		t.Errorf("a wrong expectation passed or says too little: %+v", res)
	}
}

// Runtime errors name the rule and the input paths, never the input's
// values: those are patient data, and errors end up in logs and API
// responses. Each expression here fails on the canary value.
func TestRuntimeErrorsHoldNoInputValues(t *testing.T) {
	const canary = "Zq9Canary-1980-07-04"
	for _, code := range []string{
		`date(input.v, "2006-01-02")`,
		`date("2024-01-01 10:00", "2006-01-02 15:04", input.v)`,
		`int(input.v)`,
		`float(input.v)`,
		`input.v + 1`,
		`input.v > 1`,
		`input.v.x.y`,
		`fhirDate(input.v)`,
		`instant(input.v)`,
		`hl7Time(input.v)`,
		`hl7ToFHIR(input.v)`,
		`number(input.v)`,
		`toHL7(input.v)`,
		`formatTime(now(), "2006", input.v)`,
		`uuid5(input.v, "x")`,
		`regexFind("x", input.v + "(")`,
		`duration(input.v)`,
		`fromJSON(input.v)`,
		`fromBase64(input.v)`,
		`input.list[int(input.v)]`,
		`date(input.v)`,
		`input.list[1:2] + input.v`,
	} {
		t.Run(code, func(t *testing.T) {
			m, err := compileText(t, "name: m\ninput: json\noutput: json\nrules:\n  x: '"+strings.ReplaceAll(code, "'", "''")+"'\n")
			if err != nil {
				t.Fatal(err)
			}
			_, err = m.Map(map[string]any{"v": canary, "list": []any{1}})
			if err == nil {
				t.Fatal("no error")
			}
			if strings.Contains(err.Error(), "Zq9") || strings.Contains(err.Error(), "1980") {
				t.Errorf("error quotes the input: %v", err)
			}
			if !strings.Contains(err.Error(), "m.yaml:5:6: rules.x: ") || !strings.Contains(err.Error(), "input.v") {
				t.Errorf("error %q does not name the rule and the input path", err)
			}
		})
	}
}

// fail() takes a text constant, so its message cannot carry input values.
func TestFailTakesAConstant(t *testing.T) {
	_, err := compileText(t, "name: m\ninput: json\noutput: json\nrules:\n  x: fail(input.v)\n")
	if err == nil || !strings.Contains(err.Error(), "m.yaml:5:6: rules.x: fail takes a text constant") {
		t.Fatalf("error = %v", err)
	}
}

// The mapping files under testdata/ pass their own tests.
func TestTestdataMappings(t *testing.T) {
	files, _ := filepath.Glob("testdata/*.yaml")
	if len(files) == 0 {
		t.Fatal("no mapping files under testdata/")
	}
	for _, file := range files {
		m, err := Compile(os.DirFS("testdata"), filepath.Base(file))
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range m.RunTests() {
			if r.Err != nil {
				t.Errorf("%s: %s: %v", file, r.Test, r.Err)
			}
		}
	}
}

// Reload swaps the whole set at once: while it reloads, concurrent mapping
// sees one version or the other, whole — a mapping and the sub-map it
// applies always come from the same load — and its Version says which.
func TestReloadIsAtomic(t *testing.T) {
	version := func(n string) fstest.MapFS {
		return fstest.MapFS{
			"main.yaml": {Data: []byte("name: main\ninput: json\noutput: json\nrules:\n  v: '\"" + n + "\"'\n  sub: apply(\"sub\", input)\n")},
			"sub.yaml":  {Data: []byte("name: sub\ninput: json\noutput: json\nrules:\n  v: '\"" + n + "\"'\n")},
		}
	}
	set, err := NewSet(version("1"))
	if err != nil {
		t.Fatal(err)
	}
	versions := map[string]string{}
	for _, n := range []string{"1", "2"} {
		other, _ := NewSet(version(n))
		m, _ := other.Get("main")
		versions[m.Version] = n
	}
	done := make(chan struct{})
	errs := make(chan error, 4)
	for range 4 {
		go func() {
			for {
				select {
				case <-done:
					errs <- nil
					return
				default:
				}
				m, err := set.Get("main")
				if err != nil {
					errs <- err
					return
				}
				out, err := m.Map(map[string]any{})
				if err != nil {
					errs <- err
					return
				}
				got := out.(map[string]any)
				want := versions[m.Version]
				if got["v"] != want || got["sub"].(map[string]any)["v"] != want {
					errs <- fmt.Errorf("mapping version %s gave %v", want, got)
					return
				}
			}
		}()
	}
	for i := range 200 {
		if err := set.Reload(version(strconv.Itoa(i%2 + 1))); err != nil {
			t.Fatal(err)
		}
	}
	close(done)
	for range 4 {
		if err := <-errs; err != nil {
			t.Error(err)
		}
	}
}
