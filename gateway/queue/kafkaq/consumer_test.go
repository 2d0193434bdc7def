package kafkaq

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"

	"github.com/liaisonhq/liaison/gateway/queue"
)

// TestRoundTrip: what the Publisher sends, the Consumer hands over with
// the idempotency key as delivery id, in order, and commits; a record from
// elsewhere, without Idempotency-Key, gets its place as delivery id.
func TestRoundTrip(t *testing.T) {
	c := startCluster(t, 1, "hms.in")
	cfg := queueConfig(c, "hms.in")
	p := publisher(t, cfg)
	for i := 1; i <= 3; i++ {
		send(t, p, message(fmt.Sprintf("k%d", i), "I1", fmt.Sprintf(`{"n":%d}`, i)))
	}
	produce(t, c, "hms.in", []string{`{"n":4}`}, nil, func(int) string { return "other" })

	r := newRecorder(nil)
	run(t, consumer(t, cfg, "gateway"), r.handle)
	got := r.waitCalls(t, 4)
	want := []delivery{{"k1", `{"n":1}`, nil}, {"k2", `{"n":2}`, nil}, {"k3", `{"n":3}`, nil}, {"kafka:hms.in:0:3", `{"n":4}`, nil}}
	for i, w := range want {
		if got[i] != w {
			t.Errorf("delivery %d = %+v, want %+v", i, got[i], w)
		}
	}
	waitCommitted(t, c, "gateway", "hms.in", map[int32]int64{0: 4})

	// The record as stored: key and headers.
	rec := readAll(t, c, "hms.in", 1)[0]
	if string(rec.Key) != "Immunization/I1" {
		t.Errorf("key %q, want Immunization/I1", rec.Key)
	}
	headers := map[string]string{}
	for _, h := range rec.Headers {
		headers[h.Key] = string(h.Value)
	}
	for h, w := range map[string]string{
		HeaderIdempotencyKey: "k1", HeaderContentType: "application/fhir+json",
		HeaderOp: "upsert", HeaderRecordType: "Immunization", HeaderRecordID: "I1",
	} {
		if headers[h] != w {
			t.Errorf("header %s = %q, want %q", h, headers[h], w)
		}
	}
}

// waitCommitted waits up to 10s for the group's committed offsets of topic
// to be want.
func waitCommitted(t *testing.T, c *kfake.Cluster, group, topic string, want map[int32]int64) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		got := committed(t, c, group, topic)
		if maps.Equal(got, want) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("committed offsets %v, want %v", got, want)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestCommitAfterHandle: a record whose handler fails twice is handed over
// again, with the same delivery id, until the handler succeeds; only then
// is its offset committed, and it comes no more.
func TestCommitAfterHandle(t *testing.T) {
	c := startCluster(t, 1, "hms.in")
	cfg := queueConfig(c, "hms.in")
	produce(t, c, "hms.in", []string{"one", "two"}, []string{"k1", "k2"}, func(int) string { return "K" })
	var atK2 map[int32]int64 // the committed offsets when k2 came
	r := newRecorder(func(n int, d delivery) error {
		if d.id == "k2" {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			var err error
			if atK2, err = fetchCommitted(ctx, c, "gateway", "hms.in"); err != nil {
				return err
			}
		}
		if d.id == "k1" && n <= 2 {
			return errHandler
		}
		return nil
	})
	run(t, consumer(t, cfg, "gateway"), r.handle)
	r.waitCalls(t, 4)
	waitCommitted(t, c, "gateway", "hms.in", map[int32]int64{0: 2})
	time.Sleep(300 * time.Millisecond) // room for a wrong redelivery
	got := r.snapshot()
	want := []delivery{{"k1", "one", errHandler}, {"k1", "one", errHandler}, {"k1", "one", nil}, {"k2", "two", nil}}
	if !slices.Equal(got, want) {
		t.Errorf("deliveries %+v, want %+v", got, want)
	}
	// When k2 came, k1's offset was committed.
	if atK2[0] != 1 {
		t.Errorf("committed offsets while handling k2: %v, want partition 0 at 1", atK2)
	}
}

// TestRestartRedeliversUncommitted: a consumer whose handler fails on one
// record of a partition handles the other partitions through, and that
// partition up to the record; a new client in the same group then gets
// exactly the records not acknowledged — the failed one and those after
// it in its partition — and none that was.
func TestRestartRedeliversUncommitted(t *testing.T) {
	const n = 60
	c := startCluster(t, 4, "hms.in")
	cfg := queueConfig(c, "hms.in")
	values, ids := make([]string, n), make([]string, n)
	for i := range n {
		values[i], ids[i] = fmt.Sprintf("v%d", i), fmt.Sprintf("id-%d", i)
	}
	rs := produce(t, c, "hms.in", values, ids, func(i int) string { return fmt.Sprintf("key-%d", i%17) })
	poisoned := rs[n/2] // fails for ever in the first consumer
	var acked, unacked []string
	for i, r := range rs {
		if r.Partition == poisoned.Partition && r.Offset >= poisoned.Offset {
			unacked = append(unacked, ids[i])
		} else {
			acked = append(acked, ids[i])
		}
	}
	slices.Sort(acked)
	slices.Sort(unacked)

	first := newRecorder(func(_ int, d delivery) error {
		if d.id == ids[n/2] {
			return errHandler
		}
		return nil
	})
	stop := run(t, consumer(t, cfg, "gateway"), first.handle)
	first.waitFor(t, "every other record acknowledged, the failed one tried thrice", func(calls []delivery) bool {
		tries := 0
		for _, d := range calls {
			if d.id == ids[n/2] {
				tries++
			}
		}
		return tries >= 3 && len(successes(calls)) == len(acked)
	})
	stop()
	got := slices.Sorted(maps.Keys(successes(first.snapshot())))
	if !slices.Equal(got, acked) {
		t.Fatalf("first consumer acknowledged %v, want %v", got, acked)
	}

	second := newRecorder(nil)
	run(t, consumer(t, cfg, "gateway"), second.handle)
	second.waitCalls(t, len(unacked))
	time.Sleep(500 * time.Millisecond) // room for a wrong redelivery
	calls := second.snapshot()
	got = nil
	for _, d := range calls {
		got = append(got, d.id)
	}
	slices.Sort(got)
	if !slices.Equal(got, unacked) {
		t.Errorf("after the restart: %v, want %v", got, unacked)
	}
	// In partition order: the failed record first.
	if calls[0].id != ids[n/2] {
		t.Errorf("first redelivery %s, want %s", calls[0].id, ids[n/2])
	}
}

