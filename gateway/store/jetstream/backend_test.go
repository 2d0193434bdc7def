package jetstream

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/liaisonhq/liaison/gateway/outbox"
	"github.com/liaisonhq/liaison/gateway/store"
)

// openBackend opens a Backend on the cluster's nodes, node i first; it
// closes when the test ends.
func openBackend(t testing.TB, c *cluster, i int, instance string) *Backend {
	t.Helper()
	cfg := BackendConfig{Config: changesConfig(4), URLs: []string{c.urls(i)}}
	cfg.Instance = instance
	if len(c.nodes) == 3 {
		cfg.Replicas = 3
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	b, err := Open(ctx, cfg, testLogger(t, instance))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })
	return b
}

// deliver runs b's deliverer with cfg and starts conn with s; it stops
// when the test ends (before the Backend closes).
func deliver(t testing.TB, b *Backend, cfg outbox.Config, conn string, s outbox.Sender) outbox.Deliverer {
	t.Helper()
	d := b.Deliverer(cfg)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- d.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	})
	d.Start(conn, s, fastPolicy)
	return d
}

// register creates a connector named as its id.
func register(t testing.TB, b *Backend, id string) {
	t.Helper()
	_, err := b.UpdateConnector(t.Context(), id, true, func(c *store.Connector) error {
		c.Name, c.Config = id, json.RawMessage(`{}`)
		return nil
	})
	if err != nil {
		t.Fatalf("register %s: %v", id, err)
	}
}

// change is an upsert of Patient id with content n, sent to conns.
func patientChange(id string, n int, conns ...string) *store.Change {
	rec := patient(id, n)
	ch := &store.Change{Type: rec.Type, ID: rec.ID, Data: rec.Data, Hash: Hash(rec.Data), Source: store.SourceHMS}
	for _, c := range conns {
		ch.Messages = append(ch.Messages, &store.Message{Connector: c, Op: "upsert", Body: string(rec.Data), ContentType: "application/fhir+json"})
	}
	return ch
}

func accept(t testing.TB, b *Backend, batch *store.Batch) []store.Accepted {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	out, err := b.Accept(ctx, batch)
	if err != nil {
		t.Fatalf("Accept: %v", err)
	}
	return out
}

func countsOf(t testing.TB, b *Backend, conn string) store.Counts {
	t.Helper()
	c, err := b.Counts(t.Context(), conn)
	if err != nil {
		t.Fatalf("Counts: %v", err)
	}
	return c
}

// TestBackendConnectors: two gateways on one server; concurrent updates
// of one connector lose nothing, a name stays unique, each sees the
// other's changes through Changed, and a deleted connector is gone with
// its queued messages.
func TestBackendConnectors(t *testing.T) {
	c := startSingle(t)
	b1, b2 := openBackend(t, c, 0, "gw1"), openBackend(t, c, 0, "gw2")
	register(t, b1, "ehr")

	select { // b2 saw b1's registration
	case <-b2.Changed():
	case <-time.After(5 * time.Second):
		t.Fatal("Changed did not fire on the other gateway")
	}

	const writers, each = 4, 10
	var wg sync.WaitGroup
	for w := range writers {
		wg.Go(func() {
			b := []*Backend{b1, b2}[w%2]
			for range each {
				_, err := b.UpdateConnector(t.Context(), "ehr", false, func(c *store.Connector) error {
					n, _ := strconv.Atoi(c.LastError)
					c.LastError = strconv.Itoa(n + 1)
					return nil
				})
				if err != nil {
					t.Errorf("update: %v", err)
				}
			}
		})
	}
	wg.Wait()
	got, err := b2.Connector(t.Context(), "ehr")
	if err != nil || got.LastError != strconv.Itoa(writers*each) {
		t.Fatalf("after %d concurrent increments: %+v, %v", writers*each, got, err)
	}

	_, err = b2.UpdateConnector(t.Context(), "other", true, func(c *store.Connector) error { c.Name = "ehr"; return nil })
	if !errors.Is(err, store.ErrConflict) {
		t.Errorf("second connector named ehr: %v, want ErrConflict", err)
	}
	if _, err := b2.Connector(t.Context(), "other"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("the refused connector exists: %v", err)
	}
	_, err = b1.UpdateConnector(t.Context(), "ehr", false, func(c *store.Connector) error { c.Name = "renamed"; return nil })
	if err != nil {
		t.Fatal(err)
	}
	register(t, b2, "other") // named "other"
	if _, err = b2.UpdateConnector(t.Context(), "other", false, func(c *store.Connector) error { c.Name = "ehr"; return nil }); err != nil {
		t.Errorf("the name ehr after a rename freed it: %v", err)
	}

	accept(t, b1, &store.Batch{Changes: []*store.Change{patientChange("P1", 1, "ehr")}})
	eventually(t, 5*time.Second, "a queued message", func() bool { return countsOf(t, b2, "ehr")[store.Queued] == 1 })
	if err := b2.DeleteConnector(t.Context(), "ehr"); err != nil {
		t.Fatal(err)
	}
	if err := b1.DeleteConnector(t.Context(), "ehr"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("second delete: %v, want ErrNotFound", err)
	}
	if n := countsOf(t, b1, "ehr")[store.Queued]; n != 0 {
		t.Errorf("%d queued after delete, want 0", n)
	}
	cs, err := b1.Connectors(t.Context())
	if err != nil || len(cs) != 1 || cs[0].ID != "other" {
		t.Errorf("Connectors after delete: %+v, %v", cs, err)
	}
}

