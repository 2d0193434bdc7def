package auth

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"

	"github.com/liaisonhq/liaison/gateway/connector"
)

const (
	// assertionType is the client_assertion_type of private_key_jwt
	// (RFC 7523 §2.2).
	assertionType = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
	// assertionLifetime is how long a client assertion is valid. SMART
	// allows at most five minutes; the margin is for clock skew.
	assertionLifetime = 4 * time.Minute
	// defaultSMARTScope is the scope of a smart connector without scopes.
	defaultSMARTScope = "system/*.*"
	// minRSABits is the smallest RSA key accepted for signing.
	minRSABits = 2048
)

// newSMART returns the tokens of the smart scheme: SMART Backend Services,
// a client credentials grant authenticated by a JWT signed with the
// client's private key.
func newSMART(cfg connector.Config, base http.RoundTripper) (*tokens, error) {
	a := cfg.Auth
	if a.ClientID == "" {
		return nil, &connector.FieldError{Field: "auth.clientId", Err: connector.ErrRequired}
	}
	pemKey, err := secret("privateKey", a.PrivateKey)
	if err != nil {
		return nil, err
	}
	key, err := parsePrivateKey(pemKey)
	if err != nil {
		return nil, &connector.FieldError{Field: "auth.privateKey", Err: err}
	}
	alg, err := signingAlgorithm(key, a.Algorithm)
	if err != nil {
		return nil, err
	}
	opts := (&jose.SignerOptions{}).WithType("JWT")
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: alg, Key: jose.JSONWebKey{Key: key, KeyID: a.KeyID}}, opts)
	if err != nil {
		return nil, &connector.FieldError{Field: "auth.privateKey", Err: fmt.Errorf("cannot sign %s with it", alg)}
	}
	endpoint, err := newTokenEndpoint(cfg, base)
	if err != nil {
		return nil, err
	}
	scopes := a.Scopes
	if len(scopes) == 0 {
		scopes = []string{defaultSMARTScope}
	}
	s := &smart{
		clientID: a.ClientID,
		scope:    strings.Join(scopes, " "),
		signer:   signer,
		endpoint: endpoint,
		client:   tokenClient(base),
		now:      time.Now,
	}
	return newTokens(s.fetch), nil
}

// smart makes the token requests of the smart scheme.
type smart struct {
	clientID string
	scope    string
	signer   jose.Signer // safe for concurrent use
	endpoint *tokenEndpoint
	client   *http.Client
	now      func() time.Time
}

// fetch makes one token request, with a client assertion made for it:
//
//	POST token_endpoint
//	grant_type=client_credentials&scope=...&
//	client_assertion_type=urn:ietf:params:oauth:client-assertion-type:jwt-bearer&
//	client_assertion=<JWT>
func (s *smart) fetch(ctx context.Context) (*oauth2.Token, error) {
	tokenURL, err := s.endpoint.get(ctx)
	if err != nil {
		return nil, err
	}
	assertion, err := s.assertion(tokenURL)
	if err != nil {
		return nil, err
	}
	conf := &clientcredentials.Config{
		TokenURL: tokenURL,
		EndpointParams: url.Values{
			"scope":                 {s.scope},
			"client_assertion_type": {assertionType},
			"client_assertion":      {assertion},
		},
		// No client_id or client_secret: the assertion names the client.
		AuthStyle: oauth2.AuthStyleInParams,
	}
	tok, err := conf.Token(context.WithValue(ctx, oauth2.HTTPClient, s.client))
	if err != nil {
		return nil, tokenError(connector.SchemeSMART, err)
	}
	return tok, nil
}

// assertion returns a new client assertion for the token endpoint aud:
// a JWT with iss and sub the client id, a fresh random jti, and exp
// assertionLifetime from now.
func (s *smart) assertion(aud string) (string, error) {
	now := s.now()
	claims := jwt.Claims{
		Issuer:   s.clientID,
		Subject:  s.clientID,
		Audience: jwt.Audience{aud},
		ID:       rand.Text(),
		IssuedAt: jwt.NewNumericDate(now),
		Expiry:   jwt.NewNumericDate(now.Add(assertionLifetime)),
	}
	a, err := jwt.Signed(s.signer).Claims(claims).Serialize()
	if err != nil {
		return "", errors.New("smart: cannot sign the client assertion")
	}
	return a, nil
}

// parsePrivateKey reads the first PEM block of s: PKCS #8 ("PRIVATE
// KEY"), PKCS #1 ("RSA PRIVATE KEY") or SEC 1 ("EC PRIVATE KEY"). Errors
// say what is wrong without quoting the key.
func parsePrivateKey(s string) (crypto.Signer, error) {
	block, _ := pem.Decode([]byte(s))
	if block == nil {
		return nil, errors.New("no PEM block: want a PEM private key")
	}
	var (
		key any
		err error
	)
	switch block.Type {
	case "PRIVATE KEY":
		key, err = x509.ParsePKCS8PrivateKey(block.Bytes)
	case "RSA PRIVATE KEY":
		key, err = x509.ParsePKCS1PrivateKey(block.Bytes)
	case "EC PRIVATE KEY":
		key, err = x509.ParseECPrivateKey(block.Bytes)
	default:
		return nil, fmt.Errorf("PEM block %q is not a private key (want PRIVATE KEY, RSA PRIVATE KEY or EC PRIVATE KEY)", cut(block.Type, 40))
	}
	if err != nil {
		return nil, fmt.Errorf("malformed %s", block.Type)
	}
	switch k := key.(type) {
	case *rsa.PrivateKey:
		if k.N.BitLen() < minRSABits {
			return nil, fmt.Errorf("RSA key of %d bits: want at least %d", k.N.BitLen(), minRSABits)
		}
		return k, nil
	case *ecdsa.PrivateKey:
		return k, nil
	default:
		return nil, fmt.Errorf("a %T key: want RSA or EC P-384", key)
	}
}

// signingAlgorithm returns the JWS algorithm for key: RS384 for RSA,
// ES384 for EC P-384; forced, when it is not empty, must agree with the
// key.
func signingAlgorithm(key crypto.Signer, forced string) (jose.SignatureAlgorithm, error) {
	alg, kind := jose.RS384, "RSA"
	switch k := key.(type) {
	case *rsa.PrivateKey:
	case *ecdsa.PrivateKey:
		if k.Curve != elliptic.P384() {
			return "", &connector.FieldError{Field: "auth.privateKey", Err: fmt.Errorf("EC key on %s: ES384 wants P-384", k.Curve.Params().Name)}
		}
		alg, kind = jose.ES384, "EC P-384"
	}
	switch f := jose.SignatureAlgorithm(strings.ToUpper(strings.TrimSpace(forced))); {
	case f == "" || f == alg:
		return alg, nil
	case f != jose.RS384 && f != jose.ES384:
		return "", &connector.FieldError{Field: "auth.algorithm", Err: fmt.Errorf("unknown algorithm %q (want RS384 or ES384)", cut(forced, 40))}
	default:
		return "", &connector.FieldError{Field: "auth.algorithm", Err: fmt.Errorf("%s does not go with the %s key in privateKey", f, kind)}
	}
}
