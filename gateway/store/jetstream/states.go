package jetstream

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	natsjs "github.com/nats-io/nats.go/jetstream"

	"github.com/liaisonhq/liaison/gateway/store"
)

// The messages bucket holds each message as the API shows it (store.Message:
// body, state, attempts, last error) under its ID, "<connector>.<record>.<version>"
// (MessageID). Accept creates the entry (queued); the deliverer rewrites it
// after every attempt; Replay, RetryNow and Purge change or delete it. The
// outbox stream, not this bucket, decides what is delivered: the bucket is
// what operators read.

// versionOf is the version at the end of a message ID; 0 for another id.
func versionOf(id string) int64 {
	n, _ := strconv.ParseInt(id[strings.LastIndexByte(id, '.')+1:], 10, 64)
	return n
}

// validKey reports whether s can be a key of a bucket.
func validKey(s string) bool {
	if s == "" || s[0] == '.' || s[len(s)-1] == '.' || strings.Contains(s, "..") {
		return false
	}
	for _, r := range s {
		if !('a' <= r && r <= 'z' || 'A' <= r && r <= 'Z' || '0' <= r && r <= '9' || strings.ContainsRune("-_=./", r)) {
			return false
		}
	}
	return true
}

// answersKept bounds the answers' bodies (OperationOutcomes) one entry
// keeps, so that it stays well below the server's payload limit (1 MiB
// by default) with the message's own body.
const answersKept = 256 << 10

// encodeState is a message's entry. Attempts are capped as on bbolt
// (store.MaxAttemptsKept, the first and the latest); their answers'
// bodies are kept from the latest back while they fit in answersKept.
func encodeState(m *store.Message) ([]byte, error) {
	cp := *m
	cp.Attempts = slices.Clone(m.Attempts)
	room := answersKept
	for i := len(cp.Attempts) - 1; i >= 0; i-- {
		a := &cp.Attempts[i]
		if n := len(a.Outcome) + len(a.Response); n <= room {
			room -= n
			continue
		}
		a.Outcome, a.Response = nil, ""
	}
	return json.Marshal(&cp)
}

// appendAttempt keeps the first and the latest attempts when there are
// more than store.MaxAttemptsKept.
func appendAttempt(as []store.Attempt, a store.Attempt) []store.Attempt {
	as = append(as, a)
	if len(as) > store.MaxAttemptsKept {
		keep := store.MaxAttemptsKept / 2
		as = append(as[:keep], as[len(as)-(store.MaxAttemptsKept-keep):]...)
	}
	return as
}

// eachState calls fn for every message whose ID filter matches.
func (b *Backend) eachState(ctx context.Context, filter string, fn func(m *store.Message, e natsjs.KeyValueEntry) error) error {
	return scan(ctx, b.states, filter, func(e natsjs.KeyValueEntry) error {
		var m store.Message
		if err := json.Unmarshal(e.Value(), &m); err != nil {
			return fmt.Errorf("message %s: %w", e.Key(), err)
		}
		return fn(&m, e)
	})
}

// createStates creates the entries of newly queued messages, all
// published at once and their acknowledgements awaited together. An
// entry that exists already (the deliverer got there first, or a retry)
// is left as it is.
func (b *Backend) createStates(ctx context.Context, msgs []store.Message) error {
	for i := range msgs {
		b.touchedID(msgs[i].ID)
	}
	futures := make([]natsjs.PubAckFuture, len(msgs))
	for i := range msgs {
		data, err := encodeState(&msgs[i])
		if err != nil {
			return fmt.Errorf("jetstream backend: message %s: %w", msgs[i].ID, err)
		}
		futures[i], err = b.js.PublishMsgAsync(&nats.Msg{Subject: "$KV." + b.cfg.MessagesBucket + "." + msgs[i].ID, Data: data},
			natsjs.WithExpectLastSequencePerSubject(0))
		if err != nil {
			futures[i] = nil // created one by one below
		}
	}
	for i, f := range futures {
		var err error
		if f != nil {
			select {
			case <-f.Ok():
				continue
			case err = <-f.Err():
			case <-ctx.Done():
				return fmt.Errorf("jetstream backend: message states: %w", ctx.Err())
			}
			if casConflict(err) {
				continue
			}
		}
		data, _ := encodeState(&msgs[i])
		if _, err = b.states.Create(ctx, msgs[i].ID, data); err != nil && !casConflict(err) {
			return fmt.Errorf("jetstream backend: message %s: state: %w", msgs[i].ID, err)
		}
	}
	return nil
}

