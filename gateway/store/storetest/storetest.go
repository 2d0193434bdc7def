// Package storetest is the conformance suite of store.Backend: what the
// gateway relies on, checked the same way on every backend (bbolt,
// JetStream). A backend's tests call Run with a function that opens a
// fresh, empty backend:
//
//	func TestConformance(t *testing.T) {
//		storetest.Run(t, func(t *testing.T) storetest.Harness {
//			st, err := store.Open(t.TempDir(), store.Options{NoSync: true})
//			...
//			return storetest.Harness{Backend: st, Deliverer: ...}
//		})
//	}
package storetest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/liaisonhq/liaison/gateway/outbox"
	"github.com/liaisonhq/liaison/gateway/store"
)

// Harness is one fresh backend under test.
type Harness struct {
	Backend store.Backend
	// Deliverer returns the backend's deliverer with the config.
	Deliverer func(cfg outbox.Config) outbox.Deliverer
}

// wait bounds every wait for something asynchronous (a delivery).
const wait = 30 * time.Second

// Run runs the suite; each subtest opens its own backend with open,
// which registers its own cleanup.
func Run(t *testing.T, open func(t *testing.T) Harness) {
	tests := []struct {
		name string
		fn   func(t *testing.T, h Harness)
	}{
		{"Connectors", testConnectors},
		{"ConnectorUpdatesDoNotLoseEachOther", testConcurrentConnectorUpdates},
		{"AcceptVersions", testAcceptVersions},
		{"AcceptDeletes", testAcceptDeletes},
		{"AcceptDeliveryIDAndCursor", testDeliveryID},
		{"Meta", testMeta},
		{"Lease", testLease},
		{"Messages", testMessages},
		{"CountsAndSyncStates", testCounts},
		{"AuditOfAccepts", testAuditAccepts},
		{"DeliveryInOrderPerRecord", testDelivery},
		{"DeadAndReplay", testDeadReplay},
		{"RetryNow", testRetryNow},
		{"GoneDisables", testGone},
		{"DeleteConnectorDropsItsQueue", testDeleteConnector},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) { tc.fn(t, open(t)) })
	}
}

func ctx(t *testing.T) context.Context {
	c, cancel := context.WithTimeout(context.Background(), 2*wait)
	t.Cleanup(cancel)
	return c
}

// register stores a connector named name.
func register(t *testing.T, b store.Backend, id, name string) {
	t.Helper()
	_, err := b.UpdateConnector(ctx(t), id, true, func(c *store.Connector) error {
		c.Name, c.Config = name, json.RawMessage(`{"name":"`+name+`"}`)
		return nil
	})
	if err != nil {
		t.Fatalf("register %s: %v", id, err)
	}
}

// change is an upsert of an Appointment with one message per connector.
func change(id, status string, conns ...string) *store.Change {
	data := json.RawMessage(fmt.Sprintf(`{"appointmentId":%q,"status":%q}`, id, status))
	ch := &store.Change{Type: "Appointment", ID: id, Data: data, Hash: "h-" + status, Source: store.SourceHMS}
	for _, c := range conns {
		ch.Messages = append(ch.Messages, &store.Message{Connector: c, RecordType: "Appointment", RecordID: id, Op: "upsert",
			Body: fmt.Sprintf(`{"resourceType":"Appointment","id":%q,"status":%q}`, id, status), ContentType: "application/fhir+json"})
	}
	return ch
}

func accept(t *testing.T, b store.Backend, chs ...*store.Change) []store.Accepted {
	t.Helper()
	out, err := b.Accept(ctx(t), &store.Batch{Changes: chs})
	if err != nil {
		t.Fatalf("accept: %v", err)
	}
	if len(out) != len(chs) {
		t.Fatalf("accept: %d results for %d changes", len(out), len(chs))
	}
	return out
}

