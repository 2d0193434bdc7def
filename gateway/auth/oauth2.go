package auth

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"sync"

	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"

	"github.com/liaisonhq/liaison/gateway/connector"
)

// newClientCredentials returns the tokens of the oauth2 scheme: OAuth2
// client credentials with the client secret, in the Authorization header
// (client_secret_basic) or, when the token endpoint refuses that, in the
// form (client_secret_post).
func newClientCredentials(cfg connector.Config, base http.RoundTripper) (*tokens, error) {
	a := cfg.Auth
	if a.ClientID == "" {
		return nil, &connector.FieldError{Field: "auth.clientId", Err: connector.ErrRequired}
	}
	clientSecret, err := secret("clientSecret", a.ClientSecret)
	if err != nil {
		return nil, err
	}
	endpoint, err := newTokenEndpoint(cfg, base)
	if err != nil {
		return nil, err
	}
	cc := &clientCredentials{
		endpoint: endpoint,
		client:   tokenClient(base),
		conf: clientcredentials.Config{
			ClientID:     a.ClientID,
			ClientSecret: clientSecret,
			Scopes:       a.Scopes,
			AuthStyle:    oauth2.AuthStyleAutoDetect,
		},
	}
	return newTokens(cc.fetch), nil
}

// clientCredentials makes the token requests of the oauth2 scheme.
type clientCredentials struct {
	endpoint *tokenEndpoint
	client   *http.Client

	mu sync.Mutex // guards conf.TokenURL, set on the first request
	// conf is kept from one request to the next: it remembers which way
	// of sending the secret the token endpoint accepts.
	conf clientcredentials.Config
}

func (c *clientCredentials) fetch(ctx context.Context) (*oauth2.Token, error) {
	tokenURL, err := c.endpoint.get(ctx)
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.conf.TokenURL = tokenURL
	tok, err := c.conf.Token(context.WithValue(ctx, oauth2.HTTPClient, c.client))
	if err != nil {
		return nil, tokenError(connector.SchemeOAuth2, err)
	}
	return tok, nil
}

// tokenClient returns the client for token requests: base, without
// following redirects.
func tokenClient(base http.RoundTripper) *http.Client {
	return &http.Client{Transport: base, CheckRedirect: noRedirect}
}

// tokenError returns the error of a token request for scheme without
// anything that may hold a secret: the token endpoint's refusal as a
// *TokenError, a network error without the URL, and ErrTokenResponse for
// an answer that is not a token.
func tokenError(scheme string, err error) error {
	var re *oauth2.RetrieveError
	if errors.As(err, &re) {
		te := &TokenError{Scheme: scheme, Code: errorCode(re.ErrorCode)}
		if re.Response != nil {
			te.StatusCode = re.Response.StatusCode
		}
		return te
	}
	var ue *url.Error
	if errors.As(err, &ue) {
		return fmt.Errorf("%s token request: %w", scheme, ue.Err)
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return fmt.Errorf("%s token request: %w", scheme, err)
	}
	return fmt.Errorf("%s token request: %w", scheme, ErrTokenResponse)
}
