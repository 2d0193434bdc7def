package gateway

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/liaisonhq/liaison/gateway/internal/natstest"

	"github.com/liaisonhq/liaison/gateway/internal/fhirserver"
)

// TestMain fails the package's tests when any goroutine outlives them: a
// gateway, its outbox workers, its store or a connection left behind.
func TestMain(m *testing.M) {
	natstest.RunNode() // a NATS server (startJetStream) or cluster node, when started as one
	goleak.VerifyTestMain(m)
}

// startEHR starts a FHIR server for a test. Start it before the gateway:
// once the gateway has stopped, and before the server shuts down, the
// idle connections of the default transport, which the FHIR adapter
// uses, are closed. The server's shutdown otherwise waits 5 s for a
// connection that was dialled but never used (net/http treats a new
// connection as active for that long).
func startEHR(t *testing.T) *fhirserver.Server {
	t.Helper()
	ehr := fhirserver.Start(t)
	t.Cleanup(func() {
		if tr, ok := http.DefaultTransport.(*http.Transport); ok {
			tr.CloseIdleConnections()
		}
	})
	return ehr
}

// fastDelivery is a delivery policy that retries within milliseconds and
// gives up on an attempt after 300 ms.
var fastDelivery = map[string]any{"initialBackoff": "10ms", "maxBackoff": "100ms", "timeout": "300ms"}

// registerFHIR registers a FHIR connector for patients and appointments
// at the server, with fastDelivery, and returns its id.
func (lv *live) registerFHIR(name string, ehr *fhirserver.Server) string {
	lv.t.Helper()
	var created map[string]any
	code := lv.call("POST", "/api/external-connectors", map[string]any{
		"name": name, "type": "fhir", "endpoint": ehr.URL(),
		"resources": []string{"Patient", "Appointment"},
		"delivery":  fastDelivery,
	}, &created)
	if code != http.StatusCreated {
		lv.t.Fatalf("register %s: %d %v", name, code, created)
	}
	return created["connectorId"].(string)
}

// patient is an HMS patient record.
func patient(mrn, lastName string) map[string]any {
	return map[string]any{"mrn": mrn, "firstName": "Test", "lastName": lastName, "dob": "1980-01-02", "sex": "F"}
}

// postRecord posts an HMS record and returns the ids of the messages it made.
func (lv *live) postRecord(typ string, rec map[string]any) []string {
	lv.t.Helper()
	var res struct {
		Status   string   `json:"status"`
		Messages []string `json:"messages"`
	}
	if code := lv.call("POST", "/api/records/"+typ, rec, &res); code != http.StatusAccepted {
		lv.t.Fatalf("post %s: %d %+v", typ, code, res)
	}
	return res.Messages
}

// connector returns a connector as GET /api/external-connectors/{id} shows it.
func (lv *live) connector(id string) map[string]any {
	lv.t.Helper()
	var c map[string]any
	if code := lv.call("GET", "/api/external-connectors/"+id, nil, &c); code != http.StatusOK {
		lv.t.Fatalf("get connector %s: %d %v", id, code, c)
	}
	return c
}

// shownMessage is a message as GET /api/messages/{id} shows it.
type shownMessage struct {
	ID        string `json:"id"`
	State     string `json:"state"`
	LastError string `json:"lastError"`
	Attempts  []struct {
		At      time.Time       `json:"at"`
		Status  int             `json:"status"`
		Error   string          `json:"error"`
		Outcome json.RawMessage `json:"outcome"`
	} `json:"attempts"`
}

func (lv *live) message(id string) shownMessage {
	lv.t.Helper()
	var m shownMessage
	if code := lv.call("GET", "/api/messages/"+id, nil, &m); code != http.StatusOK {
		lv.t.Fatalf("get message %s: %d %+v", id, code, m)
	}
	return m
}

// waitState waits until the message is in the state.
func (lv *live) waitState(id, state string) shownMessage {
	lv.t.Helper()
	var m shownMessage
	lv.waitFor("message "+id+" "+state, func() bool {
		m = lv.message(id)
		return m.State == state
	})
	return m
}

