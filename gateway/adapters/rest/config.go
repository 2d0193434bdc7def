package rest

import (
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/liaisonhq/liaison/gateway/connector"
)

// defaultTimeout bounds one attempt when the connector's policy does not.
const defaultTimeout = 30 * time.Second

// The placeholders an endpoint may hold.
const (
	placeID   = "{id}"   // the record's id
	placeType = "{type}" // the record's type
)

// config is what the adapter takes from a connector.Config.
type config struct {
	// path and query are the endpoint template split at its "?"; query
	// is "" when there is none.
	path, query string
	// hasID tells that the template holds {id}: upserts are PUT and
	// deletes DELETE to it. Without, upserts are POST to the endpoint and
	// deletes DELETE to the endpoint + "/" + id.
	hasID bool
	// hasType tells that the template holds {type}.
	hasType bool
	// timeout bounds one attempt: Delivery.Timeout, default 30s.
	timeout time.Duration
}

// newConfig reads cfg, fills defaults and validates the result, without I/O.
func newConfig(cfg connector.Config) (config, error) {
	if cfg.Type != "" && !strings.EqualFold(string(cfg.Type), string(connector.REST)) {
		return config{}, fmt.Errorf("connector type %q is not %q", cfg.Type, connector.REST)
	}
	c := config{timeout: time.Duration(cfg.Delivery.Timeout)}
	if c.timeout <= 0 {
		c.timeout = defaultTimeout
	}
	endpoint := strings.TrimSpace(cfg.Endpoint)
	c.path, c.query, _ = strings.Cut(endpoint, "?")
	c.hasID = strings.Contains(endpoint, placeID)
	c.hasType = strings.Contains(endpoint, placeType)
	return c, validate(endpoint)
}

// validate checks that the endpoint template is an absolute http(s) URL
// with a host, whose only placeholders are {id} and {type}, outside the
// scheme and host.
func validate(endpoint string) error {
	if endpoint == "" {
		return errors.New("endpoint: missing: expected the API's URL")
	}
	rest := strings.NewReplacer(placeID, "", placeType, "").Replace(endpoint)
	if strings.ContainsAny(rest, "{}") {
		return errors.New("endpoint: unknown placeholder: expected {id} or {type}")
	}
	sample := strings.NewReplacer(placeID, "x", placeType, "x").Replace(endpoint)
	u, err := url.Parse(sample)
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
	case u.Fragment != "" || strings.Contains(endpoint, "#"):
		return errors.New("endpoint: has a fragment")
	}
	_, afterScheme, _ := strings.Cut(endpoint, "://")
	authority, _, _ := strings.Cut(afterScheme, "/")
	authority, _, _ = strings.Cut(authority, "?")
	if strings.Contains(authority, "{") {
		return errors.New("endpoint: placeholders belong in the path or query, not the host")
	}
	return nil
}
