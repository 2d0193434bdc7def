package main

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/liaisonhq/liaison/mappings"
	"github.com/liaisonhq/liaison/transform"
)

// appointment is an HMS appointment for the embedded hms-appointment-to-fhir.
const appointment = `{"appointmentId":"A1","patientId":"P9","datetime":"2024-06-15 09:30","tz":"America/New_York","durationMin":15,"status":"booked"}`

// Mapping files the tests write into temporary folders.
const (
	// zonedMapping fails at rules.at (line 5, col 7) for an unknown zone.
	zonedMapping = `name: zoned
input: json
output: json
rules:
  at: instant(date(input.when, "2006-01-02", input.tz))
tests:
  - name: utc
    input: { when: "2024-06-15", tz: UTC }
    expect: { at: "2024-06-15T00:00:00Z" }
`
	// greetingMapping applies zoned as a sub-map and writes XML.
	greetingMapping = `name: greeting
input: json
output: xml
xml: { root: greeting }
rules:
  text: '"Hello, " + input.name + " & co"'
  at: apply("zoned", input).at
`
	// failingMapping has one passing and one failing test.
	failingMapping = `name: failing
input: json
output: json
rules:
  full: input.first + " " + input.last
tests:
  - name: joins names
    input: { first: Ada, last: Lovelace }
    expect: { full: Ada Lovelace }
  - name: wrong expectation
    input: { first: Ada, last: Lovelace }
    expect: { full: Ada Lovelace, extra: 1 }
`
	// brokenMapping calls an unknown function at rules.x, line 6, col 6.
	brokenMapping = `name: broken
input: json
output: json
rules:
  ok: input.a
  x: foo(input.a)
`
	// rowsMapping reads header-less CSV rows.
	rowsMapping = `name: rows
input: csv
output: json
csv: { header: false, columns: [id, name] }
rules:
  id: input.id
  name: upper(input.name)
`
)

