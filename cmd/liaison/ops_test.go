package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/liaisonhq/liaison/gateway"
)

const opsToken = "ops-test-token"

// opsGateway is a real gateway serving on 127.0.0.1, with the binary's
// adapters, for the operator commands to talk to.
type opsGateway struct {
	t   *testing.T
	url string
}

func startOpsGateway(t *testing.T) *opsGateway {
	t.Helper()
	g, err := gateway.New(gateway.Config{DataDir: t.TempDir(), AdminToken: opsToken, Adapters: adapters()}, nil)
	if err != nil {
		t.Fatal(err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		g.Close()
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- g.Serve(ctx, l) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("serve: %v", err)
		}
		g.Close()
	})
	return &opsGateway{t: t, url: "http://" + l.Addr().String()}
}

// with is og for the test t, which its failures then stop.
func (og *opsGateway) with(t *testing.T) *opsGateway {
	cp := *og
	cp.t = t
	return &cp
}

// call makes an API call with the admin token and decodes the JSON answer
// into out (unless nil).
func (og *opsGateway) call(method, path, body string, out any) {
	og.t.Helper()
	req, _ := http.NewRequest(method, og.url+path, strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+opsToken)
	req.Header.Set("Content-Type", "application/json")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		og.t.Fatal(err)
	}
	defer res.Body.Close()
	data, _ := io.ReadAll(res.Body)
	if res.StatusCode > 299 {
		og.t.Fatalf("%s %s: %d %s", method, path, res.StatusCode, data)
	}
	if out != nil {
		if err := json.Unmarshal(data, out); err != nil {
			og.t.Fatalf("%s %s: %v: %s", method, path, err, data)
		}
	}
}

// register registers a REST connector and returns its id.
func (og *opsGateway) register(name, endpoint string) string {
	og.t.Helper()
	var ans struct{ ConnectorID string }
	og.call(http.MethodPost, "/api/external-connectors",
		`{"name": "`+name+`", "type": "rest", "endpoint": "`+endpoint+`", "resources": ["Appointment"]}`, &ans)
	return ans.ConnectorID
}

func (og *opsGateway) status(id string) connectorStatus {
	og.t.Helper()
	var cs connectorStatus
	og.call(http.MethodGet, connectorPath(id), "", &cs)
	return cs
}

// opsWaitFor waits until cond holds, at most 20 s.
func opsWaitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// opsSink is a downstream REST API whose answer can be switched: 200, or a
// 400 or 503 with an OperationOutcome.
type opsSink struct {
	*httptest.Server
	status atomic.Int32
}

const sinkDiagnostics = "unknown clinic slot"

func startOpsSink(t *testing.T) *opsSink {
	s := &opsSink{}
	s.status.Store(http.StatusOK)
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		status := int(s.status.Load())
		if status == http.StatusOK {
			w.Header().Set("Content-Type", "application/json")
			w.Write([]byte(`{}`))
			return
		}
		w.Header().Set("Content-Type", "application/fhir+json")
		w.WriteHeader(status)
		w.Write([]byte(`{"resourceType": "OperationOutcome", "issue": [{"severity": "error", "code": "invalid",
			"diagnostics": "` + sinkDiagnostics + `", "expression": ["Appointment.slot"]}]}`))
	}))
	t.Cleanup(s.Close)
	return s
}

// ops runs an operator command against the gateway.
func (og *opsGateway) ops(args ...string) result {
	og.t.Helper()
	return liaison(og.t, "", append(args, "--url", og.url, "--token", opsToken)...)
}

// opsTable reads an aligned table: one map per row, from header to cell.
// It fails the test unless every cell starts at its header's column.
func opsTable(t *testing.T, out string, headers ...string) []map[string]string {
	t.Helper()
	lines := strings.Split(strings.TrimRight(out, "\n"), "\n")
	cols := make([]int, len(headers))
	for i, h := range headers {
		at := strings.Index(lines[0], h)
		if at < 0 {
			t.Fatalf("no column %s:\n%s", h, out)
		}
		cols[i] = len([]rune(lines[0][:at]))
		if i > 0 && cols[i] <= cols[i-1] {
			t.Fatalf("column %s out of order:\n%s", h, out)
		}
	}
	var rows []map[string]string
	for _, line := range lines[1:] {
		r := []rune(line)
		row := map[string]string{}
		for i, h := range headers {
			if cols[i] >= len(r) || r[cols[i]] == ' ' || (cols[i] > 0 && r[cols[i]-1] != ' ') {
				t.Fatalf("column %s not aligned in %q:\n%s", h, line, out)
			}
			end := len(r)
			if i+1 < len(headers) {
				end = cols[i+1]
			}
			row[h] = strings.TrimSpace(string(r[cols[i]:end]))
		}
		rows = append(rows, row)
	}
	return rows
}

