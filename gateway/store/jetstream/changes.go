package jetstream

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"strconv"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	natsjs "github.com/nats-io/nats.go/jetstream"

	"github.com/liaisonhq/liaison/gateway/store"
)

// maxApplyAttempts bounds the reads and compare-and-swap publishes of one
// Apply: each failed attempt means another writer's change of the record
// landed, or the server did not answer.
const maxApplyAttempts = 16

// The pause between Apply attempts is jittered up to maxApplyPause; the
// pause before a change whose mapping or publish failed comes again
// starts at minRelayRetry and doubles up to maxRelayRetry.
const (
	maxApplyPause = 20 * time.Millisecond
	minRelayRetry = 100 * time.Millisecond
	maxRelayRetry = 10 * time.Second
)

// Changes is the accept side of the JetStream store: the current version
// of every record, and the changes not yet relayed to the outbox, in one
// stream (see the package documentation, "Accepting a change"). Apply
// stores a change with one compare-and-swap publish; Relay turns the
// changes into outbox messages. A Changes is safe for concurrent use. It
// uses the connection it is given and never closes it.
type Changes struct {
	cfg Config
	log *slog.Logger
	js  natsjs.JetStream

	// filter, when set, decides which of a change's messages the relay
	// publishes: the Backend drops those of connectors deleted since the
	// change was accepted. An error holds up the change, like a failed
	// publish.
	filter func(ctx context.Context, msgs []store.Message) ([]store.Message, error)

	mu     sync.Mutex
	stream natsjs.Stream // nil until first used
}

// NewChanges returns a Changes over the connection nc, without I/O; Ensure
// makes its stream before the first use. It uses Config's ChangesStream,
// RecordsSubject, Replicas, Partitions and RelayAckWait. log nil discards.
func NewChanges(nc *nats.Conn, cfg Config, log *slog.Logger) (*Changes, error) {
	cfg = cfg.withDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("jetstream changes: %w", err)
	}
	if nc == nil {
		return nil, errors.New("jetstream changes: no connection")
	}
	if log == nil {
		log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	js, err := natsjs.New(nc)
	if err != nil {
		return nil, fmt.Errorf("jetstream changes: %w", err)
	}
	return &Changes{cfg: cfg, log: log, js: js}, nil
}

// Ensure creates the changes stream or updates it to the Config; every
// gateway calls it at start. Limits retention without limits: a record's
// current version stays for ever, and Relay removes the older versions of
// a record once they are relayed. File storage, discard-new (a full
// stream refuses a change, never drops one), no direct gets (see Apply).
func (c *Changes) Ensure(ctx context.Context) error {
	s, err := ensureStream(ctx, c.js, c.streamConfig())
	if err != nil {
		return fmt.Errorf("jetstream changes: stream %s: %w", c.cfg.ChangesStream, err)
	}
	c.mu.Lock()
	c.stream = s
	c.mu.Unlock()
	return nil
}

func (c *Changes) streamConfig() natsjs.StreamConfig {
	return natsjs.StreamConfig{
		Name:        c.cfg.ChangesStream,
		Description: "Liaison records: <records subject>.<partition>.<type>.<id>",
		Subjects:    []string{c.cfg.RecordsSubject + ".>"},
		Retention:   natsjs.LimitsPolicy,
		Storage:     natsjs.FileStorage,
		Discard:     natsjs.DiscardNew,
		Replicas:    c.cfg.Replicas,
		AllowDirect: false,
	}
}

// handle returns the stream's handle, looked up once.
func (c *Changes) handle(ctx context.Context) (natsjs.Stream, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.stream != nil {
		return c.stream, nil
	}
	s, err := c.js.Stream(ctx, c.cfg.ChangesStream)
	if err != nil {
		return nil, fmt.Errorf("jetstream changes: stream %s: %w", c.cfg.ChangesStream, err)
	}
	if s.CachedInfo().Config.AllowDirect {
		// The reads of Apply must go to the leader (see Apply).
		return nil, fmt.Errorf("jetstream changes: stream %s allows direct gets; run Ensure", c.cfg.ChangesStream)
	}
	c.stream = s
	return s, nil
}