// mappingDir writes the files into a new temporary folder and returns it.
func mappingDir(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, content := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func TestMapRun(t *testing.T) {
	dir := mappingDir(t, map[string]string{"zoned.yaml": zonedMapping, "greeting.yaml": greetingMapping, "rows.yaml": rowsMapping})
	zoned := filepath.Join(dir, "zoned.yaml")
	input := writeFile(t, "appointment.json", appointment)
	tests := []struct {
		name   string
		stdin  string
		args   []string
		code   int
		stdout []string // parts of stdout
		stderr []string // parts of stderr
	}{
		{"embedded mapping by name", appointment, []string{"hms-appointment-to-fhir"}, exitOK,
			[]string{"{\n  \"resourceType\": \"Appointment\",", `  "start": "2024-06-15T13:30:00Z",`}, nil},
		{"input from a file", "", []string{"hms-appointment-to-fhir", input}, exitOK, []string{`"start": "2024-06-15T13:30:00Z"`}, nil},
		{"mapping file", `{"when":"2024-06-15","tz":"Europe/Paris"}`, []string{zoned}, exitOK, []string{`"at": "2024-06-14T22:00:00Z"`}, nil},
		{"mapping file applying a sub-map of --mappings", `{"name":"Ada","when":"2024-06-15","tz":"UTC"}`, []string{"--mappings", dir, filepath.Join(dir, "greeting.yaml")}, exitOK,
			[]string{"<greeting><at>2024-06-15T00:00:00Z</at><text>Hello, Ada &amp; co</text></greeting>\n"}, nil},
		{"--mappings by name", `{"when":"2024-06-15","tz":"UTC"}`, []string{"zoned", "--mappings", dir}, exitOK, []string{`"at": "2024-06-15T00:00:00Z"`}, nil},
		{"CSV: one compact line a record", "1,ada\n2,alan\n", []string{"--mappings", dir, "rows"}, exitOK,
			[]string{"{\"id\":\"1\",\"name\":\"ADA\"}\n{\"id\":\"2\",\"name\":\"ALAN\"}\n"}, nil},
		{"mapping error", `{"when":"2024-06-15","tz":"Mars/Olympus"}`, []string{zoned}, exitFail,
			nil, []string{zoned + ":5:7: rules.at: ", "(input input.when, input.tz)"}},
		{"FHIR validation failure", `{"mrn":"8","lastName":"Lee","dob":"2001-13-03"}`, []string{"hms-patient-to-fhir"}, exitFail,
			nil, []string{"output is not valid FHIR", "Patient.birthDate"}},
		{"bad input", `{"mrn":`, []string{"hms-patient-to-fhir"}, exitFail, nil, []string{"input cannot be read"}},
		{"unknown mapping", "", []string{"no-such-mapping"}, exitFail, nil, []string{`mapping not found: "no-such-mapping"`}},
		{"missing mapping file", "", []string{"./no-such-mapping.yaml"}, exitFail, nil, []string{"no-such-mapping.yaml"}},
		{"no mapping", "", nil, exitUsage, nil, []string{"a mapping NAME or FILE is required"}},
		{"two inputs", "", []string{"x", "a", "b"}, exitUsage, nil, []string{"one INPUT at most"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := liaison(t, tt.stdin, append([]string{"map", "run"}, tt.args...)...)
			if r.code != tt.code {
				t.Fatalf("exit %d, want %d\nstdout: %s\nstderr: %s", r.code, tt.code, r.stdout, r.stderr)
			}
			for _, want := range tt.stdout {
				if !strings.Contains(r.stdout, want) {
					t.Errorf("stdout lacks %q:\n%s", want, r.stdout)
				}
			}
			for _, want := range tt.stderr {
				if !strings.Contains(r.stderr, want) {
					t.Errorf("stderr lacks %q:\n%s", want, r.stderr)
				}
			}
			if tt.code != exitOK && r.stdout != "" {
				t.Errorf("a failure wrote to stdout: %s", r.stdout)
			}
		})
	}
}

func TestMapRunJSONErrors(t *testing.T) {
	zoned := writeFile(t, "zoned.yaml", zonedMapping)
	tests := []struct {
		name             string
		stdin            string
		args             []string
		expression, diag string
	}{
		{"mapping error", `{"when":"2024-06-15","tz":"Mars/Olympus"}`, []string{zoned}, "rules.at", zoned + ":5:7: rules.at: "},
		{"FHIR validation failure", `{"mrn":"8","lastName":"Lee","dob":"2001-13-03"}`, []string{"hms-patient-to-fhir"}, "Patient.birthDate", "date"},
		{"load error", "", []string{writeFile(t, "broken.yaml", brokenMapping)}, "rules.x", "broken.yaml:6:6: rules.x: "},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := liaison(t, tt.stdin, append([]string{"map", "run", "--json"}, tt.args...)...)
			if r.code != exitFail {
				t.Fatalf("exit %d, want 1\nstdout: %s\nstderr: %s", r.code, r.stdout, r.stderr)
			}
			if issues := outcomeIssues(t, r); !hasIssue(issues, tt.expression, tt.diag) {
				t.Errorf("no issue at %q with %q: %v", tt.expression, tt.diag, issues)
			}
		})
	}
}

