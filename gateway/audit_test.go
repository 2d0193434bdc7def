package gateway

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/liaisonhq/liaison/fhir"
)

// auditEvents fetches GET /api/audit with the query and returns its
// AuditEvents and its next link.
func auditEvents(t *testing.T, lv *live, query string) (events []map[string]any, next string, raw string) {
	t.Helper()
	req, _ := http.NewRequest("GET", lv.url+"/api/audit"+query, nil)
	req.Header.Set("Authorization", "Bearer "+testToken)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	data, _ := io.ReadAll(res.Body)
	if res.StatusCode != http.StatusOK {
		t.Fatalf("GET /api/audit%s: %d %s", query, res.StatusCode, data)
	}
	if ct := res.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/fhir+json") {
		t.Errorf("Content-Type %q", ct)
	}
	var b struct {
		ResourceType string `json:"resourceType"`
		Type         string `json:"type"`
		Link         []struct{ Relation, URL string }
		Entry        []struct {
			Resource json.RawMessage `json:"resource"`
		}
	}
	if err := json.Unmarshal(data, &b); err != nil || b.ResourceType != "Bundle" || b.Type != "searchset" {
		t.Fatalf("not a searchset Bundle: %s", data)
	}
	for _, l := range b.Link {
		if l.Relation == "next" {
			next = l.URL
		}
	}
	for _, e := range b.Entry {
		r, err := fhir.ParseJSON(e.Resource)
		if err != nil {
			t.Fatalf("entry: %v: %s", err, e.Resource)
		}
		if issues := fhir.Validate(r); len(issues) > 0 {
			t.Errorf("AuditEvent is not valid R4: %v\n%s", issues, e.Resource)
		}
		var ev map[string]any
		json.Unmarshal(e.Resource, &ev)
		events = append(events, ev)
	}
	return events, next, string(data)
}

// entityValue returns the identifier value of the event's entity whose
// identifier system is system (or whose type code is code).
func entityValue(ev map[string]any, system, code string) string {
	for _, e := range ev["entity"].([]any) {
		ent := e.(map[string]any)
		id, _ := ent["what"].(map[string]any)["identifier"].(map[string]any)
		typ, _ := ent["type"].(map[string]any)
		if id != nil && (system != "" && id["system"] == system || code != "" && typ != nil && typ["code"] == code) {
			return id["value"].(string)
		}
	}
	return ""
}

// Every accepted change and every delivery attempt leaves one BALP-style
// AuditEvent, valid R4, in GET /api/audit — newest first, filterable,
// paged — with ids and addresses but no patient data; and each is also
// delivered, as an AuditEvent, to the connector named by AuditTo.
func TestAudit(t *testing.T) { forEachBackend(t, testAudit) }

