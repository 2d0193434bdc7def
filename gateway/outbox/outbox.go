package outbox

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"sync"
	"time"

	"github.com/liaisonhq/liaison/gateway/store"
)

// Config tunes the outbox. Zero fields take their defaults.
type Config struct {
	// Retention is how long delivered messages are kept. Default 7 days.
	Retention time.Duration
	// PurgeEvery is how often delivered messages past Retention are
	// deleted. Default 1m.
	PurgeEvery time.Duration
	// OnDisabled is called when a connector answered 410 Gone and was
	// disabled; the gateway updates what it shows. Optional.
	OnDisabled func(connector string)
	// OnAttempt is called after every recorded attempt with its outcome:
	// Delivered, Failed (to be retried) or Dead; for metrics. Optional.
	OnAttempt func(connector string, state store.State, took time.Duration)
	// Audit returns the audit entry of an attempt — the message as it
	// was sent, the attempt and its outcome — or nil for none; the
	// deliverer writes it with the attempt. Optional.
	Audit func(m *store.Message, a store.Attempt, state store.State) *store.AuditEntry
}

// Outbox delivers the store's queued messages, one worker per started
// connector. Messages live in the store, not here: a worker asks the store
// which lanes are due, delivers their heads concurrently (bounded by the
// connector's Policy.Concurrency, one message per lane at a time) and
// records every attempt. Stopping a worker, or the process, loses nothing;
// a message being delivered at that moment is delivered again later
// (at-least-once, with the same idempotency key).
type Outbox struct {
	store *store.Store
	log   *slog.Logger
	cfg   Config

	mu      sync.Mutex
	ctx     context.Context // Run's; nil before Run
	workers map[string]*worker
	wg      sync.WaitGroup
}

// New returns an outbox over the store. Run starts it.
func New(st *store.Store, cfg Config, log *slog.Logger) *Outbox {
	if cfg.Retention <= 0 {
		cfg.Retention = 7 * 24 * time.Hour
	}
	if cfg.PurgeEvery <= 0 {
		cfg.PurgeEvery = time.Minute
	}
	return &Outbox{store: st, log: log, cfg: cfg, workers: map[string]*worker{}}
}

// Run delivers until ctx is cancelled, then waits for the deliveries under
// way to end (they are cancelled too) and returns.
func (o *Outbox) Run(ctx context.Context) error {
	o.mu.Lock()
	o.ctx = ctx
	for _, w := range o.workers {
		o.launch(w)
	}
	o.mu.Unlock()

	t := time.NewTicker(o.cfg.PurgeEvery)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			o.wg.Wait()
			return nil
		case <-t.C:
			o.purge(ctx)
		}
	}
}

// Start delivers to a connector with the sender and policy, replacing a
// worker already running for it.
func (o *Outbox) Start(connector string, s Sender, p Policy) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if old := o.workers[connector]; old != nil {
		old.stop()
	}
	p = p.WithDefaults()
	w := &worker{o: o, conn: connector, sender: s, policy: p, wake: make(chan struct{}, 1), breaker: newBreaker(p.BreakerCooldown, p.MaxBackoff), inflight: map[string]bool{}, settled: map[string]bool{}}
	o.workers[connector] = w
	if o.ctx != nil {
		o.launch(w)
	}
}

// Stop stops delivering to a connector (paused, disabled or deleted) and
// waits for its deliveries under way to end. Its messages stay queued.
func (o *Outbox) Stop(connector string) {
	o.mu.Lock()
	w := o.workers[connector]
	delete(o.workers, connector)
	o.mu.Unlock()
	if w != nil {
		w.stop()
		if w.done != nil {
			<-w.done
		}
	}
}

// retire forgets w, unless Start has replaced it since, and waits for its
// deliveries under way to end: a worker stopping itself (after a 410 Gone)
// must not stop the one a resume has started meanwhile.
func (o *Outbox) retire(w *worker) {
	o.mu.Lock()
	if o.workers[w.conn] == w {
		delete(o.workers, w.conn)
	}
	o.mu.Unlock()
	w.stop()
	if w.done != nil {
		<-w.done
	}
}

// Notify tells the workers of the connectors that messages were queued
// for them, so they look at once rather than at their next timer.
func (o *Outbox) Notify(connectors ...string) {
	o.mu.Lock()
	defer o.mu.Unlock()
	for _, c := range connectors {
		if w := o.workers[c]; w != nil {
			w.poke()
		}
	}
}

// RetryNow closes the connector's breaker and wakes its worker: with the
// store's RetryNow it re-sends everything undelivered now.
func (o *Outbox) RetryNow(connector string) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if w := o.workers[connector]; w != nil {
		w.breaker.reset()
		w.poke()
	}
}

// Status is what the outbox knows of a connector beyond the store.
type Status struct {
	Running  bool         `json:"running"`
	Breaker  BreakerState `json:"breaker"`
	Inflight int          `json:"inflight"`
}

// Status reports on one connector's worker.
func (o *Outbox) Status(connector string) Status {
	o.mu.Lock()
	w := o.workers[connector]
	o.mu.Unlock()
	if w == nil {
		return Status{Breaker: BreakerClosed}
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	return Status{Running: true, Breaker: w.breaker.current(), Inflight: len(w.inflight)}
}

// launch runs a worker; o.mu is held.
func (o *Outbox) launch(w *worker) {
	ctx, cancel := context.WithCancel(o.ctx)
	w.cancel = cancel
	w.done = make(chan struct{})
	o.wg.Add(1)
	go func() {
		defer o.wg.Done()
		defer close(w.done)
		w.run(ctx)
	}()
}

func (o *Outbox) purge(ctx context.Context) {
	before := time.Now().Add(-o.cfg.Retention)
	for {
		var n int
		err := o.store.Update(ctx, func(tx *store.Tx) error {
			var err error
			n, err = tx.PurgeDelivered(before, 1000)
			return err
		})
		if err != nil {
			if !errors.Is(err, context.Canceled) && !errors.Is(err, store.ErrClosed) {
				o.log.Error("purge delivered messages", "error", err)
			}
			return
		}
		if n < 1000 {
			return
		}
	}
}

// AttemptRecord is what a backend keeps of one attempt that started at
// at, took d and ended with err (nil for a success): the status, the
// error and the connector's answer — as Outcome when it is JSON (an
// OperationOutcome), else as Response — bounded by MaxResponse.
func AttemptRecord(at time.Time, d time.Duration, err error) store.Attempt {
	a := store.Attempt{At: at, Duration: d}
	if err == nil {
		return a
	}
	a.Error = err.Error()
	var se *SendError
	if errors.As(err, &se) {
		a.Status = se.Status
		body := se.Response
		if len(body) > MaxResponse {
			body = body[:MaxResponse]
		}
		if json.Valid(body) {
			a.Outcome = json.RawMessage(body)
		} else if len(body) > 0 {
			a.Response = string(body)
		}
	}
	return a
}
