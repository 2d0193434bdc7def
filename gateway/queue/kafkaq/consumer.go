package kafkaq

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/liaisonhq/liaison/gateway/connector"
	"github.com/liaisonhq/liaison/gateway/queue"
)

// Timings of a Consumer's own I/O.
const (
	// settleTimeout bounds one offset commit, and leaving the group.
	settleTimeout = 5 * time.Second
	// The pause before polling again after an error, or before a new
	// session after a failed one, starts at minReconnect and doubles up
	// to maxReconnect.
	minReconnect = 100 * time.Millisecond
	maxReconnect = 5 * time.Second
	// maxTracked bounds the failure counts a session keeps.
	maxTracked = 10000
)

// Consumer consumes the connector's topic (Sync.Subject) as a member of a
// consumer group, handing each record to a queue.Handler and committing
// its offset only once the handler has succeeded. Run does the work.
type Consumer struct {
	cfg   config
	group string
	opts  queue.Options
	log   *slog.Logger
}

// NewConsumer returns a Consumer for the connector cfg (type kafka, with
// Sync.Subject) in the consumer group durable: consumers of one group
// share the topic's partitions and its committed offsets, across
// restarts. The endpoint's group parameter, when set, overrides durable;
// durable "" means "liaison-" and the connector's name as a token.
// NewConsumer does no I/O; it fails only on a bad cfg or group, with a
// *connector.FieldError naming the field.
func NewConsumer(cfg connector.Config, durable string, opts ...queue.Option) (*Consumer, error) {
	c, err := newConfig(cfg)
	if err == nil && c.consume == "" {
		err = fieldErrorf("sync.subject", "missing: the topic to consume")
	}
	group := c.group
	if group == "" {
		group = durable
	}
	if group == "" {
		group = "liaison-" + token(cfg.Name)
	}
	if err == nil {
		if e := checkGroup(group); e != nil {
			err = fmt.Errorf("consumer group %q: %w", group, e)
		}
	}
	if err != nil {
		return nil, fmt.Errorf("kafkaq: connector %q: %w", cfg.Name, err)
	}
	o := queue.NewOptions(opts...)
	return &Consumer{cfg: c, group: group, opts: o, log: o.Logger.With("connector", cfg.Name, "topic", c.consume, "group", group)}, nil
}

// Run consumes until ctx ends, then returns nil; it returns an error only
// when handle is nil. Records are handled one at a time, in partition
// order; a record is handed over only after every earlier record of its
// partition has been settled:
//
//   - handle returns nil: the record's offset is committed, and Run waits
//     for the group coordinator to confirm it (a lost commit means the
//     record comes again);
//   - an error wrapping queue.ErrPoison: the record is skipped, its
//     offset committed like a success, and logged by partition and
//     offset; it is never delivered again;
//   - another error: nothing is committed; the partition is paused for
//     Options.Delay of the record's failure count, then read again from
//     that record, while the other partitions go on. When ctx has ended
//     (a shutdown) the record stays uncommitted, for the next member of
//     the group.
//
// deliveryID is the record's Idempotency-Key header, or
// "kafka:<topic>:<partition>:<offset>" without one; both are the same on
// every delivery of a record.
//
// A new group starts at the earliest offset of each partition. Offsets
// are committed by Run alone (franz-go's autocommit is off), and a
// rebalance waits while a polled batch (at most Options.Prefetch records)
// is being handled, so an offset is never committed for a partition the
// member no longer owns, nor for a record not yet handled. Only a crash
// makes another member take the partitions over, after the group's
// session timeout (45s); Options.AckWait is not used. franz-go reconnects
// to the brokers on its own; Run logs its warnings, and starts a new
// client after a pause of up to 5s when one cannot be made.
func (c *Consumer) Run(ctx context.Context, handle queue.Handler) error {
	if handle == nil {
		return errors.New("kafkaq: Run: nil handler")
	}
	pause := minReconnect
	for {
		handled, err := c.session(ctx, handle)
		if ctx.Err() != nil {
			return nil
		}
		if handled > 0 {
			pause = minReconnect
		}
		c.log.Warn("kafka consumer session ended; starting again", "in", pause, "err", err)
		t := time.NewTimer(pause)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil
		case <-t.C:
		}
		pause = min(2*pause, maxReconnect)
	}
}

