package auth

import (
	"context"
	"encoding/base64"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"

	"go.uber.org/goleak"

	"github.com/liaisonhq/liaison/gateway/connector"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// recorder is an HTTP server that keeps the requests it gets and answers
// 204.
type recorder struct {
	*httptest.Server
	mu   sync.Mutex
	reqs []*http.Request
}

func newRecorder(t *testing.T) *recorder {
	t.Helper()
	rec := &recorder{}
	rec.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rec.mu.Lock()
		rec.reqs = append(rec.reqs, r.Clone(context.Background()))
		rec.mu.Unlock()
		w.WriteHeader(http.StatusNoContent)
	}))
	t.Cleanup(rec.Close)
	return rec
}

func (rec *recorder) Requests() []*http.Request {
	rec.mu.Lock()
	defer rec.mu.Unlock()
	return append([]*http.Request(nil), rec.reqs...)
}

// newTestClient returns NewClient(cfg, nil), its idle connections closed
// with the test.
func newTestClient(t *testing.T, cfg connector.Config) *http.Client {
	t.Helper()
	c, err := NewClient(cfg, nil)
	if err != nil {
		t.Fatalf("NewClient: %v", err)
	}
	t.Cleanup(c.CloseIdleConnections)
	return c
}

// get sends GET url with c and returns the status, failing the test on
// an error.
func get(t *testing.T, c *http.Client, url string) int {
	t.Helper()
	resp, err := c.Get(url)
	if err != nil {
		t.Fatalf("GET: %v", err)
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode
}

func TestStaticSchemes(t *testing.T) {
	t.Setenv("LIAISON_TEST_API_KEY", "k-from-env")
	tests := []struct {
		name  string
		auth  *connector.Auth
		path  string // request path and query
		check func(t *testing.T, r *http.Request)
	}{
		{
			name: "nil auth",
			check: func(t *testing.T, r *http.Request) {
				if h := r.Header.Get("Authorization"); h != "" {
					t.Errorf("Authorization = %q, want none", h)
				}
			},
		},
		{
			name: "none",
			auth: &connector.Auth{Scheme: "none"},
			check: func(t *testing.T, r *http.Request) {
				if len(r.Header.Values("Authorization"))+len(r.Header.Values("X-API-Key")) != 0 {
					t.Errorf("headers %v carry a credential", r.Header)
				}
			},
		},
		{
			name: "apikey default header",
			auth: &connector.Auth{Scheme: "apikey", Key: "k-123"},
			check: func(t *testing.T, r *http.Request) {
				if got := r.Header.Get("X-API-Key"); got != "k-123" {
					t.Errorf("X-API-Key = %q, want k-123", got)
				}
			},
		},
		{
			name: "apikey named header from env",
			auth: &connector.Auth{Scheme: "API-Key", Key: "env:LIAISON_TEST_API_KEY", Header: "Ocp-Apim-Subscription-Key"},
			check: func(t *testing.T, r *http.Request) {
				if got := r.Header.Get("Ocp-Apim-Subscription-Key"); got != "k-from-env" {
					t.Errorf("Ocp-Apim-Subscription-Key = %q, want k-from-env", got)
				}
				if got := r.Header.Get("X-API-Key"); got != "" {
					t.Errorf("X-API-Key = %q, want none", got)
				}
			},
		},
		{
			name: "apikey query",
			auth: &connector.Auth{Scheme: "apikey", Key: "k&=?", Query: "api_key"},
			path: "/Patient?name=a%20b&_count=5",
			check: func(t *testing.T, r *http.Request) {
				if got, want := r.URL.RawQuery, "name=a%20b&_count=5&api_key=k%26%3D%3F"; got != want {
					t.Errorf("query = %q, want %q", got, want)
				}
				if got := r.URL.Query().Get("api_key"); got != "k&=?" {
					t.Errorf("api_key = %q, want k&=?", got)
				}
			},
		},
		{
			name: "apikey query replaces",
			auth: &connector.Auth{Scheme: "apikey", Key: "right", Query: "key"},
			path: "/x?key=wrong",
			check: func(t *testing.T, r *http.Request) {
				if got := r.URL.Query()["key"]; len(got) != 1 || got[0] != "right" {
					t.Errorf("key = %q, want [right]", got)
				}
			},
		},
		{
			name: "basic",
			auth: &connector.Auth{Scheme: "basic", Username: "svc", Password: "pa:ss wörd"},
			check: func(t *testing.T, r *http.Request) {
				want := "Basic " + base64.StdEncoding.EncodeToString([]byte("svc:pa:ss wörd"))
				if got := r.Header.Get("Authorization"); got != want {
					t.Errorf("Authorization = %q, want %q", got, want)
				}
			},
		},
		{
			name: "bearer",
			auth: &connector.Auth{Scheme: "Bearer", Token: "t-abc"},
			check: func(t *testing.T, r *http.Request) {
				if got := r.Header.Get("Authorization"); got != "Bearer t-abc" {
					t.Errorf("Authorization = %q, want Bearer t-abc", got)
				}
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := newRecorder(t)
			c := newTestClient(t, connector.Config{Name: "c", Type: connector.REST, Endpoint: rec.URL, Auth: tt.auth})
			if c.Timeout != 0 {
				t.Errorf("Timeout = %v, want 0", c.Timeout)
			}
			path := tt.path
			if path == "" {
				path = "/Patient"
			}
			req, _ := http.NewRequest(http.MethodGet, rec.URL+path, nil)
			req.Header.Set("Accept", "application/json")
			before := req.URL.String()
			resp, err := c.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if req.URL.String() != before || req.Header.Get("Authorization") != "" || len(req.Header) != 1 {
				t.Errorf("the caller's request was modified: %s %v", req.URL, req.Header)
			}
			reqs := rec.Requests()
			if len(reqs) != 1 {
				t.Fatalf("%d requests, want 1", len(reqs))
			}
			tt.check(t, reqs[0])
		})
	}
}

func TestNewClientErrors(t *testing.T) {
	t.Setenv("LIAISON_TEST_EMPTY", "")
	tests := []struct {
		name  string
		cfg   connector.Config
		field string
		is    error
	}{
		{"unknown scheme", connector.Config{Auth: &connector.Auth{Scheme: "kerberos"}}, "auth.scheme", ErrUnknownScheme},
		{"apikey without key", connector.Config{Auth: &connector.Auth{Scheme: "apikey"}}, "auth.key", connector.ErrRequired},
		{"apikey header and query", connector.Config{Auth: &connector.Auth{Scheme: "apikey", Key: "k", Header: "X-K", Query: "k"}}, "auth.query", nil},
		{"apikey bad header", connector.Config{Auth: &connector.Auth{Scheme: "apikey", Key: "k", Header: "X K"}}, "auth.header", nil},
		{"apikey newline", connector.Config{Auth: &connector.Auth{Scheme: "apikey", Key: "k\n"}}, "auth.key", nil},
		{"basic unset env", connector.Config{Auth: &connector.Auth{Scheme: "basic", Username: "u", Password: "env:LIAISON_TEST_UNSET_VAR"}}, "auth.password", connector.ErrSecretNotSet},
		{"basic empty env", connector.Config{Auth: &connector.Auth{Scheme: "basic", Username: "u", Password: "env:LIAISON_TEST_EMPTY"}}, "auth.password", connector.ErrSecretEmpty},
		{"basic colon", connector.Config{Auth: &connector.Auth{Scheme: "basic", Username: "u:v", Password: "p"}}, "auth.username", nil},
		{"bearer missing file", connector.Config{Auth: &connector.Auth{Scheme: "bearer", Token: "file:" + t.TempDir() + "/none"}}, "auth.token", nil},
		{"oauth2 without clientId", connector.Config{Auth: &connector.Auth{Scheme: "oauth2", ClientSecret: "s", TokenURL: "https://x/token"}}, "auth.clientId", connector.ErrRequired},
		{"oauth2 bad tokenUrl", connector.Config{Auth: &connector.Auth{Scheme: "oauth2", ClientID: "c", ClientSecret: "s", TokenURL: "/token"}}, "auth.tokenUrl", nil},
		{"oauth2 no tokenUrl for rest", connector.Config{Type: connector.REST, Endpoint: "https://x/api", Auth: &connector.Auth{Scheme: "oauth2", ClientID: "c", ClientSecret: "s"}}, "auth.tokenUrl", connector.ErrRequired},
		{"oauth2 no endpoint to discover", connector.Config{Type: connector.FHIR, Auth: &connector.Auth{Scheme: "oauth2", ClientID: "c", ClientSecret: "s"}}, "endpoint", nil},
		{"mtls without certificate", connector.Config{Auth: &connector.Auth{Scheme: "mtls", PrivateKey: "k"}}, "auth.certificate", connector.ErrRequired},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := NewClient(tt.cfg, nil)
			var fe *connector.FieldError
			if !errors.As(err, &fe) {
				t.Fatalf("err = %v, want a *connector.FieldError", err)
			}
			if fe.Field != tt.field {
				t.Errorf("field = %q, want %q (%v)", fe.Field, tt.field, err)
			}
			if tt.is != nil && !errors.Is(err, tt.is) {
				t.Errorf("err = %v, want one wrapping %v", err, tt.is)
			}
		})
	}
}

