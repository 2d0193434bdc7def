package jetstream

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	natsjs "github.com/nats-io/nats.go/jetstream"

	"github.com/liaisonhq/liaison/gateway/store"
)

// Defaults of BackendConfig.
const (
	DefaultConnectorsBucket = "LIAISON_CONNECTORS"
	DefaultMetaBucket       = "LIAISON_META"
	DefaultSeenBucket       = "LIAISON_SEEN"
	DefaultMessagesBucket   = "LIAISON_MESSAGES"
	DefaultAuditStream      = "LIAISON_AUDIT"
	DefaultAuditSubject     = "liaison.audit"
	DefaultSeenTTL          = 8 * 24 * time.Hour
	DefaultConnectTimeout   = 10 * time.Second
)

// maxCAS bounds the read-and-compare-and-swap rounds of one key-value
// update: each failed round means another gateway's write landed.
const maxCAS = 32

// BackendConfig says where a Backend's state lives. Every gateway of a
// deployment uses the same names (Config's and the buckets'); Instance
// differs between them.
type BackendConfig struct {
	// URLs of the NATS servers (nats://host:4222); the client tries them
	// all and reconnects for ever. Required.
	URLs []string
	// User and Password, Token, or CredsFile (a .creds file: JWT and
	// NKey seed) authenticate the connection; all empty for none. They
	// are never logged nor put in an error.
	User, Password string
	Token          string
	CredsFile      string
	// ConnectTimeout bounds connecting and making the streams and buckets
	// in Open. Default 10s.
	ConnectTimeout time.Duration

	// Config names the outbox, dead-letter and changes streams and the
	// control bucket, and holds Replicas (1, or 3 on a cluster),
	// Partitions, Instance and the timings. Its OnAttempt and OnGone are
	// not used: the Deliverer's outbox.Config has those hooks.
	Config

	// ConnectorsBucket holds the connectors (c.<id>) and their names
	// (n.<name, base64url>), for uniqueness. Default LIAISON_CONNECTORS.
	ConnectorsBucket string
	// MetaBucket holds Meta's values (m.<name, base64url>) and the count
	// of delivered messages purged per connector (p.<connector>). Default
	// LIAISON_META.
	MetaBucket string
	// SeenBucket holds inbound delivery ids, each for SeenTTL. Default
	// LIAISON_SEEN.
	SeenBucket string
	// SeenTTL is the dedupe window: how long a delivery id is remembered.
	// Fixed when the bucket is made. Default 8 days.
	SeenTTL time.Duration
	// MessagesBucket holds every message's state, by message ID. Default
	// LIAISON_MESSAGES.
	MessagesBucket string
	// AuditStream and AuditSubject are where the audit trail is kept.
	// Defaults LIAISON_AUDIT, liaison.audit.
	AuditStream, AuditSubject string
	// AuditMessage, when set, turns each audit entry into a message to
	// queue (an AuditEvent for an audit repository), or returns nil for
	// none; as store.Options.AuditMessage.
	AuditMessage func(e *store.AuditEntry) (*store.Message, error)
}

func (c BackendConfig) withDefaults() BackendConfig {
	c.Config = c.Config.withDefaults()
	c.OnAttempt, c.OnGone = nil, nil
	def := func(s *string, d string) {
		if *s == "" {
			*s = d
		}
	}
	def(&c.ConnectorsBucket, DefaultConnectorsBucket)
	def(&c.MetaBucket, DefaultMetaBucket)
	def(&c.SeenBucket, DefaultSeenBucket)
	def(&c.MessagesBucket, DefaultMessagesBucket)
	def(&c.AuditStream, DefaultAuditStream)
	def(&c.AuditSubject, DefaultAuditSubject)
	if c.SeenTTL <= 0 {
		c.SeenTTL = DefaultSeenTTL
	}
	if c.ConnectTimeout <= 0 {
		c.ConnectTimeout = DefaultConnectTimeout
	}
	return c
}

