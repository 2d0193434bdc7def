package outbox

import (
	"context"
	"errors"
	"net/http"
	"sync"
	"time"

	"github.com/liaisonhq/liaison/gateway/store"
)

// idleCheck is the longest a worker sleeps without looking at the store.
const idleCheck = time.Minute

// worker delivers one connector's messages.
type worker struct {
	o       *Outbox
	conn    string
	sender  Sender
	policy  Policy
	breaker *breaker
	wake    chan struct{}
	cancel  context.CancelFunc
	done    chan struct{}

	mu       sync.Mutex
	inflight map[string]bool // lanes being delivered: sent, or their attempt being recorded
	sending  int             // deliveries waiting for the connector: at most Policy.Concurrency
	// settled holds the lanes whose delivery was recorded since dispatch
	// last looked: a read of the store that began before that commit may
	// still show the delivered message at the head of its lane, so
	// dispatch leaves these lanes to its next look.
	settled map[string]bool
	stopped bool
}

func (w *worker) poke() {
	select {
	case w.wake <- struct{}{}:
	default:
	}
}

func (w *worker) stop() {
	w.mu.Lock()
	w.stopped = true
	w.mu.Unlock()
	if w.cancel != nil {
		w.cancel()
	}
}

func (w *worker) run(ctx context.Context) {
	var deliveries sync.WaitGroup
	defer deliveries.Wait()
	for {
		wait := w.dispatch(ctx, &deliveries)
		timer := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			timer.Stop()
			return
		case <-w.wake:
		case <-timer.C:
		}
		timer.Stop()
	}
}

// dispatch starts the deliveries that are due and allowed, and returns how
// long to sleep before looking again (a finished delivery or Notify wakes
// the worker sooner).
func (w *worker) dispatch(ctx context.Context, deliveries *sync.WaitGroup) time.Duration {
	if ctx.Err() != nil {
		return 0
	}
	now := time.Now()
	w.mu.Lock()
	free := w.policy.Concurrency - w.sending
	clear(w.settled) // what settled before this look, the look below sees
	w.mu.Unlock()
	allowed, retryAt := w.breaker.allow(now, free)
	if allowed == 0 {
		if !retryAt.IsZero() {
			return time.Until(retryAt)
		}
		return idleCheck
	}
	var due []*store.Message
	err := w.o.store.View(func(tx *store.Tx) error {
		var err error
		due, err = tx.Due(w.conn, now, allowed, w.busy)
		return err
	})
	if err != nil {
		w.o.log.Error("outbox: read due messages", "connector", w.conn, "error", err)
		return time.Second
	}
	w.breaker.started(len(due))
	for _, m := range due {
		w.mu.Lock()
		w.inflight[m.Lane()] = true
		w.sending++
		w.mu.Unlock()
		deliveries.Add(1)
		go func() {
			defer deliveries.Done()
			w.deliver(ctx, m)
		}()
	}
	// Sleep until the next lane that is not being delivered is due; a
	// finished delivery or Notify wakes the worker sooner.
	var next time.Time
	var ok bool
	w.o.store.View(func(tx *store.Tx) error {
		next, ok = tx.NextDue(w.conn, w.busy)
		return nil
	})
	if !ok {
		return idleCheck
	}
	if d := time.Until(next); d > 0 {
		return min(d+time.Millisecond, idleCheck)
	}
	if len(due) < allowed {
		return 0 // it fell due since Due looked: look again
	}
	return idleCheck // due, but no slot is free: a finished delivery wakes us
}

func (w *worker) busy(lane string) bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.inflight[lane] || w.settled[lane]
}