func TestMapRunNDJSON(t *testing.T) {
	dir := mappingDir(t, map[string]string{"zoned.yaml": zonedMapping, "greeting.yaml": greetingMapping, "rows.yaml": rowsMapping})
	tests := []struct {
		name  string
		args  []string
		stdin string
		code  int
		lines []string // stdout, line by line; "error@N" is the error line of line N
	}{
		{"a broken record in the middle", []string{"hms-appointment-to-fhir"}, appointment + "\n{\"appointmentId\": \n" + strings.Replace(appointment, "A1", "A3", 1) + "\n", exitFail,
			[]string{`"id":"A1"`, "error@2", `"id":"A3"`}},
		{"blank lines are skipped, the last newline is optional", []string{"zoned", "--mappings", dir}, "\n{\"when\":\"2024-06-15\",\"tz\":\"UTC\"}\n\n{\"when\":\"2024-06-16\",\"tz\":\"UTC\"}", exitOK,
			[]string{`{"at":"2024-06-15T00:00:00Z"}`, `{"at":"2024-06-16T00:00:00Z"}`}},
		{"a mapping error", []string{"zoned", "--mappings", dir}, "{\"when\":\"2024-06-15\",\"tz\":\"UTC\"}\n{\"when\":\"2024-06-15\",\"tz\":\"Mars/Olympus\"}\n", exitFail,
			[]string{`{"at":"2024-06-15T00:00:00Z"}`, "error@2"}},
		{"text output as JSON strings", []string{"greeting", "--mappings", dir}, `{"name":"Ada","when":"2024-06-15","tz":"UTC"}` + "\n", exitOK,
			[]string{`"<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<greeting><at>2024-06-15T00:00:00Z</at><text>Hello, Ada &amp; co</text></greeting>\n"`}},
		{"CSV rows raw, quoted and as objects", []string{"rows", "--mappings", dir}, "1,ada\n\"2,alan\\n\"\n{\"id\":\"3\",\"name\":\"grace\"}\n{\"id\":4}\n", exitFail,
			[]string{`{"id":"1","name":"ADA"}`, `{"id":"2","name":"ALAN"}`, `{"id":"3","name":"GRACE"}`, "error@4"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := liaison(t, tt.stdin, append([]string{"map", "run", "--ndjson"}, tt.args...)...)
			if r.code != tt.code {
				t.Errorf("exit %d, want %d\nstderr: %s", r.code, tt.code, r.stderr)
			}
			got := strings.Split(strings.TrimSuffix(r.stdout, "\n"), "\n")
			if len(got) != len(tt.lines) {
				t.Fatalf("%d output lines, want %d:\n%s", len(got), len(tt.lines), r.stdout)
			}
			for i, want := range tt.lines {
				if n, ok := strings.CutPrefix(want, "error@"); ok {
					var e struct {
						Error string `json:"error"`
						Line  int    `json:"line"`
					}
					if err := json.Unmarshal([]byte(got[i]), &e); err != nil || e.Error == "" || strconv.Itoa(e.Line) != n {
						t.Errorf("line %d is %s, want the error of input line %s", i+1, got[i], n)
					}
					continue
				}
				if !json.Valid([]byte(got[i])) || !strings.Contains(got[i], want) {
					t.Errorf("line %d is %s, want JSON holding %s", i+1, got[i], want)
				}
			}
			if tt.code == exitFail && !strings.Contains(r.stderr, "failed") {
				t.Errorf("stderr does not say records failed: %s", r.stderr)
			}
		})
	}
}

