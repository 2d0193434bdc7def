// Package auth is outbound authentication: an http.RoundTripper that puts
// one connector's credential on every request an adapter sends.
//
//	client, err := auth.NewClient(cfg, nil) // no I/O; fails only on a bad cfg.Auth
//	sender, err := fhirrest.New(cfg, client)
//	err = auth.Prefetch(ctx, client)        // at registration: fetch a token now
//
// The scheme is cfg.Auth.Scheme (connector.Scheme*):
//
//	none    nothing is added (also a nil cfg.Auth)
//	apikey  the key in the header cfg.Auth.Header (default X-API-Key), or
//	        in the query parameter cfg.Auth.Query
//	basic   Authorization: Basic, from username and password
//	bearer  Authorization: Bearer, the static token
//	oauth2  OAuth2 client credentials (RFC 6749 §4.4): client_secret_basic,
//	        falling back to client_secret_post when the token endpoint
//	        refuses it; cfg.Auth.Scopes as the scope
//	smart   SMART Backend Services (hl7.org/fhir/smart-app-launch/backend-services.html):
//	        client credentials with a private_key_jwt client assertion
//	        signed RS384 or ES384; scope default "system/*.*"
//	mtls    the client certificate and key in the TLS handshake
//
// # Tokens
//
// For oauth2 and smart, a Transport holds one access token, fetched on
// first use (or by Prefetch) and reused until 30 s before it expires (half
// its lifetime, for tokens that live less than a minute); a token without
// expires_in is reused until the API refuses it. However many requests
// need a token at once, one token request is made and the others wait for
// it; a waiter gives up when its own context ends. A 401 from the API
// drops the token it refused, fetches a new one and sends the request
// once more, when its body can be replayed (no body, or req.GetBody set,
// as http.NewRequest does for in-memory bodies); a second 401 is returned
// as it is. Token requests are bounded by the caller's context and by
// 30 s.
//
// When cfg.Auth.TokenURL is empty and the connector is a FHIR server, the
// token endpoint is read from [base]/.well-known/smart-configuration on
// the first token request, and kept once found.
//
// # Secrets
//
// Secret fields — values or "env:NAME" / "file:PATH" references — are
// resolved by NewClient with connector.ResolveSecret, so a rotated secret
// takes effect when the client is built again. No error of this package
// holds a secret: configuration errors are *connector.FieldError values
// naming the field; a token endpoint's refusal is a *TokenError with its
// status and RFC 6749 error code only, never its description or body.
// Credentials are never sent across origins: the client NewClient returns
// follows a redirect only to the origin of the request, and returns any
// other redirect as the response.
//
// Nothing is logged. A Transport, and the client NewClient returns, are
// safe for concurrent use.
package auth
