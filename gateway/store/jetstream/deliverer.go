package jetstream

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/liaisonhq/liaison/gateway/outbox"
	"github.com/liaisonhq/liaison/gateway/store"
)

// Deliverer returns the outbox.Deliverer of this gateway: Run relays the
// changes to the outbox and delivers the started connectors' messages
// (Outbox.Run per connector) until its context ends. cfg's hooks are
// called after every attempt; its Retention and PurgeEvery are not used
// (the gateway's Purge removes delivered messages).
func (b *Backend) Deliverer(cfg outbox.Config) outbox.Deliverer {
	return &deliverer{b: b, cfg: cfg, runs: map[string]*connRun{}}
}

// deliverer is Backend.Deliverer's. Which gateway delivers a message is
// the server's choice (see the package documentation, "Delivery"); what
// a deliverer knows is local to this process.
type deliverer struct {
	b   *Backend
	cfg outbox.Config

	mu   sync.Mutex
	ctx  context.Context // Run's; nil before Run and after it returned
	runs map[string]*connRun
	wg   sync.WaitGroup
}

var _ outbox.Deliverer = (*deliverer)(nil)

// connRun is one started connector.
type connRun struct {
	conn   string
	sender outbox.Sender
	policy outbox.Policy
	cancel context.CancelFunc // nil until launched
	done   chan struct{}      // closed when its Run returned; nil until launched
}

// Run relays changes and delivers the started connectors until ctx ends,
// then waits for the deliveries under way (which are cancelled and come
// again later, to whichever gateway) and returns nil.
func (d *deliverer) Run(ctx context.Context) error {
	d.mu.Lock()
	d.ctx = ctx
	for _, r := range d.runs {
		d.launch(r)
	}
	d.mu.Unlock()
	d.wg.Go(func() {
		if err := d.b.changes.Relay(ctx, d.b.out); err != nil {
			d.b.log.Error("jetstream deliverer: relay", "error", err)
		}
	})
	<-ctx.Done()
	d.mu.Lock()
	d.ctx = nil
	d.mu.Unlock()
	d.wg.Wait()
	return nil
}

// launch runs a started connector; d.mu is held.
func (d *deliverer) launch(r *connRun) {
	ctx, cancel := context.WithCancel(d.ctx)
	r.cancel, r.done = cancel, make(chan struct{})
	d.wg.Go(func() {
		defer close(r.done)
		if err := d.b.out.run(ctx, r.conn, r.sender, r.policy, &settle{d: d}); err != nil {
			d.b.log.Error("jetstream deliverer: run", "connector", r.conn, "error", err)
		}
	})
}

// Start delivers a connector's messages from this process, replacing
// what was started for it.
func (d *deliverer) Start(connector string, s outbox.Sender, p outbox.Policy) {
	d.Stop(connector)
	d.mu.Lock()
	defer d.mu.Unlock()
	r := &connRun{conn: connector, sender: s, policy: p}
	d.runs[connector] = r
	if d.ctx != nil {
		d.launch(r)
	}
}

// Stop stops delivering a connector from this process and waits for its
// deliveries under way. Other gateways go on until they stop it too.
func (d *deliverer) Stop(connector string) {
	d.mu.Lock()
	r := d.runs[connector]
	delete(d.runs, connector)
	d.mu.Unlock()
	d.stopRun(r)
}

func (d *deliverer) stopRun(r *connRun) {
	if r == nil || r.cancel == nil {
		return
	}
	r.cancel()
	<-r.done
}

// Notify does nothing: the gateways' pulls wait at the server, which
// hands them a message as soon as the relay publishes it.
func (d *deliverer) Notify(...string) {}

// RetryNow does nothing here: there is no breaker to close, and the
// Backend's RetryNow makes the failed messages due (see there).
func (d *deliverer) RetryNow(string) {}

// Status reports this process's part: running, no breaker (always
// closed: each partition backs off on its own), and the partitions
// sending a message now.
func (d *deliverer) Status(connector string) outbox.Status {
	d.mu.Lock()
	_, started := d.runs[connector]
	d.mu.Unlock()
	st := outbox.Status{Breaker: outbox.BreakerClosed}
	if !started {
		return st
	}
	st.Running = true
	d.b.out.mu.Lock()
	r := d.b.out.runs[connector]
	d.b.out.mu.Unlock()
	if r != nil {
		st.Inflight = r.sending.get()
	}
	return st
}

// settle records a Run's attempts in the Backend.
type settle struct{ d *deliverer }

// settle writes the attempt into the message's state (created from the
// outbox message when Accept had not yet written it), appends the
// attempt's audit entry and calls OnAttempt; the Run settles the message
// in the stream after it, and not when the state could not be written.
func (s *settle) settle(ctx context.Context, msg *store.Message, a store.Attempt, st State, next time.Time) error {
	b, cfg := s.d.b, s.d.cfg
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), settleTimeout)
	defer cancel()
	state := store.State(st)
	missing := *msg
	missing.State = store.Queued
	m, err := b.updateState(ctx, msg.ID, &missing, func(m *store.Message) error {
		m.Attempts = appendAttempt(m.Attempts, a)
		m.State, m.LastError, m.NextAttemptAt = state, a.Error, time.Time{}
		switch state {
		case store.Delivered:
			m.DeliveredAt, m.LastError = a.At.Add(a.Duration).UTC(), ""
		case store.Failed:
			m.NextAttemptAt = next.UTC()
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("record attempt: %w", err)
	}
	if cfg.Audit != nil {
		if e := cfg.Audit(m, a, state); e != nil {
			if err := b.appendAudit(ctx, e); err != nil {
				b.log.Error("jetstream deliverer: audit attempt", "connector", msg.Connector, "message", msg.ID, "error", err)
			}
		}
	}
	if cfg.OnAttempt != nil {
		cfg.OnAttempt(msg.Connector, state, a.Duration)
	}
	return nil
}

// gone disables the connector after a 410 Gone, for every gateway (each
// sees it through Changed and stops delivering), stops it here, and
// calls OnDisabled.
func (s *settle) gone(conn string) {
	d, b := s.d, s.d.b
	ctx, cancel := context.WithTimeout(context.Background(), settleTimeout)
	defer cancel()
	_, err := b.UpdateConnector(ctx, conn, false, func(c *store.Connector) error {
		c.Disabled, c.LastError = true, "disabled: the connector answered 410 Gone"
		return nil
	})
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		b.log.Error("jetstream deliverer: disable after 410 Gone", "connector", conn, "error", err)
	}
	b.log.Warn("connector disabled: 410 Gone", "connector", conn)
	// Stop from a goroutine of its own: this one is one of the Run's
	// deliveries, which Stop waits for. A Start since then is left alone.
	d.mu.Lock()
	r := d.runs[conn]
	d.mu.Unlock()
	d.wg.Go(func() {
		d.mu.Lock()
		if d.runs[conn] == r {
			delete(d.runs, conn)
		}
		d.mu.Unlock()
		d.stopRun(r)
	})
	if d.cfg.OnDisabled != nil {
		d.cfg.OnDisabled(conn)
	}
}