func testConnectors(t *testing.T, h Harness) {
	b := h.Backend
	if _, err := b.Connector(ctx(t), "c1"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("missing connector: %v, want ErrNotFound", err)
	}
	if _, err := b.UpdateConnector(ctx(t), "c1", false, func(*store.Connector) error { return nil }); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("update without create of a missing connector: %v, want ErrNotFound", err)
	}
	register(t, b, "c1", "EHR")
	register(t, b, "c2", "Scheduler")
	c, err := b.Connector(ctx(t), "c1")
	if err != nil || c.ID != "c1" || c.Name != "EHR" || c.CreatedAt.IsZero() || c.UpdatedAt.IsZero() {
		t.Fatalf("connector c1 = %+v, %v", c, err)
	}
	if string(c.Config) != `{"name":"EHR"}` {
		t.Errorf("config = %s", c.Config)
	}
	// A second connector cannot take a name in use.
	_, err = b.UpdateConnector(ctx(t), "c3", true, func(c *store.Connector) error { c.Name = "EHR"; return nil })
	if !errors.Is(err, store.ErrConflict) {
		t.Errorf("a second connector named EHR: %v, want ErrConflict", err)
	}
	// fn's error is returned as is, and nothing is stored.
	refusal := errors.New("refused")
	_, err = b.UpdateConnector(ctx(t), "c1", false, func(c *store.Connector) error { c.Paused = true; return refusal })
	if !errors.Is(err, refusal) {
		t.Errorf("fn's error: %v", err)
	}
	if c, _ := b.Connector(ctx(t), "c1"); c == nil || c.Paused {
		t.Errorf("an update whose fn failed was stored: %+v", c)
	}
	created := c.CreatedAt
	c, err = b.UpdateConnector(ctx(t), "c1", false, func(c *store.Connector) error { c.Paused = true; return nil })
	if err != nil || !c.Paused || !c.CreatedAt.Equal(created) {
		t.Fatalf("pause: %+v, %v", c, err)
	}
	cs, err := b.Connectors(ctx(t))
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, c := range cs {
		ids = append(ids, c.ID)
	}
	slices.Sort(ids)
	if !slices.Equal(ids, []string{"c1", "c2"}) {
		t.Errorf("connectors = %v", ids)
	}
	if err := b.DeleteConnector(ctx(t), "c2"); err != nil {
		t.Fatal(err)
	}
	if err := b.DeleteConnector(ctx(t), "c2"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("deleting twice: %v, want ErrNotFound", err)
	}
	if _, err := b.Connector(ctx(t), "c2"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("deleted connector: %v", err)
	}
}

func testConcurrentConnectorUpdates(t *testing.T, h Harness) {
	b := h.Backend
	register(t, b, "c1", "EHR")
	const writers, each = 4, 5
	var wg sync.WaitGroup
	for w := range writers {
		wg.Go(func() {
			for i := range each {
				_, err := b.UpdateConnector(ctx(t), "c1", false, func(c *store.Connector) error {
					c.LastError += fmt.Sprintf("[%d.%d]", w, i)
					return nil
				})
				if err != nil {
					t.Errorf("update: %v", err)
				}
			}
		})
	}
	wg.Wait()
	c, err := b.Connector(ctx(t), "c1")
	if err != nil {
		t.Fatal(err)
	}
	for w := range writers {
		for i := range each {
			if mark := fmt.Sprintf("[%d.%d]", w, i); !strings.Contains(c.LastError, mark) {
				t.Errorf("update %s lost: %q", mark, c.LastError)
			}
		}
	}
}

func testAcceptVersions(t *testing.T, h Harness) {
	b := h.Backend
	register(t, b, "c1", "EHR")
	a := accept(t, b, change("A1", "booked", "c1"))[0]
	if a.Version != 1 || !a.Created || a.Unchanged || len(a.Messages) != 1 {
		t.Fatalf("first change: %+v", a)
	}
	rec, err := b.Record(ctx(t), "Appointment", "A1")
	if err != nil || rec.Version != 1 || rec.Hash != "h-booked" || rec.Source != store.SourceHMS || rec.Deleted || rec.UpdatedAt.IsZero() {
		t.Fatalf("record: %+v, %v", rec, err)
	}
	var data map[string]any
	if err := json.Unmarshal(rec.Data, &data); err != nil || data["status"] != "booked" {
		t.Errorf("record data %s: %v", rec.Data, err)
	}
	// The same content again: nothing stored, nothing sent.
	a = accept(t, b, change("A1", "booked", "c1"))[0]
	if a.Version != 1 || !a.Unchanged || a.Created || len(a.Messages) != 0 {
		t.Errorf("unchanged: %+v", a)
	}
	// A → B → A: three changes, three keys.
	keys := map[string]bool{}
	m0, err := b.Messages(ctx(t), store.Filter{Connector: "c1"})
	if err != nil || len(m0) != 1 {
		t.Fatalf("messages after the first change: %d, %v", len(m0), err)
	}
	keys[m0[0].IdempotencyKey] = true
	for i, status := range []string{"cancelled", "booked"} {
		a = accept(t, b, change("A1", status, "c1"))[0]
		if a.Version != int64(i+2) || a.Unchanged || a.Created || len(a.Messages) != 1 {
			t.Fatalf("change to %s: %+v", status, a)
		}
		m, err := b.Message(ctx(t), a.Messages[0])
		if err != nil {
			t.Fatal(err)
		}
		want := store.IdempotencyKey(store.SourceHMS, "c1", "Appointment", "A1", "upsert", "h-"+status, a.Version)
		if m.IdempotencyKey != want {
			t.Errorf("version %d: idempotency key %s, want store.IdempotencyKey(...) = %s", a.Version, m.IdempotencyKey, want)
		}
		if keys[m.IdempotencyKey] {
			t.Errorf("version %d reuses an earlier change's idempotency key", a.Version)
		}
		keys[m.IdempotencyKey] = true
	}
	if rec, _ := b.Record(ctx(t), "Appointment", "A1"); rec == nil || rec.Version != 3 || rec.Hash != "h-booked" {
		t.Errorf("record after A→B→A: %+v", rec)
	}
	if _, err := b.Record(ctx(t), "Appointment", "nope"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("missing record: %v, want ErrNotFound", err)
	}
	// A change from a connector keeps its source.
	ch := change("A2", "booked")
	ch.Source = "c1"
	accept(t, b, ch)
	if rec, _ := b.Record(ctx(t), "Appointment", "A2"); rec == nil || rec.Source != "c1" {
		t.Errorf("source: %+v", rec)
	}
}

