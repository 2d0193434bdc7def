package gateway

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/liaisonhq/liaison/gateway/connector"
	"github.com/liaisonhq/liaison/gateway/outbox"
	"github.com/liaisonhq/liaison/gateway/store"
	"github.com/liaisonhq/liaison/mappings"
	"github.com/liaisonhq/liaison/transform"
)

// Server timeouts that protect the listener from slow or idle clients.
const (
	readHeaderTimeout = 10 * time.Second
	idleTimeout       = 2 * time.Minute
)

// Gateway is one running Liaison gateway: the HTTP API, the store, the
// outbox and the connectors. Build it with New, serve it with Run or
// Serve, release it with Close.
type Gateway struct {
	cfg      Config
	log      *slog.Logger
	api      http.Handler
	store    store.Backend
	outbox   outbox.Deliverer
	mappings *transform.Set
	started  atomic.Bool
	draining atomic.Bool // set once shutdown begins; readiness fails from then on

	instance  string   // this process, among the gateways sharing a backend
	tokenHash [32]byte // SHA-256 of the admin token
	generated string   // the admin token when New generated it

	mu         sync.RWMutex
	connectors map[string]*liveConnector // by id

	// lifecycle orders the changes of which connectors run here — a
	// registration, an update, a pause or resume, a deletion, and
	// following other gateways' changes — so that a connector's delivery,
	// polling and consuming start and stop together. Without it a resume
	// answered here could start them while following the earlier pause
	// stopped them halfway: delivering, but no longer polling.
	lifecycle sync.Mutex

	pollers   pollers
	setups    tasks // background retries of registration set-ups
	consumers tasks // queue consumers
	metrics   *metrics
}

// New checks the config, filling zero fields with their defaults, opens
// the store in Config.DataDir (ErrLocked, wrapped, when another process
// holds it), loads the connectors and registers those of Config.Connectors.
// Nothing is delivered until Run or Serve. A nil log discards everything.
func New(cfg Config, log *slog.Logger) (*Gateway, error) {
	cfg = cfg.withDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("gateway config: %w", err)
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	g := &Gateway{cfg: cfg, log: log, mappings: cfg.Mappings, connectors: map[string]*liveConnector{}, instance: newID()}
	g.pollers.progress = map[string]*syncProgress{}
	g.pollers.pulling = map[string]bool{}
	g.pollers.again = map[string]bool{}
	g.setups.run(context.Background()) // set-ups retry until Close, served or not
	if g.mappings == nil {
		set, err := transform.NewSet(mappings.FS)
		if err != nil {
			return nil, fmt.Errorf("embedded mappings: %w", err)
		}
		g.mappings = set
	}
	if err := g.openStore(outbox.Config{Retention: cfg.Retention, OnDisabled: g.connectorDisabled, OnAttempt: g.attempted, Audit: g.auditDelivery}); err != nil {
		return nil, err
	}
	st := g.store
	g.metrics = newMetrics(g)
	if g.cfg.SecretKey == nil {
		key, err := keptSecretKey(cfg.DataDir, log)
		if err != nil {
			st.Close()
			return nil, err
		}
		g.cfg.SecretKey = key
	}
	if err := g.setUpToken(); err != nil {
		st.Close()
		return nil, err
	}
	if err := g.loadConnectors(); err != nil {
		st.Close()
		return nil, err
	}
	if err := g.declareConnectors(cfg.Connectors); err != nil {
		st.Close()
		return nil, err
	}
	g.api = newAPI(g)
	return g, nil
}

// Close stops background set-ups and releases the store. Call it after Run
// or Serve returned, or when the gateway never ran.
func (g *Gateway) Close() error {
	g.setups.stopAll()
	for _, lc := range g.liveConnectors() {
		lc.close()
	}
	return g.store.Close()
}

// Config returns the gateway's config, defaults filled in.
func (g *Gateway) Config() Config { return g.cfg }

// GeneratedToken is the admin token New generated because none was given
// and the store held none: shown to the operator once. "" otherwise.
func (g *Gateway) GeneratedToken() string { return g.generated }

// Handler returns the gateway's HTTP handler, for serving it from another
// server (httptest, say) instead of Run. Deliveries need Run or Serve, or
// Deliver.
func (g *Gateway) Handler() http.Handler { return g.api }

// Run listens on the configured address and serves until ctx is cancelled;
// see Serve.
func (g *Gateway) Run(ctx context.Context) error {
	var lc net.ListenConfig
	l, err := lc.Listen(ctx, "tcp", g.cfg.Addr)
	if err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	return g.Serve(ctx, l)
}

