package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/liaisonhq/liaison/fhir"
)

const examples = "../../testdata/fhir/examples"

type result struct {
	code           int
	stdout, stderr string
}

// liaison runs the command line in-process with stdin as standard input.
func liaison(t *testing.T, stdin string, args ...string) result {
	t.Helper()
	var out, errOut bytes.Buffer
	code := run(context.Background(), args, strings.NewReader(stdin), &out, &errOut)
	return result{code, out.String(), errOut.String()}
}

func readFile(t *testing.T, path string) string {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(data)
}

func writeFile(t *testing.T, name, content string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func parseJSON(t *testing.T, data string) fhir.Resource {
	t.Helper()
	res, err := fhir.ParseJSON([]byte(data))
	if err != nil {
		t.Fatalf("not FHIR JSON: %v\n%s", err, data)
	}
	return res
}

// outcomeIssues decodes the OperationOutcome a failed command wrote.
func outcomeIssues(t *testing.T, r result) fhir.Issues {
	t.Helper()
	var oo struct {
		ResourceType string      `json:"resourceType"`
		Issue        fhir.Issues `json:"issue"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &oo); err != nil || oo.ResourceType != "OperationOutcome" || len(oo.Issue) == 0 {
		t.Fatalf("stdout is not an OperationOutcome with issues (%v):\n%s", err, r.stdout)
	}
	return oo.Issue
}

// hasIssue tells whether an issue has the expression and diagnostics containing diag.
func hasIssue(issues fhir.Issues, expression, diag string) bool {
	for _, is := range issues {
		for _, e := range is.Expression {
			if e == expression && strings.Contains(is.Diagnostics, diag) {
				return true
			}
		}
	}
	return false
}

func TestUsage(t *testing.T) {
	tests := []struct {
		name   string
		args   []string
		code   int
		stdout string // part of stdout
		stderr string // part of stderr
	}{
		{"no command", nil, exitUsage, "", "Usage: liaison COMMAND"},
		{"help", []string{"help"}, exitOK, "fhir validate", ""},
		{"-h", []string{"-h"}, exitOK, "fhir convert", ""},
		{"--help", []string{"--help"}, exitOK, "serve", ""},
		{"help for a group", []string{"help", "fhir"}, exitOK, "Usage: liaison fhir COMMAND", ""},
		{"help for a command", []string{"help", "fhir", "convert"}, exitOK, "-to format", ""},
		{"command -h", []string{"fhir", "validate", "-h"}, exitOK, "Usage: liaison fhir validate [FILE...]", ""},
		{"group help", []string{"fhir", "help"}, exitOK, "convert", ""},
		{"group without command", []string{"fhir"}, exitUsage, "", "Usage: liaison fhir COMMAND"},
		{"unknown command", []string{"nope"}, exitUsage, "", `unknown command "nope"`},
		{"unknown subcommand", []string{"fhir", "nope"}, exitUsage, "", `unknown command "fhir nope"`},
		{"help for an unknown command", []string{"help", "nope"}, exitUsage, "", `unknown command "nope"`},
		{"version", []string{"version"}, exitOK, "liaison ", ""},
		{"unknown flag", []string{"serve", "--nope"}, exitUsage, "", "flag provided but not defined: -nope"},
		{"serve argument", []string{"serve", "extra"}, exitUsage, "", `unexpected argument "extra"`},
		{"convert without --to", []string{"fhir", "convert", "x.json"}, exitUsage, "", "--to is required"},
		{"convert --to yaml", []string{"fhir", "convert", "--to", "yaml"}, exitUsage, "", `--to "yaml": want xml or json`},
		{"convert two files", []string{"fhir", "convert", "--to", "xml", "a", "b"}, exitUsage, "", "one FILE at most"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := liaison(t, "", tt.args...)
			if r.code != tt.code {
				t.Errorf("exit %d, want %d\nstdout: %s\nstderr: %s", r.code, tt.code, r.stdout, r.stderr)
			}
			if !strings.Contains(r.stdout, tt.stdout) {
				t.Errorf("stdout lacks %q:\n%s", tt.stdout, r.stdout)
			}
			if !strings.Contains(r.stderr, tt.stderr) {
				t.Errorf("stderr lacks %q:\n%s", tt.stderr, r.stderr)
			}
			if tt.code == exitUsage && r.stdout != "" {
				t.Errorf("a usage error wrote to stdout: %s", r.stdout)
			}
			if tt.code == exitUsage && !strings.Contains(r.stderr, "Usage: ") {
				t.Errorf("a usage error without the usage: %s", r.stderr)
			}
		})
	}
}

func TestFlagsAfterArguments(t *testing.T) {
	f := newFlags("test", "", "")
	to := f.String("to", "", "")
	s := &stdio{out: io.Discard, err: io.Discard}
	pos, _, ok := f.parse(s, []string{"a", "--to", "xml", "b", "--", "--to", "c"})
	if !ok || *to != "xml" || !reflect.DeepEqual(pos, []string{"a", "b", "--to", "c"}) {
		t.Errorf("parse = %q, --to %q, ok %v", pos, *to, ok)
	}
}

// JSON → XML → JSON through the command gives back the example, whichever
// way the XML is written and wherever the flags are.
func TestConvertRoundTrip(t *testing.T) {
	path := filepath.Join(examples, "Patient-example.json")
	want := parseJSON(t, readFile(t, path))
	for _, args := range [][]string{
		{"fhir", "convert", "--to", "xml", path},
		{"fhir", "convert", path, "--to", "xml"},
		{"fhir", "convert", "--to", "xml", "--indent", path},
	} {
		t.Run(strings.Join(args[2:], " "), func(t *testing.T) {
			x := liaison(t, "", args...)
			if x.code != exitOK || !strings.Contains(x.stdout, "<Patient xmlns=\"http://hl7.org/fhir\">") {
				t.Fatalf("to xml: exit %d\nstdout: %.300s\nstderr: %s", x.code, x.stdout, x.stderr)
			}
			j := liaison(t, x.stdout, "fhir", "convert", "--to", "json")
			if j.code != exitOK {
				t.Fatalf("to json: exit %d\n%s", j.code, j.stdout)
			}
			if got := parseJSON(t, j.stdout); !reflect.DeepEqual(got, want) {
				t.Errorf("JSON → XML → JSON differs from the original:\n%s", j.stdout)
			}
		})
	}
}

// The example's reference XML converts to the example's JSON, indented by
// two spaces. The narrative is left out of the comparison: the reference XML
// holds it with less whitespace than the JSON example does.
func TestConvertXMLToJSON(t *testing.T) {
	r := liaison(t, "", "fhir", "convert", "--to", "json", filepath.Join(examples, "Patient-example.xml"))
	if r.code != exitOK {
		t.Fatalf("exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	got := parseJSON(t, r.stdout)
	want := parseJSON(t, readFile(t, filepath.Join(examples, "Patient-example.json")))
	for _, res := range []fhir.Resource{got, want} {
		text, _ := res["text"].(map[string]any)
		if div, _ := text["div"].(string); !strings.HasPrefix(div, `<div xmlns="http://www.w3.org/1999/xhtml">`) {
			t.Fatalf("no narrative div: %v", res["text"])
		}
		delete(text, "div")
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("XML → JSON differs from Patient-example.json:\n%s", r.stdout)
	}
	if !strings.HasPrefix(r.stdout, "{\n  \"resourceType\": \"Patient\",\n  \"id\": \"example\",") {
		t.Errorf("JSON not indented by two spaces:\n%.200s", r.stdout)
	}
}

func TestConvertBadInput(t *testing.T) {
	tests := []struct {
		name       string
		stdin      string
		args       []string
		expression string // of one issue
		diag       string // part of that issue's diagnostics
	}{
		{"JSON syntax", "{\n  \"resourceType\": \"Patient\",\n}", []string{"--to", "xml"}, "line 3, col 1", "json: line 3, col 1"},
		{"XML syntax", "<Patient xmlns=\"http://hl7.org/fhir\">\n  <id value=\"x\">\n</Patient>", []string{"--to", "json"}, "", "xml: line "},
		{"unknown element", `{"resourceType":"Patient","foo":1}`, []string{"--to", "xml"}, "Patient.foo", ""},
		{"neither format", "Patient", []string{"--to", "json"}, "", "not FHIR JSON or XML"},
		{"missing file", "", []string{"--to", "json", "no-such-file.json"}, "", "no-such-file.json"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := liaison(t, tt.stdin, append([]string{"fhir", "convert"}, tt.args...)...)
			if r.code != exitFail {
				t.Fatalf("exit %d, want 1\nstdout: %s\nstderr: %s", r.code, r.stdout, r.stderr)
			}
			issues := outcomeIssues(t, r)
			if tt.expression != "" && !hasIssue(issues, tt.expression, tt.diag) {
				t.Errorf("no issue at %q with %q: %v", tt.expression, tt.diag, issues)
			}
			if tt.expression == "" && !strings.Contains(issues[0].Diagnostics, tt.diag) {
				t.Errorf("diagnostics %q lack %q", issues[0].Diagnostics, tt.diag)
			}
			if !issues.HasErrors() {
				t.Errorf("no error issue: %v", issues)
			}
		})
	}
}

func TestValidateValid(t *testing.T) {
	json := filepath.Join(examples, "Patient-example.json")
	xml := filepath.Join(examples, "Patient-example.xml")
	r := liaison(t, "", "fhir", "validate", json, xml)
	if r.code != exitOK || r.stdout != "" {
		t.Fatalf("exit %d, want 0 and nothing on stdout\nstdout: %s\nstderr: %s", r.code, r.stdout, r.stderr)
	}
	for _, want := range []string{json + ": valid\n", xml + ": valid\n"} {
		if !strings.Contains(r.stderr, want) {
			t.Errorf("stderr lacks %q:\n%s", want, r.stderr)
		}
	}

	r = liaison(t, readFile(t, json), "fhir", "validate")
	if r.code != exitOK || !strings.Contains(r.stderr, "<stdin>: valid") {
		t.Errorf("stdin: exit %d, stderr %s", r.code, r.stderr)
	}
}

func TestValidateInvalid(t *testing.T) {
	bad := writeFile(t, "bad.json", `{"resourceType":"Patient","id":"p1","foo":1}`)
	r := liaison(t, "", "fhir", "validate", bad)
	if r.code != exitFail {
		t.Fatalf("exit %d, want 1\nstdout: %s\nstderr: %s", r.code, r.stdout, r.stderr)
	}
	issues := outcomeIssues(t, r)
	if !hasIssue(issues, "Patient.foo", "") {
		t.Errorf("no issue at Patient.foo: %v", issues)
	}
	if strings.Contains(issues[0].Diagnostics, bad) {
		t.Errorf("one file, yet diagnostics name it: %q", issues[0].Diagnostics)
	}
	if !strings.Contains(r.stderr, bad+": invalid") {
		t.Errorf("stderr lacks %q: %s", bad+": invalid", r.stderr)
	}
}

// Several files give one OperationOutcome with every file's errors, each
// named by its file; a file that cannot be read or parsed is one of them.
func TestValidateSeveralFiles(t *testing.T) {
	good := filepath.Join(examples, "Patient-example.json")
	bad := writeFile(t, "bad.json", `{"resourceType":"Patient","foo":1}`)
	broken := writeFile(t, "broken.json", "{\n  \"resourceType\": \"Patient\",\n}")
	missing := filepath.Join(t.TempDir(), "missing.json")
	r := liaison(t, "", "fhir", "validate", good, bad, broken, missing)
	if r.code != exitFail {
		t.Fatalf("exit %d, want 1\nstdout: %s\nstderr: %s", r.code, r.stdout, r.stderr)
	}
	if strings.Count(r.stdout, `"resourceType": "OperationOutcome"`) != 1 {
		t.Errorf("want one OperationOutcome:\n%s", r.stdout)
	}
	issues := outcomeIssues(t, r)
	if !hasIssue(issues, "Patient.foo", bad+": ") {
		t.Errorf("no issue at Patient.foo naming %s: %v", bad, issues)
	}
	if !hasIssue(issues, "line 3, col 1", broken+": json: line 3, col 1") {
		t.Errorf("no syntax issue naming %s: %v", broken, issues)
	}
	found := false
	for _, is := range issues {
		found = found || strings.HasPrefix(is.Diagnostics, missing+": ")
		if strings.HasPrefix(is.Diagnostics, good) {
			t.Errorf("an issue for the valid file: %v", is)
		}
	}
	if !found {
		t.Errorf("no issue for the missing file: %v", issues)
	}
	if !strings.Contains(r.stderr, good+": valid\n") {
		t.Errorf("stderr lacks %s: valid:\n%s", good, r.stderr)
	}
}

// serve answers /healthz until its context is cancelled, then exits 0.
func TestServe(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	logR, logW := io.Pipe()
	exit := make(chan int, 1)
	go func() {
		exit <- run(ctx, []string{"serve", "--addr", "127.0.0.1:0", "--data", t.TempDir(), "--shutdown-timeout", "5s"}, strings.NewReader(""), io.Discard, logW)
		logW.Close()
	}()

	addr := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(logR)
		for sc.Scan() {
			var line struct{ Msg, Addr string }
			if json.Unmarshal(sc.Bytes(), &line) == nil && line.Msg == "listening" {
				addr <- line.Addr
			}
		}
		io.Copy(io.Discard, logR)
	}()
	var base string
	select {
	case a := <-addr:
		base = "http://" + a
	case code := <-exit:
		t.Fatalf("serve exited %d before listening", code)
	case <-time.After(10 * time.Second):
		t.Fatal("serve did not log its address")
	}

	res, err := http.Get(base + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != http.StatusOK || string(body) != `{"status":"ok"}` {
		t.Errorf("/healthz = %d %s", res.StatusCode, body)
	}

	cancel()
	select {
	case code := <-exit:
		if code != exitOK {
			t.Errorf("serve exited %d after cancel, want 0", code)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("serve did not stop after cancel")
	}
}

func TestServeBadConfig(t *testing.T) {
	r := liaison(t, "", "serve", "--addr", "no-port", "--data", t.TempDir())
	if r.code != exitFail || !strings.Contains(r.stderr, "want host:port") {
		t.Errorf("exit %d, stderr %s; want 1 and the config error", r.code, r.stderr)
	}
}
