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
	// Newest first: the delivery, the 503s before it (one or more: a retry
	// may come before the sink recovers), the accept.
	if len(rows) < 3 {
		t.Fatalf("want the accept, a retried delivery and the delivery:\n%s", r.stdout)
	}
	line := func(row map[string]string) string {
		return strings.Join([]string{row["WHAT"], row["INTERACTION"], row["OUTCOME"], row["RECORD"], row["BY"], row["CONNECTOR"]}, " ")
	}
	last := len(rows) - 1
	if got := line(rows[0]); got != "delivery update ok Appointment/AU1 liaison Billing" {
		t.Errorf("newest: %q", got)
	}
	for _, row := range rows[1:last] {
		if got := line(row); got != "delivery update retry Appointment/AU1 liaison Billing" || row["DETAIL"] != "HTTP 503 Service Unavailable" {
			t.Errorf("retried delivery: %q, %q", got, row["DETAIL"])
		}
	}
	if got := line(rows[last]); got != "accept create ok Appointment/AU1 HMS -" || !strings.HasPrefix(rows[last]["DETAIL"], "request ") {
		t.Errorf("oldest: %q, %q", got, rows[last]["DETAIL"])
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
	if err := json.Unmarshal([]byte(r.stdout), &b); err != nil || b.ResourceType != "Bundle" || len(b.Entry) != len(rows) || b.Entry[0].Resource.ResourceType != "AuditEvent" {
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
