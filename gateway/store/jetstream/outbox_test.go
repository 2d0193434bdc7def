package jetstream

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	natsjs "github.com/nats-io/nats.go/jetstream"

	"github.com/liaisonhq/liaison/gateway/outbox"
	"github.com/liaisonhq/liaison/gateway/store"
)

// testConfig is a Config with timings that keep the tests short.
func testConfig(partitions int) Config {
	return Config{
		Partitions: partitions, AckMargin: time.Second, PullExpiry: 2 * time.Second,
		ControlPoll: 200 * time.Millisecond, PublishTimeout: 2 * time.Second, Duplicates: time.Minute,
	}
}

// fastPolicy retries within a few tens of milliseconds.
var fastPolicy = outbox.Policy{Timeout: 2 * time.Second, InitialBackoff: 20 * time.Millisecond, MaxBackoff: 100 * time.Millisecond}

// newOutbox returns an Outbox over nc with its streams and bucket made.
func newOutbox(t testing.TB, nc *nats.Conn, cfg Config) *Outbox {
	t.Helper()
	o, err := New(nc, cfg, testLogger(t, cfg.Instance))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := o.Ensure(ctx); err != nil {
		t.Fatal(err)
	}
	return o
}

// testLogger logs warnings and errors to the test's log.
func testLogger(t testing.TB, instance string) *slog.Logger {
	return slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelWarn})).With("gateway", instance)
}

type testWriter struct{ t testing.TB }

func (w testWriter) Write(b []byte) (int, error) {
	w.t.Log(strings.TrimSpace(string(b)))
	return len(b), nil
}

// run runs o.Run for the connector until the returned stop is called or
// the test ends; stop waits for Run to return.
func run(t testing.TB, o *Outbox, conn string, s outbox.Sender, p outbox.Policy) (stop func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- o.Run(ctx, conn, s, p) }()
	var once sync.Once
	stop = func() {
		once.Do(func() {
			cancel()
			if err := <-done; err != nil {
				t.Errorf("Run: %v", err)
			}
		})
	}
	t.Cleanup(stop)
	eventually(t, 10*time.Second, "Run pulls from every partition", func() bool {
		st := o.Status(conn)
		return st.Running && (st.Paused || st.Pulling == o.cfg.Partitions)
	})
	return stop
}

// message is the seq-th change (from 1) of record typ/id for conn.
func message(conn, typ, id string, seq int) store.Message {
	return store.Message{
		ID: fmt.Sprintf("m:%s:%s:%s:%d", conn, typ, id, seq), Connector: conn, RecordType: typ, RecordID: id,
		Op: "upsert", Body: fmt.Sprintf(`{"resourceType":%q,"id":%q,"seq":%d}`, typ, id, seq),
		ContentType: "application/fhir+json", IdempotencyKey: fmt.Sprintf("k:%s:%s:%s:%d", conn, typ, id, seq),
		Mapping: "hms-to-fhir", MappingVersion: "v1", CreatedAt: time.Now(),
	}
}

// seqOf is the seq message gave a message's id.
func seqOf(id string) int {
	n, _ := strconv.Atoi(id[strings.LastIndexByte(id, ':')+1:])
	return n
}

// messages makes keys records of type Patient with perKey changes each,
// interleaved: change 1 of every record, then change 2, …
func messages(conn string, keys, perKey int) []store.Message {
	var out []store.Message
	for s := 1; s <= perKey; s++ {
		for k := range keys {
			out = append(out, message(conn, "Patient", "P"+strconv.Itoa(k), s))
		}
	}
	return out
}

// publish publishes msgs in batches of batch, failing the test on an error.
func publish(t testing.TB, o *Outbox, msgs []store.Message, batch int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for len(msgs) > 0 {
		n := min(batch, len(msgs))
		if err := o.Publish(ctx, msgs[:n]); err != nil {
			t.Fatalf("Publish: %v", err)
		}
		msgs = msgs[n:]
	}
}

