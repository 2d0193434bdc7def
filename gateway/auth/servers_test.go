package auth

import (
	"crypto"
	"encoding/json"
	"fmt"
	"io"
	"log"
	"mime"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
)

// tokenServer is a test double of an OAuth2 token endpoint at /token, as
// real ones behave: RFC 6749 §4.4 client credentials, with the client
// authenticated by client_secret_basic or client_secret_post (§2.3.1), or
// by a private_key_jwt assertion (RFC 7523, as SMART Backend Services
// uses it) that it verifies, refusing a reused jti. Answers are RFC 6749
// §5.1 JSON tokens with expires_in, and §5.2 JSON errors with 400 or 401.
type tokenServer struct {
	*httptest.Server

	clientID     string
	clientSecret string           // oauth2; "" for smart
	publicKey    crypto.PublicKey // smart: the client's registered key
	postOnly     bool             // refuse client_secret_basic with 401 invalid_client
	expiresIn    int              // seconds; 0 leaves expires_in out
	delay        time.Duration    // before answering
	// echo puts what the client sent into error_description, as careless
	// servers do, to show that errors leave the description out.
	echo bool

	mu       sync.Mutex
	requests []tokenRequest
	issued   map[string]bool // live access tokens
	jtis     map[string]bool // assertion ids seen
	fail     *tokenFailure   // when set, every request is refused so
}

// tokenRequest is one request the token server received.
type tokenRequest struct {
	Form      url.Values
	BasicUser string // "" when no Authorization header came
	Assertion *jwt.JSONWebToken
	Claims    jwt.Claims
	At        time.Time
}

// tokenFailure is a forced error answer.
type tokenFailure struct {
	Status int
	Code   string
	Body   string // when set, the raw body instead of RFC 6749 JSON
}

// newTokenServer starts a token server for one client, with tokens that
// live an hour; opts change that before it starts.
func newTokenServer(t *testing.T, clientID, clientSecret string, opts ...func(*tokenServer)) *tokenServer {
	t.Helper()
	ts := &tokenServer{clientID: clientID, clientSecret: clientSecret, expiresIn: 3600, issued: map[string]bool{}, jtis: map[string]bool{}}
	for _, o := range opts {
		o(ts)
	}
	ts.Server = httptest.NewServer(http.HandlerFunc(ts.serve))
	t.Cleanup(ts.Close)
	return ts
}

// TokenURL is the token endpoint's URL.
func (ts *tokenServer) TokenURL() string { return ts.URL + "/token" }

// Count returns how many token requests arrived.
func (ts *tokenServer) Count() int {
	ts.mu.Lock()
	defer ts.mu.Unlock()
	return len(ts.requests)
}

// Requests returns the token requests that arrived.
func (ts *tokenServer) Requests() []tokenRequest {
	ts.mu.Lock()
	defer ts.mu.Unlock()
	return append([]tokenRequest(nil), ts.requests...)
}

// Valid reports whether tok is an access token the server issued and has
// not revoked.
func (ts *tokenServer) Valid(tok string) bool {
	ts.mu.Lock()
	defer ts.mu.Unlock()
	return ts.issued[tok]
}

// Revoke revokes every access token issued so far.
func (ts *tokenServer) Revoke() {
	ts.mu.Lock()
	defer ts.mu.Unlock()
	clear(ts.issued)
}

// Fail makes every request from now on get f, or, with nil, the normal
// answer.
func (ts *tokenServer) Fail(f *tokenFailure) {
	ts.mu.Lock()
	defer ts.mu.Unlock()
	ts.fail = f
}

