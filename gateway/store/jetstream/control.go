package jetstream

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	natsjs "github.com/nats-io/nats.go/jetstream"
)

// Reasons a connector is paused for, the value of its pause flag.
const (
	PausedByOperator = "operator"
	PausedGone       = "gone" // the connector answered 410 Gone
)

// pausedKey is the control bucket's key of a connector's pause flag.
func pausedKey(conn string) string { return "paused." + conn }

// control returns the control bucket.
func (o *Outbox) control(ctx context.Context) (natsjs.KeyValue, error) {
	kv, err := o.js.KeyValue(ctx, o.cfg.Control)
	if err != nil {
		return nil, fmt.Errorf("jetstream outbox: bucket %s: %w", o.cfg.Control, err)
	}
	return kv, nil
}

// Pause stops delivery to a connector on every gateway: each stops
// fetching the connector's partitions once it sees the flag (at once
// through its watch, at the latest after Config.ControlPoll); a delivery
// under way ends first. Messages keep queueing. reason is kept as the
// flag's value; "" means PausedByOperator.
func (o *Outbox) Pause(ctx context.Context, conn, reason string) error {
	if err := checkConnector(conn); err != nil {
		return err
	}
	if reason == "" {
		reason = PausedByOperator
	}
	kv, err := o.control(ctx)
	if err != nil {
		return err
	}
	if _, err := kv.Put(ctx, pausedKey(conn), []byte(reason)); err != nil {
		return fmt.Errorf("jetstream outbox: pause %s: %w", conn, err)
	}
	return nil
}

// Resume lifts a connector's pause flag, whatever its reason.
func (o *Outbox) Resume(ctx context.Context, conn string) error {
	if err := checkConnector(conn); err != nil {
		return err
	}
	kv, err := o.control(ctx)
	if err != nil {
		return err
	}
	if err := kv.Delete(ctx, pausedKey(conn)); err != nil && !errors.Is(err, natsjs.ErrKeyNotFound) {
		return fmt.Errorf("jetstream outbox: resume %s: %w", conn, err)
	}
	return nil
}

// Paused returns a connector's pause reason, "" when it is not paused.
func (o *Outbox) Paused(ctx context.Context, conn string) (string, error) {
	if err := checkConnector(conn); err != nil {
		return "", err
	}
	kv, err := o.control(ctx)
	if err != nil {
		return "", err
	}
	return readPaused(ctx, kv, conn)
}

func readPaused(ctx context.Context, kv natsjs.KeyValue, conn string) (string, error) {
	e, err := kv.Get(ctx, pausedKey(conn))
	switch {
	case errors.Is(err, natsjs.ErrKeyNotFound):
		return "", nil
	case err != nil:
		return "", fmt.Errorf("jetstream outbox: read pause flag of %s: %w", conn, err)
	}
	return string(e.Value()), nil
}

// pauseState is a connector's pause flag as one Run knows it.
type pauseState struct {
	mu      sync.Mutex
	known   bool // read at least once
	paused  bool
	changed chan struct{} // closed and replaced on every change
}

func newPauseState() *pauseState { return &pauseState{changed: make(chan struct{})} }

// get returns whether the flag was read yet, the flag, and a channel
// closed when either changes.
func (s *pauseState) get() (known, paused bool, changed <-chan struct{}) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.known, s.paused, s.changed
}

func (s *pauseState) set(paused bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.known && s.paused == paused {
		return
	}
	s.known, s.paused = true, paused
	close(s.changed)
	s.changed = make(chan struct{})
}

// waitRunnable waits until the flag is known and not set; false when ctx
// ended first.
func (s *pauseState) waitRunnable(ctx context.Context) bool {
	for {
		known, paused, changed := s.get()
		if known && !paused {
			return true
		}
		select {
		case <-ctx.Done():
			return false
		case <-changed:
		}
	}
}

// watchPause keeps st in step with a connector's pause flag until ctx ends:
// a watch of the key, and a read every Config.ControlPoll, which also
// re-makes a watch that ended.
func (o *Outbox) watchPause(ctx context.Context, conn string, st *pauseState) {
	var w natsjs.KeyWatcher
	defer func() {
		if w != nil {
			_ = w.Stop()
		}
	}()
	t := time.NewTicker(o.cfg.ControlPoll)
	defer t.Stop()
	poll := func() {
		kv, err := o.control(ctx)
		if err == nil {
			var reason string
			if reason, err = readPaused(ctx, kv, conn); err == nil {
				st.set(reason != "")
				if w == nil {
					if w, err = kv.Watch(ctx, pausedKey(conn), natsjs.UpdatesOnly()); err != nil {
						w = nil
					}
				}
			}
		}
		if err != nil && ctx.Err() == nil {
			o.log.Warn("jetstream outbox: read pause flag", "connector", conn, "error", err)
		}
	}
	poll()
	for {
		var updates <-chan natsjs.KeyValueEntry
		if w != nil {
			updates = w.Updates()
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			poll()
		case e, ok := <-updates:
			switch {
			case !ok:
				_ = w.Stop()
				w = nil
			case e != nil:
				st.set(e.Operation() == natsjs.KeyValuePut && len(e.Value()) > 0)
			}
		}
	}
}
