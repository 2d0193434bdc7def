package gateway

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/labstack/echo/v4"
)

// syncBuffer is a bytes.Buffer safe for the server's goroutines and the test.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

// String returns everything written so far.
func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// lines returns every JSON log line written so far.
func (b *syncBuffer) lines(t *testing.T) []map[string]any {
	t.Helper()
	b.mu.Lock()
	defer b.mu.Unlock()
	var out []map[string]any
	for _, line := range strings.Split(strings.TrimSpace(b.buf.String()), "\n") {
		if line == "" {
			continue
		}
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Fatalf("log line is not JSON: %q", line)
		}
		out = append(out, m)
	}
	return out
}

// server is a gateway serving on a real listener on 127.0.0.1.
type server struct {
	g      *Gateway
	url    string
	logs   *syncBuffer
	cancel context.CancelFunc
	done   chan error
}

// start builds a gateway, lets setup add test routes, and serves it.
func start(t *testing.T, cfg Config, setup func(e *echo.Echo)) *server {
	t.Helper()
	logs := &syncBuffer{}
	if cfg.DataDir == "" {
		cfg.DataDir = t.TempDir()
	}
	g, err := New(cfg, slog.New(slog.NewJSONHandler(logs, nil)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { g.Close() })
	if setup != nil {
		setup(g.api.(*echo.Echo))
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	s := &server{g: g, url: "http://" + l.Addr().String(), logs: logs, cancel: cancel, done: make(chan error, 1)}
	go func() { s.done <- g.Serve(ctx, l) }()
	t.Cleanup(func() {
		cancel()
		<-s.done
	})
	return s
}

// stop cancels the serving context and returns Serve's error.
func (s *server) stop(t *testing.T) error {
	t.Helper()
	s.cancel()
	select {
	case err := <-s.done:
		s.done <- err // for Cleanup
		return err
	case <-time.After(10 * time.Second):
		t.Fatal("Serve did not return after cancel")
		return nil
	}
}

type response struct {
	status int
	header http.Header
	body   []byte
}

func do(t *testing.T, method, url string, header http.Header) response {
	t.Helper()
	req, err := http.NewRequest(method, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range header {
		req.Header[k] = v
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	body, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	return response{res.StatusCode, res.Header, body}
}

// outcome decodes an OperationOutcome body, failing the test on anything else.
func outcome(t *testing.T, r response) []map[string]any {
	t.Helper()
	if ct := r.header.Get("Content-Type"); ct != "application/fhir+json" {
		t.Errorf("Content-Type = %q, want application/fhir+json", ct)
	}
	var oo struct {
		ResourceType string           `json:"resourceType"`
		Issue        []map[string]any `json:"issue"`
	}
	if err := json.Unmarshal(r.body, &oo); err != nil || oo.ResourceType != "OperationOutcome" || len(oo.Issue) == 0 {
		t.Fatalf("body is not an OperationOutcome with issues: %s", r.body)
	}
	return oo.Issue
}

func TestRoutes(t *testing.T) {
	s := start(t, Config{}, func(e *echo.Echo) {
		e.GET("/test/panic", func(echo.Context) error { panic("boom") })
		e.GET("/test/internal", func(echo.Context) error { return errors.New("disk on fire") })
		e.GET("/test/teapot", func(echo.Context) error { return echo.NewHTTPError(http.StatusTeapot, "short and stout") })
	})
	tests := []struct {
		name     string
		method   string
		path     string
		status   int
		body     string // exact body of a success
		code     string // issue code of an OperationOutcome
		diag     string // part of the issue's diagnostics
		notInDia string // what the diagnostics must not reveal
	}{
		{name: "healthz", method: "GET", path: "/healthz", status: 200, body: `{"status":"ok"}`},
		{name: "readyz", method: "GET", path: "/readyz", status: 200, body: `{"status":"ok"}`},
		{name: "unknown route", method: "GET", path: "/nope?name=Doe", status: 404, code: "not-found", diag: "no endpoint GET /nope", notInDia: "Doe"},
		{name: "unknown nested route", method: "POST", path: "/other/a/b", status: 404, code: "not-found", diag: "no endpoint POST /other/a/b"},
		{name: "management call without the token", method: "GET", path: "/api/external-connectors", status: 401, code: "login", diag: "needs the admin token"},
		{name: "wrong method", method: "DELETE", path: "/healthz", status: 405, code: "not-supported", diag: "method DELETE not allowed on /healthz"},
		{name: "echo error", method: "GET", path: "/test/teapot", status: 418, code: "processing", diag: "short and stout"},
		{name: "internal error", method: "GET", path: "/test/internal", status: 500, code: "exception", diag: "internal error (request ", notInDia: "disk"},
		{name: "panic", method: "GET", path: "/test/panic", status: 500, code: "exception", diag: "internal error", notInDia: "boom"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := do(t, tt.method, s.url+tt.path, nil)
			if r.status != tt.status {
				t.Fatalf("status = %d, want %d; body %s", r.status, tt.status, r.body)
			}
			if r.header.Get("X-Request-Id") == "" {
				t.Error("no X-Request-Id in the response")
			}
			if tt.body != "" {
				if string(r.body) != tt.body {
					t.Errorf("body = %s, want %s", r.body, tt.body)
				}
				return
			}
			issue := outcome(t, r)[0]
			diag, _ := issue["diagnostics"].(string)
			if issue["severity"] != "error" || issue["code"] != tt.code || !strings.Contains(diag, tt.diag) {
				t.Errorf("issue = %v, want error %s with diagnostics containing %q", issue, tt.code, tt.diag)
			}
			if tt.notInDia != "" && strings.Contains(diag, tt.notInDia) {
				t.Errorf("diagnostics %q reveal %q", diag, tt.notInDia)
			}
		})
	}
}

func TestMethodNotAllowedListsAllow(t *testing.T) {
	s := start(t, Config{}, nil)
	r := do(t, "POST", s.url+"/healthz", nil)
	if r.status != http.StatusMethodNotAllowed || !strings.Contains(r.header.Get("Allow"), "GET") {
		t.Errorf("status %d, Allow %q; want 405 with GET allowed", r.status, r.header.Get("Allow"))
	}
}

func TestRequestID(t *testing.T) {
	s := start(t, Config{}, nil)
	tests := []struct {
		name string
		sent string
		kept bool
	}{
		{"kept", "req-42.abc", true},
		{"generated when absent", "", false},
		{"replaced when too long", strings.Repeat("a", maxRequestIDLen+1), false},
		{"replaced when not visible ASCII", "a b", false},
	}
	seen := map[string]bool{}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := http.Header{}
			if tt.sent != "" {
				h.Set("X-Request-Id", tt.sent)
			}
			got := do(t, "GET", s.url+"/healthz", h).header.Get("X-Request-Id")
			switch {
			case tt.kept && got != tt.sent:
				t.Errorf("X-Request-Id = %q, want %q", got, tt.sent)
			case !tt.kept && (got == "" || got == tt.sent || seen[got]):
				t.Errorf("X-Request-Id = %q, want a fresh id", got)
			}
			seen[got] = true
		})
	}
}