// opsFields reads an aligned list of fields, "Name   value" a line, up to
// the first empty line. It fails the test unless every value starts at
// the same column.
func opsFields(t *testing.T, out string) map[string]string {
	t.Helper()
	block, _, _ := strings.Cut(out, "\n\n")
	lines := strings.Split(strings.TrimRight(block, "\n"), "\n")
	col := strings.Index(lines[0], "  ")
	for col < len(lines[0]) && lines[0][col] == ' ' {
		col++
	}
	fields := map[string]string{}
	for _, line := range lines {
		r := []rune(line)
		if col >= len(r) || r[col] == ' ' || r[col-1] != ' ' || r[col-2] != ' ' {
			t.Fatalf("value not aligned in %q:\n%s", line, out)
		}
		fields[strings.TrimSpace(string(r[:col]))] = string(r[col:])
	}
	return fields
}

// opsRow finds the row whose column has the value.
func opsRow(t *testing.T, rows []map[string]string, column, value string) map[string]string {
	t.Helper()
	for _, r := range rows {
		if r[column] == value {
			return r
		}
	}
	t.Fatalf("no row with %s %q in %v", column, value, rows)
	return nil
}

func opsWantCode(t *testing.T, r result, code int) {
	t.Helper()
	if r.code != code {
		t.Fatalf("exit %d, want %d\nstdout:\n%s\nstderr:\n%s", r.code, code, r.stdout, r.stderr)
	}
}