// partition is one partition of a topic.
type partition struct {
	topic string
	n     int32
}

// record is one record of a partition.
type record struct {
	partition
	offset int64
}

// session is one client's worth of consuming. Its maps are guarded by mu:
// the group's callbacks run on franz-go's goroutines.
type session struct {
	*Consumer
	cl     *kgo.Client
	handle queue.Handler

	mu sync.Mutex
	// holds are the paused partitions, each with the failed record to
	// read again from and when.
	holds map[partition]hold
	// pending are the offsets to commit, per partition, whose commit has
	// not been confirmed yet.
	pending map[partition]kgo.EpochOffset
	// failures counts the failed deliveries of records.
	failures map[record]int
}

// hold is a partition paused after a failed record.
type hold struct {
	at  kgo.EpochOffset // the failed record
	due time.Time       // when to read it again
}

// session creates a client in the group, and handles records until ctx
// ends (nil error) or the client cannot be made. It returns how many
// records it handled.
func (c *Consumer) session(ctx context.Context, handle queue.Handler) (int, error) {
	s := &session{Consumer: c, handle: handle, holds: map[partition]hold{}, pending: map[partition]kgo.EpochOffset{}, failures: map[record]int{}}
	opts, err := c.cfg.clientOptions(kgoLogger{c.log})
	if err != nil {
		return 0, err
	}
	opts = append(opts,
		kgo.ConsumerGroup(c.group),
		kgo.ConsumeTopics(c.cfg.consume),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()),
		kgo.DisableAutoCommit(),
		kgo.BlockRebalanceOnPoll(),
		kgo.OnPartitionsRevoked(func(ctx context.Context, cl *kgo.Client, lost map[string][]int32) {
			s.revoked(ctx, cl, lost, true)
		}),
		kgo.OnPartitionsLost(func(ctx context.Context, cl *kgo.Client, lost map[string][]int32) {
			s.revoked(ctx, cl, lost, false)
		}),
	)
	cl, err := kgo.NewClient(opts...)
	if err != nil {
		return 0, fmt.Errorf("kafka client: %w", err)
	}
	s.cl = cl
	defer s.close()
	return s.poll(ctx), nil
}

// poll polls and handles batches of records until ctx ends, and returns
// how many it handled.
func (s *session) poll(ctx context.Context) int {
	handled := 0
	pause := minReconnect
	for {
		next := s.release()
		pctx, cancel := ctx, context.CancelFunc(func() {})
		if !next.IsZero() {
			pctx, cancel = context.WithDeadline(ctx, next)
		}
		fetches := s.cl.PollRecords(pctx, s.opts.Prefetch)
		cancel()
		if ctx.Err() != nil || fetches.IsClientClosed() {
			s.cl.AllowRebalance()
			return handled
		}
		var failed error
		for _, fe := range fetches.Errors() {
			if errors.Is(fe.Err, context.DeadlineExceeded) || errors.Is(fe.Err, context.Canceled) {
				continue // a hold is due
			}
			failed = fe.Err
			s.log.Warn("kafka consumer: fetch failed", "partition", fe.Partition, "err", fe.Err)
		}
		for _, r := range fetches.Records() {
			if ctx.Err() != nil {
				break
			}
			if s.held(r) {
				continue // read again once the hold is released
			}
			s.deliver(ctx, r)
			handled++
		}
		s.cl.AllowRebalance()
		if failed == nil || ctx.Err() != nil {
			pause = minReconnect
			continue
		}
		t := time.NewTimer(pause)
		select {
		case <-ctx.Done():
			t.Stop()
			return handled
		case <-t.C:
		}
		pause = min(2*pause, maxReconnect)
	}
}

