package outbox

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"
	"pgregory.net/rapid"

	"github.com/liaisonhq/liaison/gateway/store"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// fast is a policy for tests: retries within milliseconds.
var fast = Policy{InitialBackoff: time.Millisecond, MaxBackoff: 5 * time.Millisecond, Timeout: time.Second, Concurrency: 4, BreakerCooldown: 5 * time.Millisecond}

// scripted is a Sender that answers from a script and records what it got.
// It stands in for an adapter: the adapters have their own tests against
// real HTTP servers.
type scripted struct {
	mu       sync.Mutex
	answer   func(m Message, n int) error // n: how many sends so far, this one included
	sent     []Message
	inflight map[string]bool
	overlap  bool // two sends of one lane at once
}

func (s *scripted) Send(ctx context.Context, m Message) error {
	lane := m.RecordType + "/" + m.RecordID
	s.mu.Lock()
	if s.inflight == nil {
		s.inflight = map[string]bool{}
	}
	if s.inflight[lane] {
		s.overlap = true
	}
	s.inflight[lane] = true
	s.sent = append(s.sent, m)
	n := len(s.sent)
	answer := s.answer
	s.mu.Unlock()
	time.Sleep(100 * time.Microsecond)
	var err error
	if answer != nil {
		err = answer(m, n)
	}
	s.mu.Lock()
	delete(s.inflight, lane)
	s.mu.Unlock()
	return err
}

func (s *scripted) count() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.sent)
}

// failer is what the harness needs of a *testing.T or a *rapid.T.
type failer interface {
	Helper()
	Fatal(args ...any)
	Fatalf(format string, args ...any)
}

type harness struct {
	t      failer
	store  *store.Store
	outbox *Outbox
	cancel context.CancelFunc
	done   chan struct{}
}

func start(t *testing.T, conns map[string]Sender, p Policy) *harness {
	t.Helper()
	st, err := store.Open(t.TempDir(), store.Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	o := New(st, Config{}, slog.New(slog.NewTextHandler(io.Discard, nil)))
	for id, s := range conns {
		err := st.Update(context.Background(), func(tx *store.Tx) error {
			return tx.PutConnector(&store.Connector{ID: id, Name: id})
		})
		if err != nil {
			t.Fatal(err)
		}
		o.Start(id, s, p)
	}
	ctx, cancel := context.WithCancel(context.Background())
	h := &harness{t: t, store: st, outbox: o, cancel: cancel, done: make(chan struct{})}
	go func() { o.Run(ctx); close(h.done) }()
	t.Cleanup(h.stop)
	return h
}

func (h *harness) stop() {
	if h.cancel == nil {
		return
	}
	h.cancel()
	<-h.done
	h.store.Close()
	h.cancel = nil
}

func (h *harness) enqueue(conn, id, body string) string {
	h.t.Helper()
	m := &store.Message{Connector: conn, RecordType: "Appointment", RecordID: id, Op: "upsert", Body: body, IdempotencyKey: conn + "/" + id + "/" + body}
	if err := h.store.Update(context.Background(), func(tx *store.Tx) error { return tx.Enqueue(m) }); err != nil {
		h.t.Fatal(err)
	}
	h.outbox.Notify(conn)
	return m.ID
}

func (h *harness) message(id string) *store.Message {
	h.t.Helper()
	var m *store.Message
	h.store.View(func(tx *store.Tx) error {
		var err error
		m, err = tx.Message(id)
		return err
	})
	return m
}

// waitFor polls until cond holds, for at most 10 s.
func (h *harness) waitFor(what string, cond func() bool) {
	h.t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			var dump []string
			h.store.View(func(tx *store.Tx) error {
				due, _ := tx.Due("c", time.Now(), 100, nil)
				next, ok := tx.NextDue("c", nil)
				dump = append(dump, fmt.Sprintf("due %d next %v %v", len(due), time.Until(next), ok))
				ms, _ := tx.Messages(store.Filter{Limit: 1000})
				for _, m := range ms {
					dump = append(dump, fmt.Sprintf("%s %s %s next=%v attempts=%d", m.ID, m.RecordID, m.State, time.Until(m.NextAttemptAt), len(m.Attempts)))
				}
				return nil
			})
			for _, w := range h.outbox.workers {
				w.mu.Lock()
				dump = append(dump, fmt.Sprintf("worker %s inflight %v breaker %s", w.conn, w.inflight, w.breaker.current()))
				w.mu.Unlock()
			}
			h.t.Fatalf("timed out waiting for %s\n%s", what, strings.Join(dump, "\n"))
		}
		time.Sleep(2 * time.Millisecond)
	}
}