// attemptStatuses lists the statuses of a message's attempts, 0 for none.
func attemptStatuses(m shownMessage) []int {
	out := make([]int, len(m.Attempts))
	for i, a := range m.Attempts {
		out[i] = a.Status
	}
	return out
}

// A server answering 503 for a while: the record is retried until the
// server recovers, and the message's attempts tell the story.
func TestFaultUnavailableThenRecovers(t *testing.T) {
	forEachBackend(t, testFaultUnavailableThenRecovers)
}

func testFaultUnavailableThenRecovers(t *testing.T) {
	ehr := startEHR(t)
	lv := startLive(t, Config{})
	conn := lv.registerFHIR("EHR", ehr)

	ehr.FailNext(6, http.StatusServiceUnavailable, "")
	ids := lv.postRecord("Patient", patient("M1", "Unavailable"))
	if len(ids) != 1 {
		t.Fatalf("messages = %v, want one", ids)
	}
	m := lv.waitState(ids[0], "delivered")

	want := "[503 503 503 503 503 503 0]"
	if got := fmt.Sprint(attemptStatuses(m)); got != want {
		t.Errorf("attempt statuses = %s, want %s", got, want)
	}
	for i, a := range m.Attempts[:6] {
		if a.Error == "" || len(a.Outcome) == 0 {
			t.Errorf("attempt %d: error %q, outcome %s; want both", i+1, a.Error, a.Outcome)
		}
	}
	if last := m.Attempts[len(m.Attempts)-1]; last.Error != "" {
		t.Errorf("the successful attempt has error %q", last.Error)
	}
	if n := len(ehr.Resources("Patient")); n != 1 {
		t.Errorf("%d Patients on the server, want 1", n)
	}
	c := lv.connector(conn)
	if c["delivered"] != float64(1) || c["failed"] != float64(0) || c["status"] != "connected" || c["breaker"] != "closed" {
		t.Errorf("connector after recovery: %v", c)
	}
	// The breaker opened after five failures in a row; with a maxBackoff
	// of 100ms it must not hold the record back for its 5 s default.
	if gap := m.Attempts[5].At.Sub(m.Attempts[4].At); gap > 3*time.Second {
		t.Errorf("the sixth attempt came %v after the fifth: the breaker held it back longer than the connector's maxBackoff", gap)
	}
}

// Retry-After is honoured: the second attempt starts no sooner than the
// server asked, whatever the connector's own backoff.
func TestFaultRetryAfter(t *testing.T) { forEachBackend(t, testFaultRetryAfter) }

func testFaultRetryAfter(t *testing.T) {
	ehr := startEHR(t)
	lv := startLive(t, Config{})
	lv.registerFHIR("EHR", ehr)

	ehr.FailNext(1, http.StatusTooManyRequests, "1")
	ids := lv.postRecord("Patient", patient("M1", "Throttled"))
	m := lv.waitState(ids[0], "delivered")
	if len(m.Attempts) != 2 || m.Attempts[0].Status != http.StatusTooManyRequests {
		t.Fatalf("attempts = %+v", m.Attempts)
	}
	// A lower bound, with room for clock granularity.
	if gap := m.Attempts[1].At.Sub(m.Attempts[0].At); gap < 990*time.Millisecond {
		t.Errorf("second attempt %v after the first, before Retry-After: 1", gap)
	}
}

// A 4xx other than 408, 429 and 410 is dead at once with the server's
// OperationOutcome kept; the next change of the same record still goes
// through; dead messages are replayed one by one or per connector.
func TestFaultDeadLetterAndReplay(t *testing.T) { forEachBackend(t, testFaultDeadLetterAndReplay) }

