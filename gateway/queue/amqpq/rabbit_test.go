package amqpq

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"
	"go.uber.org/goleak"

	"github.com/liaisonhq/liaison/gateway/connector"
	"github.com/liaisonhq/liaison/gateway/outbox"
	"github.com/liaisonhq/liaison/gateway/queue"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// fast are consumer options that keep the tests short.
var fast = []queue.Option{queue.WithRetryDelay(50*time.Millisecond, 400*time.Millisecond)}

var errHandler = errors.New("handler failed")

// TestRabbitMQ runs the tests that need a broker against one, since a
// RabbitMQ node takes seconds to start. Each subtest has queues of its own.
func TestRabbitMQ(t *testing.T) {
	s := startRabbit(t)
	// RabbitMQ writes queue definitions to disk lazily: a durable queue
	// declared moments before a SIGKILL is sometimes gone after the
	// restart, with what it held (seen 3 times in 16 runs). The restart
	// test's queue is declared first, so it is seconds old at the kill.
	ensureQueue(t, queueConfig(s, "restart", ""), Queue{Name: "restart"})
	for _, tt := range []struct {
		name string
		test func(*testing.T, *rabbitServer)
	}{
		{"round trip", testRoundTrip},
		{"ack after handle", testAckAfterHandle},
		{"crash mid-handle", testCrashMidHandle},
		{"poison", testPoison},
		{"publisher errors", testPublisherErrors},
		{"broker paused", testBrokerPaused},
		{"broker restarted", testBrokerRestarted},
	} {
		t.Run(tt.name, func(t *testing.T) { tt.test(t, s) })
	}
}

// queueConfig is a connector on s that consumes subject and publishes to
// publish (the endpoint's subject parameter; "" for subject).
func queueConfig(s *rabbitServer, subject, publish string) connector.Config {
	endpoint := s.url()
	if publish != "" {
		endpoint += "?subject=" + publish
	}
	return connector.Config{
		Name: "Registry", Type: connector.AMQP, Endpoint: endpoint,
		Sync:     connector.Sync{Mode: connector.ModeQueue, Subject: subject},
		Delivery: connector.Delivery{Timeout: connector.Duration(5 * time.Second)},
	}
}

func ensureQueue(t *testing.T, cfg connector.Config, q Queue) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	if err := EnsureQueue(ctx, cfg, q); err != nil {
		t.Fatal(err)
	}
}

// publisher returns a Publisher for cfg, closed when the test ends.
func publisher(t *testing.T, cfg connector.Config) *Publisher {
	t.Helper()
	p, err := NewPublisher(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := p.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return p
}

func message(key, body string) outbox.Message {
	return outbox.Message{
		ID: "m-" + key, Connector: "Registry", RecordType: "Immunization", RecordID: "I1", Op: outbox.Upsert,
		Body: []byte(body), ContentType: "application/fhir+json", IdempotencyKey: key, Attempt: 1,
	}
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

// sendSlack is how long past its timeout a Send may take in a test: Send
// returns by its timeout plus closeGrace; the rest is room for a loaded
// machine.
const sendSlack = 5 * time.Second

// sendErr publishes m with a timeout and returns the *outbox.SendError it
// fails with, failing the test when it does not, or when Send outlives its
// timeout by more than sendSlack.
func sendErr(t *testing.T, p *Publisher, m outbox.Message, timeout time.Duration) *outbox.SendError {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), timeout)
	defer cancel()
	began := time.Now()
	err := p.Send(ctx, m)
	var se *outbox.SendError
	if !errors.As(err, &se) {
		t.Fatalf("Send: err = %v, want a *outbox.SendError", err)
	}
	if took := time.Since(began); took > timeout+sendSlack {
		t.Errorf("Send took %v with a %v timeout", took, timeout)
	}
	if strings.Contains(err.Error(), string(m.Body)) {
		t.Errorf("err %q holds the payload", err)
	}
	return se
}

// raw opens a connection for the test's own checks, closed when the test
// ends.
func raw(t *testing.T, s *rabbitServer) *amqp.Channel {
	t.Helper()
	conn, err := amqp.Dial(s.url())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = conn.Close() })
	ch, err := conn.Channel()
	if err != nil {
		t.Fatal(err)
	}
	return ch
}

// depth returns how many ready messages the queue holds.
func depth(t *testing.T, s *rabbitServer, name string) int {
	t.Helper()
	q, err := raw(t, s).QueueDeclarePassive(name, true, false, false, false, nil)
	if err != nil {
		t.Fatal(err)
	}
	return q.Messages
}

