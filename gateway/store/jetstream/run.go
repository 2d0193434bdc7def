package jetstream

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"sync"
	"time"

	natsjs "github.com/nats-io/nats.go/jetstream"

	"github.com/liaisonhq/liaison/gateway/outbox"
	"github.com/liaisonhq/liaison/gateway/store"
)

// Timings of Run's own I/O.
const (
	// settleTimeout bounds waiting for the server to confirm an
	// acknowledgement, a dead letter's publish or a pause flag.
	settleTimeout = 5 * time.Second
	// The pause before a new session after a failed one starts at
	// minReconnect and doubles up to maxReconnect.
	minReconnect = 100 * time.Millisecond
	maxReconnect = 5 * time.Second
	// pullBatch is the batch of a partition's pulls. The server hands
	// the partition's messages one at a time all the same (MaxAckPending
	// 1); a large batch keeps a pull of this gateway waiting at the server
	// when the previous message is acknowledged, so the next one comes to
	// this gateway rather than to one asking with a weaker priority, and
	// gives room to the status messages a leader change brings.
	pullBatch = 64
)

// Run delivers a connector's messages from this process with the sender
// under the policy, until ctx ends; then it waits for the deliveries under
// way, which are cancelled, and returns nil. It returns an error only for
// a bad connector id, a nil sender, or a connector this Outbox runs
// already. Every gateway runs Run for every connector; the server shares
// the partitions among them (see the package documentation).
//
// For each partition Run keeps a durable pull consumer (created or
// updated here; filter <subject>.<connector>.<partition>, explicit acks,
// MaxAckPending 1, AckWait Policy.Timeout+Config.AckMargin, priority
// group "liaison" with the prioritized policy) and pulls from it with a
// priority derived from Config.Instance. A message is settled by the
// attempt's outcome, as package outbox classifies a *outbox.SendError:
//
//   - delivered: acknowledged, and the acknowledgement confirmed by the
//     server (when it is not, the message comes again, with the same
//     idempotency key);
//   - retried (no answer, 408, 429, 5xx, an adapter's own error): a
//     negative acknowledgement with a delay, capped exponential backoff
//     with full jitter from the number of deliveries, Retry-After as a
//     floor; the message stays the head of its partition meanwhile;
//   - dead (Permanent, other 4xx, or a retry that would come after
//     Policy.MaxAge): published to the dead-letter stream, then
//     acknowledged;
//   - 410 Gone: retried, and the connector paused across the cluster
//     with reason PausedGone (Config.OnGone is called).
//
// A paused connector's partitions stop pulling; a delivery under way ends
// first. Errors talking to the server are logged and retried; nats.go
// reconnects a dropped connection meanwhile.
func (o *Outbox) Run(ctx context.Context, conn string, s outbox.Sender, p outbox.Policy) error {
	return o.run(ctx, conn, s, p, nil)
}

// settler is what the Backend's deliverer adds to a Run: it records each
// attempt (message state, audit) and handles a 410 Gone itself (disables
// the connector) instead of pausing it.
type settler interface {
	// settle records an attempt before its message is settled in the
	// stream (acknowledged, negatively acknowledged with delay, or
	// buried): a process killed in between leaves the message in the
	// stream, to be sent again (same idempotency key) and recorded again,
	// never a message gone from the stream whose record says queued. An
	// error leaves the message unsettled: it comes again. next is when a
	// Failed message is due again.
	settle(ctx context.Context, m *store.Message, a store.Attempt, st State, next time.Time) error
	// gone is called after a 410 Gone, once settled was.
	gone(conn string)
}