// sink is a Sender that plays an idempotent API: it applies a message the
// first time its idempotency key comes, and records every call. answer,
// when set, decides an attempt's error first (nil: apply).
type sink struct {
	mu      sync.Mutex
	calls   []outbox.Message
	applied map[string]bool
	order   map[string][]int // record → the seqs applied, in order
	dups    int              // calls with a key applied already
	answer  func(m outbox.Message) error
	delay   time.Duration
}

func newSink() *sink { return &sink{applied: map[string]bool{}, order: map[string][]int{}} }

func (s *sink) Send(ctx context.Context, m outbox.Message) error {
	if s.delay > 0 {
		select {
		case <-time.After(s.delay):
		case <-ctx.Done():
			return &outbox.SendError{Err: ctx.Err()}
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.calls = append(s.calls, m)
	if s.answer != nil {
		if err := s.answer(m); err != nil {
			return err
		}
	}
	if s.applied[m.IdempotencyKey] {
		s.dups++
		return nil
	}
	s.applied[m.IdempotencyKey] = true
	rec := m.RecordType + "/" + m.RecordID
	s.order[rec] = append(s.order[rec], seqOf(m.ID))
	return nil
}

// setAnswer replaces answer.
func (s *sink) setAnswer(f func(m outbox.Message) error) {
	s.mu.Lock()
	s.answer = f
	s.mu.Unlock()
}

// appliedCount is how many distinct messages were applied.
func (s *sink) appliedCount() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.applied)
}

// callsOf returns the calls for a message id, in order.
func (s *sink) callsOf(id string) []outbox.Message {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []outbox.Message
	for _, m := range s.calls {
		if m.ID == id {
			out = append(out, m)
		}
	}
	return out
}

// checkApplied fails the test unless every record of msgs had each of its
// changes applied once, in order.
func checkApplied(t testing.TB, order map[string][]int, msgs []store.Message) {
	t.Helper()
	want := map[string][]int{}
	for _, m := range msgs {
		rec := m.RecordType + "/" + m.RecordID
		want[rec] = append(want[rec], seqOf(m.ID))
	}
	bad := 0
	for rec, w := range want {
		if got := order[rec]; !slices.Equal(got, w) && bad < 5 {
			bad++
			t.Errorf("record %s: applied %v, want %v", rec, got, w)
		}
	}
	if len(order) != len(want) {
		t.Errorf("%d records applied, want %d", len(order), len(want))
	}
}

func (s *sink) snapshot() map[string][]int {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make(map[string][]int, len(s.order))
	for k, v := range s.order {
		out[k] = slices.Clone(v)
	}
	return out
}

// counts reads o's counts for conn, failing the test on an error.
func counts(t testing.TB, o *Outbox, conn string) Counts {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := o.Counts(ctx, conn)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestRoundTrip(t *testing.T) {
	c := startSingle(t)
	o := newOutbox(t, c.connect(0), testConfig(4))
	m := message("ehr", "Appointment", "A1", 1)
	m.CreatedAt = time.Now().Add(-time.Minute).Round(0)
	publish(t, o, []store.Message{m}, 1)
	if got := counts(t, o, "ehr"); got.Queued != 1 || got.Dead != 0 || got.OldestQueued.IsZero() {
		t.Errorf("counts before delivery %+v, want 1 queued with its time", got)
	}
	s := newSink()
	run(t, o, "ehr", s, fastPolicy)
	eventually(t, 10*time.Second, "the message is delivered", func() bool { return s.appliedCount() == 1 })
	got := s.callsOf(m.ID)[0]
	want := outbox.Message{ID: m.ID, Connector: "ehr", RecordType: "Appointment", RecordID: "A1", Op: outbox.Upsert,
		Body: []byte(m.Body), ContentType: m.ContentType, IdempotencyKey: m.IdempotencyKey, Attempt: 1}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("sent %+v\nwant %+v", got, want)
	}
	eventually(t, 10*time.Second, "nothing queued after delivery", func() bool { return counts(t, o, "ehr").Queued == 0 })
	if got := counts(t, o, "ehr"); got.Dead != 0 || !got.OldestQueued.IsZero() {
		t.Errorf("counts after delivery %+v", got)
	}
}

