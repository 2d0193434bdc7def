package kafkaq

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
	"go.uber.org/goleak"

	"github.com/liaisonhq/liaison/gateway/connector"
	"github.com/liaisonhq/liaison/gateway/outbox"
	"github.com/liaisonhq/liaison/gateway/queue"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

var errHandler = errors.New("handler failed")

// fast are consumer options that keep the tests short.
var fast = []queue.Option{queue.WithRetryDelay(50*time.Millisecond, 400*time.Millisecond)}

// startCluster starts franz-go's in-process Kafka, three brokers on
// 127.0.0.1, with the topics of partitions partitions each; it is closed
// when the test ends.
func startCluster(t *testing.T, partitions int32, topics ...string) *kfake.Cluster {
	t.Helper()
	c, err := kfake.NewCluster(kfake.NumBrokers(3), kfake.SeedTopics(partitions, topics...))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return c
}

// endpoint is the connector endpoint that reaches c.
func endpoint(c *kfake.Cluster) string { return "kafka://" + strings.Join(c.ListenAddrs(), ",") }

// queueConfig is a connector on c that consumes topic.
func queueConfig(c *kfake.Cluster, topic string) connector.Config {
	return connector.Config{
		Name: "Registry", Type: connector.Kafka, Endpoint: endpoint(c),
		Sync:     connector.Sync{Mode: connector.ModeQueue, Subject: topic},
		Delivery: connector.Delivery{Timeout: connector.Duration(5 * time.Second)},
	}
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

func message(key, id, body string) outbox.Message {
	return outbox.Message{
		ID: "m-" + key, Connector: "Registry", RecordType: "Immunization", RecordID: id, Op: outbox.Upsert,
		Body: []byte(body), ContentType: "application/fhir+json", IdempotencyKey: key, Attempt: 1,
	}
}

// send sends m, failing the test on an error.
func send(t *testing.T, p *Publisher, m outbox.Message) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	if err := p.Send(ctx, m); err != nil {
		t.Fatalf("Send %s: %v", m.IdempotencyKey, err)
	}
}

// rawClient is a franz-go client of c for the test's own producing and
// reading, closed when the test ends.
func rawClient(t *testing.T, c *kfake.Cluster, opts ...kgo.Opt) *kgo.Client {
	t.Helper()
	cl, err := kgo.NewClient(append([]kgo.Opt{kgo.SeedBrokers(c.ListenAddrs()...)}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	return cl
}

// produce produces records with the values and, when ids is not nil, the
// Idempotency-Key headers, keyed by key(i); it returns them as stored.
func produce(t *testing.T, c *kfake.Cluster, topic string, values, ids []string, key func(i int) string) []*kgo.Record {
	t.Helper()
	cl := rawClient(t, c)
	var rs []*kgo.Record
	for i, v := range values {
		r := &kgo.Record{Topic: topic, Key: []byte(key(i)), Value: []byte(v)}
		if ids != nil {
			r.Headers = []kgo.RecordHeader{{Key: HeaderIdempotencyKey, Value: []byte(ids[i])}}
		}
		rs = append(rs, r)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	if err := cl.ProduceSync(ctx, rs...).FirstErr(); err != nil {
		t.Fatal(err)
	}
	return rs
}

// readAll reads the first n records of topic, from every partition.
func readAll(t *testing.T, c *kfake.Cluster, topic string, n int) []*kgo.Record {
	t.Helper()
	cl := rawClient(t, c, kgo.ConsumeTopics(topic), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	var rs []*kgo.Record
	for len(rs) < n {
		fs := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			t.Fatalf("%d records of %s after 10s, want %d", len(rs), topic, n)
		}
		rs = append(rs, fs.Records()...)
	}
	return rs
}

// committed returns the group's committed offsets of topic, by partition.
func committed(t *testing.T, c *kfake.Cluster, group, topic string) map[int32]int64 {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	defer cancel()
	offsets, err := fetchCommitted(ctx, c, group, topic)
	if err != nil {
		t.Fatal(err)
	}
	return offsets
}

// fetchCommitted returns the group's committed offsets of topic, by
// partition.
func fetchCommitted(ctx context.Context, c *kfake.Cluster, group, topic string) (map[int32]int64, error) {
	cl, err := kgo.NewClient(kgo.SeedBrokers(c.ListenAddrs()...))
	if err != nil {
		return nil, err
	}
	defer cl.Close()
	req := kmsg.NewPtrOffsetFetchRequest()
	req.Group = group
	rt := kmsg.NewOffsetFetchRequestTopic()
	rt.Topic = topic
	for p := range int32(16) {
		rt.Partitions = append(rt.Partitions, p)
	}
	req.Topics = append(req.Topics, rt)
	resp, err := req.RequestWith(ctx, cl)
	if err == nil {
		err = kerr.ErrorForCode(resp.ErrorCode)
	}
	if err != nil {
		return nil, err
	}
	out := map[int32]int64{}
	for _, rt := range resp.Topics {
		for _, p := range rt.Partitions {
			if p.Offset >= 0 {
				out[p.Partition] = p.Offset
			}
		}
	}
	return out, nil
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
	return &recorder{answer: answer, signal: make(chan struct{}, 1000)}
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

// snapshot returns the calls so far.
func (r *recorder) snapshot() []delivery {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]delivery(nil), r.calls...)
}

// waitFor waits up to 20s for cond to hold of the calls, and returns
// them.
func (r *recorder) waitFor(t *testing.T, what string, cond func([]delivery) bool) []delivery {
	t.Helper()
	deadline := time.After(20 * time.Second)
	for {
		calls := r.snapshot()
		if cond(calls) {
			return calls
		}
		select {
		case <-r.signal:
		case <-time.After(100 * time.Millisecond):
		case <-deadline:
			t.Fatalf("after 20s, not %s: %d calls", what, len(calls))
		}
	}
}

// waitCalls waits for n calls and returns the calls so far.
func (r *recorder) waitCalls(t *testing.T, n int) []delivery {
	t.Helper()
	return r.waitFor(t, "enough calls", func(c []delivery) bool { return len(c) >= n })
}

// successes returns the ids of the successful calls, with their count.
func successes(calls []delivery) map[string]int {
	ok := map[string]int{}
	for _, d := range calls {
		if d.err == nil {
			ok[d.id]++
		}
	}
	return ok
}

// consumer returns a Consumer for cfg in group.
func consumer(t *testing.T, cfg connector.Config, group string, opts ...queue.Option) *Consumer {
	t.Helper()
	c, err := NewConsumer(cfg, group, append(append([]queue.Option(nil), fast...), opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	return c
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
			case <-time.After(20 * time.Second):
				t.Errorf("Run did not return 20s after cancel")
			}
		})
	}
	t.Cleanup(stop)
	return stop
}
