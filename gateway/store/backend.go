package store

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"strconv"
	"time"
)

// Backend is where a gateway keeps its state: connectors, records and
// where each stands at each connector, the outbox's messages, poll
// cursors and webhook delivery ids, and the audit trail. Two implement
// it: *Store, on one bbolt file, for one gateway (the default), and
// jetstream.Backend, on NATS JetStream, shared by several gateways.
// storetest checks both against the same suite; what it checks is what
// the comments below promise.
//
// Delivery is not part of Backend: each backend has its own deliverer
// (package outbox over a *Store; jetstream.Backend.Deliverer), both
// behind outbox.Deliverer.
//
// Every method is safe for concurrent use. Errors wrap ErrNotFound,
// ErrConflict, ErrDuplicate or ErrClosed where those apply, and never
// hold a record's content.
type Backend interface {
	// Connectors returns every registered connector, by id.
	Connectors(ctx context.Context) ([]Connector, error)
	// Connector returns one connector, or ErrNotFound.
	Connector(ctx context.Context, id string) (*Connector, error)
	// UpdateConnector reads connector id, lets fn change it and stores
	// what fn left, unless fn returns an error (returned as is). A
	// missing connector is ErrNotFound, unless create: then fn gets a new
	// one with ID set and CreatedAt the time of the update. UpdatedAt is
	// set on every update. Concurrent updates of one connector never
	// lose one another's changes (fn may run more than once).
	UpdateConnector(ctx context.Context, id string, create bool, fn func(c *Connector) error) (*Connector, error)
	// DeleteConnector removes a connector and every message queued for
	// it; ErrNotFound when there is none.
	DeleteConnector(ctx context.Context, id string) error
	// Changed fires after another gateway sharing the backend changed a
	// connector (registered, updated, paused, deleted); nil when no other
	// gateway can (bbolt). The channel is closed when the backend closes.
	Changed() <-chan struct{}

	// Accept applies a batch of record changes: all of them, or, on an
	// error, none for the bbolt backend — the JetStream backend may have
	// applied a prefix of the batch, and a retry of the same batch then
	// finds those unchanged. See Batch and Change for what it does.
	Accept(ctx context.Context, b *Batch) ([]Accepted, error)
	// Record returns a record's current version (a deleted one too, with
	// Deleted set), or ErrNotFound.
	Record(ctx context.Context, typ, id string) (*Record, error)
	// SyncStates returns where a record stands at each connector it was
	// sent to: the state of its latest message there, by connector id.
	SyncStates(ctx context.Context, typ, id string) ([]SyncState, error)

	// Seen reports whether an inbound delivery id of a connector was
	// accepted (Batch.DeliveryID) within the dedupe window.
	Seen(ctx context.Context, conn, deliveryID string) (bool, error)
	// Meta returns a named value (a poll cursor, the admin token's hash),
	// nil when none was put.
	Meta(ctx context.Context, name string) ([]byte, error)
	// PutMeta stores a named value.
	PutMeta(ctx context.Context, name string, value []byte) error
	// Lease claims, or renews, the lease name for holder until ttl from
	// now, and reports whether holder has it: false while another holder's
	// lease runs. Gateways sharing a backend take turns with it at what
	// one of them should do at a time (a connector's scheduled polls).
	Lease(ctx context.Context, name, holder string, ttl time.Duration) (bool, error)

	// Message returns one message with its attempts, or ErrNotFound.
	Message(ctx context.Context, id string) (*Message, error)
	// Messages returns the messages the filter selects, newest first.
	Messages(ctx context.Context, f Filter) ([]*Message, error)
	// Replay puts a dead message back in its lane, queued and due at
	// once; ErrNotFound when there is none, ErrConflict when it is not
	// dead.
	Replay(ctx context.Context, id string) (*Message, error)
	// ReplayDead replays every dead message of a connector, and says how
	// many.
	ReplayDead(ctx context.Context, conn string) (int, error)
	// RetryNow makes every failed message of a connector due at once, and
	// says how many.
	RetryNow(ctx context.Context, conn string) (int, error)
	// Counts returns how many messages of a connector are in each state;
	// Delivered counts every message ever delivered.
	Counts(ctx context.Context, conn string) (Counts, error)
	// OldestUndelivered returns when the connector's oldest queued or
	// failed message was created.
	OldestUndelivered(ctx context.Context, conn string) (time.Time, bool, error)

	// Audit returns audit entries, newest first: one per accepted change
	// (Accept writes it, with the change) and one per delivery attempt
	// (the deliverer writes it, with the attempt).
	Audit(ctx context.Context, f AuditFilter) ([]AuditEntry, error)
	// Purge removes what is older than its retention: delivered
	// messages, audit entries, delivery ids. A backend that expires them
	// by itself returns at once.
	Purge(ctx context.Context, r Retention) error

	// Ready reports whether the backend can take writes now: nil, or an
	// error wrapping ErrUnavailable (a shared store out of reach) or
	// ErrClosed. For readiness probes: cheap, no I/O.
	Ready() error

	// Close releases the backend; calls after it return ErrClosed.
	Close() error
}

