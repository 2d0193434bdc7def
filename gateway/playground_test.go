package gateway

import (
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
)

// explainCall posts an input to the explain endpoint and decodes the answer.
func explainCall(t *testing.T, lv *live, mapping, ctype, body string, token bool) (int, map[string]any) {
	t.Helper()
	req, _ := http.NewRequest("POST", lv.url+"/api/mappings/"+mapping+"/explain", strings.NewReader(body))
	if token {
		req.Header.Set("Authorization", "Bearer "+testToken)
	}
	if ctype != "" {
		req.Header.Set("Content-Type", ctype)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	data, _ := io.ReadAll(res.Body)
	var out map[string]any
	if err := json.Unmarshal(data, &out); err != nil {
		t.Fatalf("answer is not JSON: %d %s", res.StatusCode, data)
	}
	return res.StatusCode, out
}

// issueTexts joins the diagnostics and expressions of an OperationOutcome.
func issueTexts(oo any) string {
	m, _ := oo.(map[string]any)
	issues, _ := m["issue"].([]any)
	var b strings.Builder
	for _, is := range issues {
		i, _ := is.(map[string]any)
		d, _ := i["diagnostics"].(string)
		b.WriteString(i["severity"].(string) + " " + i["code"].(string) + ": " + d)
		if ex, ok := i["expression"].([]any); ok {
			for _, e := range ex {
				b.WriteString(" @" + e.(string))
			}
		}
		b.WriteString("\n")
	}
	return b.String()
}

// The playground's explain call: output, issues and trace for an input;
// a mapping that fails or an invalid output is a 200 saying why, with the
// rule's place and never the input's values; unreadable input a 400.
func TestExplainMapping(t *testing.T) {
	lv := startLive(t, Config{})
	appt := func(status, tz string) string {
		return `{"appointmentId":"A1","patientId":"P9","datetime":"2024-06-15 09:30","tz":"` + tz + `","durationMin":15,"locationId":"LOC-1","status":"` + status + `"}`
	}
	tests := []struct {
		name    string
		mapping string
		ctype   string
		body    string
		token   bool
		status  int
		valid   bool
		output  bool   // an output is shown
		issue   string // part of the issues' text
		notIn   string // what the issues must not reveal
		trace   string // an output path the trace holds
	}{
		{name: "valid FHIR", mapping: "hms-appointment-to-fhir", ctype: "application/json", body: appt("booked", "America/New_York"), token: true,
			status: 200, valid: true, output: true, issue: "information informational: no issues", trace: "start"},
		{name: "output that does not validate", mapping: "hms-appointment-to-fhir", ctype: "application/json", body: appt("Secret-Status-1234", "America/New_York"), token: true,
			status: 200, output: true, issue: "Appointment.status", notIn: "Secret-Status-1234", trace: "id"},
		{name: "a rule that fails", mapping: "hms-appointment-to-fhir", ctype: "application/json", body: appt("booked", "Mars/Olympus"), token: true,
			status: 200, issue: "hms-appointment-to-fhir.yaml:7:", notIn: "Mars"},
		{name: "JSON output", mapping: "hms-appointment-to-iis", ctype: "", body: appt("booked", "America/New_York"), token: true,
			status: 200, valid: true, output: true, trace: "patientId"},
		{name: "unreadable input", mapping: "hms-appointment-to-fhir", ctype: "application/json", body: `{"appointmentId": "A1",`, token: true,
			status: 400, issue: "line 1"},
		{name: "wrong media type", mapping: "hms-appointment-to-fhir", ctype: "text/csv", body: "a,b\n", token: true,
			status: 415, issue: "not taken here"},
		{name: "unknown mapping", mapping: "no-such-mapping", ctype: "application/json", body: `{}`, token: true,
			status: 404, issue: "no mapping named"},
		{name: "without the token", mapping: "hms-appointment-to-fhir", ctype: "application/json", body: appt("booked", "UTC"),
			status: 401, issue: "admin token"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, got := explainCall(t, lv, tt.mapping, tt.ctype, tt.body, tt.token)
			if code != tt.status {
				t.Fatalf("status %d, want %d: %v", code, tt.status, got)
			}
			issues := got["issues"]
			if code != 200 {
				issues = got // the answer is the OperationOutcome
			}
			text := issueTexts(issues)
			if !strings.Contains(text, tt.issue) {
				t.Errorf("issues %q do not hold %q", text, tt.issue)
			}
			if tt.notIn != "" && strings.Contains(text, tt.notIn) {
				t.Errorf("issues %q reveal the input value %q", text, tt.notIn)
			}
			if code != 200 {
				return
			}
			if got["valid"] != tt.valid || got["mapping"] != tt.mapping || got["version"] == "" || got["records"] != float64(1) {
				t.Errorf("valid, mapping, version, records = %v %v %v %v", got["valid"], got["mapping"], got["version"], got["records"])
			}
			if _, ok := got["output"]; ok != tt.output {
				t.Errorf("output shown: %v, want %v (%v)", ok, tt.output, got["output"])
			}
			trace, ok := got["trace"].([]any)
			if !ok {
				t.Fatalf("trace = %v, want a list", got["trace"])
			}
			if tt.trace != "" {
				found := false
				for _, tr := range trace {
					tr := tr.(map[string]any)
					if tr["output"] == tt.trace && tr["rule"] != "" && tr["line"].(float64) > 0 {
						found = true
					}
				}
				if !found {
					t.Errorf("no trace of %s in %v", tt.trace, trace)
				}
			}
		})
	}
}

// Every shipped mapping gives the playground examples from its tests, and
// each example that its test expects to pass explains as valid output.
func TestMappingExamples(t *testing.T) {
	lv := startLive(t, Config{})
	var list []map[string]any
	lv.call("GET", "/api/mappings", nil, &list)
	if len(list) == 0 {
		t.Fatal("no mappings")
	}
	for _, m := range list {
		name := m["name"].(string)
		t.Run(name, func(t *testing.T) {
			var got struct {
				Version  string
				Input    string
				Examples []struct {
					Name  string
					Input string
					Fails bool
				}
			}
			if code := lv.call("GET", "/api/mappings/"+name+"/examples", nil, &got); code != 200 {
				t.Fatalf("examples: %d", code)
			}
			if got.Version != m["version"] || len(got.Examples) != int(m["tests"].(float64)) {
				t.Fatalf("version %s, %d examples; want %v, %v", got.Version, len(got.Examples), m["version"], m["tests"])
			}
			for _, ex := range got.Examples {
				if ex.Fails || ex.Input == "" {
					continue
				}
				ctype := ""
				if got.Input == "fhir" {
					ctype = mimeFHIRJSON
					if strings.HasPrefix(strings.TrimSpace(ex.Input), "<") {
						ctype = mimeFHIRXML
					}
				}
				code, res := explainCall(t, lv, name, ctype, ex.Input, true)
				if code != 200 || res["valid"] != true {
					t.Errorf("%s: %d %v", ex.Name, code, issueTexts(res["issues"]))
				}
			}
		})
	}
	if code := lv.call("GET", "/api/mappings/nope/examples", nil, nil); code != 404 {
		t.Errorf("unknown mapping: %d, want 404", code)
	}
}