// recorder is a Sender that answers with answer (nil: 200) and counts
// the sends per message.
type recorder struct {
	mu     sync.Mutex
	sent   map[string]int
	answer func(m outbox.Message) error
}

func newRecorder(answer func(m outbox.Message) error) *recorder {
	return &recorder{sent: map[string]int{}, answer: answer}
}

func (r *recorder) Send(_ context.Context, m outbox.Message) error {
	r.mu.Lock()
	r.sent[m.ID]++
	answer := r.answer
	r.mu.Unlock()
	if answer != nil {
		return answer(m)
	}
	return nil
}

func (r *recorder) count(id string) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.sent[id]
}

// TestBackendAcceptDeliver: a batch accepted by one gateway is delivered
// by the other's deliverer; both see the message's state, the counts,
// the record's sync state and the audit trail the same; a delivery id is
// accepted once; unchanged content sends nothing; a delete of an unknown
// record is ErrNotFound.
func TestBackendAcceptDeliver(t *testing.T) {
	c := startSingle(t)
	b1, b2 := openBackend(t, c, 0, "gw1"), openBackend(t, c, 0, "gw2")
	register(t, b1, "ehr")

	batch := &store.Batch{Connector: "ehr", DeliveryID: "d1", CursorKey: "cursor/ehr/Patient", Cursor: "c1",
		Changes: []*store.Change{patientChange("P1", 1, "ehr"), patientChange("P.2/x", 1, "ehr")}}
	out := accept(t, b1, batch)
	if len(out) != 2 || !out[0].Created || len(out[0].Messages) != 1 || out[1].Version != 1 {
		t.Fatalf("Accept: %+v", out)
	}
	id := out[1].Messages[0]
	m, err := b2.Message(t.Context(), id)
	if err != nil || m.State != store.Queued || m.RecordID != "P.2/x" || m.IdempotencyKey == "" {
		t.Fatalf("Message after Accept: %+v, %v", m, err)
	}
	if _, err := b2.Accept(t.Context(), batch); !errors.Is(err, store.ErrDuplicate) {
		t.Errorf("same delivery id again: %v, want ErrDuplicate", err)
	}
	if cur, _ := b2.Meta(t.Context(), "cursor/ehr/Patient"); string(cur) != "c1" {
		t.Errorf("cursor %q, want c1", cur)
	}
	if n := countsOf(t, b2, "ehr")[store.Queued]; n != 2 {
		t.Errorf("%d queued, want 2", n)
	}

	var attempts atomic.Int64
	sink := newRecorder(nil)
	deliver(t, b2, outbox.Config{
		OnAttempt: func(string, store.State, time.Duration) { attempts.Add(1) },
		Audit: func(m *store.Message, a store.Attempt, st store.State) *store.AuditEntry {
			return &store.AuditEntry{Kind: store.AuditDelivery, RecordType: m.RecordType, RecordID: m.RecordID, Connector: m.Connector, MessageID: m.ID}
		},
	}, "ehr", sink)
	eventually(t, 10*time.Second, "both delivered, as both gateways count", func() bool {
		return countsOf(t, b1, "ehr")[store.Delivered] == 2 && countsOf(t, b2, "ehr")[store.Delivered] == 2
	})
	m, err = b1.Message(t.Context(), id)
	if err != nil || m.State != store.Delivered || len(m.Attempts) != 1 || m.DeliveredAt.IsZero() {
		t.Fatalf("Message after delivery: %+v, %v", m, err)
	}
	ss, err := b1.SyncStates(t.Context(), "Patient", "P.2/x")
	if err != nil || len(ss) != 1 || ss[0].State != store.Delivered || ss[0].MessageID != id {
		t.Errorf("SyncStates: %+v, %v", ss, err)
	}
	if n := attempts.Load(); n != 2 {
		t.Errorf("OnAttempt called %d times, want 2", n)
	}

	out = accept(t, b1, &store.Batch{Changes: []*store.Change{patientChange("P1", 1, "ehr")}})
	if !out[0].Unchanged || len(out[0].Messages) != 0 {
		t.Errorf("same content again: %+v, want unchanged", out[0])
	}
	del := &store.Change{Type: "Patient", ID: "nobody", Deleted: true, Source: store.SourceHMS}
	if _, err := b1.Accept(t.Context(), &store.Batch{Changes: []*store.Change{del}}); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("delete of an unknown record: %v, want ErrNotFound", err)
	}

	es, err := b2.Audit(t.Context(), store.AuditFilter{})
	if err != nil || len(es) != 5 { // 2 accepted, 2 deliveries, 1 unchanged
		t.Fatalf("Audit: %d entries, %v; want 5", len(es), err)
	}
	if es[0].Kind != store.AuditAccept || !es[0].Unchanged || es[0].Seq <= es[1].Seq {
		t.Errorf("Audit, newest first: %+v", es[:2])
	}
	older, err := b2.Audit(t.Context(), store.AuditFilter{Before: es[1].ID(), Kind: store.AuditAccept})
	if err != nil || len(older) != 2 || older[0].RecordID != "P.2/x" {
		t.Errorf("Audit before %s: %+v, %v", es[1].ID(), older, err)
	}
	ms, err := b1.Messages(t.Context(), store.Filter{Connector: "ehr", State: store.Delivered})
	if err != nil || len(ms) != 2 {
		t.Errorf("Messages delivered: %d, %v; want 2", len(ms), err)
	}
}

