package gateway

import (
	"errors"
	"fmt"
	"net"
	"net/http"
	"time"

	"github.com/liaisonhq/liaison/gateway/connector"
	"github.com/liaisonhq/liaison/transform"
)

// Defaults filled in by New for zero Config fields.
const (
	DefaultAddr            = "127.0.0.1:8080"
	DefaultDataDir         = "./liaison-data"
	DefaultShutdownTimeout = 10 * time.Second
	DefaultMaxBody         = 4 << 20
	DefaultRetention       = 7 * 24 * time.Hour
	DefaultAuditRetention  = 90 * 24 * time.Hour
)

// DefaultRecordKeys are the HMS fields that identify records of the known
// types; any other type is identified by its "id" field.
var DefaultRecordKeys = map[string]string{
	"Patient":      "mrn",
	"Appointment":  "appointmentId",
	"Immunization": "immunizationId",
}

// Config is the gateway's configuration. The zero value is usable: New fills
// every zero field with its default.
type Config struct {
	// Addr is the TCP address to listen on, host:port. Default "127.0.0.1:8080";
	// a port of 0 picks a free one.
	Addr string `json:"addr" yaml:"addr"`

	// DataDir is the directory of the gateway's store. Default "./liaison-data".
	// One process owns it at a time.
	DataDir string `json:"dataDir" yaml:"dataDir"`

	// Store, when its URL is set, keeps the gateway's state in a NATS
	// JetStream cluster instead of DataDir, shared by every gateway
	// configured with the same store (see docs/SCALING.md). SecretKey is
	// then required: every gateway must unseal the same connectors.
	Store connector.Store `json:"store" yaml:"store"`

	// ShutdownTimeout bounds the graceful shutdown once Run's context is
	// cancelled: requests still running after it are cut off. Default 10s.
	ShutdownTimeout time.Duration `json:"shutdownTimeout" yaml:"shutdownTimeout"`

	// AdminToken authorizes management calls (Authorization: Bearer …).
	// When empty, New uses the token kept in the store, or generates one,
	// keeps it and reports it once through GeneratedToken.
	AdminToken string `json:"-" yaml:"-"`

	// Mappings is the mapping set. Default: the embedded mappings.
	Mappings *transform.Set `json:"-" yaml:"-"`

	// Adapters builds a Sender for each connector type. Default none: a
	// connector whose type has no adapter is refused. cmd/liaison passes
	// the full registry; tests build their own.
	Adapters Adapters `json:"-" yaml:"-"`

	// Consumers builds the consumer of each queue connector type (nats,
	// amqp). Default none: queue connectors are registered but consume
	// nothing. cmd/liaison passes the full list.
	Consumers map[connector.Type]ConsumerFactory `json:"-" yaml:"-"`

	// Clients builds the HTTP client of a connector, with its outbound auth:
	// its adapter delivers through it and polls use it. Default
	// auth.NewClient over a transport that keeps an idle connection per
	// delivery slot (Delivery.Concurrency).
	Clients func(cfg connector.Config) (*http.Client, error) `json:"-" yaml:"-"`

	// SecretKey seals the connectors' secrets in the store (AES-256-GCM, 32
	// bytes; see connector.SecretKey). Default: a key New generates once
	// and keeps beside the store (secret.key, mode 0600) — set it from
	// LIAISON_SECRET_KEY so that the store alone reveals nothing.
	SecretKey []byte `json:"-" yaml:"-"`

	// PublicURL is where outside systems reach the gateway
	// (https://liaison.example.org): webhook connectors subscribe with
	// PublicURL + sync.path as their callback. Default none: webhook
	// connectors then report a set-up error until it is set.
	PublicURL string `json:"publicUrl" yaml:"publicUrl"`

	// Connectors are registered at start (from a config file), by name:
	// one that exists already is updated to this configuration.
	Connectors []connector.Config `json:"-" yaml:"-"`

	// Delivery holds delivery defaults for every connector.
	Delivery connector.Delivery `json:"-" yaml:"-"`

	// RecordKeys names, per record type, the field holding a record's id.
	// Default DefaultRecordKeys, then "id".
	RecordKeys map[string]string `json:"recordKeys" yaml:"recordKeys"`

	// MaxBody bounds a request body, in bytes. Default 4 MiB.
	MaxBody int64 `json:"maxBody" yaml:"maxBody"`

	// Retention is how long delivered messages are kept. Default 7 days.
	Retention time.Duration `json:"retention" yaml:"retention"`

	// AuditRetention is how long audit entries are kept. Default 90 days.
	AuditRetention time.Duration `json:"auditRetention" yaml:"auditRetention"`

	// AuditTo names a connector (by id or name) that receives every audit
	// entry as a FHIR AuditEvent: an audit repository. Optional.
	AuditTo string `json:"auditTo" yaml:"auditTo"`

	// NoSync skips fsync on commit. For benchmarks only: a crash may lose
	// acknowledged records.
	NoSync bool `json:"-" yaml:"-"`
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
	if c.MaxBody == 0 {
		c.MaxBody = DefaultMaxBody
	}
	if c.Retention == 0 {
		c.Retention = DefaultRetention
	}
	if c.AuditRetention == 0 {
		c.AuditRetention = DefaultAuditRetention
	}
	keys := map[string]string{}
	for k, v := range DefaultRecordKeys {
		keys[k] = v
	}
	for k, v := range c.RecordKeys {
		keys[k] = v
	}
	c.RecordKeys = keys
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
	if err := c.Store.Validate(); err != nil {
		errs = append(errs, err)
	}
	if c.Store.NATS() && c.SecretKey == nil {
		errs = append(errs, errors.New("store: a NATS store needs the secret key (LIAISON_SECRET_KEY), the same on every gateway"))
	}
	if c.ShutdownTimeout < 0 {
		errs = append(errs, fmt.Errorf("shutdownTimeout %s: negative", c.ShutdownTimeout))
	}
	if c.MaxBody < 1024 {
		errs = append(errs, fmt.Errorf("maxBody %d: at least 1024 bytes", c.MaxBody))
	}
	for typ, field := range c.RecordKeys {
		if !validName(typ) || field == "" {
			errs = append(errs, fmt.Errorf("recordKeys: %q → %q: want a record type and a field name", typ, field))
		}
	}
	return errors.Join(errs...)
}
