package auth

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/liaisonhq/liaison/gateway/connector"
)

const (
	testClientID     = "liaison-client"
	testClientSecret = "s3cr3t-value"
)

// oauth2Setup is a token server, an API that takes its tokens, and a
// client for the API with the oauth2 scheme.
type oauth2Setup struct {
	tokens *tokenServer
	api    *apiServer
	client *http.Client
	tr     *Transport
}

func newOAuth2Setup(t *testing.T, scopes []string, opts ...func(*tokenServer)) oauth2Setup {
	t.Helper()
	ts := newTokenServer(t, testClientID, testClientSecret, opts...)
	api := newAPIServer(t, ts)
	c := newTestClient(t, connector.Config{
		Name: "api", Type: connector.REST, Endpoint: api.URL,
		Auth: &connector.Auth{Scheme: "OAuth2", ClientID: testClientID, ClientSecret: testClientSecret, TokenURL: ts.TokenURL(), Scopes: scopes},
	})
	return oauth2Setup{tokens: ts, api: api, client: c, tr: c.Transport.(*Transport)}
}

// expire forgets tr's token, so that the next request fetches one.
func expire(tr *Transport) {
	tr.tokens.mu.Lock()
	defer tr.tokens.mu.Unlock()
	tr.tokens.tok = nil
}

// post sends POST body to the API and returns the status and echoed body.
func (s oauth2Setup) post(t *testing.T, body string) (int, string) {
	t.Helper()
	resp, err := s.client.Post(s.api.URL+"/fhir/Patient", "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatalf("POST: %v", err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func TestOAuth2ClientSecretBasic(t *testing.T) {
	s := newOAuth2Setup(t, []string{"patient.write", "appointment.read"})
	if got := get(t, s.client, s.api.URL+"/fhir/Patient"); got != http.StatusOK {
		t.Fatalf("status %d, want 200", got)
	}
	reqs := s.tokens.Requests()
	if len(reqs) != 1 {
		t.Fatalf("%d token requests, want 1", len(reqs))
	}
	r := reqs[0]
	if r.BasicUser != testClientID || r.Form.Has("client_secret") {
		t.Errorf("client authenticated as %q, form %v; want client_secret_basic", r.BasicUser, r.Form)
	}
	if got := r.Form.Get("scope"); got != "patient.write appointment.read" {
		t.Errorf("scope = %q", got)
	}
	if got := s.api.Requests()[0].Authorization; got != "Bearer at-1" {
		t.Errorf("Authorization = %q, want Bearer at-1", got)
	}
}

func TestOAuth2ClientSecretPost(t *testing.T) {
	s := newOAuth2Setup(t, nil, func(ts *tokenServer) { ts.postOnly = true })
	if got := get(t, s.client, s.api.URL+"/fhir/Patient"); got != http.StatusOK {
		t.Fatalf("status %d, want 200", got)
	}
	reqs := s.tokens.Requests()
	if len(reqs) != 2 || reqs[0].BasicUser != testClientID || reqs[1].Form.Get("client_secret") != testClientSecret {
		t.Fatalf("token requests %+v, want basic refused then post", reqs)
	}
	if reqs[1].Form.Has("scope") {
		t.Errorf("scope sent without scopes configured")
	}

	// The next token request goes straight to client_secret_post.
	s.tokens.Revoke()
	if got := get(t, s.client, s.api.URL+"/fhir/Patient"); got != http.StatusOK {
		t.Fatalf("status %d, want 200", got)
	}
	reqs = s.tokens.Requests()
	if len(reqs) != 3 || reqs[2].BasicUser != "" {
		t.Errorf("%d token requests, the last by %q; want 3, the last by post", len(reqs), reqs[len(reqs)-1].BasicUser)
	}
}

func TestOAuth2Concurrent(t *testing.T) {
	s := newOAuth2Setup(t, nil, func(ts *tokenServer) { ts.delay = 50 * time.Millisecond })
	const n = 50
	var (
		start = make(chan struct{})
		wg    sync.WaitGroup
		ok    atomic.Int32
	)
	for range n {
		wg.Go(func() {
			<-start
			resp, err := s.client.Get(s.api.URL + "/fhir/Patient")
			if err != nil {
				t.Error(err)
				return
			}
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				ok.Add(1)
			}
		})
	}
	close(start)
	wg.Wait()
	if got := s.tokens.Count(); got != 1 {
		t.Errorf("%d token requests, want 1", got)
	}
	if ok.Load() != n {
		t.Errorf("%d of %d requests succeeded", ok.Load(), n)
	}
}

func TestOAuth2Expiry(t *testing.T) {
	s := newOAuth2Setup(t, nil) // tokens live 3600 s
	var skew atomic.Int64
	s.tr.tokens.now = func() time.Time { return time.Now().Add(time.Duration(skew.Load())) }

	steps := []struct {
		at     time.Duration
		tokens int // token requests so far
	}{
		{0, 1},
		{10 * time.Minute, 1},
		{time.Hour - 35*time.Second, 1}, // still more than 30 s to go
		{time.Hour - 25*time.Second, 2}, // within 30 s of expiry: refreshed
		{time.Hour, 2},                  // the new token is good for an hour
	}
	for _, st := range steps {
		skew.Store(int64(st.at))
		if got := get(t, s.client, s.api.URL+"/fhir/Patient"); got != http.StatusOK {
			t.Fatalf("at +%v: status %d", st.at, got)
		}
		if got := s.tokens.Count(); got != st.tokens {
			t.Errorf("at +%v: %d token requests, want %d", st.at, got, st.tokens)
		}
	}
}