// Validate checks a BackendConfig with its defaults filled, without I/O.
func (c BackendConfig) Validate() error {
	if len(c.URLs) == 0 {
		return errors.New("no NATS URL")
	}
	if err := c.Config.Validate(); err != nil {
		return err
	}
	for _, n := range []struct{ what, v string }{
		{"connectors bucket", c.ConnectorsBucket}, {"meta bucket", c.MetaBucket}, {"seen bucket", c.SeenBucket},
		{"messages bucket", c.MessagesBucket}, {"audit stream", c.AuditStream},
	} {
		if !isToken(n.v) {
			return fmt.Errorf("%s %q: letters, digits, '-' and '_' only", n.what, n.v)
		}
	}
	if err := checkPrefix(c.AuditSubject); err != nil {
		return fmt.Errorf("audit subject %q: %w", c.AuditSubject, err)
	}
	for _, s := range []string{c.Subject, c.DeadSubject, c.RecordsSubject} {
		if c.AuditSubject == s || strings.HasPrefix(c.AuditSubject, s+".") {
			return errors.New("the audit subject must differ from the other subjects")
		}
	}
	if (c.User != "" || c.Password != "") && (c.Token != "" || c.CredsFile != "") || c.Token != "" && c.CredsFile != "" {
		return errors.New("give one of user and password, token, creds file")
	}
	return nil
}

// Backend is store.Backend on NATS JetStream, shared by every gateway of
// a deployment (see the package documentation, "Backend"). Open makes
// it; it is safe for concurrent use.
type Backend struct {
	cfg     BackendConfig
	log     *slog.Logger
	nc      *nats.Conn
	js      natsjs.JetStream
	out     *Outbox
	changes *Changes

	conns, meta, seen, states natsjs.KeyValue

	changed   chan struct{}
	stopWatch context.CancelFunc
	watchDone chan struct{}

	mu    sync.Mutex
	own   map[uint64]bool // revisions of the connectors bucket this process wrote, not yet seen by the watch
	known map[string]bool // connectors known to exist, for the relay

	summaries map[string]*summaryEntry // by connector: see summarize

	closed    atomic.Bool
	closeOnce sync.Once
}

var _ store.Backend = (*Backend)(nil)

// Open connects to NATS (reconnecting for ever afterwards), makes or
// updates every stream and bucket — idempotent, so gateways may start
// together — and watches the connectors for Changed. Close releases
// what it opened. log nil discards.
func Open(ctx context.Context, cfg BackendConfig, log *slog.Logger) (*Backend, error) {
	cfg = cfg.withDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("jetstream backend: %w", err)
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	ctx, cancel := context.WithTimeout(ctx, cfg.ConnectTimeout)
	defer cancel()
	nc, err := connect(cfg, log)
	if err != nil {
		return nil, err
	}
	b, err := open(ctx, nc, cfg, log)
	if err != nil {
		nc.Close()
		return nil, err
	}
	return b, nil
}

// connect connects to cfg.URLs. Its errors name no URL: one may hold a
// user and password.
func connect(cfg BackendConfig, log *slog.Logger) (*nats.Conn, error) {
	opts := []nats.Option{
		nats.Name("liaison-" + cfg.Instance),
		nats.MaxReconnects(-1),
		nats.ReconnectWait(250 * time.Millisecond),
		nats.Timeout(cfg.ConnectTimeout),
		nats.RetryOnFailedConnect(false),
		nats.NoCallbacksAfterClientClose(),
		nats.DisconnectErrHandler(func(_ *nats.Conn, err error) {
			if err != nil {
				log.Warn("jetstream backend: disconnected from NATS; reconnecting", "error", err)
			}
		}),
		nats.ReconnectHandler(func(nc *nats.Conn) {
			log.Info("jetstream backend: reconnected to NATS", "server", nc.ConnectedServerName())
		}),
	}
	switch {
	case cfg.User != "" || cfg.Password != "":
		opts = append(opts, nats.UserInfo(cfg.User, cfg.Password))
	case cfg.Token != "":
		opts = append(opts, nats.Token(cfg.Token))
	case cfg.CredsFile != "":
		opts = append(opts, nats.UserCredentials(cfg.CredsFile))
	}
	nc, err := nats.Connect(strings.Join(cfg.URLs, ","), opts...)
	if err != nil {
		return nil, fmt.Errorf("jetstream backend: connect to NATS (%d URLs): %w", len(cfg.URLs), err)
	}
	return nc, nil
}