// updateState reads a message's entry, lets fn change it and writes it
// back with a compare-and-swap on its revision, again while another
// writer's update lands in between. A missing entry is store.ErrNotFound
// unless missing is set: then fn changes *missing, and the entry is
// created.
func (b *Backend) updateState(ctx context.Context, id string, missing *store.Message, fn func(m *store.Message) error) (*store.Message, error) {
	defer b.touchedID(id)
	if !validKey(id) {
		return nil, fmt.Errorf("message %q: %w", id, store.ErrNotFound)
	}
	for range maxCAS {
		var m store.Message
		var rev uint64
		e, err := b.states.Get(ctx, id)
		switch {
		case errors.Is(err, natsjs.ErrKeyNotFound) && missing != nil:
			m = *missing
		case errors.Is(err, natsjs.ErrKeyNotFound):
			return nil, fmt.Errorf("message %s: %w", id, store.ErrNotFound)
		case err != nil:
			return nil, fmt.Errorf("jetstream backend: message %s: %w", id, err)
		default:
			if err := json.Unmarshal(e.Value(), &m); err != nil {
				return nil, fmt.Errorf("jetstream backend: message %s: %w", id, err)
			}
			rev = e.Revision()
		}
		if err := fn(&m); err != nil {
			return nil, err
		}
		data, err := encodeState(&m)
		if err != nil {
			return nil, fmt.Errorf("jetstream backend: message %s: %w", id, err)
		}
		if rev == 0 {
			_, err = b.states.Create(ctx, id, data)
		} else {
			_, err = b.states.Update(ctx, id, data, rev)
		}
		if casConflict(err) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("jetstream backend: message %s: %w", id, err)
		}
		return &m, nil
	}
	return nil, fmt.Errorf("jetstream backend: message %s: changed concurrently %d times: %w", id, maxCAS, store.ErrConflict)
}

