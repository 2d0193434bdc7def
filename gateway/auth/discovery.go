package auth

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"

	"github.com/liaisonhq/liaison/fhir"
	"github.com/liaisonhq/liaison/gateway/connector"
)

// smartConfigurationPath is where a FHIR server describes its SMART
// endpoints, relative to its base
// (hl7.org/fhir/smart-app-launch/conformance.html).
const smartConfigurationPath = "/.well-known/smart-configuration"

// maxDiscovery bounds the smart-configuration document read.
const maxDiscovery = 1 << 20

// tokenEndpoint is the token URL of an oauth2 or smart connector: the
// configured one, or the one its FHIR server names in its
// smart-configuration, read on first use and kept once found.
type tokenEndpoint struct {
	client    *http.Client // discovery requests; nil when url is configured
	discovery string       // the smart-configuration URL

	mu  sync.Mutex
	url string // "" until discovered
}

// newTokenEndpoint returns cfg's token endpoint: cfg.Auth.TokenURL, or,
// when it is empty and cfg is a FHIR connector, discovered from
// cfg.Endpoint with requests sent by base.
func newTokenEndpoint(cfg connector.Config, base http.RoundTripper) (*tokenEndpoint, error) {
	if u := cfg.Auth.TokenURL; u != "" {
		if err := checkTokenURL(u, ""); err != nil {
			return nil, &connector.FieldError{Field: "auth.tokenUrl", Err: err}
		}
		return &tokenEndpoint{url: u}, nil
	}
	if !strings.EqualFold(string(cfg.Type), string(connector.FHIR)) {
		return nil, &connector.FieldError{Field: "auth.tokenUrl", Err: fmt.Errorf("%w: only a FHIR server's token endpoint can be discovered", connector.ErrRequired)}
	}
	b, err := fhirBase(cfg.Endpoint)
	if err != nil {
		return nil, &connector.FieldError{Field: "endpoint", Err: fmt.Errorf("cannot discover the token endpoint: %w", err)}
	}
	return &tokenEndpoint{client: &http.Client{Transport: base}, discovery: b + smartConfigurationPath}, nil
}

// fhirBase returns the FHIR base of endpoint: without a trailing slash
// or resource type ("https://x/fhir/Patient" → "https://x/fhir").
func fhirBase(endpoint string) (string, error) {
	b := strings.TrimRight(strings.TrimSpace(endpoint), "/")
	if i := strings.LastIndexByte(b, '/'); i >= 0 && fhir.IsResourceType(b[i+1:]) {
		b = b[:i]
	}
	u, err := url.Parse(b)
	switch {
	case b == "":
		return "", connector.ErrRequired
	case err != nil:
		return "", errors.New("not a URL")
	case u.Scheme != "http" && u.Scheme != "https" || u.Host == "":
		return "", errors.New("not an absolute http or https URL")
	case u.User != nil:
		return "", errors.New("credentials in the URL: give them as auth")
	case u.RawQuery != "" || u.ForceQuery || u.Fragment != "":
		return "", errors.New("a FHIR base has no query or fragment")
	}
	return b, nil
}

// checkTokenURL checks that raw is an absolute http or https URL without
// credentials or fragment; and https when from is an https URL, the one
// it was discovered from.
func checkTokenURL(raw, from string) error {
	u, err := url.Parse(raw)
	switch {
	case err != nil:
		return errors.New("not a URL")
	case u.Scheme != "http" && u.Scheme != "https" || u.Host == "":
		return errors.New("not an absolute http or https URL")
	case u.User != nil:
		return errors.New("credentials in the URL: give them as clientId and clientSecret")
	case u.Fragment != "":
		return errors.New("a token URL has no fragment")
	case u.Scheme == "http" && strings.HasPrefix(from, "https:"):
		return errors.New("plain http, discovered from an https server")
	}
	return nil
}

// get returns the token URL, discovering it first if need be. A failed
// discovery is an error wrapping ErrDiscovery, and is tried again on the
// next call.
func (e *tokenEndpoint) get(ctx context.Context) (string, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.url != "" {
		return e.url, nil
	}
	u, err := e.discover(ctx)
	if err != nil {
		return "", fmt.Errorf("%w (%s): %w", ErrDiscovery, smartConfigurationPath, err)
	}
	e.url = u
	return u, nil
}

// discover reads token_endpoint from the server's smart-configuration.
// Errors do not quote the document, which is the server's to fill.
func (e *tokenEndpoint) discover(ctx context.Context) (string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, e.discovery, nil)
	if err != nil {
		return "", errors.New("cannot build the request")
	}
	req.Header.Set("Accept", "application/json")
	resp, err := e.client.Do(req)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return "", err
	}
	defer discard(resp.Body)
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("answered %d %s", resp.StatusCode, http.StatusText(resp.StatusCode))
	}
	var doc struct {
		TokenEndpoint string `json:"token_endpoint"`
	}
	if err := json.NewDecoder(io.LimitReader(resp.Body, maxDiscovery)).Decode(&doc); err != nil {
		return "", errors.New("not a JSON object")
	}
	if doc.TokenEndpoint == "" {
		return "", errors.New("no token_endpoint")
	}
	if err := checkTokenURL(doc.TokenEndpoint, e.discovery); err != nil {
		return "", fmt.Errorf("token_endpoint: %w", err)
	}
	return doc.TokenEndpoint, nil
}