// open makes the streams and buckets over nc and starts the watch.
func open(ctx context.Context, nc *nats.Conn, cfg BackendConfig, log *slog.Logger) (*Backend, error) {
	out, err := New(nc, cfg.Config, log)
	if err != nil {
		return nil, err
	}
	changes, err := NewChanges(nc, cfg.Config, log)
	if err != nil {
		return nil, err
	}
	if err := out.Ensure(ctx); err != nil {
		return nil, err
	}
	if err := changes.Ensure(ctx); err != nil {
		return nil, err
	}
	b := &Backend{cfg: cfg, log: log, nc: nc, js: out.js, out: out, changes: changes,
		changed: make(chan struct{}, 1), own: map[uint64]bool{}, known: map[string]bool{}}
	buckets := []struct {
		kv   *natsjs.KeyValue
		name string
		desc string
		ttl  time.Duration
	}{
		{&b.conns, cfg.ConnectorsBucket, "Liaison connectors: c.<id>, n.<name>", 0},
		{&b.meta, cfg.MetaBucket, "Liaison meta: m.<name>, p.<connector>", 0},
		{&b.seen, cfg.SeenBucket, "Liaison inbound delivery ids", cfg.SeenTTL},
		{&b.states, cfg.MessagesBucket, "Liaison message states: <connector>.<record>.<version>", 0},
	}
	for _, bk := range buckets {
		kv, err := b.js.CreateOrUpdateKeyValue(ctx, natsjs.KeyValueConfig{
			Bucket: bk.name, Description: bk.desc, History: 1, TTL: bk.ttl,
			Storage: natsjs.FileStorage, Replicas: cfg.Replicas,
		})
		if err != nil {
			return nil, fmt.Errorf("jetstream backend: bucket %s: %w", bk.name, err)
		}
		*bk.kv = kv
	}
	_, err = b.js.CreateOrUpdateStream(ctx, natsjs.StreamConfig{
		Name:        cfg.AuditStream,
		Description: "Liaison audit trail",
		Subjects:    []string{cfg.AuditSubject},
		Retention:   natsjs.LimitsPolicy,
		Storage:     natsjs.FileStorage,
		Discard:     natsjs.DiscardNew,
		Replicas:    cfg.Replicas,
	})
	if err != nil {
		return nil, fmt.Errorf("jetstream backend: stream %s: %w", cfg.AuditStream, err)
	}
	changes.filter = b.existing
	// The first watch is made here, so that Changed reports every change
	// made after Open returned.
	wctx, stop := context.WithCancel(context.Background())
	w, err := b.conns.Watch(wctx, "c.>", natsjs.UpdatesOnly())
	if err != nil {
		stop()
		return nil, fmt.Errorf("jetstream backend: watch connectors: %w", err)
	}
	b.stopWatch, b.watchDone = stop, make(chan struct{})
	go b.watchConnectors(wctx, w)
	return b, nil
}

// Close stops the watch and closes the connection Open made. Deliverers
// must have returned first. Calls after it return store.ErrClosed.
func (b *Backend) Close() error {
	b.closeOnce.Do(func() {
		b.closed.Store(true)
		b.stopWatch()
		<-b.watchDone
		close(b.changed)
		b.nc.Close()
	})
	return nil
}

// Ready is nil while the connection to the servers is up; while it is
// being re-established (every server of the last one gone), writes
// would wait and fail, so a load balancer should send elsewhere.
func (b *Backend) Ready() error {
	if err := b.live(); err != nil {
		return err
	}
	if !b.nc.IsConnected() {
		return fmt.Errorf("no NATS server connected (%s): %w", b.nc.Status(), store.ErrUnavailable)
	}
	return nil
}

