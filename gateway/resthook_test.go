package gateway

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/liaisonhq/liaison/gateway/webhook"
)

// sendWebhook sends a body to a webhook path with the method, signed per
// Standard Webhooks with secret (unsigned when secret is "").
func sendWebhook(t *testing.T, lv *live, method, path, id, secret string, body []byte) (int, map[string]any) {
	t.Helper()
	req, _ := http.NewRequest(method, lv.url+path, bytes.NewReader(body))
	if len(body) > 0 {
		req.Header.Set("Content-Type", "application/fhir+json")
	}
	if secret != "" {
		s, err := webhook.NewSigner(secret)
		if err != nil {
			t.Fatal(err)
		}
		for k, v := range s.Sign(id, time.Now(), body) {
			req.Header[k] = v
		}
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var out map[string]any
	data, _ := io.ReadAll(res.Body)
	json.Unmarshal(data, &out)
	return res.StatusCode, out
}

// An R4 rest-hook Subscription notifies in two ways, and both arrive:
// with a payload, as PUT {endpoint}/{type}/{id} of the resource (the
// endpoint taken as a FHIR base); without one, as an empty POST, which
// makes the gateway pull what changed from the EHR. Both are verified like
// any webhook.
func TestRestHookNotifications(t *testing.T) { forEachBackend(t, testRestHookNotifications) }

func testRestHookNotifications(t *testing.T) {
	var mu sync.Mutex
	received := map[string]bool{}
	sink := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var rec map[string]any
		json.NewDecoder(r.Body).Decode(&rec)
		mu.Lock()
		received[rec["mrn"].(string)] = true
		mu.Unlock()
		w.WriteHeader(http.StatusOK)
	}))
	defer sink.Close()
	ehr := startEHR(t)
	lv := startLive(t, Config{})
	var c map[string]any
	if code := lv.call("POST", "/api/external-connectors", map[string]any{
		"name": "Registry", "type": "rest", "endpoint": sink.URL + "/patients", "resources": []string{"Patient"},
	}, &c); code != 201 {
		t.Fatalf("register the sink: %d %v", code, c)
	}
	if code := lv.call("POST", "/api/external-connectors", map[string]any{
		"name": "EHR", "type": "fhir", "endpoint": ehr.URL(), "resources": []string{"Patient"},
		"sync": map[string]any{"mode": "webhook", "path": "/api/webhooks/ehr",
			"verify": map[string]any{"scheme": "standard-webhooks", "secrets": []string{webhookSecret}}},
	}, &c); code != 201 {
		t.Fatalf("register the EHR: %d %v", code, c)
	}

	// With a payload: PUT {endpoint}/Patient/{id}.
	if code, out := sendWebhook(t, lv, "PUT", "/api/webhooks/ehr/Patient/RH1", "msg_rh1", webhookSecret, fhirPatient("RH1", "Adeyemi")); code != 202 {
		t.Fatalf("PUT Patient/RH1: %d %v", code, out)
	}
	if code, out := sendWebhook(t, lv, "PUT", "/api/webhooks/ehr/Patient/RH2", "msg_rh2", webhookSecret, fhirPatient("RH3", "Adeyemi")); code != 400 || out["resourceType"] != "OperationOutcome" {
		t.Errorf("PUT Patient/RH2 carrying Patient RH3: %d %v", code, out)
	}
	if code, _ := sendWebhook(t, lv, "PUT", "/api/webhooks/ehr/NotAType/RH4", "msg_rh4", webhookSecret, fhirPatient("RH4", "Adeyemi")); code != 404 {
		t.Errorf("PUT to an unknown resource type: %d", code)
	}
	if code, _ := sendWebhook(t, lv, "PUT", "/api/webhooks/ehr/Patient/RH5", "msg_rh5", "", fhirPatient("RH5", "Adeyemi")); code != 401 {
		t.Errorf("unsigned PUT: %d", code)
	}

	// Without a payload: the gateway pulls what the EHR has.
	for _, mrn := range []string{"RH6", "RH7"} {
		req, _ := http.NewRequest("PUT", ehr.URL()+"/Patient/"+mrn, bytes.NewReader(fhirPatient(mrn, "Lindqvist")))
		req.Header.Set("Content-Type", "application/fhir+json")
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if res.StatusCode != 201 {
			t.Fatalf("seed the EHR with %s: %d", mrn, res.StatusCode)
		}
	}
	if code, _ := sendWebhook(t, lv, "POST", "/api/webhooks/ehr", "ping_1", "", nil); code != 401 {
		t.Errorf("unsigned empty notification: %d", code)
	}
	if code, out := sendWebhook(t, lv, "POST", "/api/webhooks/ehr", "ping_2", webhookSecret, nil); code != 202 || out["status"] != "pulling" {
		t.Fatalf("empty notification: %d %v", code, out)
	}
	lv.waitFor("the pulled patients stored", func() bool {
		return lv.call("GET", "/api/records/Patient/RH6", nil, nil) == 200 && lv.call("GET", "/api/records/Patient/RH7", nil, nil) == 200
	})
	lv.waitFor("RH1, RH6 and RH7 at the registry", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return received["RH1"] && received["RH6"] && received["RH7"]
	})
	if code := lv.call("GET", "/api/records/Patient/RH2", nil, nil); code != 404 {
		t.Errorf("the mismatched PUT was stored: %d", code)
	}
}
