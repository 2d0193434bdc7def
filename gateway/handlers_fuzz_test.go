package gateway

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"testing"
)

// The handlers take whatever a client sends: the answer is never a 5xx
// (nor a panic, which the middleware turns into a 500), and every answer
// that is not a 2xx is an OperationOutcome. The gateway is served
// in-process, without a network and without deliveries.

// fuzzGateway is a gateway for a fuzz target, with a FHIR connector for
// patients and appointments and a REST connector with a rename mapping, so
// that records are mapped and queued as in production.
func fuzzGateway(f *testing.F) *Gateway {
	f.Helper()
	g, err := New(Config{DataDir: f.TempDir(), AdminToken: testToken, Adapters: testAdapters(), NoSync: true}, nil)
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { g.Close() })
	for _, body := range []string{
		`{"name":"EHR","type":"fhir","endpoint":"http://127.0.0.1:9/fhir","resources":["Patient","Appointment"]}`,
		`{"name":"Billing","type":"rest","endpoint":"http://127.0.0.1:9/api/Patient","mapping":{"mrn":"patientId","lastName":"surname"}}`,
	} {
		rec := serveFuzz(g, "POST", "/api/external-connectors", "application/json", "", []byte(body))
		if rec.Code != http.StatusCreated {
			f.Fatalf("register: %d %s", rec.Code, rec.Body)
		}
	}
	return g
}

// serveFuzz makes one request with the admin token.
func serveFuzz(g *Gateway, method, path, ctype, accept string, body []byte) *httptest.ResponseRecorder {
	req := httptest.NewRequest(method, path, bytes.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+testToken)
	if ctype != "" {
		req.Header.Set("Content-Type", ctype)
	}
	if accept != "" {
		req.Header.Set("Accept", accept)
	}
	rec := httptest.NewRecorder()
	g.Handler().ServeHTTP(rec, req)
	return rec
}

// checkFuzzAnswer fails the test on a 5xx, or a non-2xx answer that is
// not an OperationOutcome.
func checkFuzzAnswer(t *testing.T, what string, rec *httptest.ResponseRecorder) {
	t.Helper()
	if rec.Code >= 500 {
		t.Fatalf("%s: %d %s", what, rec.Code, rec.Body)
	}
	if rec.Code < 200 || rec.Code > 299 {
		if _, bad := operationOutcome(rec.Header(), rec.Body.Bytes()); bad != "" {
			t.Fatalf("%s: %d: %s: %s", what, rec.Code, bad, rec.Body)
		}
	}
}

func FuzzRecordsHandler(f *testing.F) {
	g := fuzzGateway(f)
	seeds := []struct{ typ, ctype, body string }{
		{"Patient", "application/json", `{"mrn":"M1","firstName":"Ada","lastName":"Lovelace","dob":"1815-12-10","sex":"F"}`},
		{"Patient", "application/json", `{"mrn":"12345","firstName":"Ada","middleName":"M","lastName":"Lovelace","dob":"1815-12-10","sex":"F","phones":[{"type":"home","number":"555-0100"}],"address":{"line1":"12 St James Sq","city":"London","state":"LN","zip":"SW1Y 4JH"}}`},
		{"Patient", "application/fhir+json", `{"mrn":7,"firstName":"Sam","lastName":"Lee","dob":"2001-02-03","sex":"X"}`},
		{"Patient", "", `{"mrn":"M2","dob":"2001-13-03"}`},
		{"Appointment", "application/json", `{"appointmentId":"A1","patientId":"M1","datetime":"2024-06-15 09:30","tz":"America/New_York","durationMin":15,"locationId":"LOC-1","status":"booked","vaccine":{"code":"141","display":"Influenza"}}`},
		{"Appointment", "application/json; charset=utf-8", `{"appointmentId":"A2","patientId":"M1","datetime":"2024-01-15 16:00","tz":"Mars/Olympus","durationMin":30,"status":"cancelled","notes":"  "}`},
		{"Immunization", "application/json", `{"immunizationId":"I1","patientId":"M1"}`},
		{"Widget", "application/json", `{"id":1e400,"x":[1,2,{"y":null}]}`},
		{"Patient", "application/json", `{"mrn": "M1",` + "\n" + `"lastName": `},
		{"Patient", "text/plain", `{"mrn":"M1"}`},
		{"Patient", "application/json", "{\"mrn\":\"M\xff\"}"},
		{"Patient", "application/json", `[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]`},
		{"Pat/ient", "application/json", `{"id":"x"}`},
	}
	for _, s := range seeds {
		f.Add(s.typ, s.ctype, []byte(s.body))
	}
	f.Fuzz(func(t *testing.T, typ, ctype string, body []byte) {
		rec := serveFuzz(g, "POST", "/api/records/"+url.PathEscape(typ), ctype, "", body)
		checkFuzzAnswer(t, "POST record", rec)
		if rec.Code != http.StatusAccepted && rec.Code != http.StatusOK {
			return
		}
		// What was taken can be read back.
		var res struct {
			Type string `json:"type"`
			ID   string `json:"id"`
		}
		if err := json.Unmarshal(rec.Body.Bytes(), &res); err != nil || res.ID == "" {
			t.Fatalf("answer %d %s", rec.Code, rec.Body)
		}
		path := "/api/records/" + url.PathEscape(res.Type) + "/" + url.PathEscape(res.ID)
		got := serveFuzz(g, "GET", path, "", "", nil)
		if got.Code != http.StatusOK {
			t.Fatalf("GET the record taken: %d %s", got.Code, got.Body)
		}
		// The same content again, at the record's own path, changes nothing.
		again := serveFuzz(g, "PUT", path, ctype, "", body)
		if again.Code != http.StatusOK || !bytes.Contains(again.Body.Bytes(), []byte(`"status":"unchanged"`)) {
			t.Fatalf("PUT the same record again: %d %s", again.Code, again.Body)
		}
	})
}

