package gateway

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// secretCanary is a secret value no answer, log line or error may ever hold.
const secretCanary = "Sekr1t-Canary-5b0e"

// Every secret field of every connector type holds the canary; the
// connectors are listed, shown, updated, fail to deliver and to set up,
// and refuse a badly signed webhook. The canary appears in no answer and
// no log line.
func TestSecretCanary(t *testing.T) {
	// A token server that refuses the client, echoing what it got.
	tokens := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusUnauthorized)
		json.NewEncoder(w).Encode(map[string]any{"error": "invalid_client", "error_description": "bad " + string(body) + r.Header.Get("Authorization")})
	}))
	defer tokens.Close()
	// A downstream that refuses every delivery, echoing its headers.
	down := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/fhir+json")
		w.WriteHeader(http.StatusBadRequest)
		json.NewEncoder(w).Encode(map[string]any{"resourceType": "OperationOutcome", "issue": []any{map[string]any{
			"severity": "error", "code": "invalid", "diagnostics": "got " + r.Header.Get("Authorization") + r.Header.Get("X-API-Key")}}})
	}))
	defer down.Close()

	lv := startLive(t, Config{PublicURL: "https://liaison.example.org"})
	var answers bytes.Buffer
	call := func(method, path string, body any) map[string]any {
		var out map[string]any
		var raw json.RawMessage
		lv.call(method, path, body, &raw)
		answers.Write(raw)
		json.Unmarshal(raw, &out)
		return out
	}
	whsec := "whsec_U2VrcjF0LUNhbmFyeS01YjBlMTIzNDU2Nzg5MA=="
	bodies := []map[string]any{
		{"name": "A", "type": "rest", "endpoint": down.URL + "/a", "resources": []string{"Patient"},
			"auth": map[string]any{"scheme": "bearer", "token": secretCanary}},
		{"name": "B", "type": "rest", "endpoint": down.URL + "/b", "resources": []string{"Patient"},
			"auth": map[string]any{"scheme": "basic", "username": "u", "password": secretCanary}},
		{"name": "C", "type": "rest", "endpoint": down.URL + "/c", "resources": []string{"Patient"},
			"auth": map[string]any{"scheme": "apikey", "key": secretCanary}},
		{"name": "D", "type": "fhir", "endpoint": down.URL + "/fhir", "resources": []string{"Patient"},
			"auth": map[string]any{"scheme": "oauth2", "clientId": "liaison", "clientSecret": secretCanary, "tokenUrl": tokens.URL}},
		{"name": "E", "type": "fhir", "endpoint": down.URL + "/fhir2", "resources": []string{"Patient"},
			"sync": map[string]any{"mode": "webhook", "path": "/api/webhooks/e",
				"verify": map[string]any{"scheme": "hmac-sha256", "secret": secretCanary}}},
		{"name": "F", "type": "webhook", "endpoint": down.URL + "/hooks", "resources": []string{"Patient"},
			"auth": map[string]any{"secret": whsec}},
	}
	var ids []string
	for _, b := range bodies {
		out := call("POST", "/api/external-connectors", b)
		if id, ok := out["connectorId"].(string); ok {
			ids = append(ids, id)
		} else {
			t.Errorf("register %s: %v", b["name"], out)
		}
	}
	call("POST", "/api/records/Patient", map[string]any{"mrn": "C1", "firstName": "Can", "lastName": "Ary", "dob": "1990-01-01", "sex": "F"})
	time.Sleep(300 * time.Millisecond) // deliveries fail and record their errors
	call("GET", "/api/external-connectors", nil)
	for _, id := range ids {
		shown := call("GET", "/api/external-connectors/"+id, nil)
		delete(shown, "connectorId")
		call("PUT", "/api/external-connectors/"+id, shown) // secrets sent back as "***"
		call("POST", "/api/external-connectors/"+id+"/sync", nil)
	}
	var msgs map[string]any
	lv.call("GET", "/api/messages?limit=100", nil, &msgs)
	for _, m := range msgs["messages"].([]any) {
		call("GET", "/api/messages/"+m.(map[string]any)["id"].(string), nil)
	}
	req, _ := http.NewRequest("POST", lv.url+"/api/webhooks/e", strings.NewReader(`{"resourceType":"Patient"}`))
	req.Header.Set("X-Hub-Signature-256", "sha256=00")
	if res, err := http.DefaultClient.Do(req); err == nil {
		io.Copy(&answers, res.Body)
		res.Body.Close()
	}
	if i := strings.Index(answers.String(), secretCanary); i >= 0 {
		t.Errorf("an API answer holds the secret: …%s…", answers.String()[max(0, i-300):min(answers.Len(), i+100)])
	}
	if strings.Contains(lv.logs.String(), secretCanary) {
		t.Error("the log holds the secret")
	}
	if !strings.Contains(answers.String(), `"***"`) {
		t.Error("no redacted secret seen: the test did not look where secrets are")
	}
}