// run is Run, with the Backend's settler when not nil.
func (o *Outbox) run(ctx context.Context, conn string, s outbox.Sender, p outbox.Policy, st settler) error {
	if err := checkConnector(conn); err != nil {
		return fmt.Errorf("jetstream outbox: run: %w", err)
	}
	if s == nil {
		return errors.New("jetstream outbox: run: nil sender")
	}
	r := &runner{o: o, conn: conn, sender: s, policy: p.WithDefaults(), pause: newPauseState(), settler: st}
	o.mu.Lock()
	if o.runs[conn] != nil {
		o.mu.Unlock()
		return fmt.Errorf("jetstream outbox: run: connector %s runs already", conn)
	}
	o.runs[conn] = r
	o.mu.Unlock()
	defer func() {
		o.mu.Lock()
		delete(o.runs, conn)
		o.mu.Unlock()
	}()
	var wg sync.WaitGroup
	wg.Go(func() { o.watchPause(ctx, conn, r.pause) })
	for i := range o.cfg.Partitions {
		pt := &partition{r: r, p: i, prio: o.cfg.priority(conn, i)}
		wg.Go(func() { pt.run(ctx) })
	}
	wg.Wait()
	return nil
}

// runner is one Run: one connector in this process.
type runner struct {
	o      *Outbox
	conn   string
	sender outbox.Sender
	policy outbox.Policy
	pause  *pauseState
	pulls  counter // partitions with a pull session open
	// sending counts the partitions sending a message now.
	sending counter
	settler settler // nil for a plain Run
}

// counter is a mutex-guarded int, for what tests watch.
type counter struct {
	mu sync.Mutex
	n  int
}

func (c *counter) add(d int) {
	c.mu.Lock()
	c.n += d
	c.mu.Unlock()
}

func (c *counter) get() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.n
}

// partition delivers one partition of a connector from this process.
type partition struct {
	r    *runner
	p    int
	prio int
	cons natsjs.Consumer // nil until made, and after an error
	// done is the highest stream sequence this process settled for good
	// (acknowledgement confirmed): a later delivery of it or of anything
	// before it, buffered before the acknowledgement, is acknowledged
	// again without a send.
	done uint64
}

// run opens pull sessions while the connector is not paused, until ctx
// ends.
func (pt *partition) run(ctx context.Context) {
	log := pt.r.o.log
	pause := minReconnect
	for pt.r.pause.waitRunnable(ctx) {
		handled, err := pt.session(ctx)
		if ctx.Err() != nil {
			return
		}
		if err == nil {
			continue // paused
		}
		if handled > 0 {
			pause = minReconnect
		}
		log.Warn("jetstream outbox: pull session ended; starting again", "connector", pt.r.conn, "partition", pt.p, "in", pause, "error", err)
		if !sleep(ctx, pause) {
			return
		}
		pause = min(2*pause, maxReconnect)
	}
}

// consumerConfig is the durable consumer of the partition.
func (pt *partition) consumerConfig() natsjs.ConsumerConfig {
	c := pt.r.o.cfg
	return natsjs.ConsumerConfig{
		Durable:        consumerName(pt.r.conn, pt.p),
		Description:    "Liaison outbox, connector " + pt.r.conn + ", partition " + strconv.Itoa(pt.p),
		FilterSubject:  c.subject(pt.r.conn, pt.p),
		DeliverPolicy:  natsjs.DeliverAllPolicy,
		AckPolicy:      natsjs.AckExplicitPolicy,
		AckWait:        pt.r.policy.Timeout + c.AckMargin,
		MaxDeliver:     -1,
		MaxAckPending:  1,
		PriorityPolicy: natsjs.PriorityPolicyPrioritized,
		PriorityGroups: []string{group},
	}
}

