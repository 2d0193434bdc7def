package adaptertest

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync"
	"testing"
	"time"
)

// Server is a plain JSON REST API for tests (an httptest.Server) that
// implements Target. It accepts everything: POST gets 201 with {"id":
// "n"}, PUT and GET get 200 with {}, DELETE gets 204. It records every
// request. Safe for concurrent use.
type Server struct {
	ts     *httptest.Server
	closed chan struct{} // closed on cleanup: pending delays end

	mu         sync.Mutex
	failN      int
	failStatus int
	retryAfter string
	delay      time.Duration
	reqs       []Request
	lastID     int
}

// Request is one request a Server received.
type Request struct {
	Method string
	URI    string // as sent: "/records/Appointment/A1?x=1"
	Header http.Header
	Body   []byte
}

// maxBody bounds the request body a Server keeps.
const maxBody = 1 << 20

// StartServer starts a Server on 127.0.0.1, closed when t ends.
func StartServer(t testing.TB) *Server {
	t.Helper()
	s := &Server{closed: make(chan struct{})}
	s.ts = httptest.NewServer(http.HandlerFunc(s.serve))
	t.Cleanup(func() {
		close(s.closed)
		s.ts.Close()
	})
	return s
}

// URL is the server's root: "http://127.0.0.1:PORT".
func (s *Server) URL() string { return s.ts.URL }

// FailNext makes the next n requests fail with status, an OperationOutcome
// body and, when retryAfter is not "", a Retry-After header.
func (s *Server) FailNext(n, status int, retryAfter string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.failN, s.failStatus, s.retryAfter = max(n, 0), status, retryAfter
}

// SetDelay makes every request wait d before it is answered, or until the
// client gives up.
func (s *Server) SetDelay(d time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.delay = d
}

// Requests returns every request received so far, oldest first.
func (s *Server) Requests() []Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Request, len(s.reqs))
	for i, r := range s.reqs {
		r.Header = r.Header.Clone()
		r.Body = append([]byte(nil), r.Body...)
		out[i] = r
	}
	return out
}

// Headers returns the headers of every request received so far.
func (s *Server) Headers() []http.Header {
	reqs := s.Requests()
	out := make([]http.Header, len(reqs))
	for i, r := range reqs {
		out[i] = r.Header
	}
	return out
}

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(io.LimitReader(r.Body, maxBody))
	s.mu.Lock()
	s.reqs = append(s.reqs, Request{Method: r.Method, URI: r.RequestURI, Header: r.Header.Clone(), Body: body})
	delay := s.delay
	s.mu.Unlock()

	if delay > 0 {
		timer := time.NewTimer(delay)
		defer timer.Stop()
		select {
		case <-timer.C:
		case <-s.closed:
		case <-r.Context().Done():
			return
		}
	}

	s.mu.Lock()
	fail, status, retryAfter := s.failN > 0, s.failStatus, s.retryAfter
	if fail {
		s.failN--
	}
	s.lastID++
	id := s.lastID
	s.mu.Unlock()

	w.Header().Set("Content-Type", "application/json")
	switch {
	case fail:
		if retryAfter != "" {
			w.Header().Set("Retry-After", retryAfter)
		}
		w.WriteHeader(status)
		fmt.Fprintf(w, `{"resourceType":"OperationOutcome","issue":[{"severity":"error","code":"processing","diagnostics":%q}]}`,
			"injected failure: "+http.StatusText(status))
	case r.Method == http.MethodPost:
		w.WriteHeader(http.StatusCreated)
		fmt.Fprintf(w, `{"id":%q}`, strconv.Itoa(id))
	case r.Method == http.MethodDelete:
		w.WriteHeader(http.StatusNoContent)
	default:
		_, _ = io.WriteString(w, "{}")
	}
}