func TestRedirects(t *testing.T) {
	other := newRecorder(t)
	var api *httptest.Server
	api = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/away":
			http.Redirect(w, r, other.URL+"/stolen", http.StatusTemporaryRedirect)
		case "/moved":
			http.Redirect(w, r, api.URL+"/here", http.StatusTemporaryRedirect)
		case "/here":
			if r.Header.Get("Authorization") != "Bearer t" {
				w.WriteHeader(http.StatusUnauthorized)
			}
		}
	}))
	defer api.Close()
	c := newTestClient(t, connector.Config{Auth: &connector.Auth{Scheme: "bearer", Token: "t"}})

	if got := get(t, c, api.URL+"/moved"); got != http.StatusOK {
		t.Errorf("same-origin redirect: status %d, want 200 with the credential", got)
	}
	if got := get(t, c, api.URL+"/away"); got != http.StatusTemporaryRedirect {
		t.Errorf("cross-origin redirect: status %d, want the 307 itself", got)
	}
	if n := len(other.Requests()); n != 0 {
		t.Errorf("the other origin got %d requests, want none", n)
	}
}

func TestPrefetchNoToken(t *testing.T) {
	rec := newRecorder(t)
	c := newTestClient(t, connector.Config{Endpoint: rec.URL, Auth: &connector.Auth{Scheme: "bearer", Token: "t"}})
	if err := Prefetch(context.Background(), c); err != nil {
		t.Errorf("Prefetch = %v, want nil", err)
	}
	if err := Prefetch(context.Background(), http.DefaultClient); err != nil {
		t.Errorf("Prefetch(DefaultClient) = %v, want nil", err)
	}
	if n := len(rec.Requests()); n != 0 {
		t.Errorf("%d requests, want none", n)
	}
}