// The operator commands against a real gateway delivering to two REST
// APIs, one of which refuses appointments until it is fixed: the tables,
// --json, pause and resume, replays of one message and of every dead one,
// sync, and a record's state at each connector.
func TestOpsCommands(t *testing.T) {
	og := startOpsGateway(t)
	scheduler, billing := startOpsSink(t), startOpsSink(t)
	billing.status.Store(http.StatusBadRequest)
	schedID := og.register("Scheduler", scheduler.URL+"/appointments/{id}")
	billID := og.register("Billing", billing.URL+"/visits/{id}")

	r := og.ops("connectors", "list")
	opsWantCode(t, r, exitOK)
	rows := opsTable(t, r.stdout, "ID", "NAME", "TYPE", "STATUS", "QUEUED", "DELIVERED", "FAILED", "DEAD", "OLDEST QUEUED", "LAST ERROR")
	if len(rows) != 2 || opsRow(t, rows, "NAME", "Billing")["STATUS"] != "connected" {
		t.Fatalf("want two connected connectors:\n%s", r.stdout)
	}

	for _, id := range []string{"A1", "A2", "A3"} {
		og.call(http.MethodPost, "/api/records/Appointment", `{"appointmentId": "`+id+`", "status": "booked"}`, nil)
	}
	opsWaitFor(t, "3 delivered to Scheduler and 3 dead at Billing", func() bool {
		return og.status(schedID).Delivered == 3 && og.status(billID).Dead == 3
	})

	t.Run("connectors list", func(t *testing.T) {
		og := og.with(t)
		r := og.ops("connectors", "list")
		opsWantCode(t, r, exitOK)
		rows := opsTable(t, r.stdout, "ID", "NAME", "TYPE", "STATUS", "QUEUED", "DELIVERED", "FAILED", "DEAD", "OLDEST QUEUED", "LAST ERROR")
		sched, bill := opsRow(t, rows, "NAME", "Scheduler"), opsRow(t, rows, "NAME", "Billing")
		if sched["ID"] != schedID || sched["TYPE"] != "rest" || sched["STATUS"] != "connected" || sched["DELIVERED"] != "3" || sched["DEAD"] != "0" || sched["LAST ERROR"] != "-" {
			t.Errorf("Scheduler row: %v", sched)
		}
		if bill["STATUS"] != "error" || bill["DEAD"] != "3" || bill["DELIVERED"] != "0" || !strings.Contains(bill["LAST ERROR"], "400") {
			t.Errorf("Billing row: %v", bill)
		}

		r = og.ops("connectors", "list", "--json")
		opsWantCode(t, r, exitOK)
		var list []struct {
			ConnectorID string
			Name        string
			Dead        int
		}
		if err := json.Unmarshal([]byte(r.stdout), &list); err != nil || len(list) != 2 {
			t.Fatalf("--json: %v\n%s", err, r.stdout)
		}
		if !strings.HasPrefix(r.stdout, "[\n  {\n") {
			t.Errorf("--json not indented:\n%.80s", r.stdout)
		}
	})

	t.Run("connectors show", func(t *testing.T) {
		og := og.with(t)
		r := og.ops("connectors", "show", "Billing") // by name
		opsWantCode(t, r, exitOK)
		got := opsFields(t, r.stdout)
		for name, want := range map[string]string{"ID": billID, "Status": "error", "Dead": "3", "Delivered": "0", "Breaker": "closed",
			"Endpoint": billing.URL + "/visits/{id}", "Oldest queued": "-", "Sync": "push-only"} {
			if got[name] != want {
				t.Errorf("%s is %q, want %q:\n%s", name, got[name], want, r.stdout)
			}
		}
		if !strings.HasPrefix(got["Last error"], "status 400: PUT Appointment") {
			t.Errorf("last error %q", got["Last error"])
		}
		r = og.ops("connectors", "show", billID, "--json")
		opsWantCode(t, r, exitOK)
		var cs connectorStatus
		if err := json.Unmarshal([]byte(r.stdout), &cs); err != nil || cs.ID != billID || cs.Dead != 3 {
			t.Errorf("--json: %v %+v", err, cs)
		}
	})

	var deadID string
	t.Run("messages list", func(t *testing.T) {
		og := og.with(t)
		r := og.ops("messages", "list", "--connector", "Billing", "--state", "dead")
		opsWantCode(t, r, exitOK)
		rows := opsTable(t, r.stdout, "ID", "CONNECTOR", "RECORD", "OP", "STATE", "ATTEMPTS", "CREATED", "NEXT ATTEMPT", "LAST ERROR")
		if len(rows) != 3 {
			t.Fatalf("want 3 dead messages:\n%s", r.stdout)
		}
		for _, row := range rows {
			if row["CONNECTOR"] != "Billing" || row["STATE"] != "dead" || row["ATTEMPTS"] != "1" || row["OP"] != "upsert" {
				t.Errorf("row %v", row)
			}
		}
		deadID = opsRow(t, rows, "RECORD", "Appointment/A1")["ID"]

		r = og.ops("messages", "list", "--connector", "Billing", "--record", "Appointment/A1")
		opsWantCode(t, r, exitOK)
		if rows := opsTable(t, r.stdout, "ID", "CONNECTOR", "RECORD", "OP", "STATE", "ATTEMPTS", "CREATED", "NEXT ATTEMPT", "LAST ERROR"); len(rows) != 1 || rows[0]["ID"] != deadID {
			t.Errorf("--record Appointment/A1:\n%s", r.stdout)
		}

		r = og.ops("messages", "list", "--state", "delivered", "--limit", "2", "--json")
		opsWantCode(t, r, exitOK)
		var page messagePage
		if err := json.Unmarshal([]byte(r.stdout), &page); err != nil || len(page.Messages) != 2 || page.Messages[0].State != "delivered" {
			t.Errorf("--json: %v\n%s", err, r.stdout)
		}

		r = og.ops("messages", "list", "--connector", schedID, "--state", "queued")
		opsWantCode(t, r, exitOK)
		if r.stdout != "No messages.\n" {
			t.Errorf("empty list: %q", r.stdout)
		}
	})

	t.Run("messages show", func(t *testing.T) {
		og := og.with(t)
		r := og.ops("messages", "show", deadID)
		opsWantCode(t, r, exitOK)
		got := opsFields(t, r.stdout)
		for name, want := range map[string]string{"Record": "Appointment/A1", "State": "dead", "Connector": "Billing (" + billID + ")",
			"Body": "40 B of application/json (--body prints it)", "Next attempt": "-"} {
			if got[name] != want {
				t.Errorf("%s is %q, want %q:\n%s", name, got[name], want, r.stdout)
			}
		}
		_, attempts, ok := strings.Cut(r.stdout, "Attempts (1):\n")
		if !ok {
			t.Fatalf("no attempts:\n%s", r.stdout)
		}
		rows := opsTable(t, attempts, "#", "TIME", "STATUS", "DURATION", "ERROR")
		if len(rows) != 1 || rows[0]["STATUS"] != "400" || !strings.Contains(rows[0]["ERROR"], sinkDiagnostics+" (at Appointment.slot)") {
			t.Errorf("attempts: %v", rows)
		}
		if strings.Contains(r.stdout, `"appointmentId"`) {
			t.Errorf("the body is shown without --body:\n%s", r.stdout)
		}
		r = og.ops("messages", "show", deadID, "--body")
		if !strings.Contains(r.stdout, "Body:\n{\n  \"appointmentId\": \"A1\"") {
			t.Errorf("--body:\n%s", r.stdout)
		}
	})

	t.Run("records get", func(t *testing.T) {
		og := og.with(t)
		r := og.ops("records", "get", "Appointment", "A1")
		opsWantCode(t, r, exitOK)
		if got := opsFields(t, r.stdout); got["Record"] != "Appointment/A1" || got["Version"] != "1" || got["Changed by"] != "HMS" || !strings.Contains(r.stdout, `"status": "booked"`) {
			t.Errorf("record:\n%s", r.stdout)
		}
		_, syncPart, _ := strings.Cut(r.stdout, "Sync:\n")
		rows := opsTable(t, syncPart, "CONNECTOR", "STATE", "MESSAGE", "UPDATED", "LAST ERROR")
		if s := opsRow(t, rows, "CONNECTOR", "Scheduler"); s["STATE"] != "delivered" || s["LAST ERROR"] != "-" {
			t.Errorf("Scheduler: %v", s)
		}
		if b := opsRow(t, rows, "CONNECTOR", "Billing"); b["STATE"] != "dead" || b["MESSAGE"] != deadID || !strings.Contains(b["LAST ERROR"], "400") {
			t.Errorf("Billing: %v", b)
		}
		r = og.ops("records", "get", "Appointment", "A1", "--json")
		var rec recordView
		if err := json.Unmarshal([]byte(r.stdout), &rec); err != nil || rec.ID != "A1" || len(rec.Sync) != 2 {
			t.Errorf("--json: %v\n%s", err, r.stdout)
		}
	})

	t.Run("pause and resume", func(t *testing.T) {
		og := og.with(t)
		r := og.ops("connectors", "pause", "Billing")
		opsWantCode(t, r, exitOK)
		if !strings.HasPrefix(r.stdout, "Paused Billing") || og.status(billID).Status != "paused" {
			t.Errorf("pause: %s, status %s", r.stdout, og.status(billID).Status)
		}
		r = og.ops("connectors", "resume", billID, "--json")
		opsWantCode(t, r, exitOK)
		var cs connectorStatus
		if err := json.Unmarshal([]byte(r.stdout), &cs); err != nil || cs.Status == "paused" || og.status(billID).Status == "paused" {
			t.Errorf("resume: %v %s", err, r.stdout)
		}
	})

	billing.status.Store(http.StatusOK) // fixed

	t.Run("replay one message", func(t *testing.T) {
		og := og.with(t)
		r := og.ops("messages", "replay", deadID)
		opsWantCode(t, r, exitOK)
		if r.stdout != "Message "+deadID+" delivered to Billing.\n" {
			t.Errorf("stdout %q", r.stdout)
		}
		var m messageDetail
		og.call(http.MethodGet, "/api/messages/"+deadID, "", &m)
		if m.State != "delivered" {
			t.Errorf("state %s after replay", m.State)
		}
		r = og.ops("messages", "replay", deadID)
		opsWantCode(t, r, exitFail)
		if !strings.Contains(r.stderr, "is delivered, not dead") || strings.Count(r.stderr, "\n") != 1 {
			t.Errorf("replay of a delivered message: %s", r.stderr)
		}
	})

	t.Run("replay every dead message", func(t *testing.T) {
		og := og.with(t)
		r := og.ops("messages", "replay", "--connector", "Billing", "--dead")
		opsWantCode(t, r, exitOK)
		if r.stdout != "Replayed 2 messages to Billing: 2 delivered.\n" {
			t.Errorf("stdout %q", r.stdout)
		}
		lines := strings.Split(strings.TrimSpace(r.stderr), "\n")
		if last := lines[len(lines)-1]; last != "replay to Billing: 2/2 2 delivered" {
			t.Errorf("progress ends with %q, want it done:\n%s", last, r.stderr)
		}
		if cs := og.status(billID); cs.Dead != 0 || cs.Delivered != 3 || cs.Status != "connected" {
			t.Errorf("after replay: %+v", cs)
		}
		r = og.ops("messages", "replay", "--connector", "Billing", "--dead", "--json")
		opsWantCode(t, r, exitOK)
		var out struct {
			Replay struct{ Replayed int }
			Result tally
		}
		if err := json.Unmarshal([]byte(r.stdout), &out); err != nil || out.Replay.Replayed != 0 || out.Result.Total != 0 {
			t.Errorf("--json with nothing dead: %v\n%s", err, r.stdout)
		}
	})

	t.Run("sync", func(t *testing.T) {
		og := og.with(t)
		billing.status.Store(http.StatusBadRequest)
		og.call(http.MethodPost, "/api/records/Appointment", `{"appointmentId": "A4", "status": "booked"}`, nil)
		opsWaitFor(t, "A4 dead at Billing", func() bool { return og.status(billID).Dead == 1 })

		r := og.ops("connectors", "sync", "Billing") // still broken: dead again
		opsWantCode(t, r, exitFail)
		if r.stdout != "Sync of Billing: 1 message sent again: 0 delivered, 1 dead.\n" || !strings.Contains(r.stderr, "1 message is dead again") {
			t.Errorf("sync while broken:\nstdout %q\nstderr %q", r.stdout, r.stderr)
		}

		billing.status.Store(http.StatusOK)
		r = og.ops("connectors", "sync", "Billing")
		opsWantCode(t, r, exitOK)
		if r.stdout != "Sync of Billing: 1 message sent again: 1 delivered.\n" || !strings.HasSuffix(r.stderr, "sync Billing: 1/1 1 delivered\n") {
			t.Errorf("sync:\nstdout %q\nstderr %q", r.stdout, r.stderr)
		}

		r = og.ops("connectors", "sync", "Billing", "--json")
		opsWantCode(t, r, exitOK)
		var out struct {
			Sync   syncAnswer
			Result tally
		}
		if err := json.Unmarshal([]byte(r.stdout), &out); err != nil || out.Sync.Status != "sync_started" || out.Result.Total != 0 {
			t.Errorf("--json: %v\n%s", err, r.stdout)
		}
		r = og.ops("connectors", "sync", "Scheduler", "--no-wait")
		opsWantCode(t, r, exitOK)
		if !strings.HasPrefix(r.stdout, "Sync of Scheduler started: 0 failed messages due now, 0 dead messages replayed.") {
			t.Errorf("--no-wait: %q", r.stdout)
		}
	})

	t.Run("a retried message", func(t *testing.T) {
		og := og.with(t)
		billing.status.Store(http.StatusServiceUnavailable)
		og.call(http.MethodPost, "/api/records/Appointment", `{"appointmentId": "A5", "status": "booked"}`, nil)
		opsWaitFor(t, "A5 failed at Billing", func() bool { return og.status(billID).Failed == 1 })
		r := og.ops("connectors", "sync", "Billing")
		opsWantCode(t, r, exitFail)
		if !strings.Contains(r.stdout, "1 retrying") || !strings.Contains(r.stderr, "1 message waits for a retry") {
			t.Errorf("sync of a failing message:\nstdout %q\nstderr %q", r.stdout, r.stderr)
		}
		billing.status.Store(http.StatusOK)
		// Its retry must land before the next case makes Billing refuse.
		opsWaitFor(t, "A5 delivered", func() bool { cs := og.status(billID); return cs.Failed == 0 && cs.Queued == 0 })
	})

	t.Run("a paused connector", func(t *testing.T) {
		og := og.with(t)
		billing.status.Store(http.StatusBadRequest)
		og.call(http.MethodPost, "/api/records/Appointment", `{"appointmentId": "A6", "status": "booked"}`, nil)
		opsWaitFor(t, "A6 dead at Billing", func() bool { return og.status(billID).Dead == 1 })
		opsWantCode(t, og.ops("connectors", "pause", "Billing"), exitOK)
		billing.status.Store(http.StatusOK)
		r := og.ops("messages", "replay", "--connector", "Billing", "--dead")
		opsWantCode(t, r, exitFail)
		if !strings.Contains(r.stderr, "1 message waits: Billing is paused: liaison connectors resume "+billID) {
			t.Errorf("replay to a paused connector:\nstdout %q\nstderr %q", r.stdout, r.stderr)
		}
		opsWantCode(t, og.ops("connectors", "resume", "Billing"), exitOK)
		opsWaitFor(t, "A6 delivered after resume", func() bool { cs := og.status(billID); return cs.Dead == 0 && cs.Queued == 0 })
	})
}