// deliver sends one message and records the attempt. Its slot of
// Policy.Concurrency is free once the connector has answered, so another
// lane is sent while this attempt waits for its commit; its lane stays
// busy until the attempt is recorded, which keeps the lane in order.
func (w *worker) deliver(ctx context.Context, m *store.Message) {
	defer func() {
		w.mu.Lock()
		delete(w.inflight, m.Lane())
		w.settled[m.Lane()] = true
		w.mu.Unlock()
		w.poke()
	}()
	attemptCtx, cancel := context.WithTimeout(ctx, w.policy.Timeout)
	start := time.Now()
	err := w.sender.Send(attemptCtx, Message{
		ID: m.ID, Connector: m.Connector, RecordType: m.RecordType, RecordID: m.RecordID,
		Op: Op(m.Op), Body: []byte(m.Body), ContentType: m.ContentType,
		IdempotencyKey: m.IdempotencyKey, Attempt: len(m.Attempts) + 1,
	})
	cancel()
	took := time.Since(start)
	// Stopped (shutdown, pause, delete) while sending, the attempt says
	// nothing about the connector: the message stays where it was and is
	// sent again, with the same idempotency key. Otherwise the breaker
	// learns the outcome before the slot is free.
	stopped := ctx.Err() != nil
	var state store.State
	var next time.Time
	var gone bool
	if !stopped {
		state, next, gone = w.classify(m, err, start.Add(took))
	}
	w.mu.Lock()
	w.sending--
	w.mu.Unlock()
	w.poke()
	if stopped {
		return
	}
	a := AttemptRecord(start, took, err)
	werr := w.o.store.Update(context.Background(), func(tx *store.Tx) error {
		if _, err := tx.Finish(m.ID, a, state, next); err != nil {
			return err
		}
		if w.o.cfg.Audit != nil {
			if e := w.o.cfg.Audit(m, a, state); e != nil {
				if err := tx.AppendAudit(e); err != nil {
					return err
				}
			}
		}
		if gone {
			c, err := tx.Connector(m.Connector)
			if err != nil {
				return err
			}
			c.Disabled, c.LastError, c.UpdatedAt = true, "disabled: the connector answered 410 Gone", tx.Now()
			return tx.PutConnector(c)
		}
		return nil
	})
	if werr != nil {
		if !errors.Is(werr, store.ErrNotFound) && !errors.Is(werr, store.ErrClosed) {
			w.o.log.Error("outbox: record attempt", "connector", m.Connector, "message", m.ID, "error", werr)
		}
		return
	}
	if w.o.cfg.OnAttempt != nil {
		w.o.cfg.OnAttempt(m.Connector, state, took)
	}
	level := w.o.log.Debug
	if state == store.Dead {
		level = w.o.log.Warn
	}
	level("delivery", "connector", m.Connector, "message", m.ID, "type", m.RecordType, "attempt", len(m.Attempts)+1,
		"state", string(state), "status", a.Status, "duration_ms", took.Milliseconds())
	if gone {
		w.o.log.Warn("connector disabled: 410 Gone", "connector", m.Connector)
		w.stop() // no further send starts; retire forgets the worker
		go w.o.retire(w)
		if w.o.cfg.OnDisabled != nil {
			w.o.cfg.OnDisabled(m.Connector)
		}
	}
}

// classify decides what an attempt's result means for the message:
// delivered, retried (and when), dead; and whether the connector is gone.
func (w *worker) classify(m *store.Message, err error, now time.Time) (st store.State, next time.Time, gone bool) {
	if err == nil {
		w.breaker.success()
		return store.Delivered, time.Time{}, false
	}
	var se *SendError
	if !errors.As(err, &se) {
		se = &SendError{Err: err} // an adapter's own failure: treat as transient
	}
	switch {
	case se.Status == http.StatusGone:
		w.breaker.neutral()
		return store.Failed, now, true
	case se.Permanent, se.Status >= 400 && se.Status < 500 && se.Status != http.StatusRequestTimeout && se.Status != http.StatusTooManyRequests:
		w.breaker.neutral()
		return store.Dead, time.Time{}, false
	case se.Status >= 200 && se.Status < 400:
		// A 3xx the client did not follow: nothing will change by retrying.
		w.breaker.neutral()
		return store.Dead, time.Time{}, false
	}
	w.breaker.failure(now)
	retries := 0
	for _, a := range m.Attempts {
		if a.Error != "" {
			retries++
		}
	}
	next = now.Add(w.policy.Backoff(retries+1, se.RetryAfter))
	if next.Sub(m.CreatedAt) > w.policy.MaxAge {
		return store.Dead, time.Time{}, false
	}
	return store.Failed, next, false
}