// live returns store.ErrClosed after Close.
func (b *Backend) live() error {
	if b.closed.Load() {
		return store.ErrClosed
	}
	return nil
}

// ---- connectors

func connectorKey(id string) string { return "c." + id }
func nameKey(name string) string    { return "n." + b64(name) }

// b64 makes an arbitrary string a key token: unpadded base64url, or "="
// for the empty string.
func b64(s string) string {
	if s == "" {
		return "="
	}
	return base64.RawURLEncoding.EncodeToString([]byte(s))
}

// casConflict reports whether a key-value write lost a race.
func casConflict(err error) bool {
	return errors.Is(err, natsjs.ErrKeyExists) || wrongLastSequence(err)
}

// Connectors returns every registered connector, by id.
func (b *Backend) Connectors(ctx context.Context) ([]store.Connector, error) {
	if err := b.live(); err != nil {
		return nil, err
	}
	var out []store.Connector
	err := scan(ctx, b.conns, "c.>", func(e natsjs.KeyValueEntry) error {
		var c store.Connector
		if err := json.Unmarshal(e.Value(), &c); err != nil {
			return fmt.Errorf("connector %s: %w", strings.TrimPrefix(e.Key(), "c."), err)
		}
		out = append(out, c)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("jetstream backend: connectors: %w", err)
	}
	slices.SortFunc(out, func(a, b store.Connector) int { return strings.Compare(a.ID, b.ID) })
	return out, nil
}

// Connector returns one connector, or store.ErrNotFound.
func (b *Backend) Connector(ctx context.Context, id string) (*store.Connector, error) {
	if err := b.live(); err != nil {
		return nil, err
	}
	c, _, err := b.connector(ctx, id)
	return c, err
}

// connector reads a connector with its revision.
func (b *Backend) connector(ctx context.Context, id string) (*store.Connector, uint64, error) {
	if !isToken(id) {
		return nil, 0, fmt.Errorf("connector %q: %w", id, store.ErrNotFound)
	}
	e, err := b.conns.Get(ctx, connectorKey(id))
	if errors.Is(err, natsjs.ErrKeyNotFound) {
		return nil, 0, fmt.Errorf("connector %s: %w", id, store.ErrNotFound)
	}
	if err != nil {
		return nil, 0, fmt.Errorf("jetstream backend: connector %s: %w", id, err)
	}
	var c store.Connector
	if err := json.Unmarshal(e.Value(), &c); err != nil {
		return nil, 0, fmt.Errorf("jetstream backend: connector %s: %w", id, err)
	}
	return &c, e.Revision(), nil
}

// UpdateConnector reads the connector, lets fn change it, and stores it
// with a compare-and-swap on its revision; when another gateway's write
// landed in between, it reads again and runs fn again. A name is claimed
// before the connector is written (key n.<name>, created only when
// absent), so two connectors never share one: a name held by another
// connector that still has it is store.ErrConflict.
func (b *Backend) UpdateConnector(ctx context.Context, id string, create bool, fn func(c *store.Connector) error) (*store.Connector, error) {
	if err := b.live(); err != nil {
		return nil, err
	}
	if err := checkConnector(id); err != nil {
		return nil, fmt.Errorf("jetstream backend: %w", err)
	}
	for range maxCAS {
		now := time.Now().UTC()
		c, rev, err := b.connector(ctx, id)
		switch {
		case errors.Is(err, store.ErrNotFound) && create:
			c = &store.Connector{ID: id, CreatedAt: now}
		case err != nil:
			return nil, err
		}
		oldName := c.Name
		if rev == 0 {
			oldName = ""
		}
		if err := fn(c); err != nil {
			return nil, err
		}
		c.ID, c.UpdatedAt = id, now
		if c.Name != oldName || rev == 0 {
			if err := b.claimName(ctx, c.Name, id); err != nil {
				return nil, err
			}
		}
		data, err := json.Marshal(c)
		if err != nil {
			return nil, fmt.Errorf("jetstream backend: connector %s: %w", id, err)
		}
		b.mu.Lock() // held over the write, so the watch cannot see it before it is noted
		var newRev uint64
		if rev == 0 {
			newRev, err = b.conns.Create(ctx, connectorKey(id), data)
		} else {
			newRev, err = b.conns.Update(ctx, connectorKey(id), data, rev)
		}
		if err == nil {
			b.own[newRev], b.known[id] = true, true
		}
		b.mu.Unlock()
		if casConflict(err) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("jetstream backend: connector %s: %w", id, err)
		}
		if oldName != "" && oldName != c.Name {
			b.releaseName(ctx, oldName, id)
		}
		return c, nil
	}
	return nil, fmt.Errorf("jetstream backend: connector %s: changed concurrently %d times: %w", id, maxCAS, store.ErrConflict)
}

