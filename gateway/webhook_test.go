package gateway

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
)

const webhookSecret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"

// postWebhook posts a body to a webhook path, signed per Standard Webhooks
// with secret (unsigned when secret is "").
func postWebhook(t *testing.T, lv *live, path, id, secret string, body []byte) (int, map[string]any) {
	t.Helper()
	return sendWebhook(t, lv, "POST", path, id, secret, body)
}

func fhirPatient(mrn, family string) []byte {
	data, _ := json.Marshal(map[string]any{
		"resourceType": "Patient", "id": mrn,
		"identifier": []any{map[string]any{"system": "urn:hms:mrn", "value": mrn}},
		"name":       []any{map[string]any{"use": "official", "family": family, "given": []any{"Test"}}},
		"gender":     "female", "birthDate": "1980-01-02",
	})
	return data
}

// An EHR's signed webhook becomes an HMS record, sent on to the other
// connectors and never back; a replay is acknowledged and not applied
// again; a bad signature is refused and stores nothing. The seed's form
// (a secret under auth) verifies the same way.
func TestInboundWebhook(t *testing.T) { forEachBackend(t, testInboundWebhook) }

func testInboundWebhook(t *testing.T) {
	var mu sync.Mutex
	var received []map[string]any
	sink := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var rec map[string]any
		json.NewDecoder(r.Body).Decode(&rec)
		mu.Lock()
		received = append(received, rec)
		mu.Unlock()
		w.WriteHeader(http.StatusOK)
	}))
	defer sink.Close()
	lv := startLive(t, Config{})
	var c map[string]any
	if code := lv.call("POST", "/api/external-connectors", map[string]any{
		"name": "Registry", "type": "rest", "endpoint": sink.URL + "/patients", "resources": []string{"Patient"},
	}, &c); code != 201 {
		t.Fatalf("register the sink: %d %v", code, c)
	}
	sinkID := c["connectorId"].(string)
	if code := lv.call("POST", "/api/external-connectors", map[string]any{
		"name": "StateEHR", "type": "fhir", "endpoint": "http://127.0.0.1:1/fhir", "resources": []string{"Patient"},
		"sync": map[string]any{"mode": "webhook", "path": "/api/webhooks/state-ehr/patient",
			"verify": map[string]any{"scheme": "standard-webhooks", "secrets": []string{"whsec_b2xkIHNlY3JldCBmb3Igcm90YXRpb24=", webhookSecret}}},
	}, &c); code != 201 {
		t.Fatalf("register the EHR: %d %v", code, c)
	}
	ehrID := c["connectorId"].(string)
	var shown map[string]any
	lv.call("GET", "/api/external-connectors/"+ehrID, nil, &shown)
	if v := shown["sync"].(map[string]any)["verify"].(map[string]any); fmt.Sprint(v["secrets"]) != "[*** ***]" {
		t.Errorf("webhook secrets shown: %v", v)
	}

	path := "/api/webhooks/state-ehr/patient"
	if code, out := postWebhook(t, lv, path, "msg_1", webhookSecret, fhirPatient("M1", "Okafor")); code != 202 {
		t.Fatalf("signed webhook: %d %v", code, out)
	}
	if code, out := postWebhook(t, lv, path, "msg_1", webhookSecret, fhirPatient("M1", "Okafor")); code != 200 || out["status"] != "duplicate" {
		t.Errorf("replayed webhook: %d %v", code, out)
	}
	if code, out := postWebhook(t, lv, path, "msg_2", "whsec_d3Jvbmcgc2VjcmV0", fhirPatient("M2", "Nakamura")); code != 401 || out["resourceType"] != "OperationOutcome" {
		t.Errorf("badly signed webhook: %d %v", code, out)
	}
	if code, _ := postWebhook(t, lv, path, "msg_3", "", fhirPatient("M3", "Silva")); code != 401 {
		t.Errorf("unsigned webhook: %d", code)
	}
	bundle, _ := json.Marshal(map[string]any{"resourceType": "Bundle", "type": "collection", "entry": []any{
		map[string]any{"resource": json.RawMessage(fhirPatient("M4", "Haddad"))},
		map[string]any{"resource": json.RawMessage(fhirPatient("M5", "Kowalski"))},
	}})
	if code, out := postWebhook(t, lv, path, "msg_4", webhookSecret, bundle); code != 202 || len(out["records"].([]any)) != 2 {
		t.Errorf("bundle webhook: %d %v", code, out)
	}

	lv.waitFor("three patients at the registry", func() bool {
		var s map[string]any
		lv.call("GET", "/api/external-connectors/"+sinkID, nil, &s)
		return s["delivered"] == float64(3)
	})
	var rec map[string]any
	if code := lv.call("GET", "/api/records/Patient/M1", nil, &rec); code != 200 || rec["source"] != ehrID || rec["version"] != float64(1) {
		t.Errorf("record M1: %d %v", code, rec)
	}
	if code := lv.call("GET", "/api/records/Patient/M2", nil, nil); code != 404 {
		t.Errorf("the badly signed patient was stored: %d", code)
	}
	var ehr map[string]any
	lv.call("GET", "/api/external-connectors/"+ehrID, nil, &ehr)
	if ehr["queued"] != float64(0) || ehr["failed"] != float64(0) || ehr["delivered"] != float64(0) {
		t.Errorf("records went back to the EHR they came from: %v", ehr)
	}
	mu.Lock()
	if len(received) != 3 || received[0]["mrn"] != "M1" || received[0]["lastName"] != "Okafor" {
		t.Errorf("the registry received %v", received)
	}
	mu.Unlock()

	// The seed's form: the webhook secret under auth.
	if code := lv.call("POST", "/api/external-connectors", map[string]any{
		"name": "Clinic", "type": "fhir", "endpoint": "http://127.0.0.1:1/fhir/Patient",
		"auth": map[string]any{"secret": webhookSecret},
		"sync": map[string]any{"mode": "webhook", "path": "/api/webhooks/clinic"},
	}, &c); code != 201 {
		t.Fatalf("register with the seed's form: %d %v", code, c)
	}
	if code, out := postWebhook(t, lv, "/api/webhooks/clinic", "msg_9", webhookSecret, fhirPatient("M9", "Ito")); code != 202 {
		t.Errorf("seed-form webhook: %d %v", code, out)
	}
	if code, _ := postWebhook(t, lv, "/api/webhooks/nobody", "msg_10", webhookSecret, fhirPatient("M10", "Ito")); code != 404 {
		t.Errorf("webhook to no connector: %d", code)
	}
}
