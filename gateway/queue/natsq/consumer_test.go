package natsq

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"go.uber.org/goleak"

	"github.com/liaisonhq/liaison/gateway/connector"
	"github.com/liaisonhq/liaison/gateway/outbox"
	"github.com/liaisonhq/liaison/gateway/queue"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// fast are consumer options that keep the tests short.
var fast = []queue.Option{queue.WithRetryDelay(50*time.Millisecond, 400*time.Millisecond), queue.WithAckWait(time.Second)}

// queueConfig is a connector that consumes subject on s, with the stream
// STREAM holding subject.
func queueConfig(t *testing.T, s *natsServer, subject string) connector.Config {
	t.Helper()
	cfg := connector.Config{
		Name: "Registry", Type: connector.NATS, Endpoint: s.url(),
		Sync:     connector.Sync{Mode: connector.ModeQueue, Subject: subject},
		Delivery: connector.Delivery{Timeout: connector.Duration(5 * time.Second)},
	}
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	defer cancel()
	if err := EnsureStream(ctx, cfg, Stream{Name: "STREAM"}); err != nil {
		t.Fatal(err)
	}
	return cfg
}

// publisher returns a Publisher for cfg, closed when the test ends.
func publisher(t *testing.T, cfg connector.Config) *Publisher {
	t.Helper()
	p, err := NewPublisher(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = p.Close() })
	return p
}

// send publishes body with the idempotency key, and fails the test on an
// error.
func send(t *testing.T, p *Publisher, key, body string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	defer cancel()
	if err := p.Send(ctx, message(key, body)); err != nil {
		t.Fatalf("Send %s: %v", key, err)
	}
}

func message(key, body string) outbox.Message {
	return outbox.Message{
		ID: "m-" + key, Connector: "Registry", RecordType: "Immunization", RecordID: "I1", Op: outbox.Upsert,
		Body: []byte(body), ContentType: "application/fhir+json", IdempotencyKey: key, Attempt: 1,
	}
}

// delivery is one call of a test's handler.
type delivery struct {
	id, payload string
	err         error // what the handler returned
}

// recorder is a Handler that records its calls and answers with answer
// (nil: success).
type recorder struct {
	mu     sync.Mutex
	calls  []delivery
	answer func(n int, d delivery) error // n counts calls from 1
	signal chan struct{}                 // gets a value after each call, when not full
}

func newRecorder(answer func(n int, d delivery) error) *recorder {
	if answer == nil {
		answer = func(int, delivery) error { return nil }
	}
	return &recorder{answer: answer, signal: make(chan struct{}, 100)}
}

func (r *recorder) handle(_ context.Context, id string, payload []byte) error {
	r.mu.Lock()
	d := delivery{id: id, payload: string(payload)}
	n := len(r.calls) + 1
	r.mu.Unlock()
	d.err = r.answer(n, d)
	r.mu.Lock()
	r.calls = append(r.calls, d)
	r.mu.Unlock()
	select {
	case r.signal <- struct{}{}:
	default:
	}
	return d.err
}

// waitCalls waits up to 10s for n calls and returns the calls so far.
func (r *recorder) waitCalls(t *testing.T, n int) []delivery {
	t.Helper()
	deadline := time.After(10 * time.Second)
	for {
		r.mu.Lock()
		calls := append([]delivery(nil), r.calls...)
		r.mu.Unlock()
		if len(calls) >= n {
			return calls
		}
		select {
		case <-r.signal:
		case <-deadline:
			t.Fatalf("%d handler calls after 10s, want %d: %+v", len(calls), n, calls)
		}
	}
}

func (r *recorder) count() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.calls)
}

// run runs c until the returned stop is called, or the test ends.
func run(t *testing.T, c *Consumer, h queue.Handler) (stop func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- c.Run(ctx, h) }()
	var once sync.Once
	stop = func() {
		once.Do(func() {
			cancel()
			select {
			case err := <-done:
				if err != nil {
					t.Errorf("Run: %v", err)
				}
			case <-time.After(10 * time.Second):
				t.Errorf("Run did not return 10s after cancel")
			}
		})
	}
	t.Cleanup(stop)
	return stop
}

