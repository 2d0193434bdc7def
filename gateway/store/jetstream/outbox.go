package jetstream

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strconv"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	natsjs "github.com/nats-io/nats.go/jetstream"
)

// keyPartitions is the control bucket's key holding the deployment's
// partition count.
const keyPartitions = "config.partitions"

// Outbox is the outbox on NATS JetStream, shared by every gateway of a
// deployment: Publish stores messages, Run delivers one connector's
// messages from this process, Pause and Resume act on every process,
// Dead and Replay handle dead letters. An Outbox is safe for concurrent
// use. It uses the connection it is given and never closes it.
type Outbox struct {
	cfg Config
	log *slog.Logger
	nc  *nats.Conn
	js  natsjs.JetStream

	mu   sync.Mutex
	runs map[string]*runner // by connector: the Runs under way
}

// New returns an Outbox over the connection nc, without I/O; Ensure makes
// the streams and the bucket before the first use. log nil discards.
func New(nc *nats.Conn, cfg Config, log *slog.Logger) (*Outbox, error) {
	cfg = cfg.withDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("jetstream outbox: %w", err)
	}
	if nc == nil {
		return nil, errors.New("jetstream outbox: no connection")
	}
	if log == nil {
		log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	js, err := natsjs.New(nc, natsjs.WithPublishAsyncTimeout(cfg.PublishTimeout))
	if err != nil {
		return nil, fmt.Errorf("jetstream outbox: %w", err)
	}
	return &Outbox{cfg: cfg, log: log, nc: nc, js: js, runs: map[string]*runner{}}, nil
}

// Config returns the configuration with its defaults filled in.
func (o *Outbox) Config() Config { return o.cfg }

// Ensure creates the outbox stream, the dead-letter stream and the
// control bucket, or updates them to the Config; every gateway calls it at
// start, concurrently or not. It records the partition count on first use
// and returns ErrPartitionsChanged when a different one was recorded.
//
// The outbox stream is a work queue (a message is gone once acknowledged;
// unconsumed messages stay however long no gateway runs), file storage,
// discard-new (a full stream refuses a publish, never drops an accepted
// message). Dead letters keep until replayed.
func (o *Outbox) Ensure(ctx context.Context) error {
	c := o.cfg
	_, err := ensureStream(ctx, o.js, natsjs.StreamConfig{
		Name:        c.Stream,
		Description: "Liaison outbox: <subject>.<connector>.<partition>",
		Subjects:    []string{c.Subject + ".>"},
		Retention:   natsjs.WorkQueuePolicy,
		Storage:     natsjs.FileStorage,
		Discard:     natsjs.DiscardNew,
		Replicas:    c.Replicas,
		Duplicates:  c.Duplicates,
	})
	if err != nil {
		return fmt.Errorf("jetstream outbox: stream %s: %w", c.Stream, err)
	}
	_, err = ensureStream(ctx, o.js, natsjs.StreamConfig{
		Name:        c.DeadStream,
		Description: "Liaison dead letters: <dead subject>.<connector>",
		Subjects:    []string{c.DeadSubject + ".>"},
		Retention:   natsjs.LimitsPolicy,
		Storage:     natsjs.FileStorage,
		Discard:     natsjs.DiscardNew,
		Replicas:    c.Replicas,
		Duplicates:  c.Duplicates,
	})
	if err != nil {
		return fmt.Errorf("jetstream outbox: stream %s: %w", c.DeadStream, err)
	}
	var kv natsjs.KeyValue
	err = untilAnswered(ctx, func(ctx context.Context) (err error) {
		kv, err = o.js.CreateOrUpdateKeyValue(ctx, natsjs.KeyValueConfig{
			Bucket:      c.Control,
			Description: "Liaison control: paused.<connector>, config.partitions",
			History:     1,
			Storage:     natsjs.FileStorage,
			Replicas:    c.Replicas,
		})
		return err
	})
	if err != nil {
		return fmt.Errorf("jetstream outbox: bucket %s: %w", c.Control, err)
	}
	want := strconv.Itoa(c.Partitions)
	_, err = kv.Create(ctx, keyPartitions, []byte(want))
	if errors.Is(err, natsjs.ErrKeyExists) {
		e, gerr := kv.Get(ctx, keyPartitions)
		if gerr != nil {
			return fmt.Errorf("jetstream outbox: read %s: %w", keyPartitions, gerr)
		}
		if got := string(e.Value()); got != want {
			return fmt.Errorf("jetstream outbox: %d partitions configured, %s recorded: %w", c.Partitions, got, ErrPartitionsChanged)
		}
		return nil
	}
	if err != nil {
		return fmt.Errorf("jetstream outbox: record %s: %w", keyPartitions, err)
	}
	return nil
}