func testFaultDeadLetterAndReplay(t *testing.T) {
	ehr := startEHR(t)
	lv := startLive(t, Config{})
	conn := lv.registerFHIR("EHR", ehr)

	ehr.FailNext(1, http.StatusUnprocessableEntity, "")
	first := lv.postRecord("Patient", patient("M1", "Refused"))[0]
	m := lv.waitState(first, "dead")
	if len(m.Attempts) != 1 || m.Attempts[0].Status != http.StatusUnprocessableEntity {
		t.Fatalf("dead message attempts = %+v", m.Attempts)
	}
	var oo struct {
		ResourceType string `json:"resourceType"`
		Issue        []struct {
			Diagnostics string `json:"diagnostics"`
		} `json:"issue"`
	}
	if err := json.Unmarshal(m.Attempts[0].Outcome, &oo); err != nil || oo.ResourceType != "OperationOutcome" || len(oo.Issue) == 0 ||
		!strings.Contains(oo.Issue[0].Diagnostics, "422") {
		t.Errorf("the attempt keeps outcome %s, want the server's OperationOutcome", m.Attempts[0].Outcome)
	}
	if c := lv.connector(conn); c["dead"] != float64(1) {
		t.Errorf("connector dead count: %v", c)
	}
	puts := ehr.Count("PUT")
	time.Sleep(100 * time.Millisecond)
	if n := ehr.Count("PUT"); n != puts {
		t.Errorf("a dead message was sent again: %d PUTs, then %d", puts, n)
	}

	// The next change of the record is not held up by the dead one.
	second := lv.postRecord("Patient", patient("M1", "Changed"))[0]
	lv.waitState(second, "delivered")

	// Replay one message.
	var replayed map[string]any
	if code := lv.call("POST", "/api/messages/"+first+"/replay", nil, &replayed); code != http.StatusAccepted || replayed["state"] != "queued" {
		t.Fatalf("replay message: %d %v", code, replayed)
	}
	if m := lv.waitState(first, "delivered"); len(m.Attempts) != 2 {
		t.Errorf("replayed message attempts = %+v", m.Attempts)
	}
	// A message that is not dead is not replayed.
	if code := lv.call("POST", "/api/messages/"+first+"/replay", nil, nil); code != http.StatusConflict {
		t.Errorf("replay a delivered message: %d, want 409", code)
	}

	// Replay every dead message of the connector.
	ehr.FailNext(1, http.StatusBadRequest, "")
	third := lv.postRecord("Patient", patient("M2", "Refused"))[0]
	lv.waitState(third, "dead")
	var res map[string]any
	if code := lv.call("POST", "/api/external-connectors/"+conn+"/replay", nil, &res); code != http.StatusAccepted || res["replayed"] != float64(1) {
		t.Fatalf("replay connector: %d %v", code, res)
	}
	lv.waitState(third, "delivered")
	if n := len(ehr.Resources("Patient")); n != 2 {
		t.Errorf("%d Patients on the server, want 2", n)
	}
	if c := lv.connector(conn); c["dead"] != float64(0) || c["delivered"] != float64(3) {
		t.Errorf("connector after replays: %v", c)
	}
}

// 410 Gone disables the connector: nothing more is sent, and the messages
// wait. Resuming it delivers them.
func TestFaultGoneDisables(t *testing.T) { forEachBackend(t, testFaultGoneDisables) }

func testFaultGoneDisables(t *testing.T) {
	ehr := startEHR(t)
	lv := startLive(t, Config{})
	conn := lv.registerFHIR("EHR", ehr)

	ehr.Gone(true)
	first := lv.postRecord("Patient", patient("M1", "Gone"))[0]
	lv.waitFor("connector disabled", func() bool { return lv.connector(conn)["status"] == "disabled" })
	if c := lv.connector(conn); c["lastError"] == nil {
		t.Errorf("a disabled connector without lastError: %v", c)
	}
	sent := ehr.Count("")
	second := lv.postRecord("Patient", patient("M2", "Gone"))[0]
	time.Sleep(300 * time.Millisecond)
	if n := ehr.Count(""); n != sent {
		t.Errorf("%d requests to a disabled connector", n-sent)
	}
	if m := lv.message(second); m.State != "queued" || len(m.Attempts) != 0 {
		t.Errorf("message to a disabled connector: %+v", m)
	}

	ehr.Gone(false)
	var resumed map[string]any
	if code := lv.call("POST", "/api/external-connectors/"+conn+"/resume", nil, &resumed); code != http.StatusOK {
		t.Fatalf("resume: %d %v", code, resumed)
	}
	lv.waitState(first, "delivered")
	lv.waitState(second, "delivered")
	if n := len(ehr.Resources("Patient")); n != 2 {
		t.Errorf("%d Patients on the server, want 2", n)
	}
	if c := lv.connector(conn); c["status"] != "connected" {
		t.Errorf("connector after resume: %v", c)
	}
}

