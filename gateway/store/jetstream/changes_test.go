package jetstream

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	natsjs "github.com/nats-io/nats.go/jetstream"

	"github.com/liaisonhq/liaison/gateway/outbox"
	"github.com/liaisonhq/liaison/gateway/store"
)

// changesConfig is testConfig with a short RelayAckWait.
func changesConfig(partitions int) Config {
	c := testConfig(partitions)
	c.RelayAckWait = time.Second
	return c
}

// newChanges returns a Changes over nc with its stream made.
func newChanges(t testing.TB, nc *nats.Conn, cfg Config) *Changes {
	t.Helper()
	c, err := NewChanges(nc, cfg, testLogger(t, "changes"))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := c.Ensure(ctx); err != nil {
		t.Fatal(err)
	}
	return c
}

// patient is the content of version n of Patient id.
func patient(id string, n int) store.Record {
	return store.Record{Type: "Patient", ID: id, Source: "hms", Data: []byte(fmt.Sprintf(`{"id":%q,"n":%d}`, id, n))}
}

// apply applies rec, failing the test on an error.
func apply(t testing.TB, c *Changes, rec store.Record) (store.Record, bool) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	got, changed, err := c.Apply(ctx, rec)
	if err != nil {
		t.Fatalf("Apply %s/%s: %v", rec.Type, rec.ID, err)
	}
	return got, changed
}

// applyTo applies rec with one message for conn, as Accept does,
// failing the test on an error.
func applyTo(t testing.TB, c *Changes, rec store.Record, conn string) (store.Record, bool) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	msg := &store.Message{Connector: conn, Op: "upsert", Body: string(rec.Data), ContentType: "application/fhir+json"}
	got, changed, err := c.apply(ctx, rec, []*store.Message{msg})
	if err != nil {
		t.Fatalf("apply %s/%s: %v", rec.Type, rec.ID, err)
	}
	return got.Record, changed
}

// counting is a relay filter that counts the changes relayed, and calls
// then, when set, with the count before this change.
func counting(n *atomic.Int64, then func(before int64) error) func(context.Context, []store.Message) ([]store.Message, error) {
	return func(_ context.Context, msgs []store.Message) ([]store.Message, error) {
		if then != nil {
			if err := then(n.Load()); err != nil {
				return nil, err
			}
		}
		n.Add(1)
		return msgs, nil
	}
}

// startRelay runs c.Relay until the returned stop is called or the test
// ends; stop waits for Relay to return.
func startRelay(t testing.TB, c *Changes, out *Outbox) (stop func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- c.Relay(ctx, out) }()
	var once sync.Once
	stop = func() {
		once.Do(func() {
			cancel()
			if err := <-done; err != nil {
				t.Errorf("Relay: %v", err)
			}
		})
	}
	t.Cleanup(stop)
	return stop
}

// versions is a Sender that records the record versions delivered, by
// their message IDs (MessageID), and every call.
type versions struct {
	mu    sync.Mutex
	order map[string][]int64 // record → versions, in the order delivered
	calls map[string]int     // message id → calls
}

func newVersions() *versions { return &versions{order: map[string][]int64{}, calls: map[string]int{}} }

func (v *versions) Send(_ context.Context, m outbox.Message) error {
	n := versionOf(m.ID)
	if n == 0 {
		return &outbox.SendError{Permanent: true, Err: fmt.Errorf("message id %q", m.ID)}
	}
	v.mu.Lock()
	defer v.mu.Unlock()
	v.calls[m.ID]++
	if v.calls[m.ID] == 1 {
		rec := m.RecordType + "/" + m.RecordID
		v.order[rec] = append(v.order[rec], n)
	}
	return nil
}

// delivered counts the distinct messages delivered.
func (v *versions) delivered() int {
	v.mu.Lock()
	defer v.mu.Unlock()
	return len(v.calls)
}

// check fails the test unless each record of want had exactly its
// versions 1 to want[record] delivered, in order, each once.
func (v *versions) check(t testing.TB, want map[string]int64) {
	t.Helper()
	v.mu.Lock()
	defer v.mu.Unlock()
	for rec, n := range want {
		var w []int64
		for i := int64(1); i <= n; i++ {
			w = append(w, i)
		}
		if got := v.order[rec]; !slices.Equal(got, w) {
			t.Errorf("record %s: delivered versions %v, want %v", rec, got, w)
		}
	}
	if len(v.order) != len(want) {
		t.Errorf("%d records delivered, want %d", len(v.order), len(want))
	}
	for id, n := range v.calls {
		if n != 1 {
			t.Errorf("message %s sent %d times, want once", id, n)
		}
	}
}

// streamState reads a stream's state, failing the test on an error.
func streamState(t testing.TB, js natsjs.JetStream, name string) natsjs.StreamState {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	s, err := js.Stream(ctx, name)
	if err != nil {
		t.Fatal(err)
	}
	info, err := s.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	return info.State
}

