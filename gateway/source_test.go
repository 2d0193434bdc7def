package gateway

import (
	"net/http"
	"testing"
)

// An application that is also a connector posts its changes with
// ?source=: every other connector gets them, it does not get them back;
// the record says where it came from. An unknown source is a 400.
func TestRecordSource(t *testing.T) { forEachBackend(t, testRecordSource) }

func testRecordSource(t *testing.T) {
	ehr := startEHR(t)
	scheduler := startEHR(t)
	lv := startLive(t, Config{})
	lv.registerFHIR("EHR", ehr)
	schedID := lv.registerFHIR("Scheduler", scheduler)

	var res struct {
		Messages []string `json:"messages"`
	}
	if code := lv.call("POST", "/api/records/Patient?source=Scheduler", patient("MRN-SRC1", "Test"), &res); code != http.StatusAccepted || len(res.Messages) != 1 {
		t.Fatalf("post with source: %d %+v", code, res)
	}
	lv.waitFor("the patient at the EHR", func() bool { return len(ehr.Resources("Patient")) == 1 })
	var rec map[string]any
	lv.call("GET", "/api/records/Patient/MRN-SRC1", nil, &rec)
	if rec["source"] != schedID {
		t.Errorf("source %v, want %s", rec["source"], schedID)
	}
	if code := lv.call("DELETE", "/api/records/Patient/MRN-SRC1?source="+schedID, nil, &res); code != http.StatusAccepted || len(res.Messages) != 1 {
		t.Fatalf("delete with source: %d %+v", code, res)
	}
	lv.waitFor("the delete at the EHR", func() bool { return ehr.Count("DELETE") == 1 })
	var msgs struct {
		Messages []map[string]any `json:"messages"`
	}
	// The EHR has the request before the gateway has recorded the answer.
	lv.waitFor("both messages recorded delivered", func() bool {
		lv.call("GET", "/api/messages?record=Patient/MRN-SRC1&state=delivered", nil, &msgs)
		return len(msgs.Messages) == 2
	})
	lv.call("GET", "/api/messages?record=Patient/MRN-SRC1", nil, &msgs)
	if len(msgs.Messages) != 2 || msgs.Messages[0]["op"] != "delete" || msgs.Messages[1]["op"] != "upsert" {
		t.Errorf("the record's messages: %v", msgs.Messages)
	}
	for _, m := range msgs.Messages {
		if m["lastAttemptAt"] == nil {
			t.Errorf("message %v has no lastAttemptAt", m["id"])
		}
	}
	if n := len(scheduler.Requests()); n != 0 {
		t.Errorf("the scheduler got %d requests for its own changes", n)
	}
	var out map[string]any
	if code := lv.call("POST", "/api/records/Patient?source=Nobody", patient("MRN-SRC2", "Test"), &out); code != http.StatusBadRequest || out["resourceType"] != "OperationOutcome" {
		t.Errorf("unknown source: %d %v", code, out)
	}
}
