package fhirrest

import (
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/liaisonhq/liaison/fhir"
	"github.com/liaisonhq/liaison/gateway/connector"
)

// defaultTimeout bounds one attempt when the connector's policy does not.
const defaultTimeout = 30 * time.Second

// config is what the adapter takes from a connector.Config.
type config struct {
	// base is the FHIR base: Endpoint without a trailing slash, and
	// without a trailing resource type ("https://x/fhir/Patient" →
	// "https://x/fhir").
	base string
	// typ is the resource type Endpoint ends in, "" when it is a base.
	// It is the resourceType of bodies that have none (a rename mapping's
	// output).
	typ string
	// timeout bounds one attempt: Delivery.Timeout, default 30s.
	timeout time.Duration
}

// newConfig reads cfg, fills defaults and validates the result, without I/O.
func newConfig(cfg connector.Config) (config, error) {
	if cfg.Type != "" && !strings.EqualFold(string(cfg.Type), string(connector.FHIR)) {
		return config{}, fmt.Errorf("connector type %q is not %q", cfg.Type, connector.FHIR)
	}
	c := config{timeout: time.Duration(cfg.Delivery.Timeout)}
	if c.timeout <= 0 {
		c.timeout = defaultTimeout
	}
	c.base = strings.TrimRight(strings.TrimSpace(cfg.Endpoint), "/")
	if i := strings.LastIndexByte(c.base, '/'); i >= 0 && fhir.IsResourceType(c.base[i+1:]) {
		c.base, c.typ = c.base[:i], c.base[i+1:]
	}
	return c, c.validate()
}

// validate checks that the base is an absolute http(s) URL with a host,
// and nothing in it that would be lost or leaked when paths and queries
// are added to it.
func (c config) validate() error {
	if c.base == "" {
		return errors.New("endpoint: missing: expected the FHIR base URL")
	}
	u, err := url.Parse(c.base)
	if err != nil {
		return errors.New("endpoint: not a URL") // url's error quotes it
	}
	switch {
	case u.Scheme != "http" && u.Scheme != "https":
		return errors.New("endpoint: expected an http or https URL")
	case u.Host == "":
		return errors.New("endpoint: no host")
	case u.User != nil:
		return errors.New("endpoint: credentials in the URL: give them as auth")
	case u.RawQuery != "" || u.ForceQuery || u.Fragment != "":
		return errors.New("endpoint: a FHIR base has no query or fragment")
	}
	return nil
}