// Serve serves HTTP on l, which it takes over and closes, and delivers the
// outbox, until ctx is cancelled or the listener fails. On cancellation it
// shuts down gracefully: it stops accepting, lets running requests finish
// for up to Config.ShutdownTimeout, then cuts off what is left, and stops
// the deliveries (a delivery cut off is made again after a restart). It
// returns nil after a graceful shutdown, an error wrapping
// context.DeadlineExceeded when requests had to be cut off, and the
// listener's error when serving failed. It returns ErrRunning when the
// gateway has already been started.
func (g *Gateway) Serve(ctx context.Context, l net.Listener) error {
	if !g.started.CompareAndSwap(false, true) {
		l.Close()
		return ErrRunning
	}
	deliverCtx, stopDelivery := context.WithCancel(context.WithoutCancel(ctx))
	delivered := make(chan struct{})
	go func() { g.outbox.Run(deliverCtx); close(delivered) }()
	housekept := make(chan struct{})
	go func() { g.housekeeping(deliverCtx); close(housekept) }()
	followed := make(chan struct{})
	go func() { g.followConnectors(deliverCtx); close(followed) }()
	g.pollers.loops.run(deliverCtx)
	g.consumers.run(deliverCtx)
	for _, lc := range g.liveConnectors() {
		if g.running(lc.id) {
			g.startPolling(lc)
			g.startConsuming(lc)
		}
	}
	defer func() {
		stopDelivery()
		<-delivered
		<-housekept
		<-followed
		g.pollers.loops.stopAll()
		g.pollers.wg.Wait()
		g.consumers.stopAll()
	}()

	srv := &http.Server{
		Handler:           g.api,
		ReadHeaderTimeout: readHeaderTimeout,
		IdleTimeout:       idleTimeout,
		ErrorLog:          slog.NewLogLogger(g.log.Handler(), slog.LevelWarn),
	}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(l) }()
	g.log.Info("listening", "addr", l.Addr().String())

	select {
	case err := <-served:
		g.draining.Store(true)
		return fmt.Errorf("serve: %w", err)
	case <-ctx.Done():
	}

	g.draining.Store(true)
	g.log.Info("shutting down", "timeout", g.cfg.ShutdownTimeout.String())
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), g.cfg.ShutdownTimeout)
	defer cancel()
	var err error
	if serr := srv.Shutdown(sctx); serr != nil {
		err = errors.Join(fmt.Errorf("shut down: %w", serr), srv.Close())
	}
	if serr := <-served; !errors.Is(serr, http.ErrServerClosed) {
		err = errors.Join(err, fmt.Errorf("serve: %w", serr))
	}
	if err == nil {
		g.log.Info("stopped")
	}
	return err
}

// housekeeping forgets inbound delivery ids older than dedupeWindow and
// audit entries older than the audit retention, once a minute, until ctx
// ends. (The outbox purges delivered messages.)
func (g *Gateway) housekeeping(ctx context.Context) {
	t := time.NewTicker(time.Minute)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if err := g.store.Purge(ctx, store.Retention{Seen: dedupeWindow, Audit: g.cfg.AuditRetention}); err != nil && ctx.Err() == nil {
			g.log.Warn("purge", "error", err)
		}
	}
}

// setUpToken takes the admin token from the config, or from the store, or
// generates one; only its hash is kept.
func (g *Gateway) setUpToken() error {
	if g.cfg.AdminToken != "" {
		g.tokenHash = sha256.Sum256([]byte(g.cfg.AdminToken))
		return nil
	}
	kept, err := g.store.Meta(context.Background(), "admin-token-sha256")
	if err != nil {
		return fmt.Errorf("read the admin token: %w", err)
	}
	if len(kept) == sha256.Size {
		copy(g.tokenHash[:], kept)
		return nil
	}
	token := "lsn_" + rand.Text()
	g.tokenHash = sha256.Sum256([]byte(token))
	if err := g.store.PutMeta(context.Background(), "admin-token-sha256", g.tokenHash[:]); err != nil {
		return fmt.Errorf("keep the admin token: %w", err)
	}
	g.generated = token
	return nil
}

// keptSecretKey reads the secret key kept beside the store, generating it
// on first use.
func keptSecretKey(dir string, log *slog.Logger) ([]byte, error) {
	path := filepath.Join(dir, "secret.key")
	if data, err := os.ReadFile(path); err == nil {
		key, err := connector.SecretKey(string(data))
		if err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		return key, nil
	}
	key := make([]byte, connector.SecretKeySize)
	rand.Read(key)
	if err := os.WriteFile(path, []byte(base64.StdEncoding.EncodeToString(key)+"\n"), 0o600); err != nil {
		return nil, fmt.Errorf("keep the secret key: %w", err)
	}
	log.Warn("generated a secret key beside the store: set LIAISON_SECRET_KEY (base64 of 32 bytes) to keep it elsewhere", "path", path)
	return key, nil
}

// authorized tells whether a bearer token is the admin token, in constant time.
func (g *Gateway) authorized(token string) bool {
	h := sha256.Sum256([]byte(token))
	return token != "" && subtle.ConstantTimeCompare(h[:], g.tokenHash[:]) == 1
}

// newID is a random id for connectors.
func newID() string {
	var b [8]byte
	rand.Read(b[:])
	return hex.EncodeToString(b[:])
}
