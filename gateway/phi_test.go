package gateway

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
)

// phiCanary is a patient's name no log line, at any level, may hold.
const phiCanary = "Zyxwvutsrq"

// A patient with a unique name travels every path — accepted, mapped,
// delivered to a server that refuses it echoing the body back, refused by
// a mapping, translated, received by webhook — with debug logging on; the
// name is in no log line, and in no error answer.
func TestPHICanary(t *testing.T) {
	ehr := startEHR(t)
	lv := startLive(t, Config{}) // logs at debug level
	var c map[string]any
	lv.call("POST", "/api/external-connectors", map[string]any{
		"name": "EHR", "type": "fhir", "endpoint": ehr.URL(), "resources": []string{"Patient"},
		"delivery": map[string]any{"initialBackoff": "10ms", "maxBackoff": "50ms"},
		"sync": map[string]any{"mode": "webhook", "path": "/api/webhooks/ehr",
			"verify": map[string]any{"scheme": "standard-webhooks", "secret": webhookSecret}},
	}, &c)
	id := c["connectorId"].(string)
	var answers bytes.Buffer
	post := func(method, path string, body any) {
		var raw json.RawMessage
		lv.call(method, path, body, &raw)
		answers.Write(raw)
	}
	patient := map[string]any{"mrn": "PHI-1", "firstName": phiCanary, "lastName": phiCanary + "son", "dob": "1980-01-02", "sex": "F",
		"phones": []any{map[string]any{"type": "home", "number": "555-0100"}}, "address": map[string]any{"line1": "1 " + phiCanary + " St", "city": "X", "state": "IL", "zip": "60601"}}
	ehr.FailNext(1, 422, "")
	post("POST", "/api/records/Patient", patient)
	lv.waitFor("the refused delivery recorded", func() bool {
		var s map[string]any
		lv.call("GET", "/api/external-connectors/"+id, nil, &s)
		return s["dead"] == float64(1)
	})
	patient["mrn"] = "PHI-2"
	post("POST", "/api/records/Patient", patient) // delivered
	bad := map[string]any{"mrn": "PHI-3", "firstName": phiCanary, "lastName": phiCanary, "dob": phiCanary, "sex": "F"}
	post("POST", "/api/records/Patient", bad) // the mapping's FHIR output is invalid: 422
	post("POST", "/api/translate/hms-patient-to-fhir", bad)
	body, _ := json.Marshal(map[string]any{"resourceType": "Patient", "id": "PHI-4",
		"name": []any{map[string]any{"family": phiCanary, "given": []any{phiCanary}}}, "birthDate": phiCanary})
	code, out := postWebhook(t, lv, "/api/webhooks/ehr", "msg_phi", webhookSecret, body) // invalid birthDate: refused
	raw, _ := json.Marshal(out)
	answers.Write(raw)
	req, _ := http.NewRequest("POST", lv.url+"/api/webhooks/ehr", bytes.NewReader(body)) // unsigned
	if res, err := http.DefaultClient.Do(req); err == nil {
		io.Copy(&answers, res.Body)
		res.Body.Close()
	}
	if code < 400 {
		t.Errorf("a patient with an invalid birthDate was accepted by webhook: %d", code)
	}
	lv.waitFor("the second patient delivered", func() bool {
		var s map[string]any
		lv.call("GET", "/api/external-connectors/"+id, nil, &s)
		return s["delivered"] == float64(1)
	})
	if i := strings.Index(lv.logs.String(), phiCanary); i >= 0 {
		logs := lv.logs.String()
		t.Errorf("the log holds the patient's name: …%s…", logs[max(0, i-200):min(len(logs), i+50)])
	}
	if i := strings.Index(answers.String(), phiCanary); i >= 0 {
		t.Errorf("an error answer holds the patient's name: …%s…", answers.String()[max(0, i-200):min(answers.Len(), i+50)])
	}
}
