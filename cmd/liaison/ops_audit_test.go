package main

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
)

// liaison audit list shows the trail as a table — the accept and each
// delivery attempt of a record, with outcomes and the system's answer —
// filters it, pages it, and gives the FHIR Bundle with --json.
func TestOpsAudit(t *testing.T) {
	og := startOpsGateway(t)
	billing := startOpsSink(t)
	billID := og.register("Billing", billing.URL+"/appointments")

	billing.status.Store(http.StatusServiceUnavailable)
	og.call(http.MethodPost, "/api/records/Appointment", `{"appointmentId": "AU1", "status": "booked"}`, nil)
	opsWaitFor(t, "AU1 failed at Billing", func() bool { return og.status(billID).Failed == 1 })
	billing.status.Store(http.StatusOK)
	opsWaitFor(t, "AU1 delivered", func() bool { return og.status(billID).Delivered == 1 })

	headers := []string{"ID", "WHEN", "WHAT", "INTERACTION", "OUTCOME", "RECORD", "BY", "CONNECTOR", "DETAIL"}
	r := og.ops("audit", "list", "--entity", "Appointment/AU1")
	opsWantCode(t, r, exitOK)
	rows := opsTable(t, r.stdout, headers...)
	if len(rows) != 3 {
		t.Fatalf("want 3 entries (accept, retried delivery, delivery):\n%s", r.stdout)
	}
	want := []string{ // newest first
		"delivery update ok Appointment/AU1 liaison Billing",
		"delivery update retry Appointment/AU1 liaison Billing",
		"accept create ok Appointment/AU1 HMS -",
	}
	for i, row := range rows {
		got := strings.Join([]string{row["WHAT"], row["INTERACTION"], row["OUTCOME"], row["RECORD"], row["BY"], row["CONNECTOR"]}, " ")
		if got != want[i] {
			t.Errorf("row %d: %q, want %q", i, got, want[i])
		}
	}
	if rows[1]["DETAIL"] != "HTTP 503 Service Unavailable" || !strings.HasPrefix(rows[2]["DETAIL"], "request ") {
		t.Errorf("details: %q, %q", rows[1]["DETAIL"], rows[2]["DETAIL"])
	}

	r = og.ops("audit", "list", "--kind", "delivery", "--connector", "Billing", "--limit", "1")
	opsWantCode(t, r, exitOK)
	if rows := opsTable(t, r.stdout, headers...); len(rows) != 1 || rows[0]["OUTCOME"] != "ok" {
		t.Errorf("--kind delivery --limit 1:\n%s", r.stdout)
	}
	if !strings.Contains(r.stderr, "More may follow: add --before ") {
		t.Errorf("no next-page hint: %q", r.stderr)
	}

	r = og.ops("audit", "list", "--entity", "Appointment/AU1", "--json")
	opsWantCode(t, r, exitOK)
	var b struct {
		ResourceType string
		Entry        []struct{ Resource struct{ ResourceType string } }
	}
	if err := json.Unmarshal([]byte(r.stdout), &b); err != nil || b.ResourceType != "Bundle" || len(b.Entry) != 3 || b.Entry[0].Resource.ResourceType != "AuditEvent" {
		t.Errorf("--json: %v\n%s", err, r.stdout)
	}

	r = og.ops("audit", "list", "--entity", "Appointment/NOPE")
	if opsWantCode(t, r, exitOK); r.stdout != "No audit entries.\n" {
		t.Errorf("empty trail: %q", r.stdout)
	}
	r = og.ops("audit", "list", "--kind", "read")
	opsWantCode(t, r, exitFail)
	if !strings.Contains(r.stderr, "kind must be accept or delivery") {
		t.Errorf("bad --kind: %q", r.stderr)
	}
}
