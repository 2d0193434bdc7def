package transform_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"testing/fstest"
	"time"
	"unicode/utf8"

	"go.yaml.in/yaml/v3"

	"github.com/liaisonhq/liaison/fhir"
	"github.com/liaisonhq/liaison/mappings"
	"github.com/liaisonhq/liaison/transform"
)

// hangLimit bounds one fuzz input: the fuzzing engine does not notice a
// worker that never returns, so a hang is turned into a crash, which it
// records with its input.
const hangLimit = 10 * time.Second

// watchdog crashes the test binary, with every goroutine's stack, when the
// input runs longer than hangLimit; call the function it returns when done.
func watchdog(tb testing.TB) (stop func() bool) {
	name := tb.Name()
	timer := time.AfterFunc(hangLimit, func() {
		buf := make([]byte, 1<<20)
		buf = buf[:runtime.Stack(buf, true)]
		panic(fmt.Sprintf("%s: input still running after %v\n%s", name, hangLimit, buf))
	})
	return timer.Stop
}

// fuzzFolder is the folder a fuzzed mapping file is compiled in: the file
// itself as m.yaml, beside the shipped CSV table and a small ConceptMap, so
// lookups from files resolve.
func fuzzFolder(tb testing.TB, data []byte) fstest.MapFS {
	tb.Helper()
	csv, err := fs.ReadFile(mappings.FS, "tables/clinic-codes.csv")
	if err != nil {
		tb.Fatal(err)
	}
	return fstest.MapFS{
		"m.yaml":                  {Data: data},
		"tables/clinic-codes.csv": {Data: csv},
		"cm.json":                 {Data: []byte(`{"resourceType":"ConceptMap","group":[{"element":[{"code":"booked","target":[{"code":"B","equivalence":"equal"}]}]}]}`)},
	}
}

// leafErrors flattens errors.Join trees (and any other multi-error) into
// their leaves.
func leafErrors(err error) []error {
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		var out []error
		for _, e := range j.Unwrap() {
			out = append(out, leafErrors(e)...)
		}
		return out
	}
	return []error{err}
}

