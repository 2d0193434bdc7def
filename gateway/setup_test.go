package gateway

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/liaisonhq/liaison/gateway/internal/fhirserver"
)

// Registering a webhook connector subscribes with the FHIR server: one
// rest-hook Subscription per record type, calling back the gateway's
// public URL at the connector's path.
func TestRegistrationSubscribes(t *testing.T) {
	ehr := fhirserver.Start(t)
	lv := startLive(t, Config{PublicURL: "https://liaison.example.org"})
	var c map[string]any
	code := lv.call("POST", "/api/external-connectors", map[string]any{
		"name": "StateEHR", "type": "fhir", "endpoint": ehr.URL(), "resources": []string{"Patient", "Appointment"},
		"sync": map[string]any{"mode": "webhook", "path": "/api/webhooks/state-ehr",
			"verify": map[string]any{"scheme": "standard-webhooks", "secret": webhookSecret}},
	}, &c)
	if code != 201 || c["status"] != "connected" {
		t.Fatalf("register: %d %v", code, c)
	}
	subs := ehr.Resources("Subscription")
	if len(subs) != 2 {
		t.Fatalf("%d Subscriptions, want 2", len(subs))
	}
	for _, s := range subs {
		ch := s["channel"].(map[string]any)
		if ch["type"] != "rest-hook" || ch["endpoint"] != "https://liaison.example.org/api/webhooks/state-ehr" || s["status"] != "requested" {
			t.Errorf("subscription = %v", s)
		}
	}
	// Registering again (an update) does not subscribe twice.
	lv.call("PUT", "/api/external-connectors/"+c["connectorId"].(string), map[string]any{
		"name": "StateEHR", "type": "fhir", "endpoint": ehr.URL(), "resources": []string{"Patient", "Appointment"},
		"sync": map[string]any{"mode": "webhook", "path": "/api/webhooks/state-ehr",
			"verify": map[string]any{"scheme": "standard-webhooks", "secret": "***"}},
	}, nil)
	if n := len(ehr.Resources("Subscription")); n != 2 {
		t.Errorf("%d Subscriptions after an update, want still 2", n)
	}
}

// A system that cannot be reached at registration leaves the connector
// registered with status error and lastError; set-up is retried in the
// background and the error clears once it works.
func TestRegistrationRetriesSetUp(t *testing.T) {
	var calls atomic.Int32
	tokens := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if calls.Add(1) <= 2 { // the client tries both ways of sending its credentials
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusServiceUnavailable)
			w.Write([]byte(`{"error":"temporarily_unavailable"}`))
			return
		}
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(map[string]any{"access_token": "t0ken", "token_type": "Bearer", "expires_in": 3600})
	}))
	defer tokens.Close()
	lv := startLive(t, Config{})
	var c map[string]any
	code := lv.call("POST", "/api/external-connectors", map[string]any{
		"name": "Payer", "type": "rest", "endpoint": "http://127.0.0.1:1/claims", "resources": []string{"Patient"},
		"auth": map[string]any{"scheme": "oauth2", "clientId": "liaison", "clientSecret": "s3cret-canary", "tokenUrl": tokens.URL},
	}, &c)
	if code != 201 || c["status"] != "error" || !strings.Contains(c["lastError"].(string), "token") {
		t.Fatalf("register with the token server down: %d %v", code, c)
	}
	if strings.Contains(c["lastError"].(string), "s3cret-canary") {
		t.Error("the secret is in lastError")
	}
	id := c["connectorId"].(string)
	lv.waitFor("the set-up error cleared", func() bool {
		var s map[string]any
		lv.call("GET", "/api/external-connectors/"+id, nil, &s)
		return s["lastError"] == nil
	})
	if n := calls.Load(); n != 3 {
		t.Errorf("%d token requests, want 3 (two refused, one retried in the background)", n)
	}
}

// Connector secrets are sealed in the store: the file holds no secret in
// the clear, and a restart unseals them with the kept key.
func TestSecretsSealedAtRest(t *testing.T) {
	dir := t.TempDir()
	lv := startLive(t, Config{DataDir: dir})
	var c map[string]any
	if code := lv.call("POST", "/api/external-connectors", map[string]any{
		"name": "Registry", "type": "rest", "endpoint": "http://127.0.0.1:1/r", "resources": []string{"Patient"},
		"auth": map[string]any{"scheme": "bearer", "token": "Canary-Token-8c1d2f"},
	}, &c); code != 201 {
		t.Fatalf("register: %d %v", code, c)
	}
	id := c["connectorId"].(string)
	lv.stop()
	data, err := os.ReadFile(filepath.Join(dir, "liaison.db"))
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(data, []byte("Canary-Token-8c1d2f")) {
		t.Fatal("the store holds the secret in the clear")
	}
	again := startLive(t, Config{DataDir: dir})
	var shown map[string]any
	again.call("GET", "/api/external-connectors/"+id, nil, &shown)
	if shown["status"] != "connected" || shown["auth"].(map[string]any)["token"] != "***" {
		t.Errorf("after a restart: %v", shown)
	}
	if lc := again.g.live(id); lc == nil {
		t.Error("the connector did not come back after a restart")
	}
}