// Errors: every one is one line on standard error and exit status 1.
func TestOpsErrors(t *testing.T) {
	og := startOpsGateway(t)
	down, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	downURL := "http://" + down.Addr().String()
	down.Close()

	tests := []struct {
		name   string
		args   []string
		stderr string
	}{
		{"wrong token", []string{"connectors", "list", "--url", og.url, "--token", "wrong"},
			"liaison connectors list: this call needs the admin token: Authorization: Bearer <token> (check LIAISON_ADMIN_TOKEN or --token)\n"},
		{"gateway down", []string{"connectors", "list", "--url", downURL, "--token", opsToken},
			"liaison connectors list: cannot reach the gateway at " + downURL + ": is `liaison serve` running?\n"},
		{"unknown connector", []string{"connectors", "show", "nope", "--url", og.url, "--token", opsToken},
			`liaison connectors show: no connector "nope", neither by id nor by name (liaison connectors list shows them)` + "\n"},
		{"bad state", []string{"messages", "list", "--state", "lost", "--url", og.url, "--token", opsToken},
			"liaison messages list: state must be queued, failed, delivered or dead (at state)\n"},
		{"unknown message", []string{"messages", "replay", "0000000000000099", "--url", og.url, "--token", opsToken},
			`liaison messages replay: no message "0000000000000099"` + "\n"},
		{"unknown record", []string{"records", "get", "Patient", "P1", "--url", og.url, "--token", opsToken},
			`liaison records get: no Patient record "P1"` + "\n"},
		{"bad URL", []string{"connectors", "list", "--url", "ftp://x", "--token", opsToken},
			`liaison connectors list: gateway URL "ftp://x": want http://host:port` + "\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := liaison(t, "", tt.args...)
			opsWantCode(t, r, exitFail)
			if r.stderr != tt.stderr || r.stdout != "" {
				t.Errorf("stderr %q\nwant   %q\nstdout %q", r.stderr, tt.stderr, r.stdout)
			}
		})
	}

	t.Run("no token", func(t *testing.T) {
		t.Setenv(envToken, "")
		r := liaison(t, "", "connectors", "list", "--url", og.url)
		opsWantCode(t, r, exitFail)
		if !strings.Contains(r.stderr, "no admin token: set LIAISON_ADMIN_TOKEN") {
			t.Errorf("stderr %q", r.stderr)
		}
	})
	t.Run("URL and token from the environment", func(t *testing.T) {
		t.Setenv(envURL, strings.TrimPrefix(og.url, "http://"))
		t.Setenv(envToken, opsToken)
		r := liaison(t, "", "connectors", "list")
		opsWantCode(t, r, exitOK)
		if r.stdout != "No connectors registered.\n" {
			t.Errorf("stdout %q", r.stdout)
		}
	})
}

