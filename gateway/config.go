package gateway

import (
	"errors"
	"fmt"
	"net"
	"time"
)

// Defaults filled in by New for zero Config fields.
const (
	DefaultAddr            = "127.0.0.1:8080"
	DefaultDataDir         = "./liaison-data"
	DefaultShutdownTimeout = 10 * time.Second
)

// Config is the gateway's configuration. The zero value is usable: New fills
// every zero field with its default.
type Config struct {
	// Addr is the TCP address to listen on, host:port. Default "127.0.0.1:8080";
	// a port of 0 picks a free one.
	Addr string `json:"addr" yaml:"addr"`

	// DataDir is the directory that will hold the gateway's store. Default
	// "./liaison-data". Not used yet: nothing is stored.
	DataDir string `json:"dataDir" yaml:"dataDir"`

	// ShutdownTimeout bounds the graceful shutdown once Run's context is
	// cancelled: requests still running after it are cut off. Default 10s.
	ShutdownTimeout time.Duration `json:"shutdownTimeout" yaml:"shutdownTimeout"`
}

// withDefaults returns the config with every zero field set to its default.
func (c Config) withDefaults() Config {
	if c.Addr == "" {
		c.Addr = DefaultAddr
	}
	if c.DataDir == "" {
		c.DataDir = DefaultDataDir
	}
	if c.ShutdownTimeout == 0 {
		c.ShutdownTimeout = DefaultShutdownTimeout
	}
	return c
}

// Validate checks the config without any I/O and returns every problem found,
// joined. It expects defaults already filled in, as New does.
func (c Config) Validate() error {
	var errs []error
	if _, port, err := net.SplitHostPort(c.Addr); err != nil {
		errs = append(errs, fmt.Errorf("addr %q: want host:port: %w", c.Addr, err))
	} else if port == "" {
		errs = append(errs, fmt.Errorf("addr %q: missing port", c.Addr))
	}
	if c.DataDir == "" {
		errs = append(errs, errors.New("dataDir: empty"))
	}
	if c.ShutdownTimeout < 0 {
		errs = append(errs, fmt.Errorf("shutdownTimeout %s: negative", c.ShutdownTimeout))
	}
	return errors.Join(errs...)
}