// recordSubject is the subject of a record's changes.
func (c Config) recordSubject(recordType, recordID string) string {
	p := Partition(recordType, recordID, c.Partitions)
	return c.RecordsSubject + "." + strconv.Itoa(p) + "." + subjectToken(recordType) + "." + subjectToken(recordID)
}

// subjectToken is s as a subject token: s itself when it is letters,
// digits, '-' and '_' only, else '~' and s in unpadded base64url (a FHIR
// id may hold dots). '~' is no token character, so the two never meet.
func subjectToken(s string) string {
	if isToken(s) {
		return s
	}
	return "~" + base64.RawURLEncoding.EncodeToString([]byte(s))
}

// Hash is the content hash Apply gives a record without one: SHA-256 of
// its data, hex. The caller canonicalizes the data first, or gives its
// own Hash.
func Hash(data []byte) string {
	h := sha256.Sum256(data)
	return hex.EncodeToString(h[:])
}

// Get returns a record's current version, ErrNotFound when it has none.
func (c *Changes) Get(ctx context.Context, recordType, recordID string) (store.Record, error) {
	rec, seq, err := c.current(ctx, c.cfg.recordSubject(recordType, recordID))
	if err != nil {
		return store.Record{}, err
	}
	if seq == 0 {
		return store.Record{}, fmt.Errorf("jetstream changes: record %s/%s: %w", recordType, recordID, ErrNotFound)
	}
	return rec, nil
}

// current reads the last change on subj through the stream leader, with
// its sequence; sequence 0 when there is none.
func (c *Changes) current(ctx context.Context, subj string) (store.Record, uint64, error) {
	s, err := c.handle(ctx)
	if err != nil {
		return store.Record{}, 0, err
	}
	m, err := s.GetLastMsgForSubject(ctx, subj)
	if errors.Is(err, natsjs.ErrMsgNotFound) {
		return store.Record{}, 0, nil
	}
	if err != nil {
		return store.Record{}, 0, fmt.Errorf("jetstream changes: read %s: %w", subj, err)
	}
	var rec store.Record
	if err := json.Unmarshal(m.Data, &rec); err != nil {
		return store.Record{}, 0, fmt.Errorf("jetstream changes: read %s: sequence %d: %w", subj, m.Sequence, err)
	}
	return rec, m.Sequence, nil
}

// Apply stores rec as its record's next version, unless its content is
// the current version's: then it stores nothing and returns the current
// version and false. Content is the same when Deleted is the same and,
// for an upsert, Hash is too; deleting a record that has no version is
// unchanged (the zero Record, false). rec.Hash empty is filled with
// Hash(rec.Data); rec.Version is ignored: the new version is the current
// one's plus one (1 for a new record); rec.UpdatedAt zero is filled with
// the time now. A delete keeps the record's last Data and Hash, as the
// bbolt store does.
//
// Apply reads the record's last change, with its stream sequence, from
// the stream leader, and publishes the new version with
// Nats-Expected-Last-Subject-Sequence set to that sequence (0 for a new
// record): the server refuses it when another writer's change landed in
// between, and Apply reads again and tries again, up to maxApplyAttempts
// times, then returns ErrConflict. So concurrent Applies of one record
// all land, one version each, and none is lost. It returns the stored
// record and true once the stream acknowledged it (with replicas, once a
// quorum stored it).
//
// A publish whose acknowledgement was lost is read back on the next
// attempt and answered as unchanged (false) with the version it made.
// An error other than ErrConflict or ErrBadRecord means the change may or
// may not be stored; applying it again is safe.
func (c *Changes) Apply(ctx context.Context, rec store.Record) (store.Record, bool, error) {
	ch, changed, err := c.apply(ctx, rec, nil)
	return ch.Record, changed, err
}