// FuzzCompile: Compile never panics on any file. When it fails, every error
// is a *transform.Error of the file with a message, and, when the file is
// valid YAML (so the problem lies inside it), with a line and column. What
// compiles runs its own tests without panicking.
func FuzzCompile(f *testing.F) {
	err := fs.WalkDir(mappings.FS, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		data, err := fs.ReadFile(mappings.FS, p)
		f.Add(data)
		return err
	})
	if err != nil {
		f.Fatal(err)
	}
	head := "name: m\ninput: json\noutput: json\n"
	for _, s := range []string{
		"",
		"---\n",
		"- a\n- b\n",
		"just text",
		"rules: [",
		"name: m\ninput: jsn\noutput: json\nrules: {}\n",
		"name: m\ninput: json\noutput: fhir\nresource: Patiant\nrules: {}\n",
		head,
		head + "rulez: {}\n",
		head + "rules:\n  id: input.a +* 2\n",
		head + "rules:\n  id: 'input.a +* 2'\n",
		head + "rules:\n  id: |\n    input.a +\n    * 2\n",
		head + "rules:\n  a:\n    b: nosuch.x\n",
		head + "rules:\n  a:\n    each: input.xs\n    as: x\n    value: x\n  b: x\n",
		head + "rules:\n  a:\n    each: input.xs\n    as: input\n    value: 1\n",
		head + "rules:\n  a:\n    $each: input.xs\n    $when: item > 1\n    $value: [item, index]\n",
		head + "rules:\n  a:\n    when: true\n    as: x\n    value: 1\n",
		head + "rules:\n  a:\n    each: input.xs\n    when: item > 1\n    as: x\n    index: i\n    value: [x, i]\n",
		head + "let:\n  v: &v {a: input.a}\nrules:\n  a: &r\n    b: v\n  c: *r\n  d: *v\n",
		head + "rules:\n  a:\n    when: [1]\n    value: 1\n",
		head + "rules:\n  a: lookup(\"nope\", input.a)\n",
		head + "rules:\n  a: apply(\"other\", input)\n",
		head + "rules:\n  a: [1, 2\n",
		head + "rules: {a: &x input.a, b: *x}\n",
		head + "rules: {a: input.a, a: input.b}\n",
		head + "let:\n  v: input.a\n  v: input.b\n  2x: 1\nrules: {a: v}\n",
		head + "let: [1]\nrules: {}\n",
		head + "rules: {a: input.a}\ntests:\n  - name: t\n    input: {}\n",
		head + "rules: {a: input.a}\ntests:\n  - {name: t, input: {a: 1}, expect: {a: 1}, extra: 1}\n",
		head + "rules: {a: lookup(\"c\", input.a)}\nlookups:\n  c: {csv: tables/clinic-codes.csv, key: locationId, value: nope}\n",
		head + "rules: {a: lookup(\"c\", input.a)}\nlookups:\n  c: {csv: missing.csv}\n",
		head + "rules: {a: lookup(\"c\", input.a)}\nlookups:\n  c: {conceptmap: cm.json, default: x}\n",
		head + "rules: {a: lookup(\"c\", input.a)}\nlookups:\n  c: [1]\n",
		head + "csv: {delimiter: 1}\nxml: [1]\nrules: {}\n",
		"name: m\ninput: csv\noutput: xml\ncsv: {delimiter: ';', header: false, columns: [a, b]}\nxml: {root: r}\nrules: {x: input.a}\ntests:\n  - {input: \"1;2\\n\", expect: \"<r><x>1</x></r>\"}\n",
		"name: [m]\ninput: {a: 1}\noutput: json\nrules: {}\n",
		"\xef\xbb\xbfname: m\n\tinput: json\n",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		defer watchdog(t)()
		var doc yaml.Node
		validYAML := yaml.Unmarshal(data, &doc) == nil
		m, err := transform.Compile(fuzzFolder(t, data), "m.yaml")
		if err != nil {
			if m != nil {
				t.Errorf("Compile returned a mapping and an error")
			}
			for _, leaf := range leafErrors(err) {
				var e *transform.Error
				if !errors.As(leaf, &e) {
					t.Fatalf("error %T is not a *transform.Error: %v", leaf, leaf)
				}
				if e.File != "m.yaml" || e.Err == nil || e.Err.Error() == "" {
					t.Fatalf("error without its file or message: %+v", e)
				}
				if validYAML && (e.Line < 1 || e.Col < 1) {
					t.Fatalf("error in a valid YAML file without line and column: %q (%+v)", e.Error(), e)
				}
			}
			return
		}
		if m == nil {
			t.Fatal("Compile returned neither a mapping nor an error")
		}
		m.RunTests()
	})
}

// expressionMapping is a valid mapping file whose one rule, rules.x, is the
// expression expr.
func expressionMapping(expr string) []byte {
	return []byte(`name: fuzz
input: json
output: json
let:
  v: input.obj
rules:
  x: ` + strconv.Quote(expr) + `
lookups:
  t: { a: 1, b: two }
  cm: { conceptmap: cm.json, default: none }
`)
}

// expressionInput is the record every fuzzed expression is mapped on, as
// Decode gives it.
const expressionInput = `{
  "s": "text", "empty": "", "i": 42, "neg": -7, "f": 1.5, "big": 1e300, "b": true, "n": null,
  "list": [1, "two", {"k": "v"}, null, [3]],
  "obj": {"x": 1, "y": [], "z": {"deep": {"er": "est"}}},
  "datetime": "2024-06-15 09:30", "tz": "America/New_York", "date": "2024-06-15", "ts": "20240615093000-0400",
  "phones": [{"type": "home", "number": "555-0100"}, {"type": "mobile", "number": "555-0101"}]
}`

