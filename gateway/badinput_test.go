package gateway

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"slices"
	"strings"
	"testing"
)

// rawAnswer is an answer as it came over the wire.
type rawAnswer struct {
	status int
	header http.Header
	body   []byte
}

// send makes a request with a raw body and Content-Type ("" for none),
// with the admin token unless token says otherwise ("-" for none).
func (lv *live) send(method, path, ctype string, body []byte, token string) rawAnswer {
	lv.t.Helper()
	var r io.Reader
	if body != nil {
		r = bytes.NewReader(body)
	}
	req, err := http.NewRequest(method, lv.url+path, r)
	if err != nil {
		lv.t.Fatal(err)
	}
	switch token {
	case "":
		req.Header.Set("Authorization", "Bearer "+testToken)
	case "-":
	default:
		req.Header.Set("Authorization", token)
	}
	if ctype != "" {
		req.Header.Set("Content-Type", ctype)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		lv.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer res.Body.Close()
	data, err := io.ReadAll(res.Body)
	if err != nil {
		lv.t.Fatalf("%s %s: read the answer: %v", method, path, err)
	}
	return rawAnswer{res.StatusCode, res.Header, data}
}

// outcomeIssue is one issue of an OperationOutcome.
type outcomeIssue struct {
	Severity    string   `json:"severity"`
	Code        string   `json:"code"`
	Diagnostics string   `json:"diagnostics"`
	Expression  []string `json:"expression"`
}

// operationOutcome checks that an answer is a FHIR OperationOutcome, in
// application/fhir+json, with issues that each have a severity, a code and
// diagnostics; it returns the issues, or an error saying what is wrong.
func operationOutcome(header http.Header, body []byte) ([]outcomeIssue, string) {
	if ct := header.Get("Content-Type"); ct != "application/fhir+json" {
		return nil, "Content-Type " + ct + ", want application/fhir+json"
	}
	var oo struct {
		ResourceType string         `json:"resourceType"`
		Issue        []outcomeIssue `json:"issue"`
	}
	if err := json.Unmarshal(body, &oo); err != nil || oo.ResourceType != "OperationOutcome" || len(oo.Issue) == 0 {
		return nil, "not an OperationOutcome with issues"
	}
	for _, is := range oo.Issue {
		if is.Severity == "" || is.Code == "" || strings.TrimSpace(is.Diagnostics) == "" {
			return nil, "an issue without severity, code or diagnostics"
		}
	}
	return oo.Issue, ""
}

// Bad input gets a 4xx OperationOutcome that says what is wrong and
// where, never a 5xx; and nothing of it is stored.
func TestBadInput(t *testing.T) {
	ehr := startEHR(t)
	lv := startLive(t, Config{})
	conn := lv.registerFHIR("EHR", ehr)

	const (
		jsonType = "application/json"
		fhirType = "application/fhir+json"
	)
	deep := func(open, close string, n int) []byte {
		return []byte(`{"mrn":"M1","x":` + strings.Repeat(open, n) + strings.Repeat(close, n) + `}`)
	}
	big := append([]byte(`{"mrn":"M1","notes":"`), bytes.Repeat([]byte("x"), 10<<20)...)
	big = append(big, `"}`...)
	overLimit := big[:DefaultMaxBody+1024] // for the other calls: just over the limit
	connectorBody := func(fields string) []byte {
		return []byte(`{"name":"Bad","type":"fhir","endpoint":"` + ehr.URL() + `"` + fields + `}`)
	}

	tests := []struct {
		name         string
		method, path string
		ctype        string
		body         []byte
		token        string // "" the admin token, "-" none
		status       int
		or           int      // another status that will do
		diagnostics  string   // a part of the first issue's diagnostics
		expression   []string // the first issue's, when given
	}{
		// Records: the body.
		{name: "truncated JSON", method: "POST", path: "/api/records/Patient", ctype: jsonType,
			body: []byte("{\"mrn\": \"M1\",\n  \"lastName\": "), status: 400, diagnostics: "line 2, column"},
		{name: "syntax error", method: "POST", path: "/api/records/Patient", ctype: jsonType,
			body: []byte("{\"mrn\": \"M1\",\n\n \"lastName\" \"Lee\"}"), status: 400, diagnostics: "line 3, column"},
		{name: "empty body", method: "POST", path: "/api/records/Patient", ctype: jsonType,
			body: []byte(""), status: 400, diagnostics: "empty"},
		{name: "two JSON values", method: "POST", path: "/api/records/Patient", ctype: jsonType,
			body: []byte(`{"mrn":"M1"} {"mrn":"M2"}`), status: 400, diagnostics: "more than one"},
		{name: "array instead of object", method: "POST", path: "/api/records/Patient", ctype: jsonType,
			body: []byte(`[{"mrn":"M1"}]`), status: 400, diagnostics: "object"},
		{name: "string instead of object", method: "POST", path: "/api/records/Patient", ctype: jsonType,
			body: []byte(`"M1"`), status: 400, diagnostics: "object"},
		{name: "null instead of object", method: "POST", path: "/api/records/Patient", ctype: jsonType,
			body: []byte(`null`), status: 400, diagnostics: "object"},
		{name: "id an object", method: "POST", path: "/api/records/Patient", ctype: jsonType,
			body: []byte(`{"mrn":{"value":"M1"},"lastName":"Lee"}`), status: 400, diagnostics: "mrn", expression: []string{"mrn"}},
		{name: "id an array", method: "POST", path: "/api/records/Patient", ctype: jsonType,
			body: []byte(`{"mrn":["M1"],"lastName":"Lee"}`), status: 400, diagnostics: "mrn", expression: []string{"mrn"}},
		{name: "id a boolean", method: "POST", path: "/api/records/Patient", ctype: jsonType,
			body: []byte(`{"mrn":true,"lastName":"Lee"}`), status: 400, diagnostics: "mrn", expression: []string{"mrn"}},
		{name: "id null", method: "POST", path: "/api/records/Patient", ctype: jsonType,
			body: []byte(`{"mrn":null,"lastName":"Lee"}`), status: 400, diagnostics: "mrn", expression: []string{"mrn"}},
		{name: "id empty", method: "POST", path: "/api/records/Patient", ctype: jsonType,
			body: []byte(`{"mrn":"","lastName":"Lee"}`), status: 400, diagnostics: "mrn", expression: []string{"mrn"}},
		{name: "id with a slash", method: "POST", path: "/api/records/Patient", ctype: jsonType,
			body: []byte(`{"mrn":"M/1","lastName":"Lee"}`), status: 400, diagnostics: "mrn", expression: []string{"mrn"}},
		{name: "id with a control character", method: "POST", path: "/api/records/Patient", ctype: jsonType,
			body: []byte(`{"mrn":"M\u00001","lastName":"Lee"}`), status: 400, diagnostics: "mrn", expression: []string{"mrn"}},
		{name: "id too long", method: "POST", path: "/api/records/Patient", ctype: jsonType,
			body: []byte(`{"mrn":"` + strings.Repeat("M", 129) + `","lastName":"Lee"}`), status: 400, diagnostics: "mrn", expression: []string{"mrn"}},
		{name: "numeric id too long", method: "POST", path: "/api/records/Patient", ctype: jsonType,
			body: []byte(`{"mrn":` + strings.Repeat("9", 129) + `,"lastName":"Lee"}`), status: 400, diagnostics: "mrn", expression: []string{"mrn"}},
		{name: "numeric id longer than a store key", method: "POST", path: "/api/records/Patient", ctype: jsonType,
			body: []byte(`{"mrn":` + strings.Repeat("9", 40000) + `,"lastName":"Lee"}`), status: 400, diagnostics: "mrn", expression: []string{"mrn"}},
		{name: "missing id", method: "POST", path: "/api/records/Patient", ctype: jsonType,
			body: []byte(`{"firstName":"Ada","lastName":"Lee"}`), status: 400, diagnostics: `"mrn"`, expression: []string{"mrn"}},
		{name: "missing id of another type", method: "POST", path: "/api/records/Widget", ctype: jsonType,
			body: []byte(`{"name":"w"}`), status: 400, diagnostics: `"id"`, expression: []string{"id"}},
		{name: "id differs from the path", method: "PUT", path: "/api/records/Patient/M2", ctype: jsonType,
			body: []byte(`{"mrn":"M1","lastName":"Lee"}`), status: 400, diagnostics: "differs", expression: []string{"mrn"}},
		{name: "10 MB body", method: "POST", path: "/api/records/Patient", ctype: jsonType,
			body: big, status: 413, diagnostics: "larger than"},
		{name: "arrays nested 10000 deep", method: "POST", path: "/api/records/Patient", ctype: jsonType,
			body: deep("[", "]", 10000), status: 400, diagnostics: "nested deeper"},
		{name: "objects nested 10000 deep", method: "POST", path: "/api/records/Patient", ctype: jsonType,
			body: deep(`{"a":`, "}", 10000), status: 400, diagnostics: "nested deeper"},
		{name: "unclosed nesting 10000 deep", method: "POST", path: "/api/records/Patient", ctype: jsonType,
			body: []byte(strings.Repeat("[", 10000)), status: 400, diagnostics: "line 1"},
		{name: "a key given twice", method: "POST", path: "/api/records/Patient", ctype: jsonType,
			body: []byte("{\"mrn\":\"M1\",\n\"lastName\":\"Lee\",\"lastName\":\"Li\"}"), status: 400, diagnostics: "line 2, column 18: duplicate property"},
		{name: "an unpaired surrogate", method: "POST", path: "/api/records/Patient", ctype: jsonType,
			body: []byte(`{"mrn":"M1","lastName":"L\ud800"}`), status: 400, diagnostics: "surrogate"},
		{name: "invalid UTF-8", method: "POST", path: "/api/records/Patient", ctype: jsonType,
			body: []byte("{\"mrn\":\"M1\",\n\"lastName\":\"L\xffe\"}"), status: 400, diagnostics: "UTF-8"},
		{name: "text/plain", method: "POST", path: "/api/records/Patient", ctype: "text/plain",
			body: []byte(`{"mrn":"M1"}`), status: 415, diagnostics: "text/plain"},
		{name: "XML", method: "POST", path: "/api/records/Patient", ctype: "application/xml",
			body: []byte(`<Patient/>`), status: 415, diagnostics: "application/xml"},
		{name: "malformed Content-Type", method: "POST", path: "/api/records/Patient", ctype: "application/json;;;=",
			body: []byte(`{"mrn":"M1"}`), status: 415, diagnostics: "Content-Type"},
		{name: "a record its mapping cannot take", method: "POST", path: "/api/records/Appointment", ctype: jsonType,
			body: []byte(`{"appointmentId":"A1","patientId":"M1","datetime":"15/06/2024","tz":"America/New_York","status":"booked"}`), status: 422, diagnostics: "Appointment mapping"},
		{name: "a record its mapping makes invalid FHIR of", method: "POST", path: "/api/records/Patient", ctype: fhirType,
			body: []byte(`{"mrn":"M1","lastName":"Lee","dob":"2001-13-03"}`), status: 422, diagnostics: "date", expression: []string{"Patient.birthDate"}},
		{name: "record type with a control character", method: "POST", path: "/api/records/Pat%01ient", ctype: jsonType,
			body: []byte(`{"id":"M1"}`), status: 400, diagnostics: "type"},

		// Connectors.
		{name: "connector: truncated JSON", method: "POST", path: "/api/external-connectors", ctype: jsonType,
			body: []byte("{\"name\": \"X\",\n\"type\": "), status: 400, diagnostics: "line 2"},
		{name: "connector: array", method: "POST", path: "/api/external-connectors", ctype: jsonType,
			body: []byte(`[]`), status: 400, diagnostics: "object"},
		{name: "connector: name a number", method: "POST", path: "/api/external-connectors", ctype: jsonType,
			body: []byte(`{"name":7,"type":"fhir","endpoint":"http://example.org/fhir"}`), status: 400, diagnostics: "string", expression: []string{"name"}},
		{name: "connector: unknown field", method: "POST", path: "/api/external-connectors", ctype: jsonType,
			body: connectorBody(`,"endpiont":"x"`), status: 400, diagnostics: "endpoint", expression: []string{"endpiont"}},
		{name: "connector: unknown type", method: "POST", path: "/api/external-connectors", ctype: jsonType,
			body: []byte(`{"name":"Bad","type":"ftp","endpoint":"ftp://example.org"}`), status: 400, diagnostics: "ftp", expression: []string{"type"}},
		{name: "connector: no type", method: "POST", path: "/api/external-connectors", ctype: jsonType,
			body: []byte(`{"name":"Bad","endpoint":"http://example.org/fhir"}`), status: 400, diagnostics: "required", expression: []string{"type"}},
		{name: "connector: type without an adapter", method: "POST", path: "/api/external-connectors", ctype: jsonType,
			body: []byte(`{"name":"Bad","type":"soap","endpoint":"http://example.org/soap","resources":["Patient"]}`), status: 400, diagnostics: "adapter", expression: []string{"type"}},
		{name: "connector: endpoint not a URL", method: "POST", path: "/api/external-connectors", ctype: jsonType,
			body: []byte(`{"name":"Bad","type":"fhir","endpoint":"not a url"}`), status: 400, diagnostics: "URL", expression: []string{"endpoint"}},
		{name: "connector: endpoint of another scheme", method: "POST", path: "/api/external-connectors", ctype: jsonType,
			body: []byte(`{"name":"Bad","type":"fhir","endpoint":"ftp://example.org/fhir"}`), status: 400, diagnostics: "http", expression: []string{"endpoint"}},
		{name: "connector: endpoint with credentials", method: "POST", path: "/api/external-connectors", ctype: jsonType,
			body: []byte(`{"name":"Bad","type":"fhir","endpoint":"https://user:pw@example.org/fhir"}`), status: 400, diagnostics: "credentials", expression: []string{"endpoint"}},
		{name: "connector: unknown outbound mapping", method: "POST", path: "/api/external-connectors", ctype: jsonType,
			body: connectorBody(`,"resources":["Patient"],"mapping":{"outbound":{"Patient":"no-such-mapping"}}`), status: 400, diagnostics: "no-such-mapping", expression: []string{"mapping.outbound.Patient"}},
		{name: "connector: mapping of another resource", method: "POST", path: "/api/external-connectors", ctype: jsonType,
			body: connectorBody(`,"resources":["Patient"],"mapping":{"outbound":{"Patient":"hms-appointment-to-fhir"}}`), status: 400, diagnostics: "Appointment", expression: []string{"mapping.outbound.Patient"}},
		{name: "connector: inbound mapping the wrong way round", method: "POST", path: "/api/external-connectors", ctype: jsonType,
			body: connectorBody(`,"resources":["Patient"],"mapping":{"inbound":{"Patient":"hms-patient-to-fhir"}}`), status: 400, diagnostics: "hms-patient-to-fhir", expression: []string{"mapping.inbound.Patient"}},
		{name: "connector: bad delivery duration", method: "POST", path: "/api/external-connectors", ctype: jsonType,
			body: connectorBody(`,"delivery":{"timeout":"soon"}`), status: 400, diagnostics: "", expression: []string{"delivery.timeout"}},
		{name: "connector: wrong Content-Type", method: "POST", path: "/api/external-connectors", ctype: "text/yaml",
			body: []byte("name: X\n"), status: 415, diagnostics: "text/yaml"},
		{name: "connector: over the limit", method: "POST", path: "/api/external-connectors", ctype: jsonType,
			body: overLimit, status: 413, diagnostics: "larger than"},
		{name: "update connector: unknown type", method: "PUT", path: "/api/external-connectors/" + conn, ctype: jsonType,
			body: []byte(`{"name":"EHR","type":"ftp","endpoint":"ftp://example.org"}`), status: 400, diagnostics: "ftp", expression: []string{"type"}},
		{name: "update connector: truncated", method: "PUT", path: "/api/external-connectors/" + conn, ctype: jsonType,
			body: []byte(`{"name":"EHR",`), status: 400, diagnostics: "line 1"},
		{name: "update unknown connector", method: "PUT", path: "/api/external-connectors/nope", ctype: jsonType,
			body: connectorBody(""), status: 404, diagnostics: "nope"},
		{name: "unknown connector", method: "GET", path: "/api/external-connectors/nope", status: 404, diagnostics: "nope"},
		{name: "pause unknown connector", method: "POST", path: "/api/external-connectors/nope/pause", status: 404, diagnostics: "nope"},
		{name: "sync unknown connector", method: "POST", path: "/api/external-connectors/nope/sync", status: 404, diagnostics: "nope"},
		{name: "replay unknown connector", method: "POST", path: "/api/external-connectors/nope/replay", status: 404, diagnostics: "nope"},

		// Tokens.
		{name: "no token", method: "POST", path: "/api/records/Patient", ctype: jsonType,
			body: []byte(`{"mrn":"M1"}`), token: "-", status: 401, diagnostics: "admin token"},
		{name: "wrong token", method: "POST", path: "/api/records/Patient", ctype: jsonType,
			body: []byte(`{"mrn":"M1"}`), token: "Bearer not-the-token", status: 401, diagnostics: "admin token"},
		{name: "token in another scheme", method: "POST", path: "/api/records/Patient", ctype: jsonType,
			body: []byte(`{"mrn":"M1"}`), token: "Basic " + testToken, status: 401, diagnostics: "admin token"},
		{name: "empty bearer", method: "GET", path: "/api/messages", token: "Bearer ", status: 401, diagnostics: "admin token"},
		{name: "no token for a connector", method: "POST", path: "/api/external-connectors", ctype: jsonType,
			body: connectorBody(""), token: "-", status: 401, diagnostics: "admin token"},

		// Messages.
		{name: "unknown message", method: "GET", path: "/api/messages/ffffffffffffffff", status: 404, diagnostics: "ffffffffffffffff"},
		{name: "malformed message id", method: "GET", path: "/api/messages/not-an-id", status: 404, diagnostics: "not-an-id"},
		{name: "replay unknown message", method: "POST", path: "/api/messages/0000000000000001/replay", status: 404, diagnostics: "0000000000000001"},
		{name: "unknown message state", method: "GET", path: "/api/messages?state=lost", status: 400, diagnostics: "state", expression: []string{"state"}},
		{name: "message record without an id", method: "GET", path: "/api/messages?record=Patient", status: 400, diagnostics: "record", expression: []string{"record"}},
		{name: "message limit out of range", method: "GET", path: "/api/messages?limit=100000", status: 400, diagnostics: "limit", expression: []string{"limit"}},
		{name: "unknown record", method: "GET", path: "/api/records/Patient/M404", status: 404, diagnostics: "M404"},
		{name: "delete unknown record", method: "DELETE", path: "/api/records/Patient/M404", status: 404, diagnostics: "M404"},

		// Translate.
		{name: "translate: unknown mapping", method: "POST", path: "/api/translate/no-such-mapping", ctype: jsonType,
			body: []byte(`{}`), status: 404, diagnostics: "no-such-mapping"},
		{name: "translate: truncated JSON", method: "POST", path: "/api/translate/hms-appointment-to-fhir", ctype: jsonType,
			body: []byte(`{"appointmentId": "A1", `), status: 400, diagnostics: "line 1"},
		{name: "translate: array", method: "POST", path: "/api/translate/hms-appointment-to-fhir", ctype: jsonType,
			body: []byte(`[1, 2]`), status: 400, or: 422, diagnostics: ""},
		{name: "translate: missing fields", method: "POST", path: "/api/translate/hms-appointment-to-fhir", ctype: jsonType,
			body: []byte(`{"appointmentId":"A1"}`), status: 422, diagnostics: ""},
		{name: "translate: invalid UTF-8", method: "POST", path: "/api/translate/hms-appointment-to-fhir", ctype: jsonType,
			body: []byte("{\"appointmentId\":\"A1\",\"patientId\":\"P\xff9\",\"datetime\":\"2024-06-15 09:30\",\"tz\":\"America/New_York\",\"durationMin\":15,\"status\":\"booked\"}"), status: 400, diagnostics: "UTF-8"},
		{name: "translate: nested 10000 deep", method: "POST", path: "/api/translate/hms-appointment-to-fhir", ctype: jsonType,
			body: deep("[", "]", 10000), status: 400, diagnostics: ""},
		{name: "translate: wrong Content-Type", method: "POST", path: "/api/translate/hms-appointment-to-fhir", ctype: "application/xml",
			body: []byte(`<a/>`), status: 415, diagnostics: "application/xml"},
		{name: "translate: not HL7 v2", method: "POST", path: "/api/translate/hl7v2-adt-to-fhir-patient", ctype: "x-application/hl7-v2+er7",
			body: []byte("hello"), status: 400, diagnostics: ""},
		{name: "translate: HL7 v2 of the wrong event", method: "POST", path: "/api/translate/hl7v2-adt-to-fhir-patient", ctype: "x-application/hl7-v2+er7",
			body: []byte("MSH|^~\\&|EHR|H|LIAISON|STATE|20240101||ADT^A03^ADT_A03|M3|P|2.5.1\rPID|1||777^^^HMS^MR||X^Y\r"), status: 422, diagnostics: "registration"},
		{name: "translate: over the limit", method: "POST", path: "/api/translate/hms-appointment-to-fhir", ctype: jsonType,
			body: overLimit, status: 413, diagnostics: "larger than"},
		{name: "translate: not acceptable", method: "POST", path: "/api/translate/hms-appointment-to-fhir", ctype: jsonType,
			body: []byte(`{"appointmentId":"A1","patientId":"P9","datetime":"2024-06-15 09:30","tz":"America/New_York","durationMin":15,"status":"booked"}`), status: 406, diagnostics: "fhir"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			lv := *lv
			lv.t = t
			var a rawAnswer
			if tt.status == 406 {
				a = lv.sendAccept(tt.method, tt.path, tt.ctype, tt.body, "text/csv")
			} else {
				a = lv.send(tt.method, tt.path, tt.ctype, tt.body, tt.token)
			}
			if a.status >= 500 {
				t.Fatalf("%d: %s", a.status, a.body)
			}
			if a.status != tt.status && (tt.or == 0 || a.status != tt.or) {
				t.Errorf("status %d, want %d: %.300s", a.status, tt.status, a.body)
			}
			issues, bad := operationOutcome(a.header, a.body)
			if bad != "" {
				t.Fatalf("%s: %.300s", bad, a.body)
			}
			if !strings.Contains(issues[0].Diagnostics, tt.diagnostics) {
				t.Errorf("diagnostics %q, want it to name %q", issues[0].Diagnostics, tt.diagnostics)
			}
			if tt.expression != nil && !slices.ContainsFunc(issues, func(is outcomeIssue) bool { return slices.Equal(is.Expression, tt.expression) }) {
				t.Errorf("issues %+v, want one with expression %v", issues, tt.expression)
			}
			if tt.status == http.StatusUnauthorized && a.header.Get("WWW-Authenticate") == "" {
				t.Error("401 without WWW-Authenticate")
			}
			if strings.Contains(string(a.body), "Lee") {
				t.Errorf("the answer repeats the record's data: %s", a.body)
			}
		})
	}

	// Nothing of it was stored: no record, no message, no other connector.
	for _, path := range []string{"/api/records/Patient/M1", "/api/records/Patient/M2", "/api/records/Appointment/A1", "/api/records/Widget/w"} {
		if a := lv.send("GET", path, "", nil, ""); a.status != http.StatusNotFound {
			t.Errorf("GET %s: %d %s", path, a.status, a.body)
		}
	}
	var listed struct {
		Messages []map[string]any `json:"messages"`
	}
	if code := lv.call("GET", "/api/messages", nil, &listed); code != http.StatusOK || len(listed.Messages) != 0 {
		t.Errorf("messages after bad input: %d %v", code, listed.Messages)
	}
	var conns []map[string]any
	lv.call("GET", "/api/external-connectors", nil, &conns)
	if len(conns) != 1 || conns[0]["connectorId"] != conn || conns[0]["type"] != "fhir" || conns[0]["queued"] != float64(0) {
		t.Errorf("connectors after bad input: %v", conns)
	}
	if n := ehr.Count(""); n != 0 {
		t.Errorf("%d requests reached the FHIR server", n)
	}
	// And the gateway still takes good input.
	if ids := lv.postRecord("Patient", patient("M1", "Lee")); len(ids) != 1 {
		t.Errorf("good record after bad input: messages %v", ids)
	}
}