// deliver hands r to the handler and settles it by the answer.
func (s *session) deliver(ctx context.Context, r *kgo.Record) {
	id := deliveryID(r)
	err := s.handle(ctx, id, r.Value)
	switch {
	case err == nil:
		s.forget(r)
		s.commit(ctx, r, id)
	case errors.Is(err, queue.ErrPoison):
		// The handler logs why; the payload and the reason stay out of
		// this log.
		s.log.Warn("kafka consumer: poison message skipped", "delivery", id, "partition", r.Partition, "offset", r.Offset)
		s.forget(r)
		s.commit(ctx, r, id)
	case ctx.Err() != nil:
		// Not committed: the partition's next owner reads it again.
	default:
		n := s.failed(r)
		delay := s.opts.Delay(n)
		s.log.Debug("kafka consumer: handler failed; reading the record again later", "delivery", id, "partition", r.Partition, "offset", r.Offset, "deliveries", n, "in", delay)
		s.hold(r, delay)
	}
}

// deliveryID is r's Idempotency-Key header, else its place in the topic.
func deliveryID(r *kgo.Record) string {
	for _, h := range r.Headers {
		if h.Key == HeaderIdempotencyKey && len(h.Value) > 0 {
			return string(h.Value)
		}
	}
	return fmt.Sprintf("kafka:%s:%d:%d", r.Topic, r.Partition, r.Offset)
}

// commit commits the offset after r, with any offsets whose commit failed
// before, and waits for the coordinator's answer.
func (s *session) commit(ctx context.Context, r *kgo.Record, id string) {
	s.mu.Lock()
	s.pending[partition{r.Topic, r.Partition}] = kgo.EpochOffset{Epoch: r.LeaderEpoch, Offset: r.Offset + 1}
	offsets := s.offsets(nil)
	s.mu.Unlock()
	cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), settleTimeout)
	defer cancel()
	if err := commitOffsets(cctx, s.cl, offsets); err != nil {
		s.log.Warn("kafka consumer: offset commit not confirmed; the message may come again", "delivery", id, "partition", r.Partition, "offset", r.Offset, "err", err)
		return
	}
	s.committed(offsets)
}

// offsets returns the pending offsets of the partitions in only (nil: of
// all), as franz-go takes them. The caller holds mu.
func (s *session) offsets(only map[string][]int32) map[string]map[int32]kgo.EpochOffset {
	out := map[string]map[int32]kgo.EpochOffset{}
	for p, at := range s.pending {
		if only != nil && !has(only, p) {
			continue
		}
		if out[p.topic] == nil {
			out[p.topic] = map[int32]kgo.EpochOffset{}
		}
		out[p.topic][p.n] = at
	}
	return out
}

// committed forgets the pending offsets that offsets has committed.
func (s *session) committed(offsets map[string]map[int32]kgo.EpochOffset) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for topic, ps := range offsets {
		for n, at := range ps {
			if p := (partition{topic, n}); s.pending[p] == at {
				delete(s.pending, p)
			}
		}
	}
}

// commitOffsets commits offsets and returns the first error of the
// request or of a partition.
func commitOffsets(ctx context.Context, cl *kgo.Client, offsets map[string]map[int32]kgo.EpochOffset) error {
	var rerr error
	cl.CommitOffsetsSync(ctx, offsets, func(_ *kgo.Client, _ *kmsg.OffsetCommitRequest, resp *kmsg.OffsetCommitResponse, err error) {
		if err != nil {
			rerr = err
			return
		}
		for _, t := range resp.Topics {
			for _, p := range t.Partitions {
				if err := kerr.ErrorForCode(p.ErrorCode); err != nil {
					rerr = fmt.Errorf("partition %d: %w", p.Partition, err)
					return
				}
			}
		}
	})
	return rerr
}