// Message returns one message with its attempts, or store.ErrNotFound.
func (b *Backend) Message(ctx context.Context, id string) (*store.Message, error) {
	if err := b.live(); err != nil {
		return nil, err
	}
	if !validKey(id) {
		return nil, fmt.Errorf("message %q: %w", id, store.ErrNotFound)
	}
	e, err := b.states.Get(ctx, id)
	if errors.Is(err, natsjs.ErrKeyNotFound) {
		return nil, fmt.Errorf("message %s: %w", id, store.ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("jetstream backend: message %s: %w", id, err)
	}
	var m store.Message
	if err := json.Unmarshal(e.Value(), &m); err != nil {
		return nil, fmt.Errorf("jetstream backend: message %s: %w", id, err)
	}
	return &m, nil
}

// newer orders messages newest first: by creation, then by ID.
func newer(a, b *store.Message) int {
	if c := b.CreatedAt.Compare(a.CreatedAt); c != 0 {
		return c
	}
	return strings.Compare(b.ID, a.ID)
}

// Messages returns the messages the filter selects, newest first (by
// creation time, then ID). It reads the connector's entries (every
// entry without a connector; the record's keys with a record) in one
// pass and sorts them: a cost that grows with the messages kept, which
// Purge bounds.
func (b *Backend) Messages(ctx context.Context, f store.Filter) ([]*store.Message, error) {
	if err := b.live(); err != nil {
		return nil, err
	}
	if f.Limit <= 0 {
		f.Limit = 100
	}
	conn, lane := "*", "*"
	if f.Connector != "" {
		if !isToken(f.Connector) {
			return nil, nil
		}
		conn = f.Connector
	}
	if f.RecordType != "" && f.RecordID != "" {
		lane = laneHash(f.RecordType, f.RecordID)
	}
	var before *store.Message
	if f.Before != "" {
		m, err := b.Message(ctx, f.Before)
		if err != nil && !errors.Is(err, store.ErrNotFound) {
			return nil, err
		}
		before = m
	}
	var out []*store.Message
	err := b.eachState(ctx, conn+"."+lane+".*", func(m *store.Message, _ natsjs.KeyValueEntry) error {
		if (f.State == "" || m.State == f.State) && (f.RecordType == "" || m.RecordType == f.RecordType) &&
			(f.RecordID == "" || m.RecordID == f.RecordID) && (before == nil || newer(before, m) < 0) {
			out = append(out, m)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("jetstream backend: messages: %w", err)
	}
	slices.SortFunc(out, newer)
	if len(out) > f.Limit {
		out = out[:f.Limit]
	}
	return out, nil
}

// Counts returns a connector's messages by state: queued, failed and
// delivered from its message states (delivered plus those purged), dead
// from the dead-letter stream. See summarize for what it reads.
func (b *Backend) Counts(ctx context.Context, conn string) (store.Counts, error) {
	if err := b.live(); err != nil {
		return nil, err
	}
	if !isToken(conn) {
		return store.Counts{}, nil
	}
	sum, err := b.summarize(ctx, conn)
	if err != nil {
		return nil, err
	}
	out := maps.Clone(sum.counts)
	purged, _, err := b.purged(ctx, conn)
	if err != nil {
		return nil, err
	}
	out[store.Delivered] += purged
	if out[store.Dead], err = b.out.count(ctx, b.cfg.DeadStream, b.cfg.deadSubject(conn)); err != nil {
		return nil, err
	}
	return out, nil
}

// OldestUndelivered returns when the connector's oldest queued or failed
// message was created; see summarize.
func (b *Backend) OldestUndelivered(ctx context.Context, conn string) (time.Time, bool, error) {
	if err := b.live(); err != nil {
		return time.Time{}, false, err
	}
	if !isToken(conn) {
		return time.Time{}, false, nil
	}
	sum, err := b.summarize(ctx, conn)
	if err != nil {
		return time.Time{}, false, err
	}
	return sum.oldest, !sum.oldest.IsZero(), nil
}

// summary is what one pass over a connector's message states finds.
type summary struct {
	counts store.Counts // by state, dead left out
	oldest time.Time    // the oldest queued or failed message's creation
	took   time.Duration
	at     time.Time
	gen    uint64 // the entry's generation when the pass began
	states int    // how many message states the pass read
}

// summaryEntry is a connector's last summary, the lock that makes
// concurrent callers share one pass, and a generation this process's
// writes to the connector's message states advance.
type summaryEntry struct {
	mu  sync.Mutex
	sum *summary
	gen atomic.Uint64
}

// A summary is reused for reuseFactor times as long as its pass took, so
// that the console, the metrics and the status API, however often they
// ask, spend at most about a tenth of the time reading a large
// connector's states. The summary of a connector with fewer than
// largeConnector states is not reused after this process wrote one of
// them: its counts follow its own writes at once.
const (
	reuseFactor    = 10
	largeConnector = 10_000
)

// touched notes a write of one of conn's message states by this process.
func (b *Backend) touched(conn string) {
	b.mu.Lock()
	e := b.summaries[conn]
	b.mu.Unlock()
	if e != nil {
		e.gen.Add(1)
	}
}

// touchedID is touched for a message id: <connector>.<record>.<version>.
func (b *Backend) touchedID(id string) {
	conn, _, _ := strings.Cut(id, ".")
	b.touched(conn)
}

// summarize reads a connector's message states once for Counts and
// OldestUndelivered: one pass over the states bucket's keys <conn>.>,
// decoding only each state and creation time. Its cost grows with the
// messages kept (delivered ones until Purge), about 7 µs per message
// here; a pass is shared by concurrent callers, and its result reused as
// the constants above say: a large connector's counts may lag by up to
// ten times a pass (20,000 messages: about 1.5 s).
func (b *Backend) summarize(ctx context.Context, conn string) (*summary, error) {
	b.mu.Lock()
	if b.summaries == nil {
		b.summaries = map[string]*summaryEntry{}
	}
	e := b.summaries[conn]
	if e == nil {
		e = &summaryEntry{}
		b.summaries[conn] = e
	}
	b.mu.Unlock()
	e.mu.Lock()
	defer e.mu.Unlock()
	if s := e.sum; s != nil && time.Since(s.at) < reuseFactor*s.took && (s.states >= largeConnector || s.gen == e.gen.Load()) {
		return s, nil
	}
	start := time.Now()
	s := &summary{counts: store.Counts{}, gen: e.gen.Load()}
	err := scan(ctx, b.states, conn+".>", func(kv natsjs.KeyValueEntry) error {
		var m struct {
			State     store.State `json:"state"`
			CreatedAt time.Time   `json:"createdAt"`
		}
		if err := json.Unmarshal(kv.Value(), &m); err != nil {
			return fmt.Errorf("message %s: %w", kv.Key(), err)
		}
		s.states++
		if m.State == store.Dead {
			return nil
		}
		s.counts[m.State]++
		if (m.State == store.Queued || m.State == store.Failed) && (s.oldest.IsZero() || m.CreatedAt.Before(s.oldest)) {
			s.oldest = m.CreatedAt
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("jetstream backend: message states of %s: %w", conn, err)
	}
	s.took, s.at = time.Since(start), time.Now()
	e.sum = s
	return s, nil
}

// Replay puts a dead message back into the outbox, at the end of its
// partition (after the record's later changes still waiting, as in the
// package's Replay), queued and due at once. Its state is set to queued
// first: once published, it may be delivered at once, and that state
// must not be overwritten. A replay that fails sets it back to dead.
func (b *Backend) Replay(ctx context.Context, id string) (*store.Message, error) {
	if err := b.live(); err != nil {
		return nil, err
	}
	now := time.Now().UTC()
	m, err := b.updateState(ctx, id, nil, func(m *store.Message) error {
		if m.State != store.Dead {
			return fmt.Errorf("message %s is %s, not dead: %w", id, m.State, store.ErrConflict)
		}
		m.State, m.NextAttemptAt = store.Queued, now
		return nil
	})
	if err != nil {
		return nil, err
	}
	if _, err := b.out.Replay(ctx, m.Connector, []string{id}, nil); err != nil {
		b.bury(ctx, id)
		return nil, fmt.Errorf("jetstream backend: replay %s: %w", id, err)
	}
	return m, nil
}

// bury sets a message whose replay failed back to dead, unless it moved
// on meanwhile.
func (b *Backend) bury(ctx context.Context, id string) {
	_, err := b.updateState(context.WithoutCancel(ctx), id, nil, func(m *store.Message) error {
		if m.State == store.Queued {
			m.State, m.NextAttemptAt = store.Dead, time.Time{}
		}
		return nil
	})
	if err != nil {
		b.log.Warn("jetstream backend: state of a message whose replay failed", "message", id, "error", err)
	}
}

// ReplayDead replays every dead letter of a connector, and says how many.
// As Replay, it marks them queued first.
func (b *Backend) ReplayDead(ctx context.Context, conn string) (int, error) {
	if err := b.live(); err != nil {
		return 0, err
	}
	if !isToken(conn) {
		return 0, nil
	}
	dead, err := b.out.Dead(ctx, conn, 0)
	if err != nil {
		return 0, err
	}
	now := time.Now().UTC()
	ids := make([]string, 0, len(dead))
	for _, dl := range dead {
		_, err := b.updateState(ctx, dl.Message.ID, nil, func(m *store.Message) error {
			m.State, m.NextAttemptAt = store.Queued, now
			return nil
		})
		if err != nil && !errors.Is(err, store.ErrNotFound) {
			return 0, err
		}
		ids = append(ids, dl.Message.ID)
	}
	if len(ids) == 0 {
		return 0, nil
	}
	n, err := b.out.Replay(ctx, conn, ids, nil)
	if err != nil {
		return n, fmt.Errorf("jetstream backend: replay dead letters of %s: %w", conn, err)
	}
	return n, nil
}

// RetryNow makes the connector's failed messages due now, and says how
// many. A failed message waits in its consumer for the delay of its
// negative acknowledgement, which the server offers no way to shorten:
// RetryNow deletes the consumers of the partitions holding failed
// messages, and the gateways delivering them make them again at once,
// starting from the first message of the partition still in the stream
// (the work queue keeps what was not acknowledged), so the failed
// messages come at once, in order. A message being sent at that moment
// is sent again after its send ends (same idempotency key). Delivery
// counts start again, and with them the backoff.
func (b *Backend) RetryNow(ctx context.Context, conn string) (int, error) {
	if err := b.live(); err != nil {
		return 0, err
	}
	if !isToken(conn) {
		return 0, nil
	}
	var failed []*store.Message
	err := b.eachState(ctx, conn+".>", func(m *store.Message, _ natsjs.KeyValueEntry) error {
		if m.State == store.Failed {
			failed = append(failed, m)
		}
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("jetstream backend: retry %s: %w", conn, err)
	}
	now := time.Now().UTC()
	partitions := map[int]bool{}
	for _, f := range failed {
		partitions[Partition(f.RecordType, f.RecordID, b.cfg.Partitions)] = true
		_, err := b.updateState(ctx, f.ID, nil, func(m *store.Message) error {
			if m.State == store.Failed {
				m.NextAttemptAt = now
			}
			return nil
		})
		if err != nil && !errors.Is(err, store.ErrNotFound) {
			return 0, err
		}
	}
	for p := range partitions {
		if err := b.js.DeleteConsumer(ctx, b.cfg.Stream, consumerName(conn, p)); err != nil && !errors.Is(err, natsjs.ErrConsumerNotFound) {
			return 0, fmt.Errorf("jetstream backend: retry %s: partition %d: %w", conn, p, err)
		}
	}
	return len(failed), nil
}

// purgedKey counts a connector's delivered messages Purge removed.
func purgedKey(conn string) string { return "p." + conn }

// purged reads the count of a connector's purged delivered messages.
func (b *Backend) purged(ctx context.Context, conn string) (uint64, uint64, error) {
	e, err := b.meta.Get(ctx, purgedKey(conn))
	if errors.Is(err, natsjs.ErrKeyNotFound) {
		return 0, 0, nil
	}
	if err != nil {
		return 0, 0, fmt.Errorf("jetstream backend: purged count of %s: %w", conn, err)
	}
	n, _ := strconv.ParseUint(string(e.Value()), 10, 64)
	return n, e.Revision(), nil
}

// addPurged adds n to a connector's purged count (compare-and-swap).
func (b *Backend) addPurged(ctx context.Context, conn string, n uint64) error {
	for range maxCAS {
		cur, rev, err := b.purged(ctx, conn)
		if err != nil {
			return err
		}
		v := []byte(strconv.FormatUint(cur+n, 10))
		if rev == 0 {
			_, err = b.meta.Create(ctx, purgedKey(conn), v)
		} else {
			_, err = b.meta.Update(ctx, purgedKey(conn), v, rev)
		}
		if !casConflict(err) {
			return err
		}
	}
	return fmt.Errorf("jetstream backend: purged count of %s: %w", conn, store.ErrConflict)
}

// Purge removes delivered messages older than r.Delivered, counting
// them first so that Counts still has them, and audit entries older than
// r.Audit. Delivery ids need nothing: the seen bucket forgets them after
// BackendConfig.SeenTTL by itself. Not atomic: a purge cut short between
// counting and deleting counts the messages it left once more when they
// are purged; Delivered may run ahead by that, and nothing is lost.
func (b *Backend) Purge(ctx context.Context, r store.Retention) error {
	if err := b.live(); err != nil {
		return err
	}
	if r.Delivered > 0 {
		before := time.Now().Add(-r.Delivered)
		old := map[string][]string{}
		err := b.eachState(ctx, ">", func(m *store.Message, _ natsjs.KeyValueEntry) error {
			if m.State == store.Delivered && m.DeliveredAt.Before(before) {
				old[m.Connector] = append(old[m.Connector], m.ID)
			}
			return nil
		})
		if err != nil {
			return fmt.Errorf("jetstream backend: purge: %w", err)
		}
		for conn, ids := range old {
			if err := b.addPurged(ctx, conn, uint64(len(ids))); err != nil {
				return err
			}
			for _, id := range ids {
				if err := b.states.Purge(ctx, id); err != nil {
					return fmt.Errorf("jetstream backend: purge %s: %w", id, err)
				}
			}
			b.touched(conn)
		}
		if len(old) > 0 {
			if err := b.states.PurgeDeletes(ctx); err != nil {
				return fmt.Errorf("jetstream backend: purge markers: %w", err)
			}
		}
	}
	if r.Audit > 0 {
		if err := b.purgeAudit(ctx, time.Now().Add(-r.Audit)); err != nil {
			return err
		}
	}
	return nil
}
