package gateway

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
)

// A record that goes from A to B and back to A sends three changes under
// three idempotency keys: a downstream that deduplicates by key, as
// idempotent APIs do, applies all three and ends at A — not at B, with the
// third taken for a repeat of the first.
func TestIdempotencyKeyPerChange(t *testing.T) { forEachBackend(t, testIdempotencyKeyPerChange) }

func testIdempotencyKeyPerChange(t *testing.T) {
	var mu sync.Mutex
	seen := map[string]bool{}
	var current string
	sink := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		key := r.Header.Get("Idempotency-Key")
		var rec map[string]any
		json.NewDecoder(r.Body).Decode(&rec)
		mu.Lock()
		defer mu.Unlock()
		if key == "" {
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		if !seen[key] { // a repeat answers as before and changes nothing
			seen[key] = true
			current, _ = rec["status"].(string)
		}
		w.WriteHeader(http.StatusOK)
	}))
	defer sink.Close()
	lv := startLive(t, Config{})
	var c map[string]any
	if code := lv.call("POST", "/api/external-connectors", map[string]any{
		"name": "Billing", "type": "rest", "endpoint": sink.URL + "/appointments", "resources": []string{"Appointment"},
	}, &c); code != http.StatusCreated {
		t.Fatalf("register: %d %v", code, c)
	}
	id := c["connectorId"].(string)
	for _, status := range []string{"booked", "cancelled", "booked"} {
		if code := lv.call("POST", "/api/records/Appointment", map[string]any{"appointmentId": "IK-1", "status": status}, nil); code != http.StatusAccepted {
			t.Fatalf("post %s: %d", status, code)
		}
	}
	lv.waitFor("three deliveries", func() bool {
		var s map[string]any
		lv.call("GET", "/api/external-connectors/"+id, nil, &s)
		return s["delivered"] == float64(3)
	})
	mu.Lock()
	defer mu.Unlock()
	if len(seen) != 3 || current != "booked" {
		t.Errorf("the sink saw %d keys and holds %q; want 3 keys and booked", len(seen), current)
	}
}