func testAudit(t *testing.T) {
	ehr := startEHR(t)
	repo := startEHR(t) // the audit repository: a FHIR server taking AuditEvents
	lv := startLive(t, Config{AuditTo: "Audit repository"})
	ehrID := lv.registerFHIR("EHR", ehr)
	var created map[string]any
	if code := lv.call("POST", "/api/external-connectors", map[string]any{
		"name": "Audit repository", "type": "fhir", "endpoint": repo.URL(), "resources": []string{}, "delivery": fastDelivery,
	}, &created); code != http.StatusCreated {
		t.Fatalf("register the audit repository: %d %v", code, created)
	}

	// A patient with a request id of ours; the EHR fails its first attempt.
	ehr.FailNext(1, http.StatusServiceUnavailable, "")
	body, _ := json.Marshal(patient("MRN-AUD1", "Canarywhistle"))
	req, _ := http.NewRequest("POST", lv.url+"/api/records/Patient", bytes.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+testToken)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-Request-Id", "req-audit-1")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusAccepted {
		t.Fatalf("post: %d", res.StatusCode)
	}
	lv.waitFor("the patient delivered", func() bool { return len(ehr.Resources("Patient")) == 1 })
	// The same content again (unchanged), then a delete.
	if code := lv.call("POST", "/api/records/Patient", patient("MRN-AUD1", "Canarywhistle"), nil); code != http.StatusOK {
		t.Fatalf("unchanged post: %d", code)
	}
	if code := lv.call("DELETE", "/api/records/Patient/MRN-AUD1", nil, nil); code != http.StatusAccepted {
		t.Fatalf("delete: %d", code)
	}
	lv.waitFor("the delete delivered", func() bool { return ehr.Count("DELETE") == 1 })

	// accepts: create, update (unchanged), delete; deliveries: 503, 2xx, delete 2xx.
	var events []map[string]any
	var raw string
	lv.waitFor("six audit events", func() bool {
		events, _, raw = auditEvents(t, lv, "")
		return len(events) >= 6
	})
	if len(events) != 6 {
		t.Fatalf("%d audit events, want 6:\n%s", len(events), raw)
	}
	if strings.Contains(raw, "Canarywhistle") {
		t.Error("the audit trail holds a patient's name")
	}
	type want struct{ action, outcome, subtype, requestor string }
	var got []want
	for i := len(events) - 1; i >= 0; i-- { // oldest first
		ev := events[i]
		if ev["resourceType"] != "AuditEvent" || ev["type"].(map[string]any)["code"] != "rest" {
			t.Errorf("event %d: %v", i, ev)
		}
		if entityValue(ev, "urn:liaison:record:Patient", "") != "MRN-AUD1" {
			t.Errorf("event %s lacks the record entity", ev["id"])
		}
		agents := ev["agent"].([]any)
		requestor := ""
		for _, a := range agents {
			a := a.(map[string]any)
			if a["requestor"] == true {
				requestor = fmt.Sprint(a["who"].(map[string]any)["display"])
			}
		}
		got = append(got, want{ev["action"].(string), ev["outcome"].(string),
			ev["subtype"].([]any)[0].(map[string]any)["code"].(string), requestor})
	}
	// The accept and its first delivery attempt may commit in either order
	// relative to one another only after the accept: check them as sets per kind.
	wantAccepts := []want{{"C", "0", "create", "HMS application (admin token)"}, {"U", "0", "update", "HMS application (admin token)"}, {"D", "0", "delete", "HMS application (admin token)"}}
	wantDeliveries := []want{{"U", "4", "update", "liaison"}, {"U", "0", "update", "liaison"}, {"D", "0", "delete", "liaison"}}
	var accepts, deliveries []want
	for _, w := range got {
		if w.requestor == "liaison" {
			deliveries = append(deliveries, w)
		} else {
			accepts = append(accepts, w)
		}
	}
	if fmt.Sprint(accepts) != fmt.Sprint(wantAccepts) {
		t.Errorf("accepts:\n got %v\nwant %v", accepts, wantAccepts)
	}
	if fmt.Sprint(deliveries) != fmt.Sprint(wantDeliveries) {
		t.Errorf("deliveries:\n got %v\nwant %v", deliveries, wantDeliveries)
	}

	// The first accept carries our X-Request-Id and the client's address.
	first := events[len(events)-1]
	if v := entityValue(first, "", "XrequestId"); v != "req-audit-1" {
		t.Errorf("X-Request-Id entity %q, want req-audit-1", v)
	}
	if !strings.Contains(fmt.Sprint(first["agent"]), "127.0.0.1") {
		t.Errorf("the client agent lacks its address: %v", first["agent"])
	}
	// The failed attempt says what the EHR answered, and names the connector.
	for _, ev := range events {
		if ev["outcome"] == "4" {
			if ev["outcomeDesc"] != "HTTP 503 Service Unavailable" {
				t.Errorf("outcomeDesc %v", ev["outcomeDesc"])
			}
			if !strings.Contains(fmt.Sprint(ev["agent"]), ehrID) || entityValue(ev, "urn:liaison:message", "") == "" {
				t.Errorf("the delivery event lacks the connector or the message: %v", ev)
			}
		}
	}

	// Filters and paging.
	if evs, _, _ := auditEvents(t, lv, "?kind=delivery"); len(evs) != 3 {
		t.Errorf("kind=delivery: %d events, want 3", len(evs))
	}
	if evs, _, _ := auditEvents(t, lv, "?entity=Patient/OTHER"); len(evs) != 0 {
		t.Errorf("entity=Patient/OTHER: %d events, want 0", len(evs))
	}
	if evs, _, _ := auditEvents(t, lv, "?connector="+ehrID); len(evs) != 3 {
		t.Errorf("connector=%s: %d events, want 3", ehrID, len(evs))
	}
	page, next, _ := auditEvents(t, lv, "?_count=4")
	if len(page) != 4 || next == "" {
		t.Fatalf("_count=4: %d events, next %q", len(page), next)
	}
	rest, _, _ := auditEvents(t, lv, strings.TrimPrefix(next, "/api/audit"))
	if len(rest) != 2 || rest[0]["id"] == page[3]["id"] {
		t.Errorf("the next page: %d events", len(rest))
	}
	for _, q := range []string{"?kind=read", "?entity=Patient", "?since=yesterday", "?_count=0"} {
		r := do(t, "GET", lv.url+"/api/audit"+q, http.Header{"Authorization": {"Bearer " + testToken}})
		if r.status != http.StatusBadRequest || !strings.Contains(string(r.body), "OperationOutcome") {
			t.Errorf("GET /api/audit%s: %d %s", q, r.status, r.body)
		}
	}

	// The audit repository gets every entry as an AuditEvent.
	lv.waitFor("the trail forwarded", func() bool { return len(repo.Resources("AuditEvent")) == 6 })
}