// change is what LIAISON_CHANGES holds for one version of a record: the
// record, and the outbox messages the version makes, one per connector,
// complete (ID, record, IdempotencyKey, CreatedAt): the relay publishes
// them as they are, so that fan-out is decided once, at accept time.
type change struct {
	store.Record
	Messages []store.Message `json:"messages,omitempty"`
}

// apply is Apply with the messages the new version makes: msgs are
// templates (Connector, Op, Body, ContentType, Mapping, MappingVersion)
// that apply completes for the version it lands as — ID (MessageID),
// RecordType, RecordID, State Queued, CreatedAt, and IdempotencyKey from
// keyHash (the change's own hash, as the bbolt store uses it) — and
// stores with it. The messages returned are the stored ones; none when
// unchanged.
func (c *Changes) apply(ctx context.Context, rec store.Record, msgs []*store.Message) (change, bool, error) {
	if rec.Type == "" || rec.ID == "" {
		return change{}, false, fmt.Errorf("jetstream changes: apply: %w: no type or id", ErrBadRecord)
	}
	keyHash := rec.Hash
	if rec.Hash == "" {
		rec.Hash = Hash(rec.Data)
	}
	if rec.UpdatedAt.IsZero() {
		rec.UpdatedAt = time.Now().UTC()
	}
	subj := c.cfg.recordSubject(rec.Type, rec.ID)
	var last error
	for attempt := 1; attempt <= maxApplyAttempts; attempt++ {
		if attempt > 1 {
			if !sleep(ctx, rand.N(maxApplyPause)+time.Millisecond) {
				return change{}, false, fmt.Errorf("jetstream changes: apply %s/%s: %w (last: %w)", rec.Type, rec.ID, ctx.Err(), last)
			}
		}
		cur, seq, err := c.current(ctx, subj)
		if err != nil {
			if ctx.Err() != nil || !transient(err) {
				return change{}, false, err
			}
			last = err
			continue
		}
		if seq == 0 && rec.Deleted || seq > 0 && cur.Deleted == rec.Deleted && (rec.Deleted || cur.Hash == rec.Hash) {
			return change{Record: cur}, false, nil
		}
		next := change{Record: rec}
		next.Version = cur.Version + 1
		if rec.Deleted && seq > 0 {
			next.Data, next.Hash = cur.Data, cur.Hash
		}
		for _, t := range msgs {
			m := *t
			m.ID = MessageID(rec.Type, rec.ID, next.Version, m.Connector)
			m.RecordType, m.RecordID, m.State, m.CreatedAt = rec.Type, rec.ID, store.Queued, next.UpdatedAt
			m.IdempotencyKey = store.IdempotencyKey(rec.Source, m.Connector, rec.Type, rec.ID, m.Op, keyHash, next.Version)
			next.Messages = append(next.Messages, m)
		}
		data, err := json.Marshal(next)
		if err != nil {
			return change{}, false, fmt.Errorf("jetstream changes: apply %s/%s: %w: %w", rec.Type, rec.ID, ErrBadRecord, err)
		}
		_, err = c.js.PublishMsg(ctx, &nats.Msg{Subject: subj, Data: data},
			natsjs.WithExpectStream(c.cfg.ChangesStream), natsjs.WithExpectLastSequencePerSubject(seq))
		if err == nil {
			return next, true, nil
		}
		if ctx.Err() != nil || !wrongLastSequence(err) && !transient(err) {
			return change{}, false, fmt.Errorf("jetstream changes: apply %s/%s: %w", rec.Type, rec.ID, err)
		}
		last = err
	}
	if transient(last) { // the servers did not answer: not a conflict
		return change{}, false, fmt.Errorf("jetstream changes: apply %s/%s: %d attempts: %w", rec.Type, rec.ID, maxApplyAttempts, last)
	}
	return change{}, false, fmt.Errorf("jetstream changes: apply %s/%s: %d attempts: %w (last: %w)", rec.Type, rec.ID, maxApplyAttempts, ErrConflict, last)
}

