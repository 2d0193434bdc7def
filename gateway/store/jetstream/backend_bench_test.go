package jetstream

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/liaisonhq/liaison/gateway/outbox"
	"github.com/liaisonhq/liaison/gateway/store"
)

// BenchmarkBackend measures what a gateway on JetStream pays per record
// change and per message, on one server (R1) and on a three-node cluster
// (R3), all on this machine:
//
//   - accept: Backend.Accept of one new record with one message, one at a
//     time: the latency a request waits for before its 202 (ns/op), made
//     of the change's compare-and-swap publish, the message's state entry
//     and the audit entry;
//
//   - accept/parallel: the same from many goroutines, as concurrent
//     requests do: changes/s;
//
//   - kv-update: one update of a message's state entry (read, then a
//     compare-and-swap write), as each delivery attempt makes: ns/op;
//
//   - deliver: b.N accepted messages relayed and delivered by one
//     Deliverer to a sender that does nothing, every attempt recorded:
//     msgs/s.
//
//     go test ./gateway/store/jetstream -run '^$' -bench Backend -benchtime 2000x
func BenchmarkBackend(b *testing.B) {
	for _, setup := range []struct {
		name  string
		start func(testing.TB) *cluster
	}{{"R1", startSingle}, {"R3", startCluster}} {
		c := setup.start(b)
		be := openBackend(b, c, 0, "bench")
		register(b, be, "c1")
		ctx := context.Background()
		var n atomic.Int64
		change := func() *store.Change { return patientChange(fmt.Sprintf("B%d", n.Add(1)), 1, "c1") }
		b.Run(setup.name+"/accept", func(b *testing.B) {
			for b.Loop() {
				if _, err := be.Accept(ctx, &store.Batch{Changes: []*store.Change{change()}}); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(setup.name+"/accept/parallel", func(b *testing.B) {
			b.SetParallelism(16)
			start := time.Now()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					if _, err := be.Accept(ctx, &store.Batch{Changes: []*store.Change{change()}}); err != nil {
						b.Error(err)
						return
					}
				}
			})
			b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "changes/s")
		})
		id := be.mustAccept(b, change())
		b.Run(setup.name+"/kv-update", func(b *testing.B) {
			for b.Loop() {
				_, err := be.updateState(ctx, id, nil, func(m *store.Message) error {
					m.NextAttemptAt = time.Now()
					return nil
				})
				if err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(setup.name+"/deliver", func(b *testing.B) {
			register(b, be, "c2")
			for range b.N {
				ch := patientChange(fmt.Sprintf("D%d", n.Add(1)), 1, "c2")
				if _, err := be.Accept(ctx, &store.Batch{Changes: []*store.Change{ch}}); err != nil {
					b.Fatal(err)
				}
			}
			var delivered atomic.Int64
			done := make(chan struct{})
			start := time.Now()
			d := deliver(b, be, outbox.Config{OnAttempt: func(string, store.State, time.Duration) {
				if delivered.Add(1) == int64(b.N) {
					close(done)
				}
			}}, "c2", noopSender{})
			select {
			case <-done:
			case <-time.After(5 * time.Minute):
				b.Fatalf("%d of %d delivered after 5 minutes", delivered.Load(), b.N)
			}
			b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "msgs/s")
			d.Stop("c2")
		})
	}
}

// mustAccept accepts ch and returns its message's id.
func (b *Backend) mustAccept(tb testing.TB, ch *store.Change) string {
	out, err := b.Accept(context.Background(), &store.Batch{Changes: []*store.Change{ch}})
	if err != nil || len(out[0].Messages) != 1 {
		tb.Fatalf("accept: %v %+v", err, out)
	}
	return out[0].Messages[0]
}

type noopSender struct{}

func (noopSender) Send(context.Context, outbox.Message) error { return nil }

// BenchmarkCounts is Counts of a connector with 20,000 queued messages on
// one server: first-pass-ms is the first call, which reads every message
// state; ns/op the calls after it, which reuse that pass (a connector of
// 10,000 states or more, for ten times as long as the pass took).
//
//	go test ./gateway/store/jetstream -run '^$' -bench Counts -benchtime 100x
func BenchmarkCounts(b *testing.B) {
	be := openBackend(b, startSingle(b), 0, "bench")
	register(b, be, "c1")
	ctx := context.Background()
	var n atomic.Int64
	var wg sync.WaitGroup
	for range 16 {
		wg.Go(func() {
			for i := n.Add(1); i <= 20_000; i = n.Add(1) {
				if _, err := be.Accept(ctx, &store.Batch{Changes: []*store.Change{patientChange(fmt.Sprintf("K%d", i), 1, "c1")}}); err != nil {
					b.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	start := time.Now()
	c, err := be.Counts(ctx, "c1")
	if err != nil || c[store.Queued] != 20_000 {
		b.Fatalf("counts %v, %v", c, err)
	}
	first := time.Since(start)
	for b.Loop() {
		if _, err := be.Counts(ctx, "c1"); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(first.Microseconds())/1000, "first-pass-ms")
}