func (ts *tokenServer) serve(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path != "/token" {
		http.NotFound(w, r)
		return
	}
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	if ts.delay > 0 {
		time.Sleep(ts.delay)
	}
	if mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); mt != "application/x-www-form-urlencoded" {
		oauthError(w, http.StatusBadRequest, "invalid_request", "want a form")
		return
	}
	body, _ := io.ReadAll(io.LimitReader(r.Body, 64<<10))
	form, err := url.ParseQuery(string(body))
	if err != nil {
		oauthError(w, http.StatusBadRequest, "invalid_request", "malformed form")
		return
	}
	req := tokenRequest{Form: form, At: time.Now()}
	user, pass, hasBasic := r.BasicAuth()
	if hasBasic {
		// RFC 6749 §2.3.1: the client id and secret are form-encoded
		// before they go into the Basic credentials.
		user, _ = url.QueryUnescape(user)
		pass, _ = url.QueryUnescape(pass)
		req.BasicUser = user
	}

	ts.mu.Lock()
	defer ts.mu.Unlock()
	ts.requests = append(ts.requests, req)
	idx := len(ts.requests) - 1
	describe := func(s string) string {
		if ts.echo {
			return s + "; you sent " + string(body) + " with Authorization " + r.Header.Get("Authorization")
		}
		return s
	}
	if f := ts.fail; f != nil {
		if f.Body != "" {
			w.Header().Set("Content-Type", "text/html")
			w.WriteHeader(f.Status)
			_, _ = io.WriteString(w, f.Body)
			return
		}
		oauthError(w, f.Status, f.Code, describe("refused"))
		return
	}
	if form.Get("grant_type") != "client_credentials" {
		oauthError(w, http.StatusBadRequest, "unsupported_grant_type", "want client_credentials")
		return
	}

	switch {
	case ts.publicKey != nil:
		if hasBasic || form.Has("client_secret") {
			oauthError(w, http.StatusBadRequest, "invalid_request", "this client authenticates with private_key_jwt")
			return
		}
		if form.Get("client_assertion_type") != "urn:ietf:params:oauth:client-assertion-type:jwt-bearer" {
			oauthError(w, http.StatusBadRequest, "invalid_request", "want client_assertion_type jwt-bearer")
			return
		}
		tok, claims, err := ts.verifyAssertion(form.Get("client_assertion"))
		if err != nil {
			oauthError(w, http.StatusUnauthorized, "invalid_client", describe(err.Error()))
			return
		}
		ts.requests[idx].Assertion, ts.requests[idx].Claims = tok, claims
	default:
		postID, postSecret := form.Get("client_id"), form.Get("client_secret")
		switch {
		case hasBasic && (postID != "" || postSecret != ""):
			oauthError(w, http.StatusBadRequest, "invalid_request", "more than one client authentication method")
			return
		case hasBasic && ts.postOnly:
			w.Header().Set("WWW-Authenticate", `Basic realm="token"`)
			oauthError(w, http.StatusUnauthorized, "invalid_client", describe("use client_secret_post"))
			return
		case hasBasic && (user != ts.clientID || pass != ts.clientSecret):
			w.Header().Set("WWW-Authenticate", `Basic realm="token"`)
			oauthError(w, http.StatusUnauthorized, "invalid_client", describe("bad client credentials"))
			return
		case !hasBasic && (postID != ts.clientID || postSecret != ts.clientSecret):
			oauthError(w, http.StatusUnauthorized, "invalid_client", describe("bad client credentials"))
			return
		}
	}

	access := "at-" + strconv.Itoa(idx+1)
	ts.issued[access] = true
	resp := map[string]any{"access_token": access, "token_type": "Bearer"}
	if ts.expiresIn != 0 {
		resp["expires_in"] = ts.expiresIn
	}
	if s := form.Get("scope"); s != "" {
		resp["scope"] = s
	}
	w.Header().Set("Content-Type", "application/json;charset=UTF-8")
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Pragma", "no-cache")
	_ = json.NewEncoder(w).Encode(resp)
}

