package gateway

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/liaisonhq/liaison/gateway/connector"
	"github.com/liaisonhq/liaison/gateway/internal/fhirserver"
	"github.com/liaisonhq/liaison/gateway/internal/natstest"
	"github.com/liaisonhq/liaison/gateway/store"
)

// Two gateways in one process on one JetStream server: a connector
// registered through one runs on both, a pause through one stops both,
// and a poll connector is polled by one gateway at a time — the other
// takes over once the first stops.
func TestGatewaysShareConnectorsAndPolls(t *testing.T) {
	ehr := fhirserver.Start(t)
	cfg := Config{Store: connector.Store{URL: startJetStream(t)}, SecretKey: testSecretKey}
	a, b := startLive(t, cfg), startLive(t, cfg)

	var c map[string]any
	if code := a.call("POST", "/api/external-connectors", map[string]any{
		"name": "EHR", "type": "fhir", "endpoint": ehr.URL(), "resources": []string{"Appointment"},
		"sync": map[string]any{"mode": "poll", "interval": "1s"},
	}, &c); code != 201 {
		t.Fatalf("register: %d %v", code, c)
	}
	id := c["connectorId"].(string)
	status := func(lv *live) map[string]any {
		var v map[string]any
		lv.call("GET", "/api/external-connectors/"+id, nil, &v)
		return v
	}
	b.waitFor("the connector running on the second gateway", func() bool { return status(b)["status"] == "connected" })

	// Paused through the second gateway: paused on the first.
	if code := b.call("POST", "/api/external-connectors/"+id+"/pause", nil, nil); code != 200 {
		t.Fatalf("pause: %d", code)
	}
	a.waitFor("the first gateway stopping the paused connector", func() bool { return !a.g.running(id) })
	if code := a.call("POST", "/api/external-connectors/"+id+"/resume", nil, nil); code != 200 {
		t.Fatalf("resume: %d", code)
	}
	b.waitFor("the second gateway resuming it", func() bool { return b.g.running(id) })

	// One poller: the gateway whose poll progress shows pulls.
	polled := func(lv *live) bool { return status(lv)["pull"] != nil }
	a.waitFor("a first poll", func() bool { return polled(a) || polled(b) })
	time.Sleep(2500 * time.Millisecond) // more than two poll intervals
	if polled(a) == polled(b) {
		t.Fatalf("both gateways or neither polled: %v, %v", polled(a), polled(b))
	}
	poller, other := a, b
	if polled(b) {
		poller, other = b, a
	}
	// The poller goes; after its lease runs out (three intervals) the
	// other polls.
	poller.stop()
	deadline := time.Now().Add(30 * time.Second) // the lease runs out after 3 s
	for !polled(other) {
		if time.Now().After(deadline) {
			lease, err := other.g.store.Meta(t.Context(), store.LeaseKey("poll/"+id))
			var notes []string // the log without the test's own status requests
			for _, line := range strings.Split(other.logs.String(), "\n") {
				if !strings.Contains(line, `"msg":"request"`) {
					notes = append(notes, line)
				}
			}
			t.Fatalf("the other gateway (%s) did not take over the polls in 30 s; lease %s (%v); delivering %v, polling %v; its log:\n%s",
				other.g.instance, lease, err, other.g.running(id), other.g.pollers.loops.has(id), strings.Join(notes, "\n"))
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// With its NATS server gone, a gateway says it is not ready (a load
// balancer sends elsewhere) and answers a record with 503, an
// OperationOutcome "transient" and Retry-After: the client sends it again
// later; nothing is half-accepted.
func TestStoreUnavailable503(t *testing.T) {
	srv := natstest.StartServer(t)
	lv := startLive(t, Config{Store: connector.Store{URL: srv.URL(0)}, SecretKey: testSecretKey})
	ready := func() int {
		res, err := http.Get(lv.url + "/readyz")
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		return res.StatusCode
	}
	if code := ready(); code != http.StatusOK {
		t.Fatalf("readyz with the store up: %d", code)
	}
	srv.Stop(0)
	lv.waitFor("readyz 503 with the store down", func() bool { return ready() == http.StatusServiceUnavailable })
	req, _ := http.NewRequest("POST", lv.url+"/api/records/Patient", strings.NewReader(`{"mrn":"M1","firstName":"A","lastName":"B","dob":"1980-01-02","sex":"F"}`))
	req.Header.Set("Authorization", "Bearer "+testToken)
	req.Header.Set("Content-Type", "application/json")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var oo map[string]any
	json.NewDecoder(res.Body).Decode(&oo)
	if res.StatusCode != http.StatusServiceUnavailable || res.Header.Get("Retry-After") == "" {
		t.Fatalf("POST with the store down: %d, Retry-After %q, %v", res.StatusCode, res.Header.Get("Retry-After"), oo)
	}
	if issues, _ := oo["issue"].([]any); len(issues) != 1 || issues[0].(map[string]any)["code"] != "transient" {
		t.Errorf("answer: %v", oo)
	}
}

// has reports whether a task of id was started and not stopped.
func (t *tasks) has(id string) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.cancel[id] != nil
}