// failed counts one more failed delivery of r and returns the count.
func (s *session) failed(r *kgo.Record) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.failures) >= maxTracked {
		clear(s.failures)
	}
	k := record{partition{r.Topic, r.Partition}, r.Offset}
	s.failures[k]++
	return s.failures[k]
}

// forget drops r's failure count.
func (s *session) forget(r *kgo.Record) {
	s.mu.Lock()
	delete(s.failures, record{partition{r.Topic, r.Partition}, r.Offset})
	s.mu.Unlock()
}

// hold pauses r's partition until delay has passed, after which release
// reads it again from r.
func (s *session) hold(r *kgo.Record, delay time.Duration) {
	s.mu.Lock()
	s.holds[partition{r.Topic, r.Partition}] = hold{at: kgo.EpochOffset{Epoch: r.LeaderEpoch, Offset: r.Offset}, due: time.Now().Add(delay)}
	s.mu.Unlock()
	s.cl.PauseFetchPartitions(map[string][]int32{r.Topic: {r.Partition}})
}

// held reports whether r's partition is paused.
func (s *session) held(r *kgo.Record) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	_, ok := s.holds[partition{r.Topic, r.Partition}]
	return ok
}

// release resumes the held partitions whose time has come, each from its
// failed record, and returns when the next one is due (zero: none).
func (s *session) release() (next time.Time) {
	now := time.Now()
	due := map[partition]kgo.EpochOffset{}
	s.mu.Lock()
	for p, h := range s.holds {
		if h.due.After(now) {
			if next.IsZero() || h.due.Before(next) {
				next = h.due
			}
			continue
		}
		due[p] = h.at
		delete(s.holds, p)
	}
	s.mu.Unlock()
	// Outside mu: franz-go's locks are taken here, and its revoke
	// callback takes mu. A partition revoked meanwhile is left alone by
	// SetOffsets, and resumed by the callback as well.
	for p, at := range due {
		s.cl.SetOffsets(map[string]map[int32]kgo.EpochOffset{p.topic: {p.n: at}})
		s.cl.ResumeFetchPartitions(map[string][]int32{p.topic: {p.n}})
	}
	return next
}

// revoked runs when the group takes the partitions lost away: it commits
// their pending offsets when commit is set (a revocation, not a loss),
// then drops their holds and failure counts, resuming them so that they
// are read from the committed offset if they come back.
func (s *session) revoked(ctx context.Context, cl *kgo.Client, lost map[string][]int32, commit bool) {
	s.mu.Lock()
	offsets := s.offsets(lost)
	for p := range s.pending {
		if has(lost, p) {
			delete(s.pending, p)
		}
	}
	for p := range s.holds {
		if has(lost, p) {
			delete(s.holds, p)
		}
	}
	for r := range s.failures {
		if has(lost, r.partition) {
			delete(s.failures, r)
		}
	}
	s.mu.Unlock()
	if commit && len(offsets) > 0 {
		cctx, cancel := context.WithTimeout(ctx, settleTimeout)
		if err := commitOffsets(cctx, cl, offsets); err != nil {
			s.log.Warn("kafka consumer: offset commit on revocation not confirmed; messages may come again", "err", err)
		}
		cancel()
	}
	cl.ResumeFetchPartitions(lost)
}

// has reports whether p is in ps.
func has(ps map[string][]int32, p partition) bool {
	for _, n := range ps[p.topic] {
		if n == p.n {
			return true
		}
	}
	return false
}

// close leaves the group, bounded by settleTimeout, and closes the
// client. Uncommitted records are read again by the partitions' next
// owner.
func (s *session) close() {
	s.cl.AllowRebalance()
	ctx, cancel := context.WithTimeout(context.Background(), settleTimeout)
	defer cancel()
	if err := s.cl.LeaveGroupContext(ctx); err != nil {
		s.log.Warn("kafka consumer: leaving the group not confirmed; its partitions move after the session timeout", "err", err)
	}
	s.cl.Close()
}