func testAcceptDeletes(t *testing.T, h Harness) {
	b := h.Backend
	register(t, b, "c1", "EHR")
	accept(t, b, change("A1", "booked", "c1"))
	del := &store.Change{Type: "Appointment", ID: "A1", Deleted: true, Hash: "deleted-1", Source: store.SourceHMS,
		Messages: []*store.Message{{Connector: "c1", RecordType: "Appointment", RecordID: "A1", Op: "delete"}}}
	a := accept(t, b, del)[0]
	if a.Version != 2 || a.Unchanged || len(a.Messages) != 1 {
		t.Fatalf("delete: %+v", a)
	}
	rec, err := b.Record(ctx(t), "Appointment", "A1")
	if err != nil || !rec.Deleted || rec.Version != 2 {
		t.Fatalf("deleted record: %+v, %v", rec, err)
	}
	if a := accept(t, b, del)[0]; !a.Unchanged || a.Version != 2 || len(a.Messages) != 0 {
		t.Errorf("deleting a deleted record: %+v", a)
	}
	ghost := &store.Change{Type: "Appointment", ID: "never", Deleted: true, Hash: "deleted-0", Source: store.SourceHMS}
	if _, err := b.Accept(ctx(t), &store.Batch{Changes: []*store.Change{ghost}}); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("deleting a record that never existed: %v, want ErrNotFound", err)
	}
	// Back from the dead: a new version.
	if a := accept(t, b, change("A1", "booked", "c1"))[0]; a.Version != 3 || a.Unchanged {
		t.Errorf("upsert after delete: %+v", a)
	}
}

func testDeliveryID(t *testing.T, h Harness) {
	b := h.Backend
	register(t, b, "c1", "EHR")
	batch := &store.Batch{Changes: []*store.Change{change("A1", "booked"), change("A2", "booked")}, Connector: "c1", DeliveryID: "msg_1",
		CursorKey: "cursor/c1/Appointment", Cursor: "2024-06-15T09:30:00Z"}
	if seen, err := b.Seen(ctx(t), "c1", "msg_1"); err != nil || seen {
		t.Fatalf("seen before: %v, %v", seen, err)
	}
	out, err := b.Accept(ctx(t), batch)
	if err != nil || len(out) != 2 || out[0].Version != 1 || out[1].Version != 1 {
		t.Fatalf("accept: %+v, %v", out, err)
	}
	if seen, err := b.Seen(ctx(t), "c1", "msg_1"); err != nil || !seen {
		t.Errorf("seen after: %v, %v", seen, err)
	}
	if seen, _ := b.Seen(ctx(t), "c2", "msg_1"); seen {
		t.Errorf("another connector's delivery id counted as seen")
	}
	if cur, err := b.Meta(ctx(t), "cursor/c1/Appointment"); err != nil || string(cur) != "2024-06-15T09:30:00Z" {
		t.Errorf("cursor: %q, %v", cur, err)
	}
	batch.Changes = []*store.Change{change("A1", "cancelled")}
	if _, err := b.Accept(ctx(t), batch); !errors.Is(err, store.ErrDuplicate) {
		t.Fatalf("the same delivery again: %v, want ErrDuplicate", err)
	}
	if rec, _ := b.Record(ctx(t), "Appointment", "A1"); rec == nil || rec.Version != 1 {
		t.Errorf("a duplicate delivery changed the record: %+v", rec)
	}
}