func TestOpsUsage(t *testing.T) {
	tests := []struct {
		name   string
		args   []string
		code   int
		stdout string
		stderr string
	}{
		{"help lists them", []string{"help"}, exitOK, "connectors sync", ""},
		{"group help", []string{"connectors", "--help"}, exitOK, "Usage: liaison connectors COMMAND", ""},
		{"messages group", []string{"help", "messages"}, exitOK, "  replay  send dead messages again", ""},
		{"command help", []string{"messages", "replay", "-h"}, exitOK, "Usage: liaison messages replay ID | --connector ID|NAME --dead", ""},
		{"show without id", []string{"connectors", "show"}, exitUsage, "", "a connector ID or NAME is required"},
		{"replay without anything", []string{"messages", "replay"}, exitUsage, "", "a message ID, or --connector with --dead, is required"},
		{"replay --connector without --dead", []string{"messages", "replay", "--connector", "x"}, exitUsage, "", "add --dead"},
		{"replay id and --connector", []string{"messages", "replay", "m", "--connector", "x", "--dead"}, exitUsage, "", "not both"},
		{"records get with one argument", []string{"records", "get", "Patient"}, exitUsage, "", "a record TYPE and ID are required"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := liaison(t, "", tt.args...)
			opsWantCode(t, r, tt.code)
			if !strings.Contains(r.stdout, tt.stdout) || !strings.Contains(r.stderr, tt.stderr) {
				t.Errorf("stdout %q lacks %q, or stderr %q lacks %q", r.stdout, tt.stdout, r.stderr, tt.stderr)
			}
		})
	}
}