// A server slower than the attempt timeout: every attempt fails without a
// status and is retried; once the server is fast again the record is
// delivered, once.
func TestFaultSlowServer(t *testing.T) { forEachBackend(t, testFaultSlowServer) }

func testFaultSlowServer(t *testing.T) {
	ehr := startEHR(t)
	lv := startLive(t, Config{})
	conn := lv.registerFHIR("EHR", ehr)

	ehr.SetDelay(time.Second)
	id := lv.postRecord("Patient", patient("M1", "Slow"))[0]
	lv.waitFor("two timed-out attempts", func() bool { return len(lv.message(id).Attempts) >= 2 })
	ehr.SetDelay(0)
	m := lv.waitState(id, "delivered")
	for i, a := range m.Attempts[:len(m.Attempts)-1] {
		if a.Status != 0 || a.Error == "" {
			t.Errorf("attempt %d: status %d, error %q; want a timeout without a status", i+1, a.Status, a.Error)
		}
		if i > 0 && a.At.Sub(m.Attempts[i-1].At) < 250*time.Millisecond {
			t.Errorf("attempt %d started %v after the previous one: the timeout was not awaited", i+1, a.At.Sub(m.Attempts[i-1].At))
		}
	}
	if n := len(ehr.Resources("Patient")); n != 1 {
		t.Errorf("%d Patients on the server, want exactly 1", n)
	}
	if h := ehr.History("Patient", "M1"); len(h) != 1 {
		t.Errorf("%d versions of Patient/M1, want 1", len(h))
	}
	if c := lv.connector(conn); c["delivered"] != float64(1) || c["queued"] != float64(0) || c["failed"] != float64(0) {
		t.Errorf("connector: %v", c)
	}
}

// A paused connector queues and sends nothing; resuming delivers. A manual
// sync re-sends failed messages now, without waiting for their retry.
func TestFaultPauseResumeSync(t *testing.T) { forEachBackend(t, testFaultPauseResumeSync) }

func testFaultPauseResumeSync(t *testing.T) {
	ehr := startEHR(t)
	lv := startLive(t, Config{})
	conn := lv.registerFHIR("EHR", ehr)

	var paused map[string]any
	if code := lv.call("POST", "/api/external-connectors/"+conn+"/pause", nil, &paused); code != http.StatusOK || paused["status"] != "paused" {
		t.Fatalf("pause: %d %v", code, paused)
	}
	var ids []string
	for i := range 3 {
		ids = append(ids, lv.postRecord("Patient", patient(fmt.Sprint("M", i), "Paused"))...)
		if c := lv.connector(conn); c["queued"] != float64(i+1) {
			t.Errorf("after %d records: queued %v", i+1, c["queued"])
		}
	}
	time.Sleep(200 * time.Millisecond)
	if n := ehr.Count(""); n != 0 {
		t.Errorf("%d requests from a paused connector", n)
	}
	if code := lv.call("POST", "/api/external-connectors/"+conn+"/resume", nil, nil); code != http.StatusOK {
		t.Fatalf("resume: %d", code)
	}
	for _, id := range ids {
		lv.waitState(id, "delivered")
	}

	// A failure whose Retry-After puts the retry a minute away.
	ehr.FailNext(1, http.StatusServiceUnavailable, "60")
	id := lv.postRecord("Patient", patient("M9", "Later"))[0]
	lv.waitState(id, "failed")
	var sync map[string]any
	if code := lv.call("POST", "/api/external-connectors/"+conn+"/sync", nil, &sync); code != http.StatusAccepted || sync["status"] != "sync_started" || sync["startedAt"] == nil {
		t.Fatalf("sync: %d %v", code, sync)
	}
	// Delivered within waitFor's 15 s, long before the minute is up.
	lv.waitState(id, "delivered")
	if n := len(ehr.Resources("Patient")); n != 4 {
		t.Errorf("%d Patients on the server, want 4", n)
	}
}