func testMeta(t *testing.T, h Harness) {
	b := h.Backend
	if v, err := b.Meta(ctx(t), "admin-token-sha256"); err != nil || v != nil {
		t.Fatalf("missing meta: %q, %v", v, err)
	}
	for _, name := range []string{"admin-token-sha256", "cursor/0a1b/Appointment", "subscription/x y/Patient"} {
		value := []byte{0, 1, 2, 0xff, 'v'}
		value = append(value, name...)
		if err := b.PutMeta(ctx(t), name, value); err != nil {
			t.Fatalf("put %q: %v", name, err)
		}
		if got, err := b.Meta(ctx(t), name); err != nil || string(got) != string(value) {
			t.Errorf("meta %q = %q, %v", name, got, err)
		}
	}
	if err := b.PutMeta(ctx(t), "admin-token-sha256", []byte("second")); err != nil {
		t.Fatal(err)
	}
	if got, _ := b.Meta(ctx(t), "admin-token-sha256"); string(got) != "second" {
		t.Errorf("overwritten meta = %q", got)
	}
}

func testLease(t *testing.T, h Harness) {
	b := h.Backend
	lease := func(holder string, ttl time.Duration) bool {
		t.Helper()
		held, err := b.Lease(ctx(t), "poll/c1", holder, ttl)
		if err != nil {
			t.Fatalf("lease for %s: %v", holder, err)
		}
		return held
	}
	if !lease("gw-a", 300*time.Millisecond) {
		t.Fatal("a free lease was refused")
	}
	if lease("gw-b", time.Minute) {
		t.Fatal("a running lease was given to another holder")
	}
	if !lease("gw-a", 300*time.Millisecond) {
		t.Fatal("the holder could not renew its lease")
	}
	if held, _ := b.Lease(ctx(t), "poll/c2", "gw-b", time.Minute); !held {
		t.Error("another lease name was refused")
	}
	time.Sleep(400 * time.Millisecond) // the lease runs out
	if !lease("gw-b", time.Minute) {
		t.Fatal("a lease that ran out was refused")
	}
	if lease("gw-a", time.Minute) {
		t.Fatal("the old holder took back a lease another holder has")
	}
	// Many claims at once: exactly one wins.
	var mu sync.Mutex
	winners := 0
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Go(func() {
			held, err := b.Lease(ctx(t), "race", fmt.Sprintf("gw-%d", i), time.Minute)
			if err != nil {
				t.Errorf("lease: %v", err)
			}
			if held {
				mu.Lock()
				winners++
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if winners != 1 {
		t.Errorf("%d holders got one lease at once", winners)
	}
}

func testMessages(t *testing.T, h Harness) {
	b := h.Backend
	register(t, b, "c1", "EHR")
	register(t, b, "c2", "Scheduler")
	var ids []string // oldest first
	for i := range 12 {
		a := accept(t, b, change(fmt.Sprintf("A%02d", i), "booked", "c1", "c2"))[0]
		if len(a.Messages) != 2 {
			t.Fatalf("change %d: %d messages", i, len(a.Messages))
		}
		ids = append(ids, a.Messages...)
	}
	if slices.Contains(ids, "") {
		t.Fatalf("empty message id in %v", ids)
	}
	m, err := b.Message(ctx(t), ids[0])
	if err != nil {
		t.Fatal(err)
	}
	if m.ID != ids[0] || m.State != store.Queued || m.RecordType != "Appointment" || m.RecordID != "A00" || m.Op != "upsert" ||
		m.ContentType != "application/fhir+json" || m.CreatedAt.IsZero() || m.IdempotencyKey == "" || len(m.Attempts) != 0 {
		t.Errorf("message = %+v", m)
	}
	if _, err := b.Message(ctx(t), "no-such-message"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("missing message: %v, want ErrNotFound", err)
	}
	// One connector's messages, newest first, in pages.
	var got []string
	f := store.Filter{Connector: "c1", Limit: 5}
	for page := 0; page < 10; page++ {
		ms, err := b.Messages(ctx(t), f)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range ms {
			if m.Connector != "c1" {
				t.Fatalf("filter by connector: got %s's message", m.Connector)
			}
			got = append(got, m.RecordID)
		}
		if len(ms) < f.Limit {
			break
		}
		f.Before = ms[len(ms)-1].ID
	}
	want := []string{}
	for i := 11; i >= 0; i-- {
		want = append(want, fmt.Sprintf("A%02d", i))
	}
	if !slices.Equal(got, want) {
		t.Errorf("c1's messages by pages of 5, newest first:\n got %v\nwant %v", got, want)
	}
	ms, err := b.Messages(ctx(t), store.Filter{State: store.Queued, RecordType: "Appointment", RecordID: "A03"})
	if err != nil || len(ms) != 2 {
		t.Fatalf("queued messages of A03: %d, %v", len(ms), err)
	}
	for _, m := range ms {
		if m.RecordID != "A03" || m.State != store.Queued {
			t.Errorf("filter by record and state: %+v", m)
		}
	}
	if ms, _ := b.Messages(ctx(t), store.Filter{State: store.Dead}); len(ms) != 0 {
		t.Errorf("%d dead messages, want none", len(ms))
	}
}

func testCounts(t *testing.T, h Harness) {
	b := h.Backend
	register(t, b, "c1", "EHR")
	before := time.Now().Add(-time.Second)
	for i := range 5 {
		accept(t, b, change(fmt.Sprintf("A%d", i), "booked", "c1"))
	}
	a := accept(t, b, change("A0", "cancelled", "c1"))[0]
	counts, err := b.Counts(ctx(t), "c1")
	if err != nil {
		t.Fatal(err)
	}
	if counts[store.Queued] != 6 || counts[store.Failed] != 0 || counts[store.Delivered] != 0 || counts[store.Dead] != 0 {
		t.Errorf("counts = %v, want 6 queued", counts)
	}
	oldest, ok, err := b.OldestUndelivered(ctx(t), "c1")
	if err != nil || !ok || oldest.Before(before) || oldest.After(time.Now().Add(time.Second)) {
		t.Errorf("oldest undelivered = %v, %v, %v", oldest, ok, err)
	}
	if _, ok, _ := b.OldestUndelivered(ctx(t), "c2"); ok {
		t.Errorf("an unknown connector has an oldest undelivered message")
	}
	states, err := b.SyncStates(ctx(t), "Appointment", "A0")
	if err != nil || len(states) != 1 {
		t.Fatalf("sync states of A0: %+v, %v", states, err)
	}
	if s := states[0]; s.Connector != "c1" || s.MessageID != a.Messages[0] || s.State != store.Queued {
		t.Errorf("A0 at c1 = %+v, want its latest message %s, queued", s, a.Messages[0])
	}
	if states, _ := b.SyncStates(ctx(t), "Appointment", "nope"); len(states) != 0 {
		t.Errorf("sync states of a missing record: %+v", states)
	}
}

func testAuditAccepts(t *testing.T, h Harness) {
	b := h.Backend
	register(t, b, "c1", "EHR")
	ch := change("A1", "booked", "c1")
	ch.RequestID, ch.Address = "req-1", "127.0.0.1"
	accept(t, b, ch)
	accept(t, b, change("A1", "booked", "c1"))
	accept(t, b, change("A1", "cancelled", "c1"))
	accept(t, b, &store.Change{Type: "Appointment", ID: "A1", Deleted: true, Hash: "deleted-2", Source: "c1"})
	accept(t, b, change("A2", "booked", "c1"))
	es, err := b.Audit(ctx(t), store.AuditFilter{RecordID: "A1"})
	if err != nil {
		t.Fatal(err)
	}
	type row struct {
		interaction string
		version     int64
		unchanged   bool
		connector   string
	}
	var got []row
	for _, e := range es {
		if e.Kind != store.AuditAccept || e.RecordType != "Appointment" || e.At.IsZero() || e.ID() == "" {
			t.Errorf("entry %+v", e)
		}
		got = append(got, row{e.Interaction, e.Version, e.Unchanged, e.Connector})
	}
	want := []row{{"delete", 3, false, "c1"}, {"update", 2, false, ""}, {"update", 1, true, ""}, {"create", 1, false, ""}}
	if !slices.Equal(got, want) {
		t.Errorf("A1's audit entries, newest first:\n got %+v\nwant %+v", got, want)
	}
	if n := len(es); n > 0 && (es[n-1].RequestID != "req-1" || es[n-1].Address != "127.0.0.1" || es[n-1].Agent != store.SourceHMS) {
		t.Errorf("first entry: %+v", es[n-1])
	}
	// Pages of two, newest first, over every entry.
	var all []string
	f := store.AuditFilter{Limit: 2}
	for page := 0; page < 10; page++ {
		es, err := b.Audit(ctx(t), f)
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range es {
			all = append(all, e.RecordID+":"+e.Interaction)
		}
		if len(es) < f.Limit {
			break
		}
		f.Before = es[len(es)-1].ID()
	}
	wantAll := []string{"A2:create", "A1:delete", "A1:update", "A1:update", "A1:create"}
	if !slices.Equal(all, wantAll) {
		t.Errorf("every entry by pages of 2:\n got %v\nwant %v", all, wantAll)
	}
	if es, _ := b.Audit(ctx(t), store.AuditFilter{Kind: store.AuditDelivery}); len(es) != 0 {
		t.Errorf("%d delivery entries before any delivery", len(es))
	}
}

// recorder is a connector that answers with answer(m) and remembers what
// it took, in order.
type recorder struct {
	mu     sync.Mutex
	got    []outbox.Message
	answer func(m outbox.Message) error
}

func (r *recorder) Send(ctx context.Context, m outbox.Message) error {
	if r.answer != nil {
		if err := r.answer(m); err != nil {
			return err
		}
	}
	r.mu.Lock()
	r.got = append(r.got, m)
	r.mu.Unlock()
	return nil
}

func (r *recorder) taken() []outbox.Message {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.got)
}

// deliver runs the harness's deliverer until the test ends.
func deliver(t *testing.T, h Harness, cfg outbox.Config) outbox.Deliverer {
	d := h.Deliverer(cfg)
	c, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { d.Run(c); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
	return d
}

// eventually waits, bounded, until cond holds.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(wait)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("after %v: %s", wait, what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func counts(t *testing.T, b store.Backend, conn string) store.Counts {
	c, err := b.Counts(ctx(t), conn)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

var fast = outbox.Policy{InitialBackoff: 20 * time.Millisecond, MaxBackoff: 100 * time.Millisecond, Timeout: 5 * time.Second, Concurrency: 4, BreakerCooldown: 50 * time.Millisecond}

func testDelivery(t *testing.T, h Harness) {
	b := h.Backend
	register(t, b, "c1", "EHR")
	const records, versions = 6, 4
	for v := range versions {
		for r := range records {
			accept(t, b, change(fmt.Sprintf("A%d", r), fmt.Sprintf("s%d", v), "c1"))
		}
	}
	var audited sync.Map
	var attemptsMu sync.Mutex
	attempts := map[store.State]int{}
	cfg := outbox.Config{
		OnAttempt: func(conn string, st store.State, took time.Duration) {
			attemptsMu.Lock()
			attempts[st]++
			attemptsMu.Unlock()
		},
		Audit: func(m *store.Message, a store.Attempt, st store.State) *store.AuditEntry {
			audited.Store(m.ID, st)
			return &store.AuditEntry{Kind: store.AuditDelivery, Interaction: "update", RecordType: m.RecordType, RecordID: m.RecordID,
				Agent: "liaison", Connector: m.Connector, MessageID: m.ID, Status: a.Status}
		},
	}
	// Some failures on the way, which must not reorder a record's changes.
	var mu sync.Mutex
	failed := map[string]bool{}
	rec := &recorder{answer: func(m outbox.Message) error {
		mu.Lock()
		defer mu.Unlock()
		if len(failed) < 5 && !failed[m.ID] && m.RecordID != "A5" {
			failed[m.ID] = true
			return &outbox.SendError{Status: 503}
		}
		return nil
	}}
	d := deliver(t, h, cfg)
	d.Start("c1", rec, fast)
	d.Notify("c1")
	eventually(t, "every message delivered", func() bool { return counts(t, b, "c1")[store.Delivered] == records*versions })
	got := rec.taken()
	if len(got) != records*versions {
		t.Errorf("the connector took %d messages, want %d (no duplicates after a success)", len(got), records*versions)
	}
	last := map[string]int{}
	for _, m := range got {
		var body struct{ Status string }
		json.Unmarshal(m.Body, &body)
		var v int
		fmt.Sscanf(body.Status, "s%d", &v)
		if prev, ok := last[m.RecordID]; ok && v <= prev {
			t.Errorf("%s: version s%d delivered after s%d", m.RecordID, v, prev)
		}
		last[m.RecordID] = v
		if m.IdempotencyKey == "" || m.Attempt < 1 {
			t.Errorf("message %s: key %q, attempt %d", m.ID, m.IdempotencyKey, m.Attempt)
		}
	}
	c := counts(t, b, "c1")
	if c[store.Queued] != 0 || c[store.Failed] != 0 || c[store.Dead] != 0 {
		t.Errorf("counts after delivery = %v", c)
	}
	if _, ok, _ := b.OldestUndelivered(ctx(t), "c1"); ok {
		t.Errorf("an undelivered message is left")
	}
	states, err := b.SyncStates(ctx(t), "Appointment", "A0")
	if err != nil || len(states) != 1 || states[0].State != store.Delivered {
		t.Errorf("A0's sync state after delivery: %+v, %v", states, err)
	}
	ms, err := b.Messages(ctx(t), store.Filter{Connector: "c1", State: store.Delivered, Limit: 100})
	if err != nil || len(ms) != records*versions {
		t.Fatalf("delivered messages: %d, %v", len(ms), err)
	}
	retried := 0
	for _, m := range ms {
		if m.DeliveredAt.IsZero() || len(m.Attempts) == 0 {
			t.Errorf("delivered message %s: deliveredAt %v, %d attempts", m.ID, m.DeliveredAt, len(m.Attempts))
		}
		if len(m.Attempts) > 1 {
			retried++
			if m.Attempts[0].Status != 503 {
				t.Errorf("message %s: first attempt %+v, want the 503", m.ID, m.Attempts[0])
			}
		}
		if st, ok := audited.Load(m.ID); !ok || st != store.Delivered {
			t.Errorf("message %s: audited as %v", m.ID, st)
		}
	}
	if retried != 5 {
		t.Errorf("%d messages show a retried attempt, want 5", retried)
	}
	eventually(t, "OnAttempt called for every attempt", func() bool {
		attemptsMu.Lock()
		defer attemptsMu.Unlock()
		return attempts[store.Delivered] == records*versions && attempts[store.Failed] == 5
	})
	eventually(t, "one audit entry per attempt", func() bool {
		es, err := b.Audit(ctx(t), store.AuditFilter{Kind: store.AuditDelivery, Limit: 1000})
		return err == nil && len(es) == records*versions+5
	})
}

func testDeadReplay(t *testing.T, h Harness) {
	b := h.Backend
	register(t, b, "c1", "EHR")
	var mu sync.Mutex
	refuse := true
	rec := &recorder{answer: func(m outbox.Message) error {
		mu.Lock()
		defer mu.Unlock()
		if refuse && m.RecordID == "bad" {
			return &outbox.SendError{Status: 400, Response: []byte(`{"resourceType":"OperationOutcome"}`)}
		}
		return nil
	}}
	d := deliver(t, h, outbox.Config{})
	d.Start("c1", rec, fast)
	bad := accept(t, b, change("bad", "booked", "c1"))[0].Messages[0]
	accept(t, b, change("good", "booked", "c1"))
	d.Notify("c1")
	eventually(t, "one dead, one delivered", func() bool {
		c := counts(t, b, "c1")
		return c[store.Dead] == 1 && c[store.Delivered] == 1
	})
	m, err := b.Message(ctx(t), bad)
	if err != nil || m.State != store.Dead || len(m.Attempts) != 1 || m.Attempts[0].Status != 400 || m.LastError == "" {
		t.Fatalf("dead message: %+v, %v", m, err)
	}
	if ms, _ := b.Messages(ctx(t), store.Filter{Connector: "c1", State: store.Dead}); len(ms) != 1 || ms[0].ID != bad {
		t.Errorf("dead messages: %+v", ms)
	}
	if states, _ := b.SyncStates(ctx(t), "Appointment", "bad"); len(states) != 1 || states[0].State != store.Dead {
		t.Errorf("sync state of the dead record: %+v", states)
	}
	good, _ := b.Messages(ctx(t), store.Filter{Connector: "c1", State: store.Delivered})
	if len(good) != 1 {
		t.Fatalf("delivered: %+v", good)
	}
	if _, err := b.Replay(ctx(t), good[0].ID); !errors.Is(err, store.ErrConflict) {
		t.Errorf("replaying a delivered message: %v, want ErrConflict", err)
	}
	if _, err := b.Replay(ctx(t), "no-such-message"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("replaying a missing message: %v, want ErrNotFound", err)
	}
	mu.Lock()
	refuse = false
	mu.Unlock()
	m, err = b.Replay(ctx(t), bad)
	if err != nil || m.ID != bad || m.State != store.Queued {
		t.Fatalf("replay: %+v, %v", m, err)
	}
	d.Notify("c1")
	eventually(t, "the replayed message delivered", func() bool {
		m, err := b.Message(ctx(t), bad)
		return err == nil && m.State == store.Delivered
	})
	if c := counts(t, b, "c1"); c[store.Dead] != 0 || c[store.Delivered] != 2 {
		t.Errorf("counts after replay = %v", c)
	}
	if m, _ := b.Message(ctx(t), bad); m == nil || len(m.Attempts) != 2 {
		t.Errorf("replayed message keeps its attempts: %+v", m)
	}
	// ReplayDead, for several.
	mu.Lock()
	refuse = true
	mu.Unlock()
	for i := range 3 {
		accept(t, b, change("bad", fmt.Sprintf("v%d", i), "c1"))
	}
	d.Notify("c1")
	eventually(t, "three dead", func() bool { return counts(t, b, "c1")[store.Dead] == 3 })
	mu.Lock()
	refuse = false
	mu.Unlock()
	n, err := b.ReplayDead(ctx(t), "c1")
	if err != nil || n != 3 {
		t.Fatalf("replay dead: %d, %v", n, err)
	}
	d.Notify("c1")
	eventually(t, "all delivered", func() bool { return counts(t, b, "c1")[store.Delivered] == 5 })
	if c := counts(t, b, "c1"); c[store.Dead] != 0 || c[store.Queued] != 0 || c[store.Failed] != 0 {
		t.Errorf("counts after replaying the dead = %v", c)
	}
}

func testRetryNow(t *testing.T, h Harness) {
	b := h.Backend
	register(t, b, "c1", "EHR")
	var mu sync.Mutex
	down := true
	rec := &recorder{answer: func(m outbox.Message) error {
		mu.Lock()
		defer mu.Unlock()
		if down {
			return &outbox.SendError{Status: 503}
		}
		return nil
	}}
	d := deliver(t, h, outbox.Config{})
	// A backoff far longer than the test: only RetryNow brings it back.
	slow := outbox.Policy{InitialBackoff: time.Hour, MaxBackoff: time.Hour, Timeout: 5 * time.Second, Concurrency: 2, BreakerCooldown: time.Hour}
	d.Start("c1", rec, slow)
	id := accept(t, b, change("A1", "booked", "c1"))[0].Messages[0]
	d.Notify("c1")
	eventually(t, "the message failed once", func() bool {
		m, err := b.Message(ctx(t), id)
		return err == nil && m.State == store.Failed && len(m.Attempts) >= 1
	})
	if c := counts(t, b, "c1"); c[store.Failed] != 1 {
		t.Errorf("counts = %v, want one failed", c)
	}
	mu.Lock()
	down = false
	mu.Unlock()
	n, err := b.RetryNow(ctx(t), "c1")
	if err != nil || n != 1 {
		t.Fatalf("retry now: %d, %v", n, err)
	}
	d.RetryNow("c1")
	eventually(t, "delivered after RetryNow", func() bool {
		m, err := b.Message(ctx(t), id)
		return err == nil && m.State == store.Delivered
	})
}

func testGone(t *testing.T, h Harness) {
	b := h.Backend
	register(t, b, "c1", "EHR")
	disabled := make(chan string, 1)
	d := deliver(t, h, outbox.Config{OnDisabled: func(conn string) { disabled <- conn }})
	d.Start("c1", &recorder{answer: func(outbox.Message) error { return &outbox.SendError{Status: 410} }}, fast)
	accept(t, b, change("A1", "booked", "c1"))
	d.Notify("c1")
	select {
	case conn := <-disabled:
		if conn != "c1" {
			t.Errorf("OnDisabled(%q)", conn)
		}
	case <-time.After(wait):
		t.Fatal("a 410 did not disable the connector")
	}
	c, err := b.Connector(ctx(t), "c1")
	if err != nil || !c.Disabled || c.LastError == "" {
		t.Errorf("connector after 410: %+v, %v", c, err)
	}
	if n := counts(t, b, "c1"); n[store.Delivered] != 0 || n[store.Dead] != 0 || n[store.Queued]+n[store.Failed] != 1 {
		t.Errorf("counts after 410 = %v: the message waits for the connector to come back", n)
	}
}

func testDeleteConnector(t *testing.T, h Harness) {
	b := h.Backend
	register(t, b, "c1", "EHR")
	register(t, b, "c2", "Scheduler")
	for i := range 3 {
		accept(t, b, change(fmt.Sprintf("A%d", i), "booked", "c1", "c2"))
	}
	if err := b.DeleteConnector(ctx(t), "c1"); err != nil {
		t.Fatal(err)
	}
	if c := counts(t, b, "c1"); c[store.Queued] != 0 {
		t.Errorf("the deleted connector still has %d queued", c[store.Queued])
	}
	if ms, _ := b.Messages(ctx(t), store.Filter{Connector: "c1", State: store.Queued}); len(ms) != 0 {
		t.Errorf("the deleted connector's queued messages are listed: %d", len(ms))
	}
	if c := counts(t, b, "c2"); c[store.Queued] != 3 {
		t.Errorf("the other connector's queue = %v", c)
	}
	// The records stay.
	if _, err := b.Record(ctx(t), "Appointment", "A0"); err != nil {
		t.Errorf("record after deleting a connector: %v", err)
	}
}