func consumer(t *testing.T, cfg connector.Config, opts ...queue.Option) *Consumer {
	t.Helper()
	c, err := NewConsumer(cfg, "gateway", append(append([]queue.Option(nil), fast...), opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// settled waits up to 10s for the durable consumer to have nothing pending
// and nothing unacknowledged, and returns its info.
func settled(t *testing.T, s *natsServer) *jetstream.ConsumerInfo {
	t.Helper()
	nc, err := nats.Connect(s.url())
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	js, _ := jetstream.New(nc)
	deadline := time.Now().Add(10 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(t.Context(), 2*time.Second)
		c, err := js.Consumer(ctx, "STREAM", "gateway")
		var info *jetstream.ConsumerInfo
		if err == nil {
			info, err = c.Info(ctx)
		}
		cancel()
		if err == nil && info.NumPending == 0 && info.NumAckPending == 0 {
			return info
		}
		if time.Now().After(deadline) {
			t.Fatalf("consumer not settled after 10s: %+v, %v", info, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func TestRoundTrip(t *testing.T) {
	s := startNATS(t)
	cfg := queueConfig(t, s, "hms.in")
	p := publisher(t, cfg)
	for i := 1; i <= 3; i++ {
		send(t, p, fmt.Sprintf("k%d", i), fmt.Sprintf(`{"n":%d}`, i))
	}
	// A message from elsewhere, without a Nats-Msg-Id.
	nc, err := nats.Connect(s.url())
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	js, _ := jetstream.New(nc)
	if _, err := js.Publish(t.Context(), "hms.in", []byte(`{"n":4}`)); err != nil {
		t.Fatal(err)
	}

	r := newRecorder(nil)
	run(t, consumer(t, cfg), r.handle)
	got := r.waitCalls(t, 4)
	want := []delivery{{"k1", `{"n":1}`, nil}, {"k2", `{"n":2}`, nil}, {"k3", `{"n":3}`, nil}, {"js:STREAM:4", `{"n":4}`, nil}}
	for i, w := range want {
		if got[i] != w {
			t.Errorf("delivery %d = %+v, want %+v", i, got[i], w)
		}
	}
	info := settled(t, s)
	if info.AckFloor.Stream != 4 || info.NumRedelivered != 0 {
		t.Errorf("consumer: ack floor %d, redelivered %d; want 4, 0", info.AckFloor.Stream, info.NumRedelivered)
	}

	// The publisher's headers.
	stream, err := js.Stream(t.Context(), "STREAM")
	if err != nil {
		t.Fatal(err)
	}
	raw, err := stream.GetMsg(t.Context(), 1)
	if err != nil {
		t.Fatal(err)
	}
	for h, w := range map[string]string{
		jetstream.MsgIDHeader: "k1", HeaderContentType: "application/fhir+json",
		HeaderOp: "upsert", HeaderRecordType: "Immunization", HeaderRecordID: "I1",
	} {
		if g := raw.Header.Get(h); g != w {
			t.Errorf("header %s = %q, want %q", h, g, w)
		}
	}
}

// TestAckAfterHandle: a message whose handler fails twice is redelivered,
// with the same delivery id, until the handler succeeds; then it is
// acknowledged and comes no more.
func TestAckAfterHandle(t *testing.T) {
	s := startNATS(t)
	cfg := queueConfig(t, s, "hms.in")
	send(t, publisher(t, cfg), "k1", "one")
	r := newRecorder(func(n int, _ delivery) error {
		if n <= 2 {
			return errHandler
		}
		return nil
	})
	run(t, consumer(t, cfg), r.handle)
	got := r.waitCalls(t, 3)
	settled(t, s)
	time.Sleep(300 * time.Millisecond) // room for a wrong redelivery
	if n := r.count(); n != 3 {
		t.Fatalf("%d handler calls, want 3", n)
	}
	successes := 0
	for _, d := range got {
		if d.id != "k1" || d.payload != "one" {
			t.Errorf("delivery %+v, want k1 one", d)
		}
		if d.err == nil {
			successes++
		}
	}
	if successes != 1 {
		t.Errorf("%d successful deliveries, want 1", successes)
	}
}

// TestCrashMidHandle: a message whose handling is cut off before the
// acknowledgement comes again with the same delivery id.
func TestCrashMidHandle(t *testing.T) {
	s := startNATS(t)
	cfg := queueConfig(t, s, "hms.in")
	p := publisher(t, cfg)

	t.Run("consumer cancelled", func(t *testing.T) {
		send(t, p, "k-cancel", "one")
		first := consumer(t, cfg)
		started := make(chan struct{})
		var once sync.Once
		stop := run(t, first, func(ctx context.Context, id string, _ []byte) error {
			once.Do(func() { close(started) })
			<-ctx.Done() // the gateway is stopped before its commit
			return ctx.Err()
		})
		<-started
		stop()
		r := newRecorder(nil)
		run(t, consumer(t, cfg), r.handle)
		if got := r.waitCalls(t, 1); got[0].id != "k-cancel" || got[0].payload != "one" {
			t.Errorf("redelivery %+v, want k-cancel one", got[0])
		}
		settled(t, s)
	})

	t.Run("connection lost before the ack", func(t *testing.T) {
		send(t, p, "k-crash", "two")
		c := consumer(t, cfg)
		r := newRecorder(func(n int, _ delivery) error {
			if n == 1 {
				c.conn().Close() // committed, but the process dies before the ack
			}
			return nil
		})
		run(t, c, r.handle)
		got := r.waitCalls(t, 2)
		if got[0].id != "k-crash" || got[1].id != "k-crash" {
			t.Errorf("deliveries %+v, want k-crash twice", got)
		}
		settled(t, s)
	})
}

// TestPoison: a message the handler calls poison is terminated at once.
func TestPoison(t *testing.T) {
	s := startNATS(t)
	cfg := queueConfig(t, s, "hms.in")
	p := publisher(t, cfg)
	send(t, p, "bad", "not json")
	send(t, p, "good", "{}")
	r := newRecorder(func(_ int, d delivery) error {
		if d.id == "bad" {
			return fmt.Errorf("inbound: %w", queue.Poison(errHandler))
		}
		return nil
	})
	run(t, consumer(t, cfg), r.handle)
	r.waitCalls(t, 2)
	info := settled(t, s)
	time.Sleep(1500 * time.Millisecond) // past AckWait: room for a wrong redelivery
	if got := r.calls; len(got) != 2 || got[0].id != "bad" || got[1].id != "good" {
		t.Errorf("deliveries %+v, want bad then good once each", got)
	}
	if info.NumRedelivered != 0 || info.AckFloor.Stream != 2 {
		t.Errorf("consumer: redelivered %d, ack floor %d; want 0, 2", info.NumRedelivered, info.AckFloor.Stream)
	}
}

// TestReconnect: a server restart fails Sends as retryable, and both sides
// go on once it is back.
func TestReconnect(t *testing.T) {
	s := startNATS(t)
	cfg := queueConfig(t, s, "hms.in")
	p := publisher(t, cfg)
	r := newRecorder(nil)
	run(t, consumer(t, cfg), r.handle)
	send(t, p, "before", "1")
	r.waitCalls(t, 1)
	settled(t, s)

	s.stop()
	ctx, cancel := context.WithTimeout(t.Context(), time.Second)
	err := p.Send(ctx, message("during", "2"))
	cancel()
	assertRetry(t, err)

	s.start(t)
	deadline := time.Now().Add(10 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(t.Context(), time.Second)
		err := p.Send(ctx, message("during", "2"))
		cancel()
		if err == nil {
			break
		}
		assertRetry(t, err)
		if time.Now().After(deadline) {
			t.Fatalf("Send after the restart: %v", err)
		}
	}
	// The server may have lost the acknowledgement of "before" with the
	// kill (it writes consumer state behind), so "before" may come again:
	// at least once.
	for n := 2; ; n++ {
		got := r.waitCalls(t, n)
		if d := got[n-1]; d.id == "during" {
			if d.payload != "2" {
				t.Errorf("after the restart: %+v, want during 2", d)
			}
			break
		}
	}
	settled(t, s)
}
