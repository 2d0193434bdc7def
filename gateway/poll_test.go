package gateway

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/liaisonhq/liaison/gateway/internal/fhirserver"
)

// putFHIR writes a resource on the FHIR server, as another system would.
func putFHIR(t *testing.T, base string, res map[string]any) {
	t.Helper()
	data, _ := json.Marshal(res)
	req, _ := http.NewRequest("PUT", fmt.Sprintf("%s/%s/%s", base, res["resourceType"], res["id"]), bytes.NewReader(data))
	req.Header.Set("Content-Type", "application/fhir+json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode >= 300 {
		t.Fatalf("PUT: %d %s", resp.StatusCode, body)
	}
}

func ehrAppointment(id, status string) map[string]any {
	return map[string]any{
		"resourceType": "Appointment", "id": id, "status": status,
		"extension":  []any{map[string]any{"url": "http://hl7.org/fhir/StructureDefinition/tz-code", "valueCode": "America/New_York"}},
		"identifier": []any{map[string]any{"system": "urn:hms:appointment", "value": id}},
		"start":      "2024-06-15T13:30:00Z", "end": "2024-06-15T13:45:00Z",
		"participant": []any{
			map[string]any{"actor": map[string]any{"reference": "Patient/P9"}, "status": "accepted"},
			map[string]any{"actor": map[string]any{"reference": "Location/LOC-1"}, "status": "accepted"},
		},
	}
}

// A poll connector pulls what changed on a FHIR server, page by page, maps
// it to HMS records and sends them on to the other connectors — never back
// to the server they came from. The cursor advances with the records, so
// the next pull asks only for what changed since.
func TestPollFHIR(t *testing.T) { forEachBackend(t, testPollFHIR) }

func testPollFHIR(t *testing.T) {
	ehr := fhirserver.Start(t)
	for i := range 250 {
		putFHIR(t, ehr.URL(), ehrAppointment(fmt.Sprint("E", i), "booked"))
	}
	var mu sync.Mutex
	got := map[string]string{} // appointmentId → status, as the scheduler received them
	scheduler := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var rec map[string]any
		json.NewDecoder(r.Body).Decode(&rec)
		mu.Lock()
		got[fmt.Sprint(rec["appointmentId"])] = fmt.Sprint(rec["status"])
		mu.Unlock()
		w.WriteHeader(http.StatusCreated)
	}))
	defer scheduler.Close()

	lv := startLive(t, Config{})
	// The scheduler first: records reach only the connectors that exist
	// when they arrive.
	var c map[string]any
	if code := lv.call("POST", "/api/external-connectors", map[string]any{
		"name": "Scheduler", "type": "rest", "endpoint": scheduler.URL + "/appointments", "resources": []string{"Appointment"},
	}, &c); code != 201 {
		t.Fatalf("register the scheduler: %d %v", code, c)
	}
	schedID := c["connectorId"].(string)
	if code := lv.call("POST", "/api/external-connectors", map[string]any{
		"name": "EHR", "type": "fhir", "endpoint": ehr.URL(), "resources": []string{"Appointment"},
		"sync": map[string]any{"mode": "poll", "interval": "1h"},
	}, &c); code != 201 {
		t.Fatalf("register the EHR: %d %v", code, c)
	}
	ehrID := c["connectorId"].(string)

	// The first pull runs when the poll loop starts.
	defer func() {
		if t.Failed() {
			var e, s map[string]any
			lv.call("GET", "/api/external-connectors/"+ehrID, nil, &e)
			t.Logf("EHR: %v", e)
			lv.call("GET", "/api/external-connectors/"+schedID, nil, &s)
			t.Logf("scheduler: %v", s)
			t.Logf("logs: %s", lv.logs.String()[max(0, len(lv.logs.String())-3000):])
		}
	}()
	// The pull's progress is written after each page is accepted, and its
	// records may be delivered before that: wait for both.
	var ehrStatus map[string]any
	lv.waitFor("the first pull and its deliveries", func() bool {
		var s map[string]any
		lv.call("GET", "/api/external-connectors/"+schedID, nil, &s)
		lv.call("GET", "/api/external-connectors/"+ehrID, nil, &ehrStatus)
		pull, _ := ehrStatus["pull"].(map[string]any)
		return s["delivered"] == float64(250) && pull["state"] != "running"
	})
	pull, _ := ehrStatus["pull"].(map[string]any)
	if pull["state"] != "done" || pull["pages"] != float64(3) || pull["resources"] != float64(250) {
		t.Errorf("pull progress = %v", pull)
	}
	if ehrStatus["queued"] != float64(0) || ehrStatus["delivered"] != float64(0) {
		t.Errorf("records pulled from the EHR were sent back to it: %v", ehrStatus)
	}
	if n := ehr.Count("PUT"); n != 250 {
		t.Errorf("%d PUTs on the EHR, want only the 250 of the setup", n)
	}

	// One change on the EHR; a manual sync is a full pull, and only the
	// changed record goes on.
	putFHIR(t, ehr.URL(), ehrAppointment("E7", "cancelled"))
	var answer map[string]any
	if code := lv.call("POST", "/api/external-connectors/"+ehrID+"/sync", nil, &answer); code != 202 || answer["status"] != "sync_started" {
		t.Fatalf("sync: %d %v", code, answer)
	}
	lv.waitFor("the cancellation at the scheduler", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return got["E7"] == "cancelled"
	})
	var sched map[string]any
	lv.waitFor("the full pull done", func() bool {
		lv.call("GET", "/api/external-connectors/"+ehrID, nil, &ehrStatus)
		p, _ := ehrStatus["pull"].(map[string]any)
		return p["state"] == "done" && p["full"] == true
	})
	lv.waitFor("the cancellation recorded as delivered", func() bool {
		lv.call("GET", "/api/external-connectors/"+schedID, nil, &sched)
		return sched["delivered"] != float64(250)
	})
	if sched["delivered"] != float64(251) || sched["queued"] != float64(0) {
		t.Errorf("scheduler got %v deliveries (%v queued), want 251: unchanged records must not be sent again", sched["delivered"], sched["queued"])
	}

	// A scheduled pull (the loop restarts when the connector is updated)
	// asks only for what changed since the cursor.
	putFHIR(t, ehr.URL(), ehrAppointment("E8", "noshow"))
	lv.call("PUT", "/api/external-connectors/"+ehrID, map[string]any{
		"name": "EHR", "type": "fhir", "endpoint": ehr.URL(), "resources": []string{"Appointment"},
		"sync": map[string]any{"mode": "poll", "interval": "1h"},
	}, nil)
	lv.waitFor("the no-show at the scheduler", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return got["E8"] == "noshow"
	})
	withCursor := false
	for _, r := range ehr.Requests() {
		if r.Method == "GET" && strings.HasPrefix(r.Query.Get("_lastUpdated"), "gt") {
			withCursor = true
		}
	}
	if !withCursor {
		t.Error("no pull asked for _lastUpdated=gt{cursor}")
	}
	var rec map[string]any
	lv.call("GET", "/api/records/Appointment/E7", nil, &rec)
	if rec["version"] != float64(2) || rec["source"] != ehrID {
		t.Errorf("record E7 = %v", rec)
	}
}

