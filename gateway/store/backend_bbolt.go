package store

import (
	"context"
	"errors"
	"time"
)

// The Backend on bbolt: each method is one transaction, and Accept shares
// its commit with concurrent ones (Update's group commit).

var _ Backend = (*Store)(nil)

// Connectors returns every registered connector.
func (s *Store) Connectors(ctx context.Context) (cs []Connector, err error) {
	err = s.View(func(tx *Tx) error { cs, err = tx.Connectors(); return err })
	return cs, err
}

// Connector returns one connector, or ErrNotFound.
func (s *Store) Connector(ctx context.Context, id string) (c *Connector, err error) {
	err = s.View(func(tx *Tx) error { c, err = tx.Connector(id); return err })
	return c, err
}

// UpdateConnector reads, changes and stores a connector in one transaction.
func (s *Store) UpdateConnector(ctx context.Context, id string, create bool, fn func(c *Connector) error) (*Connector, error) {
	var out *Connector
	err := s.Update(ctx, func(tx *Tx) error {
		c, err := tx.Connector(id)
		switch {
		case errors.Is(err, ErrNotFound) && create:
			c = &Connector{ID: id, CreatedAt: tx.Now()}
		case err != nil:
			return err
		}
		if err := fn(c); err != nil {
			return err
		}
		c.ID, c.UpdatedAt = id, tx.Now()
		out = c
		return tx.PutConnector(c)
	})
	return out, err
}

// DeleteConnector removes a connector and its undelivered messages.
func (s *Store) DeleteConnector(ctx context.Context, id string) error {
	return s.Update(ctx, func(tx *Tx) error { return tx.DeleteConnector(id) })
}

// Ready is nil while the store is open: its file is local.
func (s *Store) Ready() error {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.closed {
		return ErrClosed
	}
	return nil
}

// Changed is nil: one process owns a bbolt store.
func (s *Store) Changed() <-chan struct{} { return nil }

// Accept applies the batch in one transaction.
func (s *Store) Accept(ctx context.Context, b *Batch) ([]Accepted, error) {
	out := make([]Accepted, len(b.Changes))
	err := s.update(ctx, func(tx *Tx) error {
		if b.DeliveryID != "" {
			if _, seen := tx.Seen(b.Connector, b.DeliveryID); seen {
				return ErrDuplicate
			}
			if err := tx.MarkSeen(b.Connector, b.DeliveryID); err != nil {
				return err
			}
		}
		for i, ch := range b.Changes {
			if err := tx.apply(ch, &out[i]); err != nil {
				return err
			}
		}
		if b.CursorKey != "" {
			return tx.PutMeta(b.CursorKey, []byte(b.Cursor))
		}
		return nil
	}, true)
	if err != nil {
		return nil, err
	}
	return out, nil
}

// apply writes one change, with its messages and its audit entry, and
// fills a. It may run more than once (group commit): it resets a.
func (t *Tx) apply(ch *Change, a *Accepted) error {
	*a = Accepted{Messages: a.Messages[:0]}
	old, err := t.Record(ch.Type, ch.ID)
	if err != nil && !errors.Is(err, ErrNotFound) {
		return err
	}
	if old != nil && old.Deleted == ch.Deleted && (ch.Deleted || old.Hash == ch.Hash) {
		a.Version, a.Unchanged = old.Version, true
		return t.AppendAudit(AcceptEntry(ch, *a))
	}
	if old == nil && ch.Deleted {
		return ErrNotFound
	}
	rec := &Record{Type: ch.Type, ID: ch.ID, Data: ch.Data, Hash: ch.Hash, Version: 1, Source: ch.Source, Deleted: ch.Deleted, UpdatedAt: t.now}
	if old != nil {
		rec.Version = old.Version + 1
		if ch.Deleted {
			rec.Data, rec.Hash = old.Data, old.Hash
		}
	}
	if err := t.PutRecord(rec); err != nil {
		return err
	}
	a.Version, a.Created = rec.Version, old == nil
	for _, m := range ch.Messages {
		cp := *m
		cp.CreatedAt = t.now
		cp.IdempotencyKey = IdempotencyKey(ch.Source, cp.Connector, ch.Type, ch.ID, cp.Op, ch.Hash, rec.Version)
		if err := t.Enqueue(&cp); err != nil {
			return err
		}
		a.Messages = append(a.Messages, cp.ID)
	}
	return t.AppendAudit(AcceptEntry(ch, *a))
}

// Record returns a record's current version, or ErrNotFound.
func (s *Store) Record(ctx context.Context, typ, id string) (r *Record, err error) {
	err = s.View(func(tx *Tx) error { r, err = tx.Record(typ, id); return err })
	return r, err
}