// One log line per request with the request id, method, path, status and
// duration; never the query string or the body.
func TestRequestLog(t *testing.T) {
	s := start(t, Config{}, nil)
	h := http.Header{"X-Request-Id": {"log-test-1"}}
	do(t, "GET", s.url+"/nope?family=Doe", h)

	var line map[string]any
	for _, l := range s.logs.lines(t) {
		if l["msg"] == "request" && l["request_id"] == "log-test-1" {
			if line != nil {
				t.Fatal("two log lines for one request")
			}
			line = l
		}
	}
	if line == nil {
		t.Fatal("no request log line")
	}
	if line["method"] != "GET" || line["path"] != "/nope" || line["status"] != float64(404) {
		t.Errorf("log line = %v, want GET /nope 404", line)
	}
	if _, ok := line["duration_ms"].(float64); !ok {
		t.Errorf("log line has no duration_ms: %v", line)
	}
	if strings.Contains(s.logsText(), "Doe") {
		t.Error("the log holds the query string")
	}
}

func (s *server) logsText() string {
	s.logs.mu.Lock()
	defer s.logs.mu.Unlock()
	return s.logs.buf.String()
}

// A request running when the context is cancelled finishes; readiness fails
// meanwhile; Serve then returns nil.
func TestGracefulShutdown(t *testing.T) {
	entered, release := make(chan struct{}), make(chan struct{})
	s := start(t, Config{}, func(e *echo.Echo) {
		e.GET("/test/slow", func(c echo.Context) error {
			close(entered)
			<-release
			return c.String(http.StatusOK, "done")
		})
	})
	type reply struct {
		body string
		err  error
	}
	slow := make(chan reply, 1)
	go func() {
		res, err := http.Get(s.url + "/test/slow")
		if err != nil {
			slow <- reply{err: err}
			return
		}
		defer res.Body.Close()
		body, err := io.ReadAll(res.Body)
		slow <- reply{string(body), err}
	}()
	<-entered

	s.cancel()
	waitFor(t, s.g.draining.Load)
	close(release)

	if r := <-slow; r.err != nil || r.body != "done" {
		t.Errorf("in-flight request got %q, %v; want done", r.body, r.err)
	}
	if err := s.stop(t); err != nil {
		t.Errorf("Serve = %v, want nil", err)
	}
	if _, err := http.Get(s.url + "/healthz"); err == nil {
		t.Error("the listener still accepts after shutdown")
	}
}

// Requests still running at the deadline are cut off and Serve says so.
func TestShutdownDeadline(t *testing.T) {
	entered, release := make(chan struct{}), make(chan struct{})
	defer close(release)
	s := start(t, Config{ShutdownTimeout: 50 * time.Millisecond}, func(e *echo.Echo) {
		e.GET("/test/stuck", func(c echo.Context) error {
			close(entered)
			<-release
			return nil
		})
	})
	go func() {
		if res, err := http.Get(s.url + "/test/stuck"); err == nil {
			res.Body.Close()
		}
	}()
	<-entered
	if err := s.stop(t); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Serve = %v, want context.DeadlineExceeded", err)
	}
}

func TestReadyzWhileDraining(t *testing.T) {
	s := start(t, Config{}, nil)
	s.g.draining.Store(true)
	r := do(t, "GET", s.url+"/readyz", nil)
	if r.status != http.StatusServiceUnavailable || outcome(t, r)[0]["code"] != "transient" {
		t.Errorf("readyz while draining = %d %s, want 503 transient", r.status, r.body)
	}
}

func TestServeOnce(t *testing.T) {
	s := start(t, Config{}, nil)
	do(t, "GET", s.url+"/healthz", nil) // the first Serve is running
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := s.g.Serve(ctx, l); !errors.Is(err, ErrRunning) {
		t.Errorf("second Serve = %v, want ErrRunning", err)
	}
}

func TestRunListenError(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	g, err := New(Config{Addr: l.Addr().String(), DataDir: t.TempDir()}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer g.Close()
	if err := g.Run(context.Background()); err == nil || !strings.Contains(err.Error(), "listen") {
		t.Errorf("Run on a taken port = %v, want a listen error", err)
	}
}

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not met within 5s")
		}
		time.Sleep(5 * time.Millisecond)
	}
}