// --ndjson writes a record's output while its input is still open: it
// works inside a pipeline. The timeout only guards against a hang.
func TestMapRunNDJSONFlushes(t *testing.T) {
	inR, inW := io.Pipe()
	outR, outW := io.Pipe()
	t.Cleanup(func() { inW.Close(); outR.Close() })
	var stderr strings.Builder
	done := make(chan int, 1)
	go func() {
		code := run(context.Background(), []string{"map", "run", "--ndjson", "hms-appointment-to-fhir"}, inR, outW, &stderr)
		outW.Close()
		done <- code
	}()
	go inW.Write([]byte(appointment + "\n"))

	lines := make(chan string, 1)
	go func() {
		br := bufio.NewReader(outR)
		line, err := br.ReadString('\n')
		if err == nil {
			lines <- line
		}
		close(lines)
		io.Copy(io.Discard, br)
	}()
	select {
	case line, ok := <-lines:
		if !ok {
			t.Fatal("the output ended before a line")
		}
		if !strings.Contains(line, `"start":"2024-06-15T13:30:00Z"`) {
			t.Errorf("output line: %s", line)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("no output line while the input is open")
	}

	inW.Close()
	select {
	case code := <-done:
		if code != exitOK {
			t.Errorf("exit %d\nstderr: %s", code, stderr.String())
		}
	case <-time.After(10 * time.Second):
		t.Fatal("no exit after the input closed")
	}
}

func TestMapTest(t *testing.T) {
	dir := mappingDir(t, map[string]string{"failing.yaml": failingMapping, "zoned.yaml": zonedMapping})
	failing := filepath.Join(dir, "failing.yaml")
	tests := []struct {
		name   string
		args   []string
		code   int
		stdout []string // parts of stdout
		absent []string // not in stdout
	}{
		{"the embedded mappings", nil, exitOK, []string{"ok   hms-appointment-to-fhir ", "\nPASS\n"}, []string{"FAIL"}},
		{"a folder with a failing test", []string{dir}, exitFail,
			[]string{"--- FAIL: failing/wrong expectation (" + failing + ":10)\n    output differs\n    --- expected\n", "FAIL failing  1 of 2 tests failed\n", "ok   zoned    1 test\n", "\nFAIL\n"},
			[]string{"hms-appointment-to-fhir", "joins names"}},
		{"-v lists passing tests", []string{"-v", failing}, exitFail,
			[]string{"=== RUN   failing/joins names\n--- PASS: failing/joins names (" + failing + ":7)\n", "=== RUN   failing/wrong expectation\n--- FAIL: "}, nil},
		{"-run selects tests", []string{"-run", "joins", failing}, exitOK, []string{"ok   failing  1 test\nPASS\n"}, []string{"wrong"}},
		{"-run selecting nothing", []string{"-run", "nothing", "--mappings", dir}, exitOK, []string{"?    zoned  ", "[no tests to run]"}, nil},
		{"a mapping that does not load", []string{writeFile(t, "broken.yaml", brokenMapping)}, exitFail, []string{"broken.yaml:6:6: rules.x: ", "\nFAIL\n"}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := liaison(t, "", append([]string{"map", "test"}, tt.args...)...)
			if r.code != tt.code {
				t.Errorf("exit %d, want %d\nstdout: %s\nstderr: %s", r.code, tt.code, r.stdout, r.stderr)
			}
			for _, want := range tt.stdout {
				if !strings.Contains(r.stdout, want) {
					t.Errorf("stdout lacks %q:\n%s", want, r.stdout)
				}
			}
			for _, not := range tt.absent {
				if strings.Contains(r.stdout, not) {
					t.Errorf("stdout holds %q:\n%s", not, r.stdout)
				}
			}
		})
	}
}

func TestMapCheck(t *testing.T) {
	broken := writeFile(t, "broken.yaml", brokenMapping)
	missing := writeFile(t, "missing.yaml", "name: missing\ninput: json\noutput: json\nrules:\n  a: apply(\"no-such-map\", input)\n")
	tests := []struct {
		name   string
		args   []string
		code   int
		stdout string
		stderr string
	}{
		{"the embedded mappings", nil, exitOK, "", "ok "},
		{"an expression error", []string{broken}, exitFail, broken + ":6:6: rules.x: expression: unknown name foo\n", ""},
		{"a missing sub-map", []string{missing}, exitFail, missing + `:5:6: rules.a: apply: no mapping named "no-such-map"` + "\n", ""},
		{"a folder", []string{mappingDir(t, map[string]string{"zoned.yaml": zonedMapping, "greeting.yaml": greetingMapping})}, exitOK, "", "ok 2 mappings\n"},
		{"the --mappings folder", []string{"--mappings", filepath.Dir(broken)}, exitFail, broken + ":6:6: rules.x: ", ""},
		{"no such path", []string{"no-such-dir"}, exitFail, "no-such-dir", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := liaison(t, "", append([]string{"map", "check"}, tt.args...)...)
			if r.code != tt.code {
				t.Errorf("exit %d, want %d\nstdout: %s\nstderr: %s", r.code, tt.code, r.stdout, r.stderr)
			}
			if !strings.Contains(r.stdout, tt.stdout) || !strings.Contains(r.stderr, tt.stderr) {
				t.Errorf("stdout lacks %q or stderr lacks %q\nstdout: %s\nstderr: %s", tt.stdout, tt.stderr, r.stdout, r.stderr)
			}
		})
	}
}