func TestOpsFormat(t *testing.T) {
	now := time.Date(2024, 6, 15, 13, 30, 0, 0, time.UTC)
	tests := []struct{ got, want string }{
		{humanSpan(0), "0s"},
		{humanSpan(45 * time.Second), "45s"},
		{humanSpan(3 * time.Minute), "3m"},
		{humanSpan(3*time.Minute + 20*time.Second), "3m 20s"},
		{humanSpan(2*time.Hour + 5*time.Minute + 9*time.Second), "2h 5m"},
		{humanSpan(76 * time.Hour), "3d 4h"},
		{humanAgo(now.Add(-3*time.Minute), now), "3m ago"},
		{humanAgo(now.Add(5*time.Second), now), "in 5s"},
		{humanAgo(now, now), "just now"},
		{humanAgo(time.Time{}, now), "-"},
		{humanLatency(85 * time.Millisecond), "85ms"},
		{humanLatency(1234 * time.Millisecond), "1.2s"},
		{thousands(0), "0"},
		{thousands(999), "999"},
		{thousands(1234567), "1,234,567"},
		{thousands(uint64(1000)), "1,000"},
		{humanSize(512), "512 B"},
		{humanSize(1234), "1.2 kB"},
		{shorten("a  long\nerror text", 8), "a long…"},
		{shorten("short", 8), "short"},
		{shorten("abcdefghijklmnop", 8), "abcdefg…"},
		{shorten("status 400: PUT Appointment: Bad Request: OperationOutcome error invalid at Appointment.slot", 64), "status 400: PUT Appointment: Bad Request: OperationOutcome…"},
		{tableCell("  "), "-"},
		{barCells(1, 4, 8), "[██░░░░░░]"},
		{barCells(5, 4, 4), "[████]"},
		{tally{Total: 5, Delivered: 3, Dead: 1, Pending: 1}.String(), "3 delivered, 1 dead, 1 pending"},
	}
	for _, tt := range tests {
		if tt.got != tt.want {
			t.Errorf("got %q, want %q", tt.got, tt.want)
		}
	}
}

// Without a terminal the progress is plain lines: the first at once, then
// at most one a second, and the last one always.
func TestProgressLines(t *testing.T) {
	var buf bytes.Buffer
	p := &progressBar{w: &buf, label: "replay to Billing"}
	p.show(0, 3, "0 delivered")
	p.show(1, 3, "1 delivered")
	p.show(2, 3, "2 delivered")
	p.show(3, 3, "3 delivered")
	p.finish()
	want := "replay to Billing: 0/3 0 delivered\nreplay to Billing: 3/3 3 delivered\n"
	if buf.String() != want {
		t.Errorf("got %q, want %q", buf.String(), want)
	}

	buf.Reset()
	p = &progressBar{w: &buf, tty: true, label: "sync"}
	p.show(1, 2, "1 delivered")
	p.show(2, 2, "2 delivered")
	p.finish()
	want = "\r\x1b[Ksync  [" + strings.Repeat("█", 12) + strings.Repeat("░", 12) + "]  1/2  1 delivered" +
		"\r\x1b[Ksync  [" + strings.Repeat("█", 24) + "]  2/2  2 delivered\n"
	if buf.String() != want {
		t.Errorf("terminal: got %q, want %q", buf.String(), want)
	}
}