// Batch is what one request, one webhook delivery or one poll page
// changes: applied together, in order.
type Batch struct {
	Changes []*Change
	// Connector and DeliveryID, when DeliveryID is set, name the inbound
	// delivery the changes came in. A batch whose delivery id the
	// connector has sent before (within the dedupe window) is not applied
	// again: Accept returns ErrDuplicate.
	Connector, DeliveryID string
	// CursorKey, when set, is stored with the changes as Meta(CursorKey)
	// = Cursor: how far a poll has come.
	CursorKey, Cursor string
}

// Change is one record change. When the record's content is unchanged
// (same Hash, or a delete of a deleted record), Accept stores nothing and
// sends nothing, and says Unchanged. Otherwise the record gets its next
// version (1 for a new one), and each of Messages is queued for its
// connector, at the end of the record's lane there, with ID, State
// (Queued), CreatedAt and IdempotencyKey (see IdempotencyKey) set by
// Accept. A delete of a record that never existed fails the batch with
// ErrNotFound. Each change, unchanged ones too, leaves an audit entry.
type Change struct {
	Type, ID string
	Data     json.RawMessage // canonical JSON; ignored for a delete (the record keeps its last data)
	Hash     string          // content hash of Data
	Deleted  bool
	Source   string // SourceHMS, or the id of the connector the change came from
	Messages []*Message
	// RequestID and Address are the accepting request's X-Request-Id and
	// client address, for the audit trail; "" for none.
	RequestID, Address string
}

// SourceHMS is Change.Source for the records API: the organisation's own
// applications.
const SourceHMS = "hms"

// Accepted is what Accept did with one change.
type Accepted struct {
	Version   int64    // the record's version after the change
	Created   bool     // the record did not exist before
	Unchanged bool     // nothing stored, nothing sent
	Messages  []string // the ids of the messages queued
}

// Retention says how long Purge keeps what it purges.
type Retention struct {
	Delivered time.Duration // delivered messages, after delivery
	Audit     time.Duration // audit entries
	Seen      time.Duration // inbound delivery ids (the dedupe window)
}

// ErrDuplicate is returned by Accept for a batch whose delivery id was
// seen before.
var ErrDuplicate = errors.New("delivery already accepted")

// ErrUnavailable wraps a backend's error that says the engine is out of
// reach for the moment (a server failing over, no quorum, a timeout):
// the operation may be tried again. The HTTP layer answers 503 with
// Retry-After.
var ErrUnavailable = errors.New("store unavailable")

// IdempotencyKey is the key every attempt of one change of a record to
// one connector carries (HTTP Idempotency-Key, Nats-Msg-Id, ...): the same
// for a retry or a redelivery, different for each change — the record's
// version is part of it, so a record going A→B→A sends its third change
// under a key of its own.
func IdempotencyKey(source, conn, typ, id, op, hash string, version int64) string {
	sum := sha256.Sum256([]byte(source + "\x00" + conn + "\x00" + typ + "\x00" + id + "\x00" + op + "\x00" + hash + "\x00" + strconv.FormatInt(version, 10)))
	return hex.EncodeToString(sum[:16])
}

// AcceptEntry is the audit entry of a change Accept applied (or found
// unchanged), with the result a.
func AcceptEntry(ch *Change, a Accepted) *AuditEntry {
	e := &AuditEntry{Kind: AuditAccept, Interaction: "update", RecordType: ch.Type, RecordID: ch.ID,
		Version: a.Version, Agent: ch.Source, RequestID: ch.RequestID, Address: ch.Address, Unchanged: a.Unchanged}
	switch {
	case ch.Deleted:
		e.Interaction = "delete"
	case a.Created:
		e.Interaction = "create"
	}
	if ch.Source != SourceHMS {
		e.Connector = ch.Source
	}
	return e
}

// lease is a Lease's stored value.
type lease struct {
	Holder string    `json:"holder"`
	Until  time.Time `json:"until"`
}

// LeaseKey is the Meta name a lease is kept under, by every backend.
func LeaseKey(name string) string { return "lease/" + name }

// Claim decides a Lease, the same way on every backend: the stored lease
// (nil for none) is taken over by holder when it is holder's own or has
// run out. It returns the lease to store, or nil when another holder
// keeps it.
func Claim(stored []byte, holder string, now time.Time, ttl time.Duration) []byte {
	var l lease
	if stored != nil && json.Unmarshal(stored, &l) == nil && l.Holder != holder && now.Before(l.Until) {
		return nil
	}
	data, _ := json.Marshal(lease{Holder: holder, Until: now.Add(ttl)})
	return data
}