// TestPoison: a record the handler calls poison is skipped at once, its
// offset committed, and the next one handed over.
func TestPoison(t *testing.T) {
	c := startCluster(t, 1, "hms.in")
	cfg := queueConfig(c, "hms.in")
	produce(t, c, "hms.in", []string{"not json", "{}"}, []string{"bad", "good"}, func(int) string { return "K" })
	r := newRecorder(func(_ int, d delivery) error {
		if d.id == "bad" {
			return fmt.Errorf("inbound: %w", queue.Poison(errHandler))
		}
		return nil
	})
	run(t, consumer(t, cfg, "gateway"), r.handle)
	r.waitCalls(t, 2)
	waitCommitted(t, c, "gateway", "hms.in", map[int32]int64{0: 2})
	time.Sleep(300 * time.Millisecond) // room for a wrong redelivery
	if got := r.snapshot(); len(got) != 2 || got[0].id != "bad" || got[1].id != "good" {
		t.Errorf("deliveries %+v, want bad then good once each", got)
	}
}

// TestStopMidHandle: a record whose handling is cut off by a shutdown is
// not committed, and the next member of the group gets it.
func TestStopMidHandle(t *testing.T) {
	c := startCluster(t, 1, "hms.in")
	cfg := queueConfig(c, "hms.in")
	produce(t, c, "hms.in", []string{"one"}, []string{"k-stop"}, func(int) string { return "K" })
	started := make(chan struct{})
	var once sync.Once
	stop := run(t, consumer(t, cfg, "gateway"), func(ctx context.Context, _ string, _ []byte) error {
		once.Do(func() { close(started) })
		<-ctx.Done() // the gateway is stopped before its commit
		return ctx.Err()
	})
	select {
	case <-started:
	case <-time.After(20 * time.Second):
		t.Fatal("no delivery after 20s")
	}
	stop()
	if got := committed(t, c, "gateway", "hms.in"); len(got) != 0 {
		t.Errorf("committed %v after a handler cut off, want nothing", got)
	}
	r := newRecorder(nil)
	run(t, consumer(t, cfg, "gateway"), r.handle)
	if got := r.waitCalls(t, 1); got[0].id != "k-stop" || got[0].payload != "one" {
		t.Errorf("redelivery %+v, want k-stop one", got[0])
	}
	waitCommitted(t, c, "gateway", "hms.in", map[int32]int64{0: 1})
}

// TestRebalance: a second member joining mid-stream takes partitions over
// from the first; every record is acknowledged at least once, none is
// lost, and the group's offsets end at the end of every partition.
func TestRebalance(t *testing.T) {
	const n = 200
	c := startCluster(t, 6, "hms.in")
	cfg := queueConfig(c, "hms.in")
	values, ids := make([]string, n), make([]string, n)
	for i := range n {
		values[i], ids[i] = fmt.Sprintf("v%d", i), fmt.Sprintf("id-%d", i)
	}
	rs := produce(t, c, "hms.in", values, ids, func(i int) string { return fmt.Sprintf("key-%d", i) })
	ends := map[int32]int64{}
	for _, r := range rs {
		ends[r.Partition] = max(ends[r.Partition], r.Offset+1)
	}

	slow := func(int, delivery) error { time.Sleep(5 * time.Millisecond); return nil }
	a, b := newRecorder(slow), newRecorder(slow)
	run(t, consumer(t, cfg, "gateway"), a.handle)
	a.waitCalls(t, 20)
	run(t, consumer(t, cfg, "gateway"), b.handle)
	all := func() map[string]int {
		ok := successes(a.snapshot())
		for id, k := range successes(b.snapshot()) {
			ok[id] += k
		}
		return ok
	}
	deadline := time.Now().Add(30 * time.Second)
	for len(all()) < n {
		if time.Now().After(deadline) {
			t.Fatalf("%d of %d records acknowledged after 30s", len(all()), n)
		}
		time.Sleep(50 * time.Millisecond)
	}
	waitCommitted(t, c, "gateway", "hms.in", ends)
	if len(b.snapshot()) == 0 {
		t.Log("the second member got no partition before the first finished")
	}
	dups := 0
	for _, k := range all() {
		dups += k - 1
	}
	t.Logf("%d records, %d handled twice (at least once)", n, dups)
}
