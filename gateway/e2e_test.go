package gateway

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/liaisonhq/liaison/gateway/adapters/fhirrest"
	"github.com/liaisonhq/liaison/gateway/adapters/rest"
	"github.com/liaisonhq/liaison/gateway/adapters/signedwebhook"
	"github.com/liaisonhq/liaison/gateway/connector"
	"github.com/liaisonhq/liaison/gateway/internal/fhirserver"
	"github.com/liaisonhq/liaison/gateway/outbox"
)

const testToken = "test-admin-token"

// testAdapters is the registry cmd/liaison builds, for tests.
func testAdapters() Adapters {
	return Adapters{
		connector.FHIR: func(cfg connector.Config, c *http.Client) (outbox.Sender, error) { return fhirrest.New(cfg, c) },
		connector.REST: func(cfg connector.Config, c *http.Client) (outbox.Sender, error) { return rest.New(cfg, c) },
		connector.Webhook: func(cfg connector.Config, c *http.Client) (outbox.Sender, error) {
			return signedwebhook.New(cfg, c)
		},
	}
}

// live is a gateway serving and delivering on 127.0.0.1, with a client
// that carries the admin token.
type live struct {
	t      *testing.T
	g      *Gateway
	url    string
	cancel context.CancelFunc
	done   chan error
	logs   *syncBuffer
}

func startLive(t *testing.T, cfg Config) *live {
	t.Helper()
	cfg = withBackend(t, cfg)
	if cfg.DataDir == "" {
		cfg.DataDir = t.TempDir()
	}
	cfg.AdminToken = testToken
	if cfg.Adapters == nil {
		cfg.Adapters = testAdapters()
	}
	logs := &syncBuffer{}
	g, err := New(cfg, slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug})))
	if err != nil {
		t.Fatal(err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	lv := &live{t: t, g: g, url: "http://" + l.Addr().String(), cancel: cancel, done: make(chan error, 1), logs: logs}
	go func() { lv.done <- g.Serve(ctx, l) }()
	t.Cleanup(lv.stop)
	return lv
}

func (lv *live) stop() {
	if lv.cancel == nil {
		return
	}
	lv.cancel()
	if err := <-lv.done; err != nil {
		lv.t.Errorf("serve: %v", err)
	}
	lv.g.Close()
	lv.cancel = nil
}

// call makes an API call with the admin token and decodes a JSON answer.
func (lv *live) call(method, path string, body any, out any) int {
	lv.t.Helper()
	var r io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		r = strings.NewReader(b)
	default:
		data, _ := json.Marshal(b)
		r = bytes.NewReader(data)
	}
	req, _ := http.NewRequest(method, lv.url+path, r)
	req.Header.Set("Authorization", "Bearer "+testToken)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		lv.t.Fatal(err)
	}
	defer res.Body.Close()
	data, _ := io.ReadAll(res.Body)
	if out != nil {
		if err := json.Unmarshal(data, out); err != nil {
			lv.t.Fatalf("%s %s: %d %s", method, path, res.StatusCode, data)
		}
	}
	return res.StatusCode
}