func FuzzConnectorRegistration(f *testing.F) {
	g := fuzzGateway(f)
	seeds := []string{
		`{ "name": "StateEHR", "type": "FHIR", "endpoint": "https://stateehr.gov/fhir/Patient",
		  "auth": { "scheme": "OAuth2", "clientId": "ABC123", "clientSecret": "SECRET" },
		  "sync": { "mode": "webhook", "path": "/api/webhooks/state-ehr/patient" },
		  "mapping": { "hmsPatientId": "id", "hmsName": "name" } }`,
		`{"name":"County EHR","type":"fhir","endpoint":"http://127.0.0.1:9/fhir","resources":["Patient","Appointment"],"delivery":{"initialBackoff":"10ms","maxBackoff":"50ms","timeout":2,"concurrency":4}}`,
		`{"name":"IIS","type":"fhir","endpoint":"https://iis.example.org/fhir","resources":["Immunization"],"mapping":{"outbound":{"Immunization":"hms-immunization-to-fhir"}},"auth":{"scheme":"bearer","token":"env:IIS_TOKEN"}}`,
		`{"name":"Billing","type":"rest","endpoint":"https://billing.example.org/api/Patient","auth":{"scheme":"api-key","key":"k","header":"X-Key"},"sync":{"mode":"poll","interval":"1m"}}`,
		`{"name":"Bad","type":"fhir","endpoint":"http://example.org","resources":["Patient"],"mapping":{"outbound":{"Patient":"hms-appointment-to-fhir"}}}`,
		`{"name":"Queue","type":"nats","endpoint":"nats://127.0.0.1:4222","sync":{"mode":"queue","subject":"hms.patients"}}`,
		`{"name":"SMART","type":"fhir","endpoint":"https://ehr.example.org/fhir","auth":{"scheme":"smart","clientId":"c","privateKey":"file:/etc/key.pem","algorithm":"ES384","scopes":["system/Patient.rs"]}}`,
		`{"name":"","type":"ftp","endpoint":"not a url","resources":["", "Patient", "Patient"]}`,
		`{"name":"X","type":"fhir","endpoint":"http://x/fhir","name":"Y"}`,
		`[]`, `null`, `{"name":`,
	}
	for _, s := range seeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		rec := serveFuzz(g, "POST", "/api/external-connectors", "application/json", "", body)
		checkFuzzAnswer(t, "register", rec)
		if rec.Code != http.StatusCreated {
			return
		}
		var created struct {
			ID string `json:"connectorId"`
		}
		if err := json.Unmarshal(rec.Body.Bytes(), &created); err != nil || created.ID == "" {
			t.Fatalf("answer %s", rec.Body)
		}
		// Registered: it can be shown, updated with what it was
		// registered with, and deleted.
		shown := serveFuzz(g, "GET", "/api/external-connectors/"+created.ID, "", "", nil)
		if shown.Code != http.StatusOK {
			t.Fatalf("GET the connector registered: %d %s", shown.Code, shown.Body)
		}
		put := serveFuzz(g, "PUT", "/api/external-connectors/"+created.ID, "application/json", "", body)
		checkFuzzAnswer(t, "update with the same body", put)
		if put.Code != http.StatusOK {
			t.Fatalf("update with the body it was registered with: %d %s", put.Code, put.Body)
		}
		if del := serveFuzz(g, "DELETE", "/api/external-connectors/"+created.ID, "", "", nil); del.Code != http.StatusNoContent {
			t.Fatalf("DELETE the connector registered: %d %s", del.Code, del.Body)
		}
	})
}