func TestOAuth2ShortLivedToken(t *testing.T) {
	s := newOAuth2Setup(t, nil, func(ts *tokenServer) { ts.expiresIn = 20 })
	var skew atomic.Int64
	s.tr.tokens.now = func() time.Time { return time.Now().Add(time.Duration(skew.Load())) }
	get(t, s.client, s.api.URL+"/fhir/Patient")
	get(t, s.client, s.api.URL+"/fhir/Patient")
	if got := s.tokens.Count(); got != 1 {
		t.Errorf("a 20 s token: %d token requests, want 1 (reused for half its life)", got)
	}
	skew.Store(int64(11 * time.Second))
	get(t, s.client, s.api.URL+"/fhir/Patient")
	if got := s.tokens.Count(); got != 2 {
		t.Errorf("after 11 s: %d token requests, want 2", got)
	}
}

func TestOAuth2NoExpiresIn(t *testing.T) {
	s := newOAuth2Setup(t, nil, func(ts *tokenServer) { ts.expiresIn = 0 })
	for range 3 {
		get(t, s.client, s.api.URL+"/fhir/Patient")
	}
	if got := s.tokens.Count(); got != 1 {
		t.Errorf("%d token requests, want 1", got)
	}
}

func TestOAuth2RetryAfter401(t *testing.T) {
	s := newOAuth2Setup(t, nil)
	if status, _ := s.post(t, `{"n":1}`); status != http.StatusOK {
		t.Fatalf("status %d, want 200", status)
	}
	s.tokens.Revoke() // the API now refuses at-1

	status, echoed := s.post(t, `{"n":2}`)
	if status != http.StatusOK || echoed != `{"n":2}` {
		t.Errorf("after revocation: %d %q, want 200 with the body", status, echoed)
	}
	if got := s.tokens.Count(); got != 2 {
		t.Errorf("%d token requests, want 2", got)
	}
	reqs := s.api.Requests()
	if len(reqs) != 3 {
		t.Fatalf("%d API requests, want 3", len(reqs))
	}
	refused, retried := reqs[1], reqs[2]
	if refused.Authorization != "Bearer at-1" || retried.Authorization != "Bearer at-2" {
		t.Errorf("Authorization %q then %q, want at-1 then at-2", refused.Authorization, retried.Authorization)
	}
	if refused.Body != `{"n":2}` || retried.Body != `{"n":2}` || retried.Method != http.MethodPost {
		t.Errorf("bodies %q then %q (%s), want the same POST body twice", refused.Body, retried.Body, retried.Method)
	}
}

func TestOAuth2Second401(t *testing.T) {
	s := newOAuth2Setup(t, nil)
	s.api.set(func(as *apiServer) { as.refuseAll = true })
	status, body := s.post(t, `{"n":1}`)
	if status != http.StatusUnauthorized || !strings.Contains(body, "OperationOutcome") {
		t.Errorf("%d %q, want the API's second 401 as it is", status, body)
	}
	if got := len(s.api.Requests()); got != 2 {
		t.Errorf("%d API requests, want 2 (one retry)", got)
	}
	if got := s.tokens.Count(); got != 2 {
		t.Errorf("%d token requests, want 2 (one refresh)", got)
	}
}

func TestOAuth2NoRetryWithoutGetBody(t *testing.T) {
	s := newOAuth2Setup(t, nil)
	s.api.set(func(as *apiServer) { as.refuseAll = true })
	// A body http.NewRequest cannot replay: no GetBody.
	req, _ := http.NewRequest(http.MethodPost, s.api.URL+"/fhir/Patient", io.MultiReader(strings.NewReader(`{"n":1}`)))
	resp, err := s.client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("status %d, want 401", resp.StatusCode)
	}
	if got := len(s.api.Requests()); got != 1 {
		t.Errorf("%d API requests, want 1", got)
	}
}

func TestOAuth2InvalidClient(t *testing.T) {
	ts := newTokenServer(t, testClientID, "the-right-secret", func(ts *tokenServer) { ts.echo = true })
	api := newAPIServer(t, ts)
	c := newTestClient(t, connector.Config{
		Endpoint: api.URL,
		Auth:     &connector.Auth{Scheme: "oauth2", ClientID: testClientID, ClientSecret: testClientSecret, TokenURL: ts.TokenURL()},
	})

	err := Prefetch(context.Background(), c)
	var te *TokenError
	if !errors.As(err, &te) || te.StatusCode != http.StatusUnauthorized || te.Code != "invalid_client" || te.Scheme != "oauth2" {
		t.Fatalf("Prefetch = %#v, want a 401 invalid_client *TokenError", err)
	}
	if want := "oauth2 token endpoint answered 401 Unauthorized: invalid_client"; err.Error() != want {
		t.Errorf("error %q, want %q", err, want)
	}

	_, err = c.Get(api.URL + "/fhir/Patient")
	if !errors.As(err, &te) {
		t.Fatalf("GET = %v, want a *TokenError", err)
	}
	if strings.Contains(err.Error(), testClientSecret) || strings.Contains(err.Error(), "you sent") {
		t.Errorf("error %q holds what the token server echoed", err)
	}
	if n := len(api.Requests()); n != 0 {
		t.Errorf("the API got %d requests without a token", n)
	}
}