// TestChangesRelayed: applied changes are relayed to the outbox and
// delivered in order per record; content applied again is unchanged and
// makes nothing; relayed older versions are purged, the current ones
// stay.
func TestChangesRelayed(t *testing.T) {
	c := startSingle(t)
	nc := c.connect(0)
	cfg := changesConfig(4)
	o := newOutbox(t, nc, cfg)
	ch := newChanges(t, nc, cfg)
	const records, perRecord = 6, 4
	want := map[string]int64{}
	for n := 1; n <= perRecord; n++ {
		for k := range records {
			id := "P" + strconv.Itoa(k)
			got, changed := applyTo(t, ch, patient(id, n), "c1")
			if !changed || got.Version != int64(n) {
				t.Fatalf("Apply %s change %d: version %d, changed %v; want %d, true", id, n, got.Version, changed, n)
			}
			want["Patient/"+id] = int64(n)
		}
	}
	for k := range records { // the current content again: nothing
		got, changed := apply(t, ch, patient("P"+strconv.Itoa(k), perRecord))
		if changed || got.Version != perRecord {
			t.Fatalf("Apply of the current content: version %d, changed %v; want %d, false", got.Version, changed, perRecord)
		}
	}
	var mapped atomic.Int64
	ch.filter = counting(&mapped, nil)
	startRelay(t, ch, o)
	sink := newVersions()
	run(t, o, "c1", sink, fastPolicy)
	eventually(t, 20*time.Second, "every change delivered", func() bool { return sink.delivered() == records*perRecord })
	sink.check(t, want)
	if n := mapped.Load(); n != records*perRecord {
		t.Errorf("%d changes relayed, want %d", n, records*perRecord)
	}
	js, _ := natsjs.New(nc)
	eventually(t, 10*time.Second, "older versions purged", func() bool {
		return streamState(t, js, cfg.withDefaults().ChangesStream).Msgs == records
	})
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	defer cancel()
	rec, err := ch.Get(ctx, "Patient", "P0")
	if err != nil || rec.Version != perRecord || string(rec.Data) != string(patient("P0", perRecord).Data) {
		t.Errorf("Get after the relay: %+v, %v", rec, err)
	}
	if _, err := ch.Get(ctx, "Patient", "nobody"); !errors.Is(err, ErrNotFound) {
		t.Errorf("Get of an unknown record: %v, want ErrNotFound", err)
	}
}

// TestChangesApply: what Apply stores and answers.
func TestChangesApply(t *testing.T) {
	c := startSingle(t)
	ch := newChanges(t, c.connect(0), changesConfig(4))
	tests := []struct {
		name    string
		rec     store.Record
		version int64
		changed bool
	}{
		{"new", patient("A", 1), 1, true},
		{"same content", patient("A", 1), 1, false},
		{"new content", patient("A", 2), 2, true},
		{"back to the first content", patient("A", 1), 3, true},
		{"delete", store.Record{Type: "Patient", ID: "A", Deleted: true}, 4, true},
		{"delete again", store.Record{Type: "Patient", ID: "A", Deleted: true}, 4, false},
		{"delete unknown", store.Record{Type: "Patient", ID: "B", Deleted: true}, 0, false},
		{"id with dots", patient("a.b.c", 1), 1, true},
		{"other id with dots", patient("a.b", 1), 1, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, changed := apply(t, ch, tt.rec)
			if got.Version != tt.version || changed != tt.changed {
				t.Errorf("version %d, changed %v; want %d, %v", got.Version, changed, tt.version, tt.changed)
			}
		})
	}
	_, _, err := ch.Apply(t.Context(), store.Record{Type: "Patient"})
	if !errors.Is(err, ErrBadRecord) {
		t.Errorf("Apply without an id: %v, want ErrBadRecord", err)
	}
}

// TestChangesConcurrentApply: concurrent Applies of one record, from two
// connections, all land, each with its own version: none is lost.
func TestChangesConcurrentApply(t *testing.T) {
	c := startSingle(t)
	cfg := changesConfig(4)
	chs := []*Changes{newChanges(t, c.connect(0), cfg), newChanges(t, c.connect(0), cfg)}
	const writers = 8
	for round := range 5 {
		id := "R" + strconv.Itoa(round)
		got := make([]int64, writers)
		var wg sync.WaitGroup
		start := make(chan struct{})
		for w := range writers {
			wg.Go(func() {
				<-start
				rec, changed := apply(t, chs[w%2], patient(id, w))
				if !changed {
					t.Errorf("writer %d: unchanged", w)
				}
				got[w] = rec.Version
			})
		}
		close(start)
		wg.Wait()
		slices.Sort(got)
		for i, v := range got {
			if v != int64(i+1) {
				t.Fatalf("round %d: versions %v, want 1 to %d", round, got, writers)
			}
		}
		ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
		cur, err := chs[0].Get(ctx, "Patient", id)
		cancel()
		if err != nil || cur.Version != writers {
			t.Fatalf("round %d: current %+v, %v; want version %d", round, cur, err, writers)
		}
	}
}