func FuzzTranslate(f *testing.F) {
	g := fuzzGateway(f)
	mappingNames := []string{"hms-appointment-to-fhir", "hl7v2-adt-to-fhir-patient"}
	seeds := []struct {
		mapping       uint8
		ctype, accept string
		body          string
	}{
		{0, "application/json", "", `{"appointmentId":"A1","patientId":"P9","datetime":"2024-06-15 09:30","tz":"America/New_York","durationMin":15,"locationId":"LOC-1","status":"booked","vaccine":{"code":"141","display":"Influenza, seasonal, injectable"},"notes":"  bring card  "}`},
		{0, "application/json", "application/fhir+xml", `{"appointmentId":"A2","patientId":"P9","datetime":"2024-01-15 16:00","tz":"Europe/Berlin","durationMin":30,"locationId":"LOC-2","status":"cancelled","notes":"   "}`},
		{0, "", "application/fhir+json", `{"appointmentId":"A3","patientId":"P9","datetime":"2024-01-15 16:00","tz":"Mars/Olympus","durationMin":30,"status":"booked"}`},
		{0, "application/json", "text/csv", `{"appointmentId":"A1"}`},
		{0, "application/json", "", `[{"appointmentId":"A1"},{"appointmentId":"A2"}]`},
		{1, "x-application/hl7-v2+er7", "", "MSH|^~\\&|HMS|CLINIC|LIAISON|STATE|20240615093000-0400||ADT^A04^ADT_A01|MSG00001|P|2.5.1\rEVN|A04|20240615093000-0400\rPID|1||12345^^^HMS^MR||Lovelace^Ada^M||18151210|F|||12 St James Sq^^London^LN^SW1Y 4JH||555-0100^PRN^PH~555-0101^PRN^CP\r"},
		{1, "text/plain", "application/fhir+xml", "MSH|^~\\&|EHR|H|LIAISON|STATE|20240101||ADT^A08^ADT_A01|M2|P|2.5.1\rPID|1||777^^^HMS^MR~999-99^^^SSA^SS||O\\T\\Brien^Pat||1990|M\r"},
		{1, "application/hl7-v2", "", "MSH|^~\\&|EHR|H|LIAISON|STATE|20240101||ADT^A03^ADT_A03|M3|P|2.5.1\rPID|1||777^^^HMS^MR||X^Y\r"},
		{1, "", "", "MSH|^~\\&|EHR|H|LIAISON|STATE|20240101||ADT^A04|M4|P|2.5.1\nPID|1||1^^^HMS^MR||A^B||2024021|Z\n"},
		{1, "application/json", "", `{"not":"hl7"}`},
	}
	for _, s := range seeds {
		f.Add(s.mapping, s.ctype, s.accept, []byte(s.body))
	}
	f.Fuzz(func(t *testing.T, which uint8, ctype, accept string, body []byte) {
		name := mappingNames[int(which)%len(mappingNames)]
		rec := serveFuzz(g, "POST", "/api/translate/"+name, ctype, accept, body)
		checkFuzzAnswer(t, "translate "+name, rec)
		if rec.Code == http.StatusOK && rec.Header().Get("Content-Type") == "application/fhir+json" {
			var res struct {
				ResourceType string `json:"resourceType"`
			}
			if err := json.Unmarshal(rec.Body.Bytes(), &res); err != nil || res.ResourceType == "" {
				t.Fatalf("translate %s answered 200 with %s", name, rec.Body)
			}
		}
	})
}