// SyncStates returns where a record stands at each connector.
func (s *Store) SyncStates(ctx context.Context, typ, id string) (ss []SyncState, err error) {
	err = s.View(func(tx *Tx) error { ss, err = tx.SyncStates(typ, id); return err })
	return ss, err
}

// Seen reports whether a delivery id was accepted.
func (s *Store) Seen(ctx context.Context, conn, deliveryID string) (seen bool, err error) {
	err = s.View(func(tx *Tx) error { _, seen = tx.Seen(conn, deliveryID); return nil })
	return seen, err
}

// Meta returns a named value, nil when none.
func (s *Store) Meta(ctx context.Context, name string) (v []byte, err error) {
	err = s.View(func(tx *Tx) error { v = tx.Meta(name); return nil })
	return v, err
}

// PutMeta stores a named value.
func (s *Store) PutMeta(ctx context.Context, name string, value []byte) error {
	return s.Update(ctx, func(tx *Tx) error { return tx.PutMeta(name, value) })
}

// Lease claims or renews a lease, in one transaction.
func (s *Store) Lease(ctx context.Context, name, holder string, ttl time.Duration) (held bool, err error) {
	err = s.Update(ctx, func(tx *Tx) error {
		next := Claim(tx.Meta(LeaseKey(name)), holder, tx.Now(), ttl)
		if held = next != nil; !held {
			return nil
		}
		return tx.PutMeta(LeaseKey(name), next)
	})
	return held, err
}

// Message returns one message, or ErrNotFound.
func (s *Store) Message(ctx context.Context, id string) (m *Message, err error) {
	err = s.View(func(tx *Tx) error { m, err = tx.Message(id); return err })
	return m, err
}

// Messages returns the messages the filter selects, newest first.
func (s *Store) Messages(ctx context.Context, f Filter) (ms []*Message, err error) {
	err = s.View(func(tx *Tx) error { ms, err = tx.Messages(f); return err })
	return ms, err
}

// Replay puts a dead message back in its lane.
func (s *Store) Replay(ctx context.Context, id string) (m *Message, err error) {
	err = s.Update(ctx, func(tx *Tx) error { m, err = tx.Replay(id); return err })
	return m, err
}

// ReplayDead replays a connector's dead messages.
func (s *Store) ReplayDead(ctx context.Context, conn string) (n int, err error) {
	err = s.Update(ctx, func(tx *Tx) error { n, err = tx.ReplayDead(conn); return err })
	return n, err
}

// RetryNow makes a connector's failed messages due now.
func (s *Store) RetryNow(ctx context.Context, conn string) (n int, err error) {
	err = s.Update(ctx, func(tx *Tx) error { n, err = tx.RetryNow(conn); return err })
	return n, err
}

// Counts returns a connector's messages by state.
func (s *Store) Counts(ctx context.Context, conn string) (c Counts, err error) {
	err = s.View(func(tx *Tx) error { c = tx.Counts(conn); return nil })
	return c, err
}

// OldestUndelivered returns when the oldest undelivered message was created.
func (s *Store) OldestUndelivered(ctx context.Context, conn string) (t time.Time, ok bool, err error) {
	err = s.View(func(tx *Tx) error { t, ok = tx.OldestUndelivered(conn); return nil })
	return t, ok, err
}

// Audit returns audit entries, newest first.
func (s *Store) Audit(ctx context.Context, f AuditFilter) (es []AuditEntry, err error) {
	err = s.View(func(tx *Tx) error { es, err = tx.Audit(f); return err })
	return es, err
}

// Purge deletes, a thousand per transaction, what is past its retention.
func (s *Store) Purge(ctx context.Context, r Retention) error {
	now := time.Now()
	steps := []struct {
		keep  time.Duration
		purge func(tx *Tx, before time.Time) (int, error)
	}{
		{r.Delivered, func(tx *Tx, before time.Time) (int, error) { return tx.PurgeDelivered(before, 1000) }},
		{r.Audit, func(tx *Tx, before time.Time) (int, error) { return tx.PurgeAudit(before, 1000) }},
		{r.Seen, func(tx *Tx, before time.Time) (int, error) { return tx.ForgetSeen(before, 1000) }},
	}
	for _, st := range steps {
		if st.keep <= 0 {
			continue
		}
		for {
			var n int
			err := s.Update(ctx, func(tx *Tx) (err error) { n, err = st.purge(tx, now.Add(-st.keep)); return err })
			if err != nil {
				return err
			}
			if n < 1000 {
				break
			}
		}
	}
	return nil
}
