package jetstream

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	natsjs "github.com/nats-io/nats.go/jetstream"

	"github.com/liaisonhq/liaison/gateway/store"
)

// Accept applies a batch, change by change, in order: a compare-and-swap
// publish of each record's next version to LIAISON_CHANGES, carrying the
// messages it makes (see Changes), which the relay publishes to the
// outbox in stream order. Then, with every change stored, it creates the
// messages' states (queued), marks the delivery id seen, stores the
// cursor and appends one audit entry per change. It returns once
// JetStream acknowledged all of it (with replicas, a quorum).
//
// Not atomic, unlike the bbolt backend: an error may leave a prefix of
// the changes applied (their messages then go out all the same: they are
// in the changes stream), the delivery id unmarked and the cursor where
// it was. The caller answers with an error and its client sends the
// batch again; a retry finds the applied changes unchanged, so nothing
// is stored or sent twice. A delete of a record that never existed is
// store.ErrNotFound; a record changed concurrently by other gateways
// every time Apply tried is store.ErrConflict.
func (b *Backend) Accept(ctx context.Context, batch *store.Batch) ([]store.Accepted, error) {
	ctx, cancel := context.WithTimeout(ctx, acceptTimeout)
	defer cancel()
	out, err := b.accept(ctx, batch)
	return out, unavailable(err)
}

// acceptTimeout bounds how long Accept waits for the servers: a request
// waits at most this long for its answer (503 then, the store being
// unavailable) while a server fails over.
const acceptTimeout = 10 * time.Second

// unavailable marks an error that says the servers are out of reach for
// the moment as store.ErrUnavailable.
func unavailable(err error) error {
	if err == nil || !transient(err) || errors.Is(err, store.ErrUnavailable) {
		return err
	}
	return fmt.Errorf("%w: %w", store.ErrUnavailable, err)
}

func (b *Backend) accept(ctx context.Context, batch *store.Batch) ([]store.Accepted, error) {
	if err := b.live(); err != nil {
		return nil, err
	}
	if batch.DeliveryID != "" {
		seen, err := b.Seen(ctx, batch.Connector, batch.DeliveryID)
		if err != nil {
			return nil, err
		}
		if seen {
			return nil, store.ErrDuplicate
		}
	}
	out := make([]store.Accepted, len(batch.Changes))
	var queued []store.Message
	for i, ch := range batch.Changes {
		rec := store.Record{Type: ch.Type, ID: ch.ID, Data: ch.Data, Hash: ch.Hash, Deleted: ch.Deleted, Source: ch.Source}
		stored, changed, err := b.changes.apply(ctx, rec, ch.Messages)
		switch {
		case errors.Is(err, ErrConflict):
			return nil, fmt.Errorf("jetstream backend: accept: %w: %w", store.ErrConflict, err)
		case err != nil:
			return nil, fmt.Errorf("jetstream backend: accept: %w", err)
		case !changed && stored.Version == 0: // a delete of a record never seen
			return nil, fmt.Errorf("jetstream backend: accept: delete %s/%s: %w", ch.Type, ch.ID, store.ErrNotFound)
		case !changed:
			out[i] = store.Accepted{Version: stored.Version, Unchanged: true}
			continue
		}
		out[i] = store.Accepted{Version: stored.Version, Created: stored.Version == 1}
		for _, m := range stored.Messages {
			out[i].Messages = append(out[i].Messages, m.ID)
		}
		queued = append(queued, stored.Messages...)
	}
	// What follows the changes is independent of one another: the round
	// trips overlap, and Accept waits for the slowest. The audit entries
	// keep their order among themselves.
	var wg sync.WaitGroup
	errs := make([]error, 4)
	wg.Go(func() { errs[0] = b.createStates(ctx, queued) })
	if batch.DeliveryID != "" {
		wg.Go(func() { errs[1] = b.markSeen(ctx, batch.Connector, batch.DeliveryID) })
	}
	if batch.CursorKey != "" {
		wg.Go(func() { errs[2] = b.PutMeta(ctx, batch.CursorKey, []byte(batch.Cursor)) })
	}
	wg.Go(func() {
		for i, ch := range batch.Changes {
			if errs[3] = b.appendAudit(ctx, store.AcceptEntry(ch, out[i])); errs[3] != nil {
				return
			}
		}
	})
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return out, nil
}

// Record returns a record's current version (a deleted one too), or
// store.ErrNotFound: the last message of its subject in LIAISON_CHANGES.
func (b *Backend) Record(ctx context.Context, typ, id string) (*store.Record, error) {
	if err := b.live(); err != nil {
		return nil, err
	}
	rec, err := b.changes.Get(ctx, typ, id)
	if err != nil {
		return nil, err
	}
	return &rec, nil
}

// SyncStates returns the state of the record's latest message at each
// connector: the keys "*.<record>.*" of the messages bucket, the highest
// version per connector. A connector whose messages of the record were
// all purged (delivered longer than the retention ago) is not listed.
func (b *Backend) SyncStates(ctx context.Context, typ, id string) ([]store.SyncState, error) {
	if err := b.live(); err != nil {
		return nil, err
	}
	latest := map[string]*store.Message{}
	updated := map[string]time.Time{}
	err := b.eachState(ctx, "*."+laneHash(typ, id)+".*", func(m *store.Message, e natsjs.KeyValueEntry) error {
		if m.RecordType != typ || m.RecordID != id {
			return nil
		}
		if l := latest[m.Connector]; l == nil || versionOf(m.ID) > versionOf(l.ID) {
			latest[m.Connector], updated[m.Connector] = m, e.Created()
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("jetstream backend: sync states: %w", err)
	}
	var out []store.SyncState
	for conn, m := range latest {
		out = append(out, store.SyncState{Connector: conn, MessageID: m.ID, State: m.State, UpdatedAt: updated[conn].UTC(), LastError: m.LastError})
	}
	slices.SortFunc(out, func(a, b store.SyncState) int { return strings.Compare(a.Connector, b.Connector) })
	return out, nil
}