// ensureStream creates a stream or updates it to cfg, asking again while
// the cluster does not answer (untilAnswered).
func ensureStream(ctx context.Context, js natsjs.JetStream, cfg natsjs.StreamConfig) (s natsjs.Stream, err error) {
	err = untilAnswered(ctx, func(ctx context.Context) error {
		s, err = js.CreateOrUpdateStream(ctx, cfg)
		return err
	})
	return s, err
}

// ensureAttempt bounds one attempt of a JetStream API call at start: a
// cluster still electing its leaders can leave a request unanswered, and
// asking again then answers sooner than waiting out the caller's context.
const ensureAttempt = 5 * time.Second

// untilAnswered calls call, each time with at most ensureAttempt, again
// after a short pause while its error may pass by itself (no answer, no
// responders, 503), until it succeeds, fails otherwise, or ctx ends.
func untilAnswered(ctx context.Context, call func(context.Context) error) error {
	pause := minRepublish
	for {
		actx, cancel := context.WithTimeout(ctx, ensureAttempt)
		err := call(actx)
		cancel()
		if err == nil || !transient(err) || ctx.Err() != nil {
			return err
		}
		if !sleep(ctx, pause) {
			return err
		}
		pause = min(2*pause, maxRepublish)
	}
}

// Counts is what the engine holds of one connector.
type Counts struct {
	// Queued is every message not yet delivered nor dead: waiting,
	// being delivered, or waiting for a retry.
	Queued uint64 `json:"queued"`
	// Dead is the dead letters, until replayed.
	Dead uint64 `json:"dead"`
	// OldestQueued is when the oldest queued message was stored; zero
	// when none is.
	OldestQueued time.Time `json:"oldestQueued,omitzero"`
}

// Counts counts a connector's messages in the streams (not in this
// process's memory, so every gateway reports the same).
func (o *Outbox) Counts(ctx context.Context, conn string) (Counts, error) {
	if err := checkConnector(conn); err != nil {
		return Counts{}, err
	}
	var c Counts
	var err error
	filter := o.cfg.Subject + "." + conn + ".*"
	if c.Queued, err = o.count(ctx, o.cfg.Stream, filter); err != nil {
		return Counts{}, err
	}
	if c.Dead, err = o.count(ctx, o.cfg.DeadStream, o.cfg.deadSubject(conn)); err != nil {
		return Counts{}, err
	}
	if c.Queued > 0 {
		s, err := o.js.Stream(ctx, o.cfg.Stream)
		if err != nil {
			return Counts{}, fmt.Errorf("jetstream outbox: stream %s: %w", o.cfg.Stream, err)
		}
		m, err := s.GetMsg(ctx, 1, natsjs.WithGetMsgSubject(filter))
		switch {
		case err == nil:
			c.OldestQueued = m.Time
		case !errors.Is(err, natsjs.ErrMsgNotFound): // delivered meanwhile: leave it zero
			return Counts{}, fmt.Errorf("jetstream outbox: oldest of %s: %w", conn, err)
		}
	}
	return c, nil
}

// count sums the messages of a stream on the subjects filter matches.
func (o *Outbox) count(ctx context.Context, stream, filter string) (uint64, error) {
	s, err := o.js.Stream(ctx, stream)
	if err != nil {
		return 0, fmt.Errorf("jetstream outbox: stream %s: %w", stream, err)
	}
	info, err := s.Info(ctx, natsjs.WithSubjectFilter(filter))
	if err != nil {
		return 0, fmt.Errorf("jetstream outbox: stream %s: %w", stream, err)
	}
	var n uint64
	for _, c := range info.State.Subjects {
		n += c
	}
	return n, nil
}

// RunStatus is what this process does for one connector.
type RunStatus struct {
	Running bool `json:"running"` // Run runs for it
	Paused  bool `json:"paused"`  // its pause flag, as Run last saw it
	// Pulling is how many of its partitions Run pulls from: all of them
	// while not paused (the server hands each partition to one gateway at
	// a time), none while paused.
	Pulling int `json:"pulling"`
}

// Status reports on the connector's Run in this process.
func (o *Outbox) Status(conn string) RunStatus {
	o.mu.Lock()
	r := o.runs[conn]
	o.mu.Unlock()
	if r == nil {
		return RunStatus{}
	}
	_, paused, _ := r.pause.get()
	return RunStatus{Running: true, Paused: paused, Pulling: r.pulls.get()}
}