// A REST API is polled by a cursor field: items at a dotted path, the
// largest cursor value becomes the next ?since=, and each page is one
// commit with its cursor.
func TestPollREST(t *testing.T) { forEachBackend(t, testPollREST) }

func testPollREST(t *testing.T) {
	var mu sync.Mutex
	items := []map[string]any{}
	for i := range 5 {
		items = append(items, map[string]any{"appointmentId": fmt.Sprint("R", i), "patientId": "P1", "status": "booked",
			"updatedAt": fmt.Sprintf("2024-06-15T10:00:0%dZ", i)})
	}
	var sinces []string
	api := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		since := r.URL.Query().Get("since")
		sinces = append(sinces, since)
		var page []map[string]any
		for _, it := range items {
			if it["updatedAt"].(string) > since {
				page = append(page, it)
			}
		}
		json.NewEncoder(w).Encode(map[string]any{"data": map[string]any{"items": page}})
	}))
	defer api.Close()
	var got sync.Map
	sink := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var rec map[string]any
		json.NewDecoder(r.Body).Decode(&rec)
		got.Store(rec["appointmentId"], rec["status"])
	}))
	defer sink.Close()

	lv := startLive(t, Config{})
	var c map[string]any
	lv.call("POST", "/api/external-connectors", map[string]any{
		"name": "Sink", "type": "rest", "endpoint": sink.URL, "resources": []string{"Appointment"},
	}, &c)
	var p map[string]any
	if code := lv.call("POST", "/api/external-connectors", map[string]any{
		"name": "Scheduler", "type": "rest", "endpoint": api.URL + "/changes", "resources": []string{"Appointment"},
		"sync": map[string]any{"mode": "poll", "interval": "1h", "items": "data.items", "cursor": "updatedAt"},
	}, &p); code != 201 {
		t.Fatalf("register: %d %v", code, p)
	}
	id := p["connectorId"].(string)
	lv.waitFor("five records", func() bool {
		n := 0
		got.Range(func(any, any) bool { n++; return true })
		return n == 5
	})
	mu.Lock()
	items = append(items, map[string]any{"appointmentId": "R1", "patientId": "P1", "status": "cancelled", "updatedAt": "2024-06-15T11:00:00Z"})
	mu.Unlock()
	// An update restarts the poll loop: a scheduled pull from the cursor.
	lv.call("PUT", "/api/external-connectors/"+id, map[string]any{
		"name": "Scheduler", "type": "rest", "endpoint": api.URL + "/changes", "resources": []string{"Appointment"},
		"sync": map[string]any{"mode": "poll", "interval": "1h", "items": "data.items", "cursor": "updatedAt"},
	}, nil)
	lv.waitFor("the cancellation", func() bool { v, _ := got.Load("R1"); return v == "cancelled" })
	mu.Lock()
	defer mu.Unlock()
	if !slices.Contains(sinces, "2024-06-15T10:00:04Z") {
		t.Errorf("since values asked: %v", sinces)
	}
}