// FuzzExpression: any expression as rules.x of a valid mapping either fails
// to compile, with a positioned *transform.Error, or maps a fixed record
// without panicking; a run error is a *transform.Error naming rules.x.
func FuzzExpression(f *testing.F) {
	for _, s := range []string{
		`input.s`, `"lit"`, `input.i + 1`, `input.i / 0`, `input.i % 0`, `input.big * input.big`,
		`input.list[1]`, `input.list[-1]`, `input.list[99]`, `input.list[1:3]`, `input.list?.[0]`,
		`input.obj.z.deep.er`, `input.nope.deeper.still`, `v.x`, `v["x"]`, `input["s"]`,
		`upper(input.s)`, `trim(input.i)`, `len(input.list)`, `split(input.s, "")`, `join(input.list, ",")`,
		`map(input.phones, .number)`, `filter(input.list, # != nil)`, `first(input.list)`, `last(input.obj.y)`,
		`input.phones | map(#.type) | join(";")`, `let a = input.i; a * 2`, `{"a": 1, "b": [input.s]}`,
		`1..10`, `map(1..1000, map(1..1000, #))`, `repeat("ab", 1000000)`, `repeat("ab", -1)`,
		`input.i > 1 ? "yes" : "no"`, `input.s ?? "none"`, `input.s matches "^t"`, `input.s matches "("`,
		`date(input.datetime, "2006-01-02 15:04", input.tz)`, `date(input.i)`, `date(input.s, "x", "Mars/Base")`,
		`instant(date(input.datetime, "2006-01-02 15:04", input.tz))`, `dateTime(input.date)`, `fhirDate(now())`,
		`addMinutes(input.date, input.i)`, `addMinutes(input.date, input.big)`, `addMinutes(input.s, 1)`,
		`hl7Time(input.ts)`, `hl7ToFHIR(input.ts)`, `hl7ToFHIR(input.ts, "Europe/Berlin")`, `hl7Time(input.i)`,
		`toHL7(input.date, "minute")`, `toHL7(input.date, "year")`, `formatTime(input.date, "15:04", input.tz)`,
		`coalesce(input.n, input.empty, input.s)`, `digits("a1b2")`, `digits(input.obj)`,
		`regexReplace(input.s, "[aeiou]", "_")`, `regexReplace(input.s, "(", "")`, `regexFind(input.s, "(e)")`,
		`uuid5("dns", input.s)`, `uuid5("bad", 1)`, `sha256(input.f)`, `number("1.5")`, `number(input.list)`,
		`lookup("t", "a")`, `lookup("t", input.i, "dflt")`, `lookup("cm", "booked")`, `lookup("nope", 1)`, `lookup("t")`,
		`apply("fuzz", input)`, `fail("stop")`, `fail(input.s)`, `__index(input.list, 1)`, `__index()`,
		`__apply(__run, "x", 1)`, `__apply()`, `__run`, `input.i.x`, `input.s()`, `input.phones[0].number`,
		`sum(input.list)`, `max(input.list)`, `sort(input.list)`, `toJSON(input)`, `fromJSON(input.s)`,
		`duration("1h") + duration(input.s)`, `now() - date(input.date)`, `int(input.big)`, `float(input.s)`,
		"input.s +\n* 2", `"unterminated`, `)(`, ``, " ", "\x00", "\xff",
	} {
		f.Add(s)
	}
	decoder, err := transform.Compile(fuzzFolder(f, expressionMapping("input")), "m.yaml")
	if err != nil {
		f.Fatal(err)
	}
	records, err := decoder.Decode([]byte(expressionInput))
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, expr string) {
		defer watchdog(t)()
		if !utf8.ValidString(expr) {
			return // YAML cannot carry it as written
		}
		data := expressionMapping(expr)
		m, err := transform.Compile(fuzzFolder(t, data), "m.yaml")
		if err != nil {
			for _, leaf := range leafErrors(err) {
				var e *transform.Error
				if !errors.As(leaf, &e) {
					t.Fatalf("error %T is not a *transform.Error: %v", leaf, leaf)
				}
				if e.Line < 1 || !strings.HasPrefix(e.Rule, "rules.x") {
					t.Fatalf("compile error without line or rule: %+v", e)
				}
			}
			return
		}
		for _, run := range []func(any) (any, error){
			m.Map,
			func(in any) (any, error) { out, _, err := m.Explain(in); return out, err },
		} {
			out, err := run(records[0])
			if err != nil {
				var e *transform.Error
				if !errors.As(err, &e) || e.Rule != "rules.x" {
					t.Fatalf("run error is not a *transform.Error of rules.x: %T %v", err, err)
				}
				continue
			}
			m.Encode(out)
		}
	})
}