func (h *harness) state(id string) store.State {
	if m := h.message(id); m != nil {
		return m.State
	}
	return ""
}

// Property: whatever the interleaving of records and the pattern of
// transient failures, every message is delivered exactly once
// successfully, one lane never has two sends at once, and each record's
// changes reach the connector in the order they were made.
func TestOrderingProperty(t *testing.T) {
	rapid.Check(t, func(rt *rapid.T) {
		records := rapid.IntRange(1, 5).Draw(rt, "records")
		changes := rapid.SliceOfN(rapid.IntRange(0, records-1), 1, 40).Draw(rt, "changes")
		failures := rapid.SliceOfN(rapid.IntRange(0, 99), 200, 200).Draw(rt, "failures")
		rate := rapid.IntRange(0, 60).Draw(rt, "failure rate")
		sender := &scripted{answer: func(m Message, n int) error {
			if failures[n%len(failures)] < rate {
				return &SendError{Status: 503, Err: errors.New("unavailable")}
			}
			return nil
		}}
		h := start(t, map[string]Sender{"c": sender}, fast)
		defer h.stop()
		h.t = rt
		var ids []string
		want := map[string][]string{}
		for i, r := range changes {
			rec, body := fmt.Sprint("R", r), fmt.Sprint(i)
			ids = append(ids, h.enqueue("c", rec, body))
			want[rec] = append(want[rec], body)
		}
		h.waitFor("every message delivered", func() bool {
			for _, id := range ids {
				if h.state(id) != store.Delivered {
					return false
				}
			}
			return true
		})
		sender.mu.Lock()
		defer sender.mu.Unlock()
		if sender.overlap {
			rt.Fatal("two sends of one record at once")
		}
		// The successful sends of each record, in order, are its changes.
		got := map[string][]string{}
		last := map[string]int{}
		for n, m := range sender.sent {
			if failures[(n+1)%len(failures)] < rate {
				continue
			}
			got[m.RecordID] = append(got[m.RecordID], string(m.Body))
			last[m.RecordID] = n
		}
		for rec, bodies := range want {
			if fmt.Sprint(got[rec]) != fmt.Sprint(bodies) {
				rt.Fatalf("record %s: delivered %v, want %v", rec, got[rec], bodies)
			}
		}
	})
}

// A 4xx is dead at once, the next change of the record goes on, and a
// replay delivers the dead one.
func TestDeadLetterAndReplay(t *testing.T) {
	var refuse sync.Map
	sender := &scripted{answer: func(m Message, n int) error {
		if _, ok := refuse.Load(string(m.Body)); ok {
			return &SendError{Status: 422, Response: []byte(`{"resourceType":"OperationOutcome","issue":[{"severity":"error","code":"invalid"}]}`), Err: errors.New("unprocessable")}
		}
		return nil
	}}
	refuse.Store("bad", true)
	h := start(t, map[string]Sender{"c": sender}, fast)
	bad := h.enqueue("c", "A1", "bad")
	good := h.enqueue("c", "A1", "good")
	h.waitFor("the second message delivered", func() bool { return h.state(good) == store.Delivered })
	m := h.message(bad)
	if m.State != store.Dead || len(m.Attempts) != 1 || m.Attempts[0].Status != 422 || len(m.Attempts[0].Outcome) == 0 {
		t.Fatalf("dead message = %+v", m)
	}
	refuse.Delete("bad")
	if err := h.store.Update(context.Background(), func(tx *store.Tx) error { _, err := tx.Replay(bad); return err }); err != nil {
		t.Fatal(err)
	}
	h.outbox.Notify("c")
	h.waitFor("the replayed message delivered", func() bool { return h.state(bad) == store.Delivered })
	if m := h.message(bad); len(m.Attempts) != 2 {
		t.Errorf("attempts = %+v", m.Attempts)
	}
}