// session pulls and delivers until ctx ends or the connector is paused
// (nil error), or something fails. It returns how many messages it handled.
func (pt *partition) session(ctx context.Context) (int, error) {
	o := pt.r.o
	if pt.cons == nil {
		cons, err := o.js.CreateOrUpdateConsumer(ctx, o.cfg.Stream, pt.consumerConfig())
		if err != nil {
			return 0, fmt.Errorf("consumer %s: %w", consumerName(pt.r.conn, pt.p), err)
		}
		pt.cons = cons
	}
	var watch sync.WaitGroup
	defer watch.Wait() // after cancel, deferred below
	sctx, cancel := context.WithCancel(ctx)
	defer cancel()
	watch.Go(func() { // end the session when the connector is paused
		for {
			_, paused, changed := pt.r.pause.get()
			if paused {
				cancel()
				return
			}
			select {
			case <-changed:
			case <-sctx.Done():
				return
			}
		}
	})
	it, err := pt.cons.Messages(
		natsjs.PullMaxMessages(pullBatch),
		natsjs.PullExpiry(o.cfg.PullExpiry),
		natsjs.PullPriorityGroup(group), natsjs.PullPrioritized(uint8(pt.prio)),
	)
	if err != nil {
		pt.cons = nil
		return 0, fmt.Errorf("consumer %s: pull: %w", consumerName(pt.r.conn, pt.p), err)
	}
	pt.r.pulls.add(1)
	defer pt.r.pulls.add(-1)
	defer release(it)
	handled := 0
	for {
		msg, err := it.Next(natsjs.NextContext(sctx))
		if sctx.Err() != nil {
			if err == nil {
				_ = msg.Nak() // not handled: for whichever gateway pulls next
			}
			return handled, nil
		}
		if err != nil {
			pt.cons = nil
			return handled, fmt.Errorf("consumer %s: %w", consumerName(pt.r.conn, pt.p), err)
		}
		pt.deliver(ctx, msg)
		handled++
	}
}

// release stops pulling and hands back what was pulled but not handled,
// so that it goes at once to whichever gateway pulls next rather than
// after AckWait.
func release(it natsjs.MessagesContext) {
	it.Drain()
	for {
		msg, err := it.Next(natsjs.NextMaxWait(time.Second))
		if err != nil {
			return
		}
		_ = msg.Nak()
	}
}

// deliver sends one message and settles it by the outcome.
func (pt *partition) deliver(ctx context.Context, msg natsjs.Msg) {
	r, log := pt.r, pt.r.o.log
	md, err := msg.Metadata()
	if err != nil { // not a JetStream delivery: cannot happen with a pull consumer
		log.Warn("jetstream outbox: message without metadata; redelivering", "connector", r.conn, "partition", pt.p, "error", err)
		_ = msg.NakWithDelay(r.policy.InitialBackoff)
		return
	}
	seq := md.Sequence.Stream
	if seq <= pt.done {
		pt.ack(ctx, msg, seq, "")
		return
	}
	d, err := decode(msg.Headers(), msg.Data(), md.Timestamp)
	if err != nil {
		pt.bury(ctx, msg, md, d, &outbox.SendError{Permanent: true, Err: fmt.Errorf("unreadable outbox message: %w", err)}, 0)
		return
	}
	start := time.Now()
	r.sending.add(1)
	defer r.sending.add(-1)
	actx, cancel := context.WithTimeout(ctx, r.policy.Timeout)
	err = r.sender.Send(actx, outbox.Message{
		ID: d.msg.ID, Connector: r.conn, RecordType: d.msg.RecordType, RecordID: d.msg.RecordID,
		Op: outbox.Op(d.msg.Op), Body: msg.Data(), ContentType: d.msg.ContentType,
		IdempotencyKey: d.msg.IdempotencyKey, Attempt: int(min(md.NumDelivered, 1<<30)),
	})
	cancel()
	took := time.Since(start)
	if err != nil && ctx.Err() != nil {
		// Stopped while sending: the attempt says nothing about the
		// connector. Another gateway takes the message up now.
		_ = msg.Nak()
		return
	}
	state, delay, gone := pt.classify(d, err, md.NumDelivered, start.Add(took))
	if gone && r.settler != nil {
		// The Backend disables the connector rather than pausing it:
		// the message stays queued, for when the connector is enabled.
		state, delay = Failed, r.policy.InitialBackoff
	}
	if r.settler != nil {
		var next time.Time
		if state == Failed {
			next = start.Add(took + delay)
		}
		m := d.msg
		m.Connector = r.conn
		if serr := r.settler.settle(ctx, &m, outbox.AttemptRecord(start, took, err), state, next); serr != nil {
			log.Warn("jetstream outbox: attempt not recorded; the message comes again", "connector", r.conn, "message", d.msg.ID, "error", serr)
			_ = msg.NakWithDelay(r.policy.InitialBackoff)
			return
		}
	}
	switch state {
	case Delivered:
		pt.ack(ctx, msg, seq, d.msg.ID)
	case Failed:
		if err := msg.NakWithDelay(delay); err != nil {
			log.Warn("jetstream outbox: negative acknowledgement failed; the message comes again after AckWait", "connector", r.conn, "message", d.msg.ID, "error", err)
		}
	case Dead:
		pt.bury(ctx, msg, md, d, err, took)
	}
	if r.settler != nil && gone {
		r.settler.gone(r.conn)
	} else if gone {
		pt.gone(ctx)
	}
	if f := r.o.cfg.OnAttempt; f != nil {
		f(r.conn, state, took)
	}
	level := log.Debug
	if state == Dead {
		level = log.Warn
	}
	level("delivery", "connector", r.conn, "message", d.msg.ID, "type", d.msg.RecordType, "partition", pt.p,
		"attempt", md.NumDelivered, "state", string(state), "status", status(err), "duration_ms", took.Milliseconds())
}