// sendAccept is send with an Accept header.
func (lv *live) sendAccept(method, path, ctype string, body []byte, accept string) rawAnswer {
	lv.t.Helper()
	req, err := http.NewRequest(method, lv.url+path, bytes.NewReader(body))
	if err != nil {
		lv.t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+testToken)
	req.Header.Set("Content-Type", ctype)
	req.Header.Set("Accept", accept)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		lv.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer res.Body.Close()
	data, _ := io.ReadAll(res.Body)
	return rawAnswer{res.StatusCode, res.Header, data}
}

// Path parameters mean the same however the client escapes them: an id
// holding ':' or ',' is found whether it is sent as is or escaped, as
// encodeURIComponent does.
func TestEscapedPathParameters(t *testing.T) {
	lv := startLive(t, Config{})
	rec := []byte(`{"mrn":"MRN:1,2","lastName":"Lee"}`)
	if a := lv.send("PUT", "/api/records/Patient/MRN%3A1%2C2", "application/json", rec, ""); a.status != http.StatusAccepted {
		t.Fatalf("PUT with the id escaped: %d %s", a.status, a.body)
	}
	for _, path := range []string{"/api/records/Patient/MRN%3A1%2C2", "/api/records/Patient/MRN:1,2", "/api/records/%50atient/MRN:1%2c2"} {
		a := lv.send("GET", path, "", nil, "")
		var got map[string]any
		if a.status != http.StatusOK || json.Unmarshal(a.body, &got) != nil || got["id"] != "MRN:1,2" || got["type"] != "Patient" {
			t.Errorf("GET %s: %d %s", path, a.status, a.body)
		}
	}
	// A '/' escaped in a name is still a '/', which names cannot hold.
	if a := lv.send("POST", "/api/records/Pat%2Fient", "application/json", []byte(`{"id":"x"}`), ""); a.status < 400 || a.status >= 500 {
		t.Errorf("POST a record type holding an escaped /: %d %s", a.status, a.body)
	}
}