// TestBackendDeadAndGone: a 400 makes a message dead, counted on every
// gateway and replayable; a 410 disables the connector for every gateway.
func TestBackendDeadAndGone(t *testing.T) {
	c := startSingle(t)
	b1, b2 := openBackend(t, c, 0, "gw1"), openBackend(t, c, 0, "gw2")
	register(t, b1, "ehr")
	var status atomic.Int64
	status.Store(http.StatusBadRequest)
	sink := newRecorder(func(outbox.Message) error {
		if s := int(status.Load()); s != 200 {
			return &outbox.SendError{Status: s}
		}
		return nil
	})
	disabled := make(chan string, 4)
	d := deliver(t, b2, outbox.Config{OnDisabled: func(conn string) { disabled <- conn }}, "ehr", sink)

	out := accept(t, b1, &store.Batch{Changes: []*store.Change{patientChange("P1", 1, "ehr")}})
	id := out[0].Messages[0]
	eventually(t, 10*time.Second, "dead", func() bool {
		m, err := b1.Message(t.Context(), id)
		return err == nil && m.State == store.Dead
	})
	if n := countsOf(t, b1, "ehr")[store.Dead]; n != 1 {
		t.Errorf("%d dead, want 1", n)
	}
	m, err := b1.Message(t.Context(), id)
	if err != nil || m.State != store.Dead || m.Attempts[0].Status != http.StatusBadRequest {
		t.Fatalf("dead message: %+v, %v", m, err)
	}
	if _, err := b1.Replay(t.Context(), out[0].Messages[0]+"x"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("replay of an unknown id: %v, want ErrNotFound", err)
	}
	status.Store(200)
	if _, err := b1.Replay(t.Context(), id); err != nil {
		t.Fatal(err)
	}
	eventually(t, 10*time.Second, "replayed and delivered", func() bool {
		cs := countsOf(t, b1, "ehr")
		return cs[store.Delivered] == 1 && cs[store.Dead] == 0
	})
	if _, err := b1.Replay(t.Context(), id); !errors.Is(err, store.ErrConflict) {
		t.Errorf("replay of a delivered message: %v, want ErrConflict", err)
	}

	status.Store(http.StatusGone)
	for len(b1.Changed()) > 0 {
		<-b1.Changed()
	}
	accept(t, b1, &store.Batch{Changes: []*store.Change{patientChange("P1", 2, "ehr")}})
	select {
	case conn := <-disabled:
		if conn != "ehr" {
			t.Errorf("OnDisabled(%q)", conn)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("not disabled after a 410")
	}
	select {
	case <-b1.Changed():
	case <-time.After(5 * time.Second):
		t.Error("the other gateway was not told")
	}
	conn, err := b1.Connector(t.Context(), "ehr")
	if err != nil || !conn.Disabled || conn.LastError == "" {
		t.Errorf("connector after a 410: %+v, %v", conn, err)
	}
	eventually(t, 5*time.Second, "stopped on the gateway that got the 410", func() bool { return !d.Status("ehr").Running })
	if n := countsOf(t, b1, "ehr")[store.Failed]; n != 1 {
		t.Errorf("%d failed after a 410, want 1 (kept for when it is enabled)", n)
	}
}

// With its server gone, Accept says the store is unavailable for the
// moment (the gateway's 503 with Retry-After), not that it failed.
func TestAcceptUnavailable(t *testing.T) {
	c := startSingle(t)
	b := openBackend(t, c, 0, "gw")
	register(t, b, "c1")
	c.stop(0)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	_, err := b.Accept(ctx, &store.Batch{Changes: []*store.Change{patientChange("P1", 1, "c1")}})
	if !errors.Is(err, store.ErrUnavailable) {
		t.Fatalf("Accept with the server down: %v, want store.ErrUnavailable", err)
	}
}