// claimName makes id the holder of name. A holder that no longer exists,
// or no longer has the name (a crash between claim and write), loses it.
func (b *Backend) claimName(ctx context.Context, name, id string) error {
	if name == "" {
		return nil
	}
	for range maxCAS {
		_, err := b.conns.Create(ctx, nameKey(name), []byte(id))
		if err == nil {
			return nil
		}
		if !casConflict(err) {
			return fmt.Errorf("jetstream backend: claim connector name: %w", err)
		}
		e, err := b.conns.Get(ctx, nameKey(name))
		if errors.Is(err, natsjs.ErrKeyNotFound) {
			continue // released meanwhile
		}
		if err != nil {
			return fmt.Errorf("jetstream backend: claim connector name: %w", err)
		}
		holder := string(e.Value())
		if holder == id {
			return nil
		}
		hc, _, herr := b.connector(ctx, holder)
		switch {
		case herr == nil && hc.Name == name:
			return fmt.Errorf("connector name %q: %w", name, store.ErrConflict)
		case herr != nil && !errors.Is(herr, store.ErrNotFound):
			return herr
		}
		if _, err := b.conns.Update(ctx, nameKey(name), []byte(id), e.Revision()); err == nil {
			return nil
		} else if !casConflict(err) {
			return fmt.Errorf("jetstream backend: claim connector name: %w", err)
		}
	}
	return fmt.Errorf("connector name %q: %w", name, store.ErrConflict)
}

// releaseName deletes name's key while id holds it. A failure leaves a
// stale claim, which claimName takes over.
func (b *Backend) releaseName(ctx context.Context, name, id string) {
	e, err := b.conns.Get(ctx, nameKey(name))
	if err != nil || string(e.Value()) != id {
		return
	}
	if err := b.conns.Delete(ctx, nameKey(name), natsjs.LastRevision(e.Revision())); err != nil && !casConflict(err) {
		b.log.Warn("jetstream backend: release connector name", "connector", id, "error", err)
	}
}

