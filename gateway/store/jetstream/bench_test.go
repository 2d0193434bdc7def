package jetstream

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/liaisonhq/liaison/gateway/outbox"
	"github.com/liaisonhq/liaison/gateway/store"
)

// benchSeq makes message ids unique across benchmark rounds: the stream
// would drop a repeated id as a duplicate.
var benchSeq atomic.Int64

// benchMessage is a message of a 300-byte body for conn, of one of 1000
// records.
func benchMessage(conn string) store.Message {
	n := benchSeq.Add(1)
	m := message(conn, "Patient", fmt.Sprintf("P%d", n%1000), int(n))
	m.Body = fmt.Sprintf(`{"resourceType":"Patient","id":"P%d","name":[{"family":"Doe","given":["Jane"]}],"birthDate":"1980-01-01","gender":"female","address":[{"line":["1 Main St"],"city":"Springfield","state":"IL","postalCode":"62701"}],"telecom":[{"system":"phone","value":"555-0100"}],"pad":"%0100d"}`, n%1000, n)
	return m
}

// BenchmarkOutbox measures, on one server (R1; R1fsync with every write
// synced to disk before the acknowledgement) and on a three-node cluster
// (R3, acknowledged after a quorum of two, each writing to its page
// cache):
//
//   - publish/one: one message per Publish, one Publish at a time: the
//     latency from publish to acknowledgement (ns/op);
//   - publish/batch100: 100 messages per Publish (async publishes, acks
//     awaited together): ns/op per batch, and msgs/s;
//   - publish/parallel: one message per Publish from many goroutines at
//     once, as concurrent requests do: msgs/s;
//   - deliver: b.N queued messages delivered over 16 partitions by one
//     Run to a sender that does nothing: msgs/s of the delivery side.
func BenchmarkOutbox(b *testing.B) {
	for _, setup := range []struct {
		name  string
		start func(testing.TB) *cluster
		r     int
	}{{"R1", startSingle, 1}, {"R1fsync", startSingleSync, 1}, {"R3", startCluster, 3}} {
		c := setup.start(b)
		cfg := testConfig(16)
		cfg.Replicas = setup.r
		o := newOutbox(b, c.connect(0), cfg)
		ctx := context.Background()
		b.Run(setup.name+"/publish/one", func(b *testing.B) {
			for b.Loop() {
				if err := o.Publish(ctx, []store.Message{benchMessage("bench")}); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(setup.name+"/publish/batch100", func(b *testing.B) {
			batch := make([]store.Message, 100)
			for b.Loop() {
				for i := range batch {
					batch[i] = benchMessage("bench")
				}
				if err := o.Publish(ctx, batch); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(100*b.N)/b.Elapsed().Seconds(), "msgs/s")
		})
		b.Run(setup.name+"/publish/parallel", func(b *testing.B) {
			b.SetParallelism(32)
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					if err := o.Publish(ctx, []store.Message{benchMessage("bench")}); err != nil {
						b.Error(err)
						return
					}
				}
			})
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "msgs/s")
		})
		b.Run(setup.name+"/deliver", func(b *testing.B) {
			conn := fmt.Sprintf("d%d", benchSeq.Add(1))
			var sent atomic.Int64
			noop := senderFunc(func(context.Context, outbox.Message) error {
				sent.Add(1)
				return nil
			})
			// Run until every partition's consumer is made and pulled
			// from, then pause, queue b.N messages, and time from resume
			// until all are delivered and acknowledged.
			stop := run(b, o, conn, noop, outbox.Policy{Timeout: 5 * time.Second})
			if err := o.Pause(ctx, conn, ""); err != nil {
				b.Fatal(err)
			}
			eventually(b, 10*time.Second, "Run sees the pause", func() bool { return o.Status(conn).Pulling == 0 })
			msgs := make([]store.Message, b.N)
			for i := range msgs {
				msgs[i] = benchMessage(conn)
			}
			publish(b, o, msgs, 500)
			b.ResetTimer()
			if err := o.Resume(ctx, conn); err != nil {
				b.Fatal(err)
			}
			deadline := time.Now().Add(5 * time.Minute)
			for sent.Load() < int64(b.N) || counts(b, o, conn).Queued > 0 {
				if time.Now().After(deadline) {
					b.Fatalf("after 5m, %d of %d delivered", sent.Load(), b.N)
				}
				time.Sleep(2 * time.Millisecond)
			}
			b.StopTimer()
			stop()
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "msgs/s")
		})
	}
}
