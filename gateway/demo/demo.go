package demo

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"syscall"
	"time"

	"github.com/liaisonhq/liaison/gateway"
	"github.com/liaisonhq/liaison/gateway/connector"
)

// Defaults filled in by Start for zero Config fields.
const (
	DefaultAddr    = gateway.DefaultAddr
	DefaultTimeout = 30 * time.Second
)

// shutdownTimeout bounds the gateway's graceful shutdown in Close.
const shutdownTimeout = 5 * time.Second

// Config is the demo's configuration.
type Config struct {
	// Addr is where the gateway listens, host:port. Default
	// "127.0.0.1:8080"; when that port is in use, a free port on the same
	// host (Demo.Moved tells). A port of 0 picks a free one.
	Addr string

	// Adapters builds the gateway's senders. Required: it must deliver to
	// fhir and rest connectors. cmd/liaison passes its registry.
	Adapters gateway.Adapters

	// Timeout bounds the wait for deliveries, the whole scenario's.
	// Default 30s.
	Timeout time.Duration
}

// withDefaults returns the config with every zero field set to its default.
func (c Config) withDefaults() Config {
	if c.Addr == "" {
		c.Addr = DefaultAddr
	}
	if c.Timeout == 0 {
		c.Timeout = DefaultTimeout
	}
	return c
}

// Validate checks the config without any I/O and returns every problem
// found, joined. It expects defaults already filled in, as Start does.
func (c Config) Validate() error {
	var errs []error
	if _, _, err := net.SplitHostPort(c.Addr); err != nil {
		errs = append(errs, fmt.Errorf("addr %q: want host:port: %w", c.Addr, err))
	}
	for _, t := range []connector.Type{connector.FHIR, connector.REST} {
		if c.Adapters[t] == nil {
			errs = append(errs, fmt.Errorf("adapters: none for %s connectors, which the demo registers", t))
		}
	}
	if c.Timeout < 0 {
		errs = append(errs, fmt.Errorf("timeout %s: negative", c.Timeout))
	}
	return errors.Join(errs...)
}

// Demo is a running demonstration: the gateway, serving and delivering on
// its own temporary store, the sample EHR and the sample scheduler. Make
// it with Start, play the scenario with Play, release it with Close.
type Demo struct {
	cfg   Config
	dir   string // the gateway's store, removed by Close
	g     *gateway.Gateway
	gw    *api
	moved string // the address asked for, when it was in use
	ehr   *ehr
	sched *scheduler

	secret string // the EHR's webhook signing secret, which the connector verifies
	apiKey string // the scheduler's API key, which the connector sends

	stop   context.CancelFunc
	served chan error
}

// Start checks the config, starts the sample EHR and scheduler on free
// ports of 127.0.0.1, and the gateway on cfg.Addr (or a free port when it
// is in use) with the embedded mappings, a store in a new temporary
// directory and a new admin token. On error, whatever was started is
// stopped again.
func Start(cfg Config, log *slog.Logger) (d *Demo, err error) {
	cfg = cfg.withDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("demo config: %w", err)
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	d = &Demo{cfg: cfg, secret: "whsec_" + base64.StdEncoding.EncodeToString(randomBytes(24)), apiKey: "sk_demo_" + randomText(18)}
	defer func() {
		if err != nil {
			err = errors.Join(err, d.Close())
			d = nil
		}
	}()

	l, err := d.listen(cfg.Addr)
	if err != nil {
		return d, err
	}
	if d.ehr, err = startEHR(d.secret); err != nil {
		l.Close()
		return d, err
	}
	if d.sched, err = startScheduler(d.apiKey); err != nil {
		l.Close()
		return d, err
	}
	if d.dir, err = os.MkdirTemp("", "liaison-demo-"); err != nil {
		l.Close()
		return d, fmt.Errorf("temporary store: %w", err)
	}
	key := randomBytes(connector.SecretKeySize)
	url := "http://" + l.Addr().String()
	d.g, err = gateway.New(gateway.Config{
		Addr:            l.Addr().String(),
		DataDir:         d.dir,
		PublicURL:       url, // the EHR calls back here
		Adapters:        cfg.Adapters,
		SecretKey:       key,
		ShutdownTimeout: shutdownTimeout,
	}, log)
	if err != nil {
		l.Close()
		return d, err
	}
	d.gw = &api{url: url, token: d.g.GeneratedToken(), client: &http.Client{Timeout: 10 * time.Second}}
	d.sched.gw = d.gw

	ctx, stop := context.WithCancel(context.Background())
	d.stop, d.served = stop, make(chan error, 1)
	go func() { d.served <- d.g.Serve(ctx, l) }()
	return d, nil
}

// listen listens on addr or, when its port is in use, on a free port of
// the same host, noting the move.
func (d *Demo) listen(addr string) (net.Listener, error) {
	l, err := net.Listen("tcp", addr)
	if err == nil {
		return l, nil
	}
	if !errors.Is(err, syscall.EADDRINUSE) {
		return nil, fmt.Errorf("listen: %w", err)
	}
	host, _, _ := net.SplitHostPort(addr)
	l, err2 := net.Listen("tcp", net.JoinHostPort(host, "0"))
	if err2 != nil {
		return nil, fmt.Errorf("listen: %w", errors.Join(err, err2))
	}
	d.moved = addr
	return l, nil
}

// URL is the gateway's base URL: http://127.0.0.1:PORT.
func (d *Demo) URL() string { return d.gw.url }

// AdminToken is the admin token generated for this demo's gateway.
func (d *Demo) AdminToken() string { return d.gw.token }

// Moved returns the address Config asked for when it was in use and the
// gateway listens on a free port instead; "" when it was not moved.
func (d *Demo) Moved() string { return d.moved }

// Close stops the gateway (gracefully, for up to five seconds), the
// sample servers, and removes the gateway's store. It may be called on a
// Demo that Start left half made.
func (d *Demo) Close() error {
	var errs []error
	if d.stop != nil {
		d.stop()
		if err := <-d.served; err != nil {
			errs = append(errs, fmt.Errorf("gateway: %w", err))
		}
		d.stop = nil
	}
	if d.g != nil {
		errs = append(errs, d.g.Close())
		d.g = nil
	}
	if d.ehr != nil {
		errs = append(errs, d.ehr.close())
		d.ehr = nil
	}
	if d.sched != nil {
		errs = append(errs, d.sched.close())
		d.sched = nil
	}
	if d.dir != "" {
		errs = append(errs, os.RemoveAll(d.dir))
		d.dir = ""
	}
	return errors.Join(errs...)
}

// randomText is n random bytes in unpadded URL-safe base64.
func randomText(n int) string { return base64.RawURLEncoding.EncodeToString(randomBytes(n)) }

func randomBytes(n int) []byte {
	b := make([]byte, n)
	rand.Read(b)
	return b
}