// DeleteConnector removes the connector, its name, its queued and failed
// messages (their outbox subjects are purged, their states deleted) and
// its delivery consumers. Dead letters and delivered messages stay until
// replayed or purged, as on bbolt. Messages of it not yet relayed are
// dropped by the relay, which finds no connector.
func (b *Backend) DeleteConnector(ctx context.Context, id string) error {
	if err := b.live(); err != nil {
		return err
	}
	c, rev, err := b.connector(ctx, id)
	if err != nil {
		return err
	}
	// The delete's revision is not returned, so this process's watch
	// reports it as another gateway's: Changed fires once for nothing.
	err = b.conns.Delete(ctx, connectorKey(id), natsjs.LastRevision(rev))
	if err == nil {
		b.mu.Lock()
		delete(b.known, id)
		b.mu.Unlock()
	}
	if casConflict(err) {
		return b.DeleteConnector(ctx, id) // changed meanwhile: delete what is there now
	}
	if err != nil {
		return fmt.Errorf("jetstream backend: delete connector %s: %w", id, err)
	}
	b.releaseName(ctx, c.Name, id)
	s, err := b.js.Stream(ctx, b.cfg.Stream)
	if err == nil {
		err = s.Purge(ctx, natsjs.WithPurgeSubject(b.cfg.Subject+"."+id+".*"))
	}
	if err != nil {
		return fmt.Errorf("jetstream backend: delete connector %s: purge its messages: %w", id, err)
	}
	for p := range b.cfg.Partitions {
		if err := b.js.DeleteConsumer(ctx, b.cfg.Stream, consumerName(id, p)); err != nil && !errors.Is(err, natsjs.ErrConsumerNotFound) {
			b.log.Warn("jetstream backend: delete consumer", "connector", id, "partition", p, "error", err)
		}
	}
	var undelivered []string
	err = b.eachState(ctx, id+".>", func(m *store.Message, _ natsjs.KeyValueEntry) error {
		if m.State == store.Queued || m.State == store.Failed {
			undelivered = append(undelivered, m.ID)
		}
		return nil
	})
	for _, mid := range undelivered {
		if err == nil {
			err = b.states.Purge(ctx, mid)
		}
	}
	b.touched(id)
	if err != nil {
		return fmt.Errorf("jetstream backend: delete connector %s: forget its messages: %w", id, err)
	}
	return nil
}

// Changed fires after another gateway changed a connector: a watch of
// the connectors bucket, which skips this process's own writes. Closed
// by Close.
func (b *Backend) Changed() <-chan struct{} { return b.changed }

// watchConnectors feeds Changed and the relay's cache of connectors
// until ctx ends; a watch that ends is made again.
func (b *Backend) watchConnectors(ctx context.Context, w natsjs.KeyWatcher) {
	defer close(b.watchDone)
	pause := minReconnect
	for ctx.Err() == nil {
		var err error
		if w == nil {
			w, err = b.conns.Watch(ctx, "c.>", natsjs.UpdatesOnly())
		}
		if err == nil {
			pause = minReconnect
			b.follow(ctx, w)
			_ = w.Stop()
			w = nil
		} else if ctx.Err() == nil {
			b.log.Warn("jetstream backend: watch connectors; trying again", "in", pause, "error", err)
		}
		sleep(ctx, pause)
		pause = min(2*pause, maxReconnect)
	}
}

// follow handles a watch's updates until it ends or ctx does.
func (b *Backend) follow(ctx context.Context, w natsjs.KeyWatcher) {
	for {
		select {
		case <-ctx.Done():
			return
		case e, ok := <-w.Updates():
			if !ok {
				return
			}
			if e == nil {
				continue
			}
			id := strings.TrimPrefix(e.Key(), "c.")
			b.mu.Lock()
			own := b.own[e.Revision()]
			delete(b.own, e.Revision())
			if e.Operation() == natsjs.KeyValuePut {
				b.known[id] = true
			} else {
				delete(b.known, id)
			}
			b.mu.Unlock()
			if own {
				continue
			}
			select {
			case b.changed <- struct{}{}:
			default:
			}
		}
	}
}

// existing keeps the messages whose connector exists: the relay's
// filter. A connector this process knows of is taken as existing; one it
// does not is read.
func (b *Backend) existing(ctx context.Context, msgs []store.Message) ([]store.Message, error) {
	out := msgs[:0:0]
	for _, m := range msgs {
		b.mu.Lock()
		ok := b.known[m.Connector]
		b.mu.Unlock()
		if !ok {
			_, _, err := b.connector(ctx, m.Connector)
			switch {
			case errors.Is(err, store.ErrNotFound):
				b.log.Debug("jetstream backend: message for a deleted connector dropped", "connector", m.Connector, "message", m.ID)
				continue
			case err != nil:
				return nil, err
			}
			b.mu.Lock()
			b.known[m.Connector] = true
			b.mu.Unlock()
		}
		out = append(out, m)
	}
	return out, nil
}