// delivery is one call of a test's handler.
type delivery struct {
	id, payload string
	err         error // what the handler returned
}

// recorder is a Handler that records its calls and answers with answer.
type recorder struct {
	mu     sync.Mutex
	calls  []delivery
	answer func(n int, d delivery) error // n counts calls from 1
	signal chan struct{}
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

func consumer(t *testing.T, cfg connector.Config, durable string) *Consumer {
	t.Helper()
	c, err := NewConsumer(cfg, durable, fast...)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func sha(body string) string {
	sum := sha256.Sum256([]byte(body))
	return "sha256:" + hex.EncodeToString(sum[:])
}

func testRoundTrip(t *testing.T, s *rabbitServer) {
	// The publisher routes by type through an exchange; the consumer
	// declares its own queue, bound to it.
	cfg := queueConfig(s, "hms/in.#", "hms/in.{type}")
	ensureQueue(t, cfg, Queue{Name: "rt-setup", Exchange: "hms", Key: "none"}) // declares the exchange
	c := consumer(t, cfg, "rt")
	r := newRecorder(nil)
	stop := run(t, c, r.handle)
	waitQueue(t, s, "rt")
	p := publisher(t, cfg)
	for i := 1; i <= 3; i++ {
		send(t, p, fmt.Sprintf("k%d", i), fmt.Sprintf(`{"n":%d}`, i))
	}
	// A message from elsewhere, without a MessageId.
	ch := raw(t, s)
	if err := ch.PublishWithContext(t.Context(), "hms", "in.Patient", false, false, amqp.Publishing{Body: []byte(`{"n":4}`)}); err != nil {
		t.Fatal(err)
	}
	got := r.waitCalls(t, 4)
	want := []delivery{{"k1", `{"n":1}`, nil}, {"k2", `{"n":2}`, nil}, {"k3", `{"n":3}`, nil}, {sha(`{"n":4}`), `{"n":4}`, nil}}
	for i, w := range want {
		if got[i] != w {
			t.Errorf("delivery %d = %+v, want %+v", i, got[i], w)
		}
	}
	stop()
	if n := depth(t, s, "rt"); n != 0 {
		t.Errorf("queue holds %d messages after the acks, want 0", n)
	}

	// What the publisher sets on a message.
	ensureQueue(t, cfg, Queue{Name: "props"})
	send(t, publisher(t, queueConfig(s, "props", "")), "k-props", "{}")
	d, ok, err := ch.Get("props", true)
	if err != nil || !ok {
		t.Fatalf("get: %v, %v", ok, err)
	}
	if d.MessageId != "k-props" || d.ContentType != "application/fhir+json" || d.DeliveryMode != amqp.Persistent {
		t.Errorf("message id %q, content type %q, delivery mode %d", d.MessageId, d.ContentType, d.DeliveryMode)
	}
	for h, w := range map[string]string{HeaderOp: "upsert", HeaderRecordType: "Immunization", HeaderRecordID: "I1"} {
		if g, _ := d.Headers[h].(string); g != w {
			t.Errorf("header %s = %q, want %q", h, g, w)
		}
	}
}

// waitQueue waits up to 10s for a consumer to declare the queue.
func waitQueue(t *testing.T, s *rabbitServer, name string) {
	t.Helper()
	conn, err := amqp.Dial(s.url())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	for deadline := time.Now().Add(10 * time.Second); ; {
		ch, err := conn.Channel()
		if err != nil {
			t.Fatal(err)
		}
		q, err := ch.QueueDeclarePassive(name, true, false, false, false, nil)
		if err == nil && q.Consumers > 0 {
			_ = ch.Close()
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("queue %s has no consumer after 10s: %v", name, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// testAckAfterHandle: a message whose handler fails twice is requeued,
// with the same delivery id, until the handler succeeds; then it is
// acknowledged and comes no more.
func testAckAfterHandle(t *testing.T, s *rabbitServer) {
	cfg := queueConfig(s, "ack", "")
	ensureQueue(t, cfg, Queue{Name: "ack"})
	send(t, publisher(t, cfg), "k1", "one")
	r := newRecorder(func(n int, _ delivery) error {
		if n <= 2 {
			return errHandler
		}
		return nil
	})
	stop := run(t, consumer(t, cfg, "ack-consumer"), r.handle)
	got := r.waitCalls(t, 3)
	time.Sleep(300 * time.Millisecond) // room for a wrong redelivery
	stop()
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
	if n := depth(t, s, "ack"); n != 0 {
		t.Errorf("queue holds %d messages, want 0", n)
	}
}

// testCrashMidHandle: a message whose handling is cut off before the ack
// comes again with the same delivery id.
func testCrashMidHandle(t *testing.T, s *rabbitServer) {
	t.Run("consumer cancelled", func(t *testing.T) {
		cfg := queueConfig(s, "crash-cancel", "")
		ensureQueue(t, cfg, Queue{Name: "crash-cancel"})
		send(t, publisher(t, cfg), "k-cancel", "one")
		started := make(chan struct{})
		var once sync.Once
		stop := run(t, consumer(t, cfg, "first"), func(ctx context.Context, _ string, _ []byte) error {
			once.Do(func() { close(started) })
			<-ctx.Done() // the gateway is stopped before its commit
			return ctx.Err()
		})
		<-started
		stop()
		r := newRecorder(nil)
		stop = run(t, consumer(t, cfg, "second"), r.handle)
		if got := r.waitCalls(t, 1); got[0].id != "k-cancel" || got[0].payload != "one" {
			t.Errorf("redelivery %+v, want k-cancel one", got[0])
		}
		stop()
		if n := depth(t, s, "crash-cancel"); n != 0 {
			t.Errorf("queue holds %d messages, want 0", n)
		}
	})

	t.Run("connection lost before the ack", func(t *testing.T) {
		cfg := queueConfig(s, "crash-conn", "")
		ensureQueue(t, cfg, Queue{Name: "crash-conn"})
		// Without a MessageId: the id is the body's hash, the same again.
		if err := raw(t, s).PublishWithContext(t.Context(), "", "crash-conn", false, false, amqp.Publishing{Body: []byte("two")}); err != nil {
			t.Fatal(err)
		}
		c := consumer(t, cfg, "crasher")
		r := newRecorder(func(n int, _ delivery) error {
			if n == 1 {
				_ = c.connection().Close() // committed, but the process dies before the ack
			}
			return nil
		})
		stop := run(t, c, r.handle)
		got := r.waitCalls(t, 2)
		if got[0].id != sha("two") || got[1].id != sha("two") {
			t.Errorf("deliveries %+v, want %s twice", got, sha("two"))
		}
		stop()
		if n := depth(t, s, "crash-conn"); n != 0 {
			t.Errorf("queue holds %d messages, want 0", n)
		}
	})
}

// testPoison: a message the handler calls poison is rejected at once, to
// the queue's dead-letter exchange.
func testPoison(t *testing.T, s *rabbitServer) {
	cfg := queueConfig(s, "poison", "")
	ensureQueue(t, cfg, Queue{Name: "poison.dead"})
	ensureQueue(t, cfg, Queue{Name: "poison", Args: amqp.Table{
		"x-dead-letter-exchange": "", "x-dead-letter-routing-key": "poison.dead",
	}})
	p := publisher(t, cfg)
	send(t, p, "bad", "not json")
	send(t, p, "good", "{}")
	r := newRecorder(func(_ int, d delivery) error {
		if d.id == "bad" {
			return fmt.Errorf("inbound: %w", queue.Poison(errHandler))
		}
		return nil
	})
	stop := run(t, consumer(t, cfg, "poison-consumer"), r.handle)
	r.waitCalls(t, 2)
	time.Sleep(300 * time.Millisecond) // room for a wrong redelivery
	stop()
	if got := r.calls; len(got) != 2 || got[0].id != "bad" || got[1].id != "good" {
		t.Errorf("deliveries %+v, want bad then good once each", got)
	}
	if n := depth(t, s, "poison"); n != 0 {
		t.Errorf("queue holds %d messages, want 0", n)
	}
	if n := depth(t, s, "poison.dead"); n != 1 {
		t.Errorf("dead-letter queue holds %d messages, want 1", n)
	}
}

func testPublisherErrors(t *testing.T, s *rabbitServer) {
	ensureQueue(t, queueConfig(s, "full", ""), Queue{Name: "full", Args: amqp.Table{"x-max-length": int32(1), "x-overflow": "reject-publish"}})
	ensureQueue(t, queueConfig(s, "big", ""), Queue{Name: "big"})
	tests := []struct {
		name      string
		cfg       connector.Config
		m         func(outbox.Message) outbox.Message
		before    func(*Publisher)
		permanent bool
		want      string // in the error
	}{
		{name: "nack", cfg: queueConfig(s, "full", ""), before: func(p *Publisher) { send(t, p, "k0", "fills the queue") }, want: "refused the message (nack)"},
		{name: "unroutable", cfg: queueConfig(s, "nowhere", ""), want: "unroutable: 312 NO_ROUTE"},
		{name: "no exchange", cfg: queueConfig(s, "nosuch/key", ""), want: "closed the channel: 404"},
		{name: "broker down", cfg: connector.Config{Name: "x", Type: connector.AMQP, Endpoint: closedURL(t)}, want: "connection refused"},
		{name: "closed", cfg: queueConfig(s, "big", ""), before: func(p *Publisher) { _ = p.Close() }, want: "publisher closed"},
		{
			name: "larger than the broker allows", cfg: queueConfig(s, "big", ""), permanent: true, want: "larger than",
			m: func(m outbox.Message) outbox.Message { m.Body = []byte(strings.Repeat("x", 2<<20)); return m },
		},
		{
			name: "type not a routing key part", cfg: queueConfig(s, "big", "hms/{type}"), permanent: true, want: "cannot stand for {type}",
			m: func(m outbox.Message) outbox.Message { m.RecordType = "a b"; return m },
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := publisher(t, tt.cfg)
			if tt.before != nil {
				tt.before(p)
			}
			m := message("k1", "{}")
			if tt.m != nil {
				m = tt.m(m)
			}
			se := sendErr(t, p, m, 3*time.Second)
			if se.Permanent != tt.permanent || se.Status != 0 {
				t.Errorf("Permanent %v, Status %d; want %v, 0", se.Permanent, se.Status, tt.permanent)
			}
			if !strings.Contains(se.Error(), tt.want) {
				t.Errorf("err %q does not say %q", se, tt.want)
			}
		})
	}
}

// testBrokerPaused: a broker that stops answering fails Sends as
// retryable within their timeout, and the publisher reconnects once it
// answers again.
func testBrokerPaused(t *testing.T, s *rabbitServer) {
	cfg := queueConfig(s, "paused", "")
	ensureQueue(t, cfg, Queue{Name: "paused"})
	p := publisher(t, cfg)
	send(t, p, "k1", "before")

	s.pause(t)
	resumed := false
	defer func() {
		if !resumed {
			s.resume()
		}
	}()
	// The first Send publishes on the open connection, gets no confirm and
	// gives the connection up; the second dials, and gets no handshake.
	// Each is retryable and ends with its timeout (sendErr checks when).
	for i, what := range []string{"publish to", "connect to"} {
		se := sendErr(t, p, message("k2", "during"), time.Second)
		if se.Permanent || se.Status != 0 {
			t.Errorf("paused broker, Send %d: %v (Permanent %v, Status %d), want retryable", i+1, se, se.Permanent, se.Status)
		}
		if !strings.Contains(se.Error(), what) {
			t.Errorf("paused broker, Send %d: %v, want an error from %q", i+1, se, what)
		}
		if i == 0 && !errors.Is(se, context.DeadlineExceeded) {
			t.Errorf("paused broker, Send 1: %v, want it to wrap %v (nothing answers a paused broker's publish)", se, context.DeadlineExceeded)
		}
	}
	s.resume()
	resumed = true
	send(t, p, "k2", "after")
	// The broker may have stored "during" too, from its socket buffer once
	// it went on: at least once, and the consumer dedupes by the id.
	var bodies []string
	ch := raw(t, s)
	for {
		d, ok, err := ch.Get("paused", true)
		if err != nil {
			t.Fatal(err)
		}
		if !ok {
			break
		}
		bodies = append(bodies, d.MessageId+" "+string(d.Body))
	}
	if got := strings.Join(bodies, ", "); got != "k1 before, k2 after" && got != "k1 before, k2 during, k2 after" {
		t.Errorf("queue holds %s; want k1 before, (k2 during,) k2 after", got)
	}
}

// testBrokerRestarted: a consumer and a publisher go on after the broker
// was killed and started again; confirmed persistent messages survive.
func testBrokerRestarted(t *testing.T, s *rabbitServer) {
	cfg := queueConfig(s, "restart", "")
	ensureQueue(t, cfg, Queue{Name: "restart"})
	p := publisher(t, cfg)
	send(t, p, "k1", "confirmed before the kill")
	s.restart(t)
	r := newRecorder(nil)
	run(t, consumer(t, cfg, "restart-consumer"), r.handle)
	if got := r.waitCalls(t, 1); got[0].id != "k1" {
		t.Errorf("after the restart: %+v, want k1", got[0])
	}
	send(t, p, "k2", "after the restart") // the publisher dials again
	if got := r.waitCalls(t, 2); got[1].id != "k2" {
		t.Errorf("after the restart: %+v, want k2", got[1])
	}
}