// classify decides what an attempt's result means, as package outbox
// does: delivered, retried after delay, or dead; and whether the
// connector is gone.
func (pt *partition) classify(d decoded, err error, deliveries uint64, now time.Time) (st State, delay time.Duration, gone bool) {
	if err == nil {
		return Delivered, 0, false
	}
	p := pt.r.policy
	var se *outbox.SendError
	if !errors.As(err, &se) {
		se = &outbox.SendError{Err: err} // an adapter's own failure: treat as transient
	}
	switch {
	case se.Status == http.StatusGone:
		return Failed, p.Backoff(int(min(deliveries, 64)), se.RetryAfter), true
	case se.Permanent, se.Status >= 400 && se.Status < 500 && se.Status != http.StatusRequestTimeout && se.Status != http.StatusTooManyRequests:
		return Dead, 0, false
	case se.Status >= 200 && se.Status < 400:
		// A 3xx the client did not follow: nothing will change by retrying.
		return Dead, 0, false
	}
	delay = p.Backoff(int(min(deliveries, 64)), se.RetryAfter)
	if now.Add(delay).Sub(d.ageFrom()) > p.MaxAge {
		return Dead, 0, false
	}
	return Failed, delay, false
}

// ack acknowledges msg and waits for the server to confirm it. id is for
// the log; "" for a message acknowledged again.
func (pt *partition) ack(ctx context.Context, msg natsjs.Msg, seq uint64, id string) {
	actx, cancel := context.WithTimeout(context.WithoutCancel(ctx), settleTimeout)
	defer cancel()
	if err := msg.DoubleAck(actx); err != nil {
		pt.r.o.log.Warn("jetstream outbox: acknowledgement not confirmed; the message may come again", "connector", pt.r.conn, "message", id, "partition", pt.p, "error", err)
		return
	}
	pt.done = max(pt.done, seq)
}

// gone pauses the connector across the cluster after a 410 Gone.
func (pt *partition) gone(ctx context.Context) {
	r := pt.r
	actx, cancel := context.WithTimeout(context.WithoutCancel(ctx), settleTimeout)
	defer cancel()
	if err := r.o.Pause(actx, r.conn, PausedGone); err != nil {
		r.o.log.Error("jetstream outbox: pause after 410 Gone", "connector", r.conn, "error", err)
	} else {
		r.o.log.Warn("connector paused: 410 Gone", "connector", r.conn)
	}
	if f := r.o.cfg.OnGone; f != nil {
		f(r.conn)
	}
}

// status is the HTTP status in err, 0 when none.
func status(err error) int {
	var se *outbox.SendError
	if errors.As(err, &se) {
		return se.Status
	}
	return 0
}

// sleep waits d, or until ctx ends: false then.
func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}
