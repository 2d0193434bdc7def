package auth

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/liaisonhq/liaison/gateway/connector"
)

// Transport is an http.RoundTripper that authenticates each request it
// sends for one connector, by the connector's auth scheme, then sends it
// with its base transport. It never modifies the request it is given.
//
// A Transport is safe for concurrent use. It adds credentials to every
// request, wherever it goes: use it through the client NewClient returns,
// or a client whose redirect policy stays on the origin.
type Transport struct {
	base http.RoundTripper
	// set puts a static credential on a clone of the request: apikey,
	// basic, bearer. Nil for the other schemes.
	set func(*http.Request)
	// tokens holds the access token of oauth2 and smart; nil for the
	// other schemes.
	tokens *tokens
}

var _ http.RoundTripper = (*Transport)(nil)

// NewClient returns an HTTP client for the connector cfg: its Transport is
// a *Transport (see NewTransport) over base, and its redirect policy
// follows a redirect only to the origin (scheme and host) of the request
// when the scheme puts credentials on requests, returning any other
// redirect as the response. Its Timeout is 0: the caller bounds each
// request with its context.
//
// base nil means a clone of http.DefaultTransport. NewClient does no I/O;
// it resolves cfg.Auth's secrets and fails only on a bad cfg.Auth, with a
// *connector.FieldError naming the field (never a secret's value).
func NewClient(cfg connector.Config, base http.RoundTripper) (*http.Client, error) {
	t, err := NewTransport(cfg, base)
	if err != nil {
		return nil, err
	}
	c := &http.Client{Transport: t}
	if t.set != nil || t.tokens != nil {
		c.CheckRedirect = sameOrigin
	}
	return c, nil
}

// NewTransport returns the Transport for the connector cfg over base, as
// NewClient does. For mtls, base must be an *http.Transport (nil is one):
// the Transport sends with a clone of it that presents the client
// certificate.
func NewTransport(cfg connector.Config, base http.RoundTripper) (*Transport, error) {
	if base == nil {
		base = http.DefaultTransport.(*http.Transport).Clone()
	}
	t := &Transport{base: base}
	a := cfg.Auth
	if a == nil {
		return t, nil
	}
	var err error
	switch scheme := normalScheme(a.Scheme); scheme {
	case "", connector.SchemeNone:
	case connector.SchemeAPIKey:
		t.set, err = apiKey(a)
	case connector.SchemeBasic:
		t.set, err = basic(a)
	case connector.SchemeBearer:
		t.set, err = bearer(a)
	case connector.SchemeOAuth2:
		t.tokens, err = newClientCredentials(cfg, base)
	case connector.SchemeSMART:
		t.tokens, err = newSMART(cfg, base)
	case connector.SchemeMTLS:
		t.base, err = mtls(a, base)
	default:
		err = &connector.FieldError{Field: "auth.scheme", Err: fmt.Errorf("%w %q", ErrUnknownScheme, cut(a.Scheme, 40))}
	}
	if err != nil {
		return nil, err
	}
	return t, nil
}

// normalScheme reads a scheme as connector.Parse does: case-insensitive,
// with "api-key" and "api_key" for apikey.
func normalScheme(s string) string {
	s = strings.ToLower(strings.TrimSpace(s))
	if s == "api-key" || s == "api_key" {
		return connector.SchemeAPIKey
	}
	return s
}

// cut returns s cut to n bytes, for quoting a non-secret value.
func cut(s string, n int) string {
	if len(s) > n {
		return s[:n] + "…"
	}
	return s
}

// RoundTrip sends req with the connector's credential. For oauth2 and
// smart it first gets an access token (a *TokenError when the token
// endpoint refuses one), and after a 401 it gets a new token and sends
// req once more when req's body can be replayed.
func (t *Transport) RoundTrip(req *http.Request) (*http.Response, error) {
	switch {
	case t.tokens != nil:
		return t.tokens.roundTrip(t.base, req)
	case t.set != nil:
		r := req.Clone(req.Context())
		t.set(r)
		return t.base.RoundTrip(r)
	default:
		return t.base.RoundTrip(req)
	}
}

// Prefetch gets an access token now, when the scheme uses one (oauth2,
// smart), so that a newly registered connector shows at once whether its
// credentials work; it keeps the token for the requests to come. For the
// other schemes it does nothing and returns nil. The error (a *TokenError,
// a network error, or one wrapping ErrDiscovery or ErrTokenResponse)
// holds no secret and may be shown to operators as the connector's last
// error.
func (t *Transport) Prefetch(ctx context.Context) error {
	if t.tokens == nil {
		return nil
	}
	_, err := t.tokens.token(ctx)
	return err
}

// CloseIdleConnections closes the idle connections of the base transport,
// which token and discovery requests share.
func (t *Transport) CloseIdleConnections() {
	if c, ok := t.base.(interface{ CloseIdleConnections() }); ok {
		c.CloseIdleConnections()
	}
}

// Prefetch calls Prefetch on client's Transport when it is a *Transport,
// as NewClient makes it, and returns nil otherwise.
func Prefetch(ctx context.Context, client *http.Client) error {
	if t, ok := client.Transport.(*Transport); ok {
		return t.Prefetch(ctx)
	}
	return nil
}

// maxRedirects is how many redirects a client follows, as net/http's
// default policy.
const maxRedirects = 10

// sameOrigin is the redirect policy of clients whose Transport adds
// credentials: it follows a redirect to the origin of the first request,
// and returns any other redirect as the response, so that no credential
// goes to another host or over plain HTTP.
func sameOrigin(req *http.Request, via []*http.Request) error {
	if len(via) >= maxRedirects {
		return fmt.Errorf("stopped after %d redirects", maxRedirects)
	}
	first := via[0].URL
	if req.URL.Scheme != first.Scheme || !strings.EqualFold(req.URL.Host, first.Host) {
		return http.ErrUseLastResponse
	}
	return nil
}

// noRedirect is the redirect policy of token requests: a redirect is the
// answer, since following it would send the client's credentials on.
func noRedirect(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }

// secret returns the secret that the auth field name (as in JSON) refers
// to, resolved with connector.ResolveSecret; an error naming the field,
// never the value, when it is missing or cannot be resolved.
func secret(name, ref string) (string, error) {
	if ref == "" {
		return "", &connector.FieldError{Field: "auth." + name, Err: connector.ErrRequired}
	}
	v, err := connector.ResolveSecret(ref)
	if err != nil {
		return "", &connector.FieldError{Field: "auth." + name, Err: err}
	}
	return v, nil
}

// headerSafe returns an error naming the auth field name when v cannot
// go into an HTTP header: a control character (such as a newline left in
// a secret file) would make every request fail.
func headerSafe(name, v string) error {
	if strings.ContainsFunc(v, func(r rune) bool { return r < ' ' && r != '\t' || r == 0x7f }) {
		return &connector.FieldError{Field: "auth." + name, Err: errors.New("contains a control character")}
	}
	return nil
}