func (lv *live) waitFor(what string, cond func() bool) {
	lv.t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			lv.t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// The whole path against a FHIR server that behaves like a real one:
// register DESIGN.md's connector and a FHIR connector for patients and
// appointments, post HMS patients and appointments, book then cancel, and
// find exactly one Appointment per booking, with the right status.
func TestEndToEndFHIR(t *testing.T) { forEachBackend(t, testEndToEndFHIR) }

func testEndToEndFHIR(t *testing.T) {
	ehr := fhirserver.Start(t)
	lv := startLive(t, Config{})

	// DESIGN.md's registration body, as written (the endpoint pointed at
	// the test server).
	design := `{ "name": "StateEHR", "type": "FHIR", "endpoint": "` + ehr.URL() + `/Patient",
	  "auth": { "scheme": "OAuth2", "clientId": "ABC123", "clientSecret": "SECRET" },
	  "sync": { "mode": "webhook", "path": "/api/webhooks/state-ehr/patient" },
	  "mapping": { "hmsPatientId": "id", "hmsName": "name" } }`
	var created map[string]any
	if code := lv.call("POST", "/api/external-connectors", design, &created); code != 201 {
		t.Fatalf("register DESIGN body: %d %v", code, created)
	}
	var shown map[string]any
	lv.call("GET", "/api/external-connectors/"+created["connectorId"].(string), nil, &shown)
	if auth := shown["auth"].(map[string]any); auth["clientSecret"] != "***" || shown["status"] == nil {
		t.Errorf("connector as shown: %v", shown)
	}
	// It takes the Patient records of the HMS, renamed; delete it again so
	// that the FHIR server sees only the full connector below.
	if code := lv.call("DELETE", "/api/external-connectors/"+created["connectorId"].(string), nil, nil); code != 204 {
		t.Fatalf("delete: %d", code)
	}

	var ehrConn map[string]any
	code := lv.call("POST", "/api/external-connectors", map[string]any{
		"name": "County EHR", "type": "fhir", "endpoint": ehr.URL(),
		"resources": []string{"Patient", "Appointment"},
		"delivery":  map[string]any{"initialBackoff": "10ms", "maxBackoff": "50ms"},
	}, &ehrConn)
	if code != 201 {
		t.Fatalf("register: %d %v", code, ehrConn)
	}
	id := ehrConn["connectorId"].(string)

	for i := range 3 {
		patient := map[string]any{"mrn": fmt.Sprint("M", i), "firstName": "Test", "lastName": fmt.Sprint("Patient", i), "dob": "1980-01-02", "sex": "F"}
		if code := lv.call("POST", "/api/records/Patient", patient, nil); code != 202 {
			t.Fatalf("post patient: %d", code)
		}
	}
	appointment := func(id, status string) map[string]any {
		return map[string]any{"appointmentId": id, "patientId": "M0", "datetime": "2024-06-15 09:30", "tz": "America/New_York",
			"durationMin": 15, "locationId": "LOC-1", "status": status, "vaccine": map[string]any{"code": "141", "display": "Influenza"}}
	}
	for i := range 5 {
		var res map[string]any
		if code := lv.call("POST", "/api/records/Appointment", appointment(fmt.Sprint("A", i), "booked"), &res); code != 202 {
			t.Fatalf("book: %d %v", code, res)
		}
	}
	for i := range 5 {
		if i%2 == 0 {
			if code := lv.call("PUT", fmt.Sprint("/api/records/Appointment/A", i), appointment(fmt.Sprint("A", i), "cancelled"), nil); code != 202 {
				t.Fatalf("cancel: %d", code)
			}
		}
	}
	// The same content again changes nothing and sends nothing.
	var again map[string]any
	if code := lv.call("PUT", "/api/records/Appointment/A1", appointment("A1", "booked"), &again); code != 200 || again["status"] != "unchanged" {
		t.Errorf("unchanged record: %d %v", code, again)
	}

	lv.waitFor("every message delivered", func() bool {
		var c map[string]any
		lv.call("GET", "/api/external-connectors/"+id, nil, &c)
		return c["delivered"] == float64(3+5+3) && c["queued"] == float64(0)
	})
	appts := ehr.Resources("Appointment")
	if len(appts) != 5 {
		t.Fatalf("%d Appointments on the server, want 5", len(appts))
	}
	for _, a := range appts {
		ident := a["identifier"].([]any)[0].(map[string]any)["value"].(string)
		want := "booked"
		if strings.TrimPrefix(ident, "A") == "0" || ident == "A2" || ident == "A4" {
			want = "cancelled"
		}
		if a["status"] != want {
			t.Errorf("Appointment %s: status %v, want %s", ident, a["status"], want)
		}
	}
	if n := len(ehr.Resources("Patient")); n != 3 {
		t.Errorf("%d Patients on the server, want 3", n)
	}

	var rec map[string]any
	lv.call("GET", "/api/records/Appointment/A2", nil, &rec)
	sync := rec["sync"].([]any)
	if rec["version"] != float64(2) || len(sync) != 1 || sync[0].(map[string]any)["state"] != "delivered" {
		t.Errorf("record A2 = %v", rec)
	}
	var msgs map[string]any
	lv.call("GET", "/api/messages?connector="+id+"&state=delivered&limit=100", nil, &msgs)
	if n := len(msgs["messages"].([]any)); n != 11 {
		t.Errorf("%d delivered messages listed", n)
	}
	if strings.Contains(lv.logs.String(), "Patient0") {
		t.Error("a patient's name is in the log")
	}
}