// wrongLastSequence reports whether err is the server refusing a
// compare-and-swap publish: another change of the subject landed first.
// Replicated streams answer 10164 rather than 10071.
func wrongLastSequence(err error) bool {
	var apiErr *natsjs.APIError
	return errors.As(err, &apiErr) && (apiErr.ErrorCode == natsjs.JSErrCodeStreamWrongLastSequence ||
		apiErr.ErrorCode == natsjs.JSErrCodeStreamWrongLastSequenceConstant)
}

// MessageID is the ID of the outbox message a record's version makes
// for a connector: "<connector>.<lane>.<version>", where lane is the
// first 20 hex digits of SHA-256 of "<type>\x00<id>". Deterministic, so
// a change relayed again publishes its messages under the same
// Nats-Msg-Id and the outbox stream stores them once; and, since record
// ids are arbitrary text, free of anything but letters, digits, '-',
// '_' and '.': it is a key of the message-state bucket, a path segment
// of the HTTP API and a column of the CLI's tables as it is. The
// connector comes first so that one connector's messages are the keys
// "<connector>.>".
func MessageID(recordType, recordID string, version int64, conn string) string {
	return conn + "." + laneHash(recordType, recordID) + "." + strconv.FormatInt(version, 10)
}

// laneHash names a record in message IDs.
func laneHash(recordType, recordID string) string {
	h := sha256.Sum256([]byte(recordType + "\x00" + recordID))
	return hex.EncodeToString(h[:10])
}

// relayConsumer is the durable consumer relaying a partition.
func relayConsumer(p int) string { return "relay-" + strconv.Itoa(p) }

// Relay relays the changes' messages to out, until ctx ends; then it
// waits for the relays under way and returns nil. It returns an error
// only for a nil out. Every gateway may run it: the server hands each
// change to one of them.
//
// For each partition Relay keeps a durable pull consumer (relay-<n>,
// filter <records subject>.<n>.>, explicit acks, MaxAckPending 1, AckWait
// Config.RelayAckWait) and handles its changes one at a time, in stream
// order: out.Publish stores the messages the change carries (made at
// accept time, IDs included), and only then the change is acknowledged,
// and the record's older versions, relayed already, are purged from the
// stream. A change whose publish fails is not acknowledged: it comes
// again after a backoff, before any later change of its partition. A
// relay that dies between publish and acknowledgement leaves the change
// to come again after RelayAckWait; its messages are published again
// with the same IDs and dropped by the outbox stream as duplicates.
func (c *Changes) Relay(ctx context.Context, out *Outbox) error {
	if out == nil {
		return errors.New("jetstream changes: relay: nil outbox")
	}
	var wg sync.WaitGroup
	for p := range c.cfg.Partitions {
		r := &relay{c: c, p: p, out: out}
		wg.Go(func() { r.run(ctx) })
	}
	wg.Wait()
	return nil
}

// relay relays one partition from this process.
type relay struct {
	c    *Changes
	p    int
	out  *Outbox
	cons natsjs.Consumer // nil until made, and after an error
}

// run opens pull sessions until ctx ends.
func (r *relay) run(ctx context.Context) {
	pause := minReconnect
	for {
		handled, err := r.session(ctx)
		if ctx.Err() != nil {
			return
		}
		if handled > 0 {
			pause = minReconnect
		}
		r.c.log.Warn("jetstream changes: relay session ended; starting again", "partition", r.p, "in", pause, "error", err)
		if !sleep(ctx, pause) {
			return
		}
		pause = min(2*pause, maxReconnect)
	}
}