// verifyAssertion checks a private_key_jwt client assertion as a SMART
// server does: signature by the registered key (RS384 or ES384),
// iss = sub = client id, aud = the token URL, exp at most five minutes
// ahead, and a jti not seen before. ts.mu is held.
func (ts *tokenServer) verifyAssertion(s string) (*jwt.JSONWebToken, jwt.Claims, error) {
	var claims jwt.Claims
	tok, err := jwt.ParseSigned(s, []jose.SignatureAlgorithm{jose.RS384, jose.ES384})
	if err != nil {
		return nil, claims, fmt.Errorf("client_assertion: %v", err)
	}
	if err := tok.Claims(ts.publicKey, &claims); err != nil {
		return nil, claims, fmt.Errorf("client_assertion: signature: %v", err)
	}
	now := time.Now()
	err = claims.ValidateWithLeeway(jwt.Expected{Issuer: ts.clientID, Subject: ts.clientID, AnyAudience: jwt.Audience{ts.TokenURL()}, Time: now}, 0)
	switch {
	case err != nil:
		return nil, claims, fmt.Errorf("client_assertion: %v", err)
	case claims.Expiry == nil || claims.Expiry.Time().After(now.Add(5*time.Minute)):
		return nil, claims, fmt.Errorf("client_assertion: exp more than 5 minutes ahead")
	case claims.ID == "" || ts.jtis[claims.ID]:
		return nil, claims, fmt.Errorf("client_assertion: jti missing or reused")
	}
	ts.jtis[claims.ID] = true
	return tok, claims, nil
}

// oauthError writes an RFC 6749 §5.2 error answer.
func oauthError(w http.ResponseWriter, status int, code, description string) {
	w.Header().Set("Content-Type", "application/json;charset=UTF-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]string{"error": code, "error_description": description})
}

// apiServer is a test double of an API protected by the token server's
// bearer tokens (RFC 6750): a request without a live token gets 401 with
// WWW-Authenticate. It echoes request bodies, and serves its SMART
// configuration (token_endpoint) at /fhir/.well-known/smart-configuration.
type apiServer struct {
	*httptest.Server
	tokens *tokenServer

	mu        sync.Mutex
	requests  []apiRequest
	discovery int  // smart-configuration requests
	noConfig  bool // answer 404 to the smart-configuration
	refuseAll bool // answer 401 to every API request
}

type apiRequest struct {
	Method, Authorization, Body string
}

func newAPIServer(t *testing.T, tokens *tokenServer) *apiServer {
	t.Helper()
	as := &apiServer{tokens: tokens}
	as.Server = httptest.NewServer(http.HandlerFunc(as.serve))
	t.Cleanup(as.Close)
	return as
}

// Requests returns the API requests that arrived (discovery aside).
func (as *apiServer) Requests() []apiRequest {
	as.mu.Lock()
	defer as.mu.Unlock()
	return append([]apiRequest(nil), as.requests...)
}

// Discoveries returns how many smart-configuration requests arrived.
func (as *apiServer) Discoveries() int {
	as.mu.Lock()
	defer as.mu.Unlock()
	return as.discovery
}

func (as *apiServer) set(f func(*apiServer)) {
	as.mu.Lock()
	defer as.mu.Unlock()
	f(as)
}

func (as *apiServer) serve(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path == "/fhir/.well-known/smart-configuration" {
		as.mu.Lock()
		as.discovery++
		missing := as.noConfig
		as.mu.Unlock()
		if missing {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]any{
			"token_endpoint":                        as.tokens.TokenURL(),
			"token_endpoint_auth_methods_supported": []string{"private_key_jwt", "client_secret_basic"},
			"grant_types_supported":                 []string{"client_credentials"},
			"capabilities":                          []string{"client-confidential-asymmetric"},
		})
		return
	}
	body, _ := io.ReadAll(r.Body)
	authz := r.Header.Get("Authorization")
	as.mu.Lock()
	as.requests = append(as.requests, apiRequest{Method: r.Method, Authorization: authz, Body: string(body)})
	refuse := as.refuseAll
	as.mu.Unlock()
	tok, ok := strings.CutPrefix(authz, "Bearer ")
	if refuse || !ok || !as.tokens.Valid(tok) {
		w.Header().Set("WWW-Authenticate", `Bearer realm="api", error="invalid_token"`)
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusUnauthorized)
		_, _ = io.WriteString(w, `{"resourceType":"OperationOutcome","issue":[{"severity":"error","code":"login"}]}`)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write(body)
}

// quietLog is an error log for test servers whose refused connections
// are expected.
var quietLog = log.New(io.Discard, "", 0)