// Retry-After is a floor for the next attempt.
func TestRetryAfter(t *testing.T) {
	sender := &scripted{answer: func(m Message, n int) error {
		if n == 1 {
			return &SendError{Status: 429, RetryAfter: 300 * time.Millisecond, Err: errors.New("slow down")}
		}
		return nil
	}}
	h := start(t, map[string]Sender{"c": sender}, fast)
	id := h.enqueue("c", "A1", "x")
	h.waitFor("delivered", func() bool { return h.state(id) == store.Delivered })
	m := h.message(id)
	if len(m.Attempts) != 2 {
		t.Fatalf("attempts = %+v", m.Attempts)
	}
	if gap := m.Attempts[1].At.Sub(m.Attempts[0].At); gap < 300*time.Millisecond {
		t.Errorf("retried after %v, before Retry-After", gap)
	}
}

// 410 Gone disables the connector and stops its deliveries; the message
// waits, and nothing is lost.
func TestGoneDisables(t *testing.T) {
	sender := &scripted{answer: func(Message, int) error { return &SendError{Status: 410, Err: errors.New("gone")} }}
	disabled := make(chan string, 1)
	h := start(t, nil, fast)
	h.outbox.cfg.OnDisabled = func(c string) { disabled <- c }
	h.store.Update(context.Background(), func(tx *store.Tx) error { return tx.PutConnector(&store.Connector{ID: "c", Name: "c"}) })
	h.outbox.Start("c", sender, fast)
	id := h.enqueue("c", "A1", "x")
	select {
	case <-disabled:
	case <-time.After(10 * time.Second):
		t.Fatal("not disabled")
	}
	h.waitFor("the worker stopped", func() bool { return !h.outbox.Status("c").Running })
	var c *store.Connector
	h.store.View(func(tx *store.Tx) error { c, _ = tx.Connector("c"); return nil })
	if !c.Disabled || c.LastError == "" {
		t.Errorf("connector = %+v", c)
	}
	if st := h.state(id); st != store.Failed {
		t.Errorf("message state = %s, want failed (kept for when the connector is enabled again)", st)
	}
	if n := sender.count(); n != 1 {
		t.Errorf("%d sends after 410", n)
	}
}

// After five failures in a row the breaker opens: nothing is sent during
// the cool-down, however many messages are due.
func TestBreakerOpens(t *testing.T) {
	sender := &scripted{answer: func(Message, int) error { return &SendError{Status: 503, Err: errors.New("down")} }}
	h := start(t, map[string]Sender{"c": sender}, Policy{InitialBackoff: time.Millisecond, MaxBackoff: time.Millisecond, Timeout: time.Second, Concurrency: 1, BreakerCooldown: time.Minute})
	for i := range 20 {
		h.enqueue("c", fmt.Sprint("A", i), "x")
	}
	h.waitFor("the breaker open", func() bool { return h.outbox.Status("c").Breaker == BreakerOpen })
	n := sender.count()
	time.Sleep(200 * time.Millisecond)
	if got := sender.count(); got != n || n != breakerThreshold {
		t.Errorf("sends: %d when it opened, %d later; want %d", n, got, breakerThreshold)
	}
	h.outbox.RetryNow("c")
	h.waitFor("a send after RetryNow", func() bool { return sender.count() > n })
}

// A send still running at shutdown is not recorded as an attempt: the
// message stays queued and is sent again after a restart.
func TestShutdownMidSend(t *testing.T) {
	started := make(chan struct{})
	sender := &scripted{answer: func(m Message, n int) error {
		close(started)
		time.Sleep(50 * time.Millisecond)
		return &SendError{Status: 0, Err: context.Canceled}
	}}
	h := start(t, map[string]Sender{"c": sender}, fast)
	id := h.enqueue("c", "A1", "x")
	<-started
	h.cancel()
	<-h.done
	var m *store.Message
	h.store.View(func(tx *store.Tx) error { m, _ = tx.Message(id); return nil })
	if m.State != store.Queued || len(m.Attempts) != 0 {
		t.Errorf("after shutdown = %+v", m)
	}
	h.store.Close()
	h.cancel = nil
}