// FuzzMapInput: the shipped HMS mappings translate any bytes without
// panicking. An error is an input error, an invalid-output error or a
// *transform.Error; an output is a valid FHIR resource of the declared type.
func FuzzMapInput(f *testing.F) {
	set, err := transform.NewSet(mappings.FS)
	if err != nil {
		f.Fatal(err)
	}
	var ms []*transform.Mapping
	for _, name := range []string{"hms-patient-to-fhir", "hms-appointment-to-fhir"} {
		m, err := set.Get(name)
		if err != nil {
			f.Fatal(err)
		}
		ms = append(ms, m)
		for _, tc := range m.Tests {
			data, err := json.Marshal(tc.Input)
			if err != nil {
				f.Fatal(err)
			}
			f.Add(data)
		}
	}
	for _, s := range []string{
		``, `null`, `1`, `"s"`, `[]`, `[{}]`, `{}`, `{} {}`, `{"mrn": 1}`, `{"mrn": ""}`, `{"mrn": "a b"}`,
		`{"mrn": "1", "phones": "555"}`, `{"mrn": "1", "phones": [null, 1, {"type": {}, "number": []}]}`,
		`{"mrn": "1", "address": [1]}`, `{"mrn": "1", "sex": ["F"], "dob": 20010203}`, `{"mrn": "1", "firstName": {"a": [[[]]]}}`,
		`{"appointmentId": "A", "patientId": "P", "datetime": "2024-06-15 09:30", "tz": "Local", "durationMin": 1e300, "status": "booked"}`,
		`{"appointmentId": "A", "patientId": "P", "datetime": "2024-06-15 09:30", "tz": "../../etc/passwd", "durationMin": 1}`,
		`{"appointmentId": "A", "patientId": "P", "datetime": "9999-12-31 23:59", "tz": "Pacific/Kiritimati", "durationMin": 9223372036854775807}`,
		`{"appointmentId": "A", "patientId": 7, "datetime": 1, "tz": {}, "durationMin": "15", "vaccine": "x", "notes": 3}`,
		`{"appointmentId": "A", "patientId": "P", "datetime": "2024-06-15 09:30", "tz": "UTC", "durationMin": -15.5, "locationId": ""}`,
		strings.Repeat(`{"a":`, 5000) + `1` + strings.Repeat(`}`, 5000),
		strings.Repeat(`[`, 20000),
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		defer watchdog(t)()
		for _, m := range ms {
			outs, err := m.Translate(data)
			if err != nil {
				var e *transform.Error
				if !errors.Is(err, transform.ErrInput) && !errors.Is(err, transform.ErrInvalidOutput) && !errors.As(err, &e) {
					t.Fatalf("%s: error %T is neither an input, an output nor a mapping error: %v", m.Name, err, err)
				}
				continue
			}
			if len(outs) != 1 {
				t.Fatalf("%s: %d outputs for one JSON input", m.Name, len(outs))
			}
			res, err := fhir.ParseJSON(outs[0])
			if err != nil {
				t.Fatalf("%s: output does not parse back: %v\n%s", m.Name, err, outs[0])
			}
			if res.Type() != m.Resource {
				t.Fatalf("%s: output is a %q", m.Name, res.Type())
			}
			if issues := fhir.Validate(res); issues.HasErrors() {
				t.Fatalf("%s: output parsed back does not validate: %v\n%s", m.Name, issues, outs[0])
			}
		}
	})
}
