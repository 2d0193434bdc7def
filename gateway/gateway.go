package gateway

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sync/atomic"
	"time"
)

// Server timeouts that protect the listener from slow or idle clients.
const (
	readHeaderTimeout = 10 * time.Second
	idleTimeout       = 2 * time.Minute
)

// Gateway is one running Liaison gateway: the HTTP server and, later, what
// it drives. Build it with New.
type Gateway struct {
	cfg      Config
	log      *slog.Logger
	api      http.Handler
	started  atomic.Bool
	draining atomic.Bool // set once shutdown begins; readiness fails from then on
}

// New checks the config, filling zero fields with their defaults, and builds
// a gateway. It does no I/O: the listener is opened by Run. A nil log
// discards everything.
func New(cfg Config, log *slog.Logger) (*Gateway, error) {
	cfg = cfg.withDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("gateway config: %w", err)
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	g := &Gateway{cfg: cfg, log: log}
	g.api = newAPI(g)
	return g, nil
}

// Config returns the gateway's config, defaults filled in.
func (g *Gateway) Config() Config { return g.cfg }

// Handler returns the gateway's HTTP handler, for serving it from another
// server (httptest, say) instead of Run.
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

// Serve serves HTTP on l, which it takes over and closes, until ctx is
// cancelled or the listener fails. On cancellation it shuts down gracefully:
// it stops accepting, lets running requests finish for up to
// Config.ShutdownTimeout, then cuts off what is left. It returns nil after a
// graceful shutdown, an error wrapping context.DeadlineExceeded when requests
// had to be cut off, and the listener's error when serving failed. It
// returns ErrRunning when the gateway has already been started.
func (g *Gateway) Serve(ctx context.Context, l net.Listener) error {
	if !g.started.CompareAndSwap(false, true) {
		l.Close()
		return ErrRunning
	}
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