// ---- meta and delivery ids

func metaKey(name string) string { return "m." + b64(name) }

// seenKey names a connector's delivery id: a hash, since both are
// arbitrary text and the key must stay short.
func seenKey(conn, id string) string {
	h := sha256.Sum256([]byte(conn + "\x00" + id))
	return "s." + hex.EncodeToString(h[:16])
}

// Meta returns a named value, nil when none was put.
func (b *Backend) Meta(ctx context.Context, name string) ([]byte, error) {
	if err := b.live(); err != nil {
		return nil, err
	}
	e, err := b.meta.Get(ctx, metaKey(name))
	if errors.Is(err, natsjs.ErrKeyNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("jetstream backend: meta: %w", err)
	}
	return e.Value(), nil
}

// PutMeta stores a named value.
func (b *Backend) PutMeta(ctx context.Context, name string, value []byte) error {
	if err := b.live(); err != nil {
		return err
	}
	if _, err := b.meta.Put(ctx, metaKey(name), value); err != nil {
		return fmt.Errorf("jetstream backend: put meta: %w", err)
	}
	return nil
}

// Lease claims or renews a lease: a read of its meta key, then a
// compare-and-swap write (create, or update on the revision read); a
// writer that lost the race reads again.
func (b *Backend) Lease(ctx context.Context, name, holder string, ttl time.Duration) (bool, error) {
	if err := b.live(); err != nil {
		return false, err
	}
	key := metaKey(store.LeaseKey(name))
	for range maxCAS {
		var stored []byte
		var rev uint64
		e, err := b.meta.Get(ctx, key)
		switch {
		case errors.Is(err, natsjs.ErrKeyNotFound):
		case err != nil:
			return false, fmt.Errorf("jetstream backend: lease: %w", err)
		default:
			stored, rev = e.Value(), e.Revision()
		}
		next := store.Claim(stored, holder, time.Now(), ttl)
		if next == nil {
			return false, nil
		}
		if rev == 0 {
			_, err = b.meta.Create(ctx, key, next)
		} else {
			_, err = b.meta.Update(ctx, key, next, rev)
		}
		if err == nil {
			return true, nil
		}
		if !casConflict(err) {
			return false, fmt.Errorf("jetstream backend: lease: %w", err)
		}
	}
	return false, nil
}

// Seen reports whether a delivery id was accepted within SeenTTL.
func (b *Backend) Seen(ctx context.Context, conn, deliveryID string) (bool, error) {
	if err := b.live(); err != nil {
		return false, err
	}
	_, err := b.seen.Get(ctx, seenKey(conn, deliveryID))
	switch {
	case errors.Is(err, natsjs.ErrKeyNotFound):
		return false, nil
	case err != nil:
		return false, fmt.Errorf("jetstream backend: seen: %w", err)
	}
	return true, nil
}

// markSeen records a delivery id; the bucket forgets it after SeenTTL.
func (b *Backend) markSeen(ctx context.Context, conn, deliveryID string) error {
	_, err := b.seen.Create(ctx, seenKey(conn, deliveryID), []byte(time.Now().UTC().Format(time.RFC3339Nano)))
	if err != nil && !casConflict(err) {
		return fmt.Errorf("jetstream backend: mark delivery seen: %w", err)
	}
	return nil
}

// scan calls fn for the current entry of every key of kv that filter
// matches (deleted ones left out): one watch, which the server streams.
func scan(ctx context.Context, kv natsjs.KeyValue, filter string, fn func(natsjs.KeyValueEntry) error) error {
	wctx, cancel := context.WithCancel(ctx)
	defer cancel()
	w, err := kv.Watch(wctx, filter, natsjs.IgnoreDeletes())
	if err != nil {
		return err
	}
	defer w.Stop()
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case e, ok := <-w.Updates():
			if !ok {
				return errors.New("watch ended")
			}
			if e == nil { // every current entry was sent
				return nil
			}
			if err := fn(e); err != nil {
				return err
			}
		}
	}
}