func TestOAuth2TokenEndpointFailures(t *testing.T) {
	tests := []struct {
		name string
		fail tokenFailure
		want string
		is   error
	}{
		{"server error page", tokenFailure{Status: http.StatusServiceUnavailable, Body: "<html>down</html>"}, "oauth2 token endpoint answered 503 Service Unavailable", nil},
		{"invalid scope", tokenFailure{Status: http.StatusBadRequest, Code: "invalid_scope"}, "oauth2 token endpoint answered 400 Bad Request: invalid_scope", nil},
		{"odd code", tokenFailure{Status: http.StatusBadRequest, Code: `he said "no"`}, "oauth2 token endpoint answered 400 Bad Request", nil},
		{"not a token", tokenFailure{Status: http.StatusOK, Body: "<html>login</html>"}, "oauth2 token request: " + ErrTokenResponse.Error(), ErrTokenResponse},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newOAuth2Setup(t, nil)
			s.tokens.Fail(&tt.fail)
			err := s.tr.Prefetch(context.Background())
			if err == nil || err.Error() != tt.want {
				t.Errorf("Prefetch = %v, want %q", err, tt.want)
			}
			if tt.is != nil && !errors.Is(err, tt.is) {
				t.Errorf("Prefetch = %v, want one wrapping %v", err, tt.is)
			}
			// Failures are not kept: the next request tries again.
			s.tokens.Fail(nil)
			if err := s.tr.Prefetch(context.Background()); err != nil {
				t.Errorf("Prefetch after recovery = %v", err)
			}
		})
	}
}

func TestOAuth2TokenEndpointRedirectNotFollowed(t *testing.T) {
	elsewhere := newTokenServer(t, testClientID, testClientSecret)
	redirector := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, elsewhere.TokenURL(), http.StatusTemporaryRedirect)
	}))
	defer redirector.Close()
	c := newTestClient(t, connector.Config{Auth: &connector.Auth{Scheme: "oauth2", ClientID: testClientID, ClientSecret: testClientSecret, TokenURL: redirector.URL + "/token"}})
	var te *TokenError
	if err := Prefetch(context.Background(), c); !errors.As(err, &te) || te.StatusCode != http.StatusTemporaryRedirect {
		t.Errorf("Prefetch = %v, want the 307 as a *TokenError", err)
	}
	if n := elsewhere.Count(); n != 0 {
		t.Errorf("the redirect target got %d token requests", n)
	}
}

func TestPrefetchKeepsToken(t *testing.T) {
	s := newOAuth2Setup(t, nil)
	if err := Prefetch(context.Background(), s.client); err != nil {
		t.Fatal(err)
	}
	get(t, s.client, s.api.URL+"/fhir/Patient")
	if got := s.tokens.Count(); got != 1 {
		t.Errorf("%d token requests, want 1", got)
	}
}

func TestTokenWaiters(t *testing.T) {
	t.Run("a waiter leaves when its context ends", func(t *testing.T) {
		s := newOAuth2Setup(t, nil, func(ts *tokenServer) { ts.delay = 300 * time.Millisecond })
		done := make(chan error, 1)
		go func() { done <- s.tr.Prefetch(context.Background()) }()
		time.Sleep(50 * time.Millisecond) // the leader's request is in flight
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
		defer cancel()
		began := time.Now()
		err := s.tr.Prefetch(ctx)
		if !errors.Is(err, context.DeadlineExceeded) || time.Since(began) > 200*time.Millisecond {
			t.Errorf("waiter: %v after %v, want its deadline at once", err, time.Since(began))
		}
		if err := <-done; err != nil {
			t.Errorf("leader: %v", err)
		}
	})
	t.Run("waiters carry on when the leader gives up", func(t *testing.T) {
		s := newOAuth2Setup(t, nil, func(ts *tokenServer) { ts.delay = 100 * time.Millisecond })
		ctx, cancel := context.WithCancel(context.Background())
		leader := make(chan error, 1)
		go func() { leader <- s.tr.Prefetch(ctx) }()
		time.Sleep(30 * time.Millisecond)
		waiter := make(chan error, 1)
		go func() { waiter <- s.tr.Prefetch(context.Background()) }()
		time.Sleep(20 * time.Millisecond)
		cancel()
		if err := <-leader; !errors.Is(err, context.Canceled) {
			t.Errorf("leader: %v, want context.Canceled", err)
		}
		if err := <-waiter; err != nil {
			t.Errorf("waiter: %v, want a token", err)
		}
	})
}