// session pulls and relays until ctx ends (nil error) or something fails.
func (r *relay) session(ctx context.Context) (int, error) {
	c := r.c
	name := relayConsumer(r.p)
	if r.cons == nil {
		cons, err := c.js.CreateOrUpdateConsumer(ctx, c.cfg.ChangesStream, natsjs.ConsumerConfig{
			Durable:       name,
			Description:   "Liaison relay, partition " + strconv.Itoa(r.p),
			FilterSubject: c.cfg.RecordsSubject + "." + strconv.Itoa(r.p) + ".>",
			DeliverPolicy: natsjs.DeliverAllPolicy,
			AckPolicy:     natsjs.AckExplicitPolicy,
			AckWait:       c.cfg.RelayAckWait,
			MaxDeliver:    -1,
			MaxAckPending: 1,
		})
		if err != nil {
			return 0, fmt.Errorf("consumer %s: %w", name, err)
		}
		r.cons = cons
	}
	it, err := r.cons.Messages(natsjs.PullMaxMessages(pullBatch), natsjs.PullExpiry(c.cfg.PullExpiry))
	if err != nil {
		r.cons = nil
		return 0, fmt.Errorf("consumer %s: pull: %w", name, err)
	}
	defer release(it)
	handled := 0
	for {
		msg, err := it.Next(natsjs.NextContext(ctx))
		if ctx.Err() != nil {
			if err == nil {
				_ = msg.Nak()
			}
			return handled, nil
		}
		if err != nil {
			r.cons = nil
			return handled, fmt.Errorf("consumer %s: %w", name, err)
		}
		r.handle(ctx, msg)
		handled++
	}
}

// handle relays one change and settles it.
func (r *relay) handle(ctx context.Context, msg natsjs.Msg) {
	log := r.c.log
	md, err := msg.Metadata()
	if err != nil { // not a JetStream delivery: cannot happen with a pull consumer
		_ = msg.NakWithDelay(minRelayRetry)
		return
	}
	retry := func(what string, err error) {
		d := backoff(md.NumDelivered)
		log.Error("jetstream changes: change not relayed; trying again", "partition", r.p, "sequence", md.Sequence.Stream,
			"attempt", md.NumDelivered, "in", d, "stage", what, "error", err)
		if err := msg.NakWithDelay(d); err != nil {
			log.Warn("jetstream changes: negative acknowledgement failed; the change comes again after RelayAckWait", "partition", r.p, "error", err)
		}
	}
	var ch change
	if err := json.Unmarshal(msg.Data(), &ch); err != nil {
		retry("decode", err)
		return
	}
	rec, msgs := ch.Record, ch.Messages
	if f := r.c.filter; f != nil && len(msgs) > 0 {
		if msgs, err = f(ctx, msgs); err != nil {
			retry("filter", fmt.Errorf("%s version %d: %w", rec.Type, rec.Version, err))
			return
		}
	}
	if len(msgs) > 0 {
		pctx, cancel := context.WithTimeout(ctx, r.c.cfg.RelayAckWait*3/4)
		err = r.out.Publish(pctx, msgs)
		cancel()
		if err != nil {
			if ctx.Err() != nil {
				_ = msg.Nak()
				return
			}
			retry("publish", err)
			return
		}
	}
	actx, cancel := context.WithTimeout(context.WithoutCancel(ctx), settleTimeout)
	defer cancel()
	if err := msg.DoubleAck(actx); err != nil {
		log.Warn("jetstream changes: acknowledgement not confirmed; the change comes again", "partition", r.p, "type", rec.Type, "version", rec.Version, "error", err)
		return
	}
	if rec.Version > 1 {
		r.compact(actx, msg.Subject(), md.Sequence.Stream)
	}
	log.Debug("relayed", "partition", r.p, "type", rec.Type, "version", rec.Version, "messages", len(msgs))
}

// compact purges the versions of a record older than the one relayed at
// seq: they are relayed, and the current version is seq or later. A
// failure leaves them, harmlessly, until the record's next change.
func (r *relay) compact(ctx context.Context, subj string, seq uint64) {
	s, err := r.c.handle(ctx)
	if err == nil {
		err = s.Purge(ctx, natsjs.WithPurgeSubject(subj), natsjs.WithPurgeSequence(seq))
	}
	if err != nil {
		r.c.log.Warn("jetstream changes: older versions not purged", "partition", r.p, "sequence", seq, "error", err)
	}
}

// backoff is the pause before the n-th delivery of a change comes again.
func backoff(n uint64) time.Duration {
	d := minRelayRetry
	for i := uint64(1); i < n && d < maxRelayRetry; i++ {
		d *= 2
	}
	return min(d, maxRelayRetry)
}