// TestPublishHeaders: what Publish stores, and that a message published
// twice (a retry after a lost acknowledgement) is stored once.
func TestPublishHeaders(t *testing.T) {
	c := startSingle(t)
	nc := c.connect(0)
	o := newOutbox(t, nc, testConfig(4))
	m := message("ehr", "Patient", "P1", 1)
	publish(t, o, []store.Message{m, m}, 2)
	publish(t, o, []store.Message{m}, 1)
	js, _ := natsjs.New(nc)
	s, err := js.Stream(t.Context(), DefaultStream)
	if err != nil {
		t.Fatal(err)
	}
	info, err := s.Info(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if info.State.Msgs != 1 {
		t.Errorf("stream holds %d messages, want 1", info.State.Msgs)
	}
	if info.Config.Retention != natsjs.WorkQueuePolicy || info.Config.Discard != natsjs.DiscardNew || info.Config.Storage != natsjs.FileStorage {
		t.Errorf("stream config %+v", info.Config)
	}
	raw, err := s.GetMsg(t.Context(), 1)
	if err != nil {
		t.Fatal(err)
	}
	if want := "liaison.outbox.ehr." + strconv.Itoa(Partition("Patient", "P1", 4)); raw.Subject != want {
		t.Errorf("subject %s, want %s", raw.Subject, want)
	}
	for k, v := range map[string]string{
		natsjs.MsgIDHeader: m.ID, HeaderMessageID: m.ID, HeaderConnector: "ehr", HeaderRecordType: "Patient",
		HeaderRecordID: "P1", HeaderOp: "upsert", HeaderIdempotencyKey: m.IdempotencyKey,
		HeaderContentType: "application/fhir+json", HeaderMapping: "hms-to-fhir", HeaderMappingVersion: "v1",
		HeaderCreatedAt: m.CreatedAt.UTC().Format(time.RFC3339Nano),
	} {
		if got := raw.Header.Get(k); got != v {
			t.Errorf("header %s = %q, want %q", k, got, v)
		}
	}
	d, err := decode(raw.Header, raw.Data, raw.Time)
	if err != nil {
		t.Fatal(err)
	}
	m.CreatedAt = m.CreatedAt.Round(0).UTC()
	if fmt.Sprint(d.msg) != fmt.Sprint(m) {
		t.Errorf("decoded %+v\nwant %+v", d.msg, m)
	}
}

func TestPublishBadMessage(t *testing.T) {
	c := startSingle(t)
	o := newOutbox(t, c.connect(0), testConfig(4))
	good := message("ehr", "Patient", "P1", 1)
	tests := []struct {
		name string
		edit func(m *store.Message)
	}{
		{"no id", func(m *store.Message) { m.ID = "" }},
		{"connector not a token", func(m *store.Message) { m.Connector = "a.b" }},
		{"line break in a record id", func(m *store.Message) { m.RecordID = "P1\r\nX-Evil: 1" }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			bad := good
			tt.edit(&bad)
			err := o.Publish(t.Context(), []store.Message{good, bad})
			if !errors.Is(err, ErrBadMessage) {
				t.Fatalf("err = %v, want ErrBadMessage", err)
			}
		})
	}
	if got := counts(t, o, "ehr"); got.Queued != 0 {
		t.Errorf("%d queued after refused batches, want 0", got.Queued)
	}
}