func TestMapExplain(t *testing.T) {
	r := liaison(t, appointment, "map", "explain", "hms-appointment-to-fhir")
	if r.code != exitOK {
		t.Fatalf("exit %d\nstdout: %s\nstderr: %s", r.code, r.stdout, r.stderr)
	}
	lines := strings.Split(r.stdout, "\n")
	if !strings.HasPrefix(lines[0], "OUTPUT ") {
		t.Errorf("no header: %s", lines[0])
	}
	found := false
	for _, l := range lines {
		if f := strings.Fields(l); len(f) >= 4 && f[0] == "start" && f[1] == "rules.start" && strings.HasPrefix(f[2], "(hms-appointment-to-fhir.yaml:") && strings.Contains(l, "input.datetime") {
			found = true
		}
	}
	if !found {
		t.Errorf("no row for start from rules.start reading input.datetime:\n%s", r.stdout)
	}

	r = liaison(t, appointment, "map", "explain", "--json", "hms-appointment-to-fhir")
	var got struct {
		Output map[string]any    `json:"output"`
		Trace  []transform.Trace `json:"trace"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &got); err != nil || r.code != exitOK {
		t.Fatalf("exit %d, not JSON (%v):\n%s", r.code, err, r.stdout)
	}
	if got.Output["start"] != "2024-06-15T13:30:00Z" || len(got.Trace) == 0 || got.Trace[0].File != "hms-appointment-to-fhir.yaml" {
		t.Errorf("explain --json: %+v", got)
	}

	zoned := writeFile(t, "zoned.yaml", zonedMapping)
	r = liaison(t, `{"when":"2024-06-15","tz":"Mars/Olympus"}`, "map", "explain", zoned)
	if r.code != exitFail || !strings.Contains(r.stderr, zoned+":5:7: rules.at: ") {
		t.Errorf("a failing explain: exit %d\nstdout: %s\nstderr: %s", r.code, r.stdout, r.stderr)
	}
}

func TestMapList(t *testing.T) {
	set, err := transform.NewSet(mappings.FS)
	if err != nil {
		t.Fatal(err)
	}
	r := liaison(t, "", "map", "list")
	if r.code != exitOK || !strings.HasPrefix(r.stdout, "NAME ") {
		t.Fatalf("exit %d\nstdout: %s\nstderr: %s", r.code, r.stdout, r.stderr)
	}
	for _, m := range set.All() {
		if !strings.Contains(r.stdout, "\n"+m.Name+" ") {
			t.Errorf("list lacks %s:\n%s", m.Name, r.stdout)
		}
	}

	dir := mappingDir(t, map[string]string{"zoned.yaml": zonedMapping})
	r = liaison(t, "", "map", "list", "--json", "--mappings", dir)
	var list []struct {
		Name, Input, Output, Version, File string
		Tests                              int
	}
	if err := json.Unmarshal([]byte(r.stdout), &list); err != nil || r.code != exitOK {
		t.Fatalf("exit %d, not JSON (%v):\n%s", r.code, err, r.stdout)
	}
	if len(list) != len(set.All())+1 {
		t.Errorf("%d mappings listed, want %d", len(list), len(set.All())+1)
	}
	for _, m := range list {
		if m.Name == "zoned" && (m.File != filepath.Join(dir, "zoned.yaml") || m.Input != "json" || m.Tests != 1 || m.Version == "") {
			t.Errorf("zoned listed as %+v", m)
		}
	}
}