// TestRelayRestart: a relay that dies between publishing a change's
// messages and acknowledging the change (its connection closed) leaves
// the change to the next relay, which publishes its messages again; the
// outbox stream drops them as duplicates and every change is delivered
// once.
func TestRelayRestart(t *testing.T) {
	c := startSingle(t)
	nc := c.connect(0)
	cfg := changesConfig(2)
	o := newOutbox(t, nc, cfg)
	ch := newChanges(t, nc, cfg)
	const records, perRecord = 4, 5
	want := map[string]int64{}
	for n := 1; n <= perRecord; n++ {
		for k := range records {
			id := "P" + strconv.Itoa(k)
			applyTo(t, ch, patient(id, n), "c1")
			want["Patient/"+id] = int64(n)
		}
	}
	var mapped atomic.Int64

	// The first relay dies at its 7th change, after the mapping: the
	// messages are published, the change is not acknowledged.
	ncRelay, err := nats.Connect(c.url(0), connectOptions("relay")...)
	if err != nil {
		t.Fatal(err)
	}
	defer ncRelay.Close()
	first := newChanges(t, ncRelay, cfg)
	var died atomic.Bool
	first.filter = counting(&mapped, func(before int64) error {
		if before == 6 && died.CompareAndSwap(false, true) {
			ncRelay.Close()
		}
		return nil
	})
	stop := startRelay(t, first, o)
	eventually(t, 10*time.Second, "the first relay died", died.Load)
	js, _ := natsjs.New(nc)
	eventually(t, 10*time.Second, "what the first relay mapped is in the outbox", func() bool {
		return streamState(t, js, cfg.withDefaults().Stream).LastSeq == uint64(mapped.Load())
	})
	stop()
	before := mapped.Load()

	second := newChanges(t, c.connect(0), cfg)
	second.filter = counting(&mapped, nil)
	startRelay(t, second, o)
	sink := newVersions()
	run(t, o, "c1", sink, fastPolicy)
	eventually(t, 30*time.Second, "every change delivered", func() bool { return sink.delivered() == records*perRecord })
	sink.check(t, want)
	if n := mapped.Load(); n <= records*perRecord {
		t.Errorf("%d relays (%d before the restart), want more than %d: no change relayed again", n, before, records*perRecord)
	}
	if st := streamState(t, js, cfg.withDefaults().Stream); st.LastSeq != records*perRecord {
		t.Errorf("outbox stream stored %d messages, want %d: duplicates kept", st.LastSeq, records*perRecord)
	}
	t.Logf("%d changes, %d relayed before the restart, %d published again and dropped as duplicates",
		records*perRecord, before, mapped.Load()-records*perRecord)
}

// TestRelayFilterError: a change the relay cannot handle (its filter
// fails, as when the connectors bucket does not answer) is not
// acknowledged; it comes again, and the record's later changes wait
// behind it.
func TestRelayFilterError(t *testing.T) {
	c := startSingle(t)
	nc := c.connect(0)
	cfg := changesConfig(2)
	o := newOutbox(t, nc, cfg)
	ch := newChanges(t, nc, cfg)
	for n := 1; n <= 3; n++ {
		applyTo(t, ch, patient("A", n), "c1")
		applyTo(t, ch, patient("B", n), "c1")
	}
	var failed atomic.Int64
	ch.filter = func(_ context.Context, msgs []store.Message) ([]store.Message, error) {
		if msgs[0].RecordID == "A" && versionOf(msgs[0].ID) == 2 && failed.Load() < 2 {
			failed.Add(1)
			return nil, errors.New("connectors bucket unavailable")
		}
		return msgs, nil
	}
	startRelay(t, ch, o)
	sink := newVersions()
	run(t, o, "c1", sink, fastPolicy)
	eventually(t, 20*time.Second, "every change delivered", func() bool { return sink.delivered() == 6 })
	sink.check(t, map[string]int64{"Patient/A": 3, "Patient/B": 3})
	if n := failed.Load(); n != 2 {
		t.Errorf("relay failed %d times, want 2", n)
	}
}

// TestChangesCluster: on three nodes with three replicas, concurrent
// Applies through two nodes lose nothing, and the changes are relayed
// and delivered in order.
func TestChangesCluster(t *testing.T) {
	c := startCluster(t)
	cfg := changesConfig(4)
	cfg.Replicas = 3
	o := newOutbox(t, c.connect(0), cfg)
	chs := []*Changes{newChanges(t, c.connect(1), cfg), newChanges(t, c.connect(2), cfg)}
	const records, writers = 3, 4
	var wg sync.WaitGroup
	for k := range records {
		for w := range writers {
			wg.Go(func() {
				if _, changed := applyTo(t, chs[w%2], patient("P"+strconv.Itoa(k), w), "c1"); !changed {
					t.Errorf("record %d writer %d: unchanged", k, w)
				}
			})
		}
	}
	wg.Wait()
	want := map[string]int64{}
	for k := range records {
		want["Patient/P"+strconv.Itoa(k)] = writers
	}
	startRelay(t, chs[0], o)
	sink := newVersions()
	run(t, o, "c1", sink, fastPolicy)
	eventually(t, 30*time.Second, "every change delivered", func() bool { return sink.delivered() == records*writers })
	sink.check(t, want)
}