func TestEnsurePartitionsChanged(t *testing.T) {
	c := startSingle(t)
	nc := c.connect(0)
	newOutbox(t, nc, testConfig(4))
	newOutbox(t, nc, testConfig(4)) // a second gateway, same count
	o, err := New(nc, testConfig(8), nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := o.Ensure(t.Context()); !errors.Is(err, ErrPartitionsChanged) {
		t.Errorf("err = %v, want ErrPartitionsChanged", err)
	}
}

// TestOrderPerKey: many records over the partitions, each record's
// changes applied once and in order, while partitions are delivered
// concurrently.
func TestOrderPerKey(t *testing.T) {
	c := startSingle(t)
	o := newOutbox(t, c.connect(0), testConfig(8))
	msgs := messages("ehr", 40, 12)
	s := newSink()
	inflight, most := 0, 0
	var mu sync.Mutex
	s.delay = time.Millisecond
	concurrent := senderFunc(func(ctx context.Context, m outbox.Message) error {
		mu.Lock()
		inflight++
		most = max(most, inflight)
		mu.Unlock()
		defer func() { mu.Lock(); inflight--; mu.Unlock() }()
		return s.Send(ctx, m)
	})
	run(t, o, "ehr", concurrent, fastPolicy)
	publish(t, o, msgs, 50)
	eventually(t, 30*time.Second, "every message applied", func() bool { return s.appliedCount() == len(msgs) })
	checkApplied(t, s.snapshot(), msgs)
	if most < 2 {
		t.Errorf("at most %d deliveries at once, want partitions delivered concurrently", most)
	}
	t.Logf("%d messages, %d duplicate calls, up to %d at once", len(msgs), s.dups, most)
}

type senderFunc func(ctx context.Context, m outbox.Message) error

func (f senderFunc) Send(ctx context.Context, m outbox.Message) error { return f(ctx, m) }

// TestRetryKeepsOrder: a failed message is retried after a delay and stays
// the head of its record's partition: the record's later changes wait.
func TestRetryKeepsOrder(t *testing.T) {
	c := startSingle(t)
	o := newOutbox(t, c.connect(0), testConfig(4))
	msgs := []store.Message{message("ehr", "Patient", "P1", 1), message("ehr", "Patient", "P1", 2), message("ehr", "Patient", "P1", 3)}
	first := msgs[0].ID
	s := newSink()
	var attempts []time.Time
	s.setAnswer(func(m outbox.Message) error {
		if m.ID != first {
			return nil
		}
		attempts = append(attempts, time.Now())
		switch len(attempts) {
		case 1:
			return &outbox.SendError{Status: http.StatusTooManyRequests, RetryAfter: 300 * time.Millisecond, Err: errors.New("slow down")}
		case 2:
			return &outbox.SendError{Err: errors.New("connection reset")}
		}
		return nil
	})
	publish(t, o, msgs, 3)
	run(t, o, "ehr", s, fastPolicy)
	eventually(t, 10*time.Second, "all three applied", func() bool { return s.appliedCount() == 3 })
	checkApplied(t, s.snapshot(), msgs)
	calls := s.callsOf(first)
	if len(calls) != 3 {
		t.Fatalf("%d calls for the first message, want 3", len(calls))
	}
	for i, m := range calls {
		if m.Attempt != i+1 {
			t.Errorf("call %d has Attempt %d", i+1, m.Attempt)
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if gap := attempts[1].Sub(attempts[0]); gap < 300*time.Millisecond {
		t.Errorf("retried after %v, before the Retry-After of 300ms", gap)
	}
	for i, m := range s.calls {
		if m.ID != first && i < 3 {
			t.Errorf("call %d is %s, sent before the first message succeeded", i+1, m.ID)
		}
	}
}

// TestDeadAndReplay: a permanent failure goes to the dead-letter stream at
// once, with the attempt's error and response and without payload in the
// error; the record's next change is delivered meanwhile; a replay
// delivers it. A message past MaxAge goes dead after its first failure.
func TestDeadAndReplay(t *testing.T) {
	c := startSingle(t)
	o := newOutbox(t, c.connect(0), testConfig(4))
	bad := message("ehr", "Patient", "P1", 1)
	next := message("ehr", "Patient", "P1", 2)
	old := message("ehr", "Patient", "P2", 1)
	old.CreatedAt = time.Now().Add(-2 * time.Hour)
	s := newSink()
	refuse := true
	s.setAnswer(func(m outbox.Message) error {
		switch {
		case m.ID == bad.ID && refuse:
			return &outbox.SendError{Status: http.StatusUnprocessableEntity, Response: []byte(`{"resourceType":"OperationOutcome"}`), Err: errors.New("unprocessable")}
		case m.ID == old.ID && refuse:
			return &outbox.SendError{Status: http.StatusServiceUnavailable, Err: errors.New("unavailable")}
		}
		return nil
	})
	var mu sync.Mutex
	outcomes := map[State]int{}
	cfg := testConfig(4)
	cfg.OnAttempt = func(conn string, st State, _ time.Duration) {
		mu.Lock()
		outcomes[st]++
		mu.Unlock()
	}
	o, err := New(o.nc, cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	publish(t, o, []store.Message{bad, next, old}, 3)
	p := fastPolicy
	p.MaxAge = time.Hour
	stop := run(t, o, "ehr", s, p)
	eventually(t, 10*time.Second, "two dead letters", func() bool { return counts(t, o, "ehr").Dead == 2 })
	eventually(t, 10*time.Second, "the next change applied", func() bool { return s.appliedCount() == 1 })
	if got := counts(t, o, "ehr"); got.Queued != 0 {
		t.Errorf("%d queued, want 0", got.Queued)
	}
	dead, err := o.Dead(t.Context(), "ehr", 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(dead) != 2 {
		t.Fatalf("%d dead letters, want 2", len(dead))
	}
	byID := map[string]DeadLetter{}
	for _, d := range dead {
		byID[d.Message.ID] = d
	}
	d := byID[bad.ID]
	if d.Status != 422 || d.Message.LastError != "status 422: unprocessable" || string(d.Response) != `{"resourceType":"OperationOutcome"}` ||
		d.Deliveries != 1 || d.DeadAt.IsZero() || d.Message.State != store.Dead || d.Message.Body != bad.Body || d.Message.IdempotencyKey != bad.IdempotencyKey {
		t.Errorf("dead letter %+v", d)
	}
	if strings.Contains(d.Message.LastError, "seq") {
		t.Errorf("error %q holds the payload", d.Message.LastError)
	}
	if d := byID[old.ID]; d.Status != 503 {
		t.Errorf("old message's dead letter %+v, want status 503", d)
	}
	mu.Lock()
	if outcomes[Dead] != 2 || outcomes[Delivered] != 1 {
		t.Errorf("OnAttempt saw %v", outcomes)
	}
	mu.Unlock()
	stop()

	// Replay one by id, then the rest; the sink now takes them.
	s.mu.Lock()
	refuse = false
	s.mu.Unlock()
	run(t, o, "ehr", s, p)
	if _, err := o.Replay(t.Context(), "ehr", []string{bad.ID, "m:nope"}, nil); !errors.Is(err, ErrNotFound) {
		t.Errorf("replay of an unknown id: err = %v, want ErrNotFound", err)
	}
	eventually(t, 10*time.Second, "the replayed message applied", func() bool { return s.appliedCount() == 2 })
	var progress []int
	n, err := o.Replay(t.Context(), "ehr", nil, func(done int) { progress = append(progress, done) })
	if err != nil || n != 1 || !slices.Equal(progress, []int{1}) {
		t.Errorf("replay all: %d, %v, progress %v; want 1, nil, [1]", n, err, progress)
	}
	eventually(t, 10*time.Second, "every message applied", func() bool { return s.appliedCount() == 3 })
	if got := counts(t, o, "ehr"); got.Dead != 0 {
		t.Errorf("%d dead after replay, want 0", got.Dead)
	}
	if calls := s.callsOf(bad.ID); calls[len(calls)-1].IdempotencyKey != bad.IdempotencyKey {
		t.Errorf("replayed with key %q, want %q", calls[len(calls)-1].IdempotencyKey, bad.IdempotencyKey)
	}
}

// TestPauseResume: a pause flag in the control bucket stops every
// partition's pulls; messages keep queueing; resume delivers them in order.
func TestPauseResume(t *testing.T) {
	c := startSingle(t)
	nc := c.connect(0)
	o := newOutbox(t, nc, testConfig(4))
	s := newSink()
	run(t, o, "ehr", s, fastPolicy)
	other := newOutbox(t, nc, testConfig(4)) // an operator's gateway, elsewhere
	if err := other.Pause(t.Context(), "ehr", ""); err != nil {
		t.Fatal(err)
	}
	eventually(t, 10*time.Second, "Run sees the pause and stops pulling", func() bool {
		st := o.Status("ehr")
		return st.Paused && st.Pulling == 0
	})
	if reason, err := o.Paused(t.Context(), "ehr"); err != nil || reason != PausedByOperator {
		t.Errorf("Paused = %q, %v", reason, err)
	}
	msgs := messages("ehr", 3, 3)
	publish(t, o, msgs, 9)
	time.Sleep(300 * time.Millisecond) // a pull would have fetched by now
	if n := s.appliedCount(); n != 0 {
		t.Fatalf("%d delivered while paused", n)
	}
	if got := counts(t, o, "ehr"); got.Queued != 9 {
		t.Errorf("%d queued while paused, want 9", got.Queued)
	}
	if err := other.Resume(t.Context(), "ehr"); err != nil {
		t.Fatal(err)
	}
	eventually(t, 10*time.Second, "every message applied after resume", func() bool { return s.appliedCount() == 9 })
	checkApplied(t, s.snapshot(), msgs)
	if reason, err := o.Paused(t.Context(), "ehr"); err != nil || reason != "" {
		t.Errorf("Paused after resume = %q, %v", reason, err)
	}
}

// TestGone: a 410 pauses the connector across the cluster and keeps the
// message; resuming delivers it.
func TestGone(t *testing.T) {
	c := startSingle(t)
	cfg := testConfig(4)
	gone := make(chan string, 4)
	cfg.OnGone = func(conn string) { gone <- conn }
	o := newOutbox(t, c.connect(0), cfg)
	s := newSink()
	refuse := true
	s.setAnswer(func(outbox.Message) error {
		if refuse {
			return &outbox.SendError{Status: http.StatusGone, Err: errors.New("gone")}
		}
		return nil
	})
	run(t, o, "ehr", s, fastPolicy)
	publish(t, o, []store.Message{message("ehr", "Patient", "P1", 1)}, 1)
	select {
	case conn := <-gone:
		if conn != "ehr" {
			t.Errorf("OnGone(%q)", conn)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("no OnGone after 10s")
	}
	eventually(t, 10*time.Second, "paused, with reason gone", func() bool {
		r, err := o.Paused(t.Context(), "ehr")
		return err == nil && r == PausedGone && o.Status("ehr").Pulling == 0
	})
	if got := counts(t, o, "ehr"); got.Queued != 1 || got.Dead != 0 {
		t.Errorf("counts %+v, want the message queued", got)
	}
	s.mu.Lock()
	refuse = false
	s.mu.Unlock()
	if err := o.Resume(t.Context(), "ehr"); err != nil {
		t.Fatal(err)
	}
	eventually(t, 10*time.Second, "delivered after resume", func() bool { return s.appliedCount() == 1 })
}

func TestRunErrors(t *testing.T) {
	c := startSingle(t)
	o := newOutbox(t, c.connect(0), testConfig(2))
	if err := o.Run(t.Context(), "a.b", newSink(), fastPolicy); !errors.Is(err, ErrConnectorName) {
		t.Errorf("bad connector: %v", err)
	}
	if err := o.Run(t.Context(), "ehr", nil, fastPolicy); err == nil {
		t.Error("nil sender: no error")
	}
	run(t, o, "ehr", newSink(), fastPolicy)
	if err := o.Run(t.Context(), "ehr", newSink(), fastPolicy); err == nil {
		t.Error("second Run of a connector: no error")
	}
}

func TestConfig(t *testing.T) {
	tests := []struct {
		name string
		cfg  Config
		err  string
	}{
		{"defaults", Config{}, ""},
		{"stream with a dot", Config{Stream: "A.B"}, "stream"},
		{"subject with a wildcard", Config{Subject: "a.*"}, "wildcard"},
		{"empty subject token", Config{Subject: "a..b"}, "empty token"},
		{"same subjects", Config{Subject: "x", DeadSubject: "x"}, "differ"},
		{"even replicas", Config{Replicas: 2}, "replicas"},
		{"too many partitions", Config{Partitions: 5000}, "partitions"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.cfg.withDefaults().Validate()
			if tt.err == "" && err != nil || tt.err != "" && (err == nil || !strings.Contains(err.Error(), tt.err)) {
				t.Errorf("err = %v, want %q", err, tt.err)
			}
		})
	}
	c := Config{}.withDefaults()
	if c.Stream != "LIAISON_OUTBOX" || c.DeadStream != "LIAISON_DEAD" || c.Control != "LIAISON_CONTROL" || c.Partitions != 16 || c.Replicas != 1 {
		t.Errorf("defaults %+v", c)
	}
}

// TestPartition: stable, in range, and spread.
func TestPartition(t *testing.T) {
	seen := map[int]int{}
	for i := range 1600 {
		p := Partition("Patient", "P"+strconv.Itoa(i), 16)
		if p < 0 || p >= 16 || p != Partition("Patient", "P"+strconv.Itoa(i), 16) {
			t.Fatalf("partition %d", p)
		}
		seen[p]++
	}
	for p := range 16 {
		if seen[p] < 50 {
			t.Errorf("partition %d got %d of 1600 records", p, seen[p])
		}
	}
}

// A publish error that passes by itself is published again; any other
// fails the publish. A message published again while the stream still
// stores its first publish (409, 10158, seen after a node was killed)
// passes by itself.
func TestTransientPublishErrors(t *testing.T) {
	for _, c := range []struct {
		err  error
		want bool
	}{
		{natsjs.ErrAsyncPublishTimeout, true},
		{nats.ErrNoResponders, true},
		{fmt.Errorf("wrapped: %w", context.DeadlineExceeded), true},
		{&natsjs.APIError{Code: 503, ErrorCode: 10008, Description: "JetStream system temporarily unavailable"}, true},
		{&natsjs.APIError{Code: 409, ErrorCode: 10158, Description: "duplicate message id is in process"}, true},
		{&natsjs.APIError{Code: 400, ErrorCode: 10060, Description: "expected stream does not match"}, false},
		{&natsjs.APIError{Code: 413, ErrorCode: 10054, Description: "message size exceeds maximum allowed"}, false},
		{errors.New("nats: invalid subject"), false},
	} {
		if got := transient(c.err); got != c.want {
			t.Errorf("transient(%v) = %v, want %v", c.err, got, c.want)
		}
	}
}

// A JetStream API call at start is made again while it fails in a way
// that passes by itself, each attempt bounded, and not after any other
// failure or once the caller's context ends.
func TestUntilAnswered(t *testing.T) {
	calls := 0
	err := untilAnswered(context.Background(), func(ctx context.Context) error {
		if _, ok := ctx.Deadline(); !ok {
			t.Error("an attempt without a deadline")
		}
		if calls++; calls < 3 {
			return nats.ErrNoResponders
		}
		return nil
	})
	if err != nil || calls != 3 {
		t.Errorf("two transient failures then success: %v after %d calls, want nil after 3", err, calls)
	}
	calls = 0
	bad := &natsjs.APIError{Code: 400, ErrorCode: 10058, Description: "stream name already in use with a different configuration"}
	if err := untilAnswered(context.Background(), func(context.Context) error { calls++; return bad }); !errors.Is(err, bad) || calls != 1 {
		t.Errorf("a lasting failure: %v after %d calls, want it after 1", err, calls)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	if err := untilAnswered(ctx, func(context.Context) error { return nats.ErrNoResponders }); !errors.Is(err, nats.ErrNoResponders) {
		t.Errorf("the caller's context ended: %v, want the last failure", err)
	}
}
