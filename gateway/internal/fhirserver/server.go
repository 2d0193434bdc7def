package fhirserver

import (
	"context"
	"net"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/liaisonhq/liaison/fhir"
)

// BasePath is the path of the FHIR base on the server's host: a server
// listening at http://127.0.0.1:PORT serves FHIR at
// http://127.0.0.1:PORT/fhir. Requests outside it get a 404.
const BasePath = "/fhir"

// maxBody bounds a request body; a larger one gets a 413.
const maxBody = 8 << 20

// Server is an in-memory FHIR R4 server. Its zero value is not usable:
// make one with New (and serve it yourself) or Start. All methods are safe
// for concurrent use.
type Server struct {
	mu     sync.Mutex
	types  map[string]*typeStore // by resource type
	nextID int                   // the last id the server assigned
	faults faults
	log    requestLog

	url       string        // set by Start
	closed    chan struct{} // closed by Close: pending delays end
	closeOnce sync.Once
}

// New returns an empty server with no faults. Serve it with any
// net/http server, e.g. httptest.NewServer(fhirserver.New()); its FHIR base
// is then that server's URL + BasePath.
func New() *Server {
	return &Server{
		types:  make(map[string]*typeStore),
		log:    requestLog{counts: make(map[string]int)},
		closed: make(chan struct{}),
	}
}

// TB is the part of testing.TB that Start uses: a test, or anything that
// runs clean-ups and can fail (the demo). It keeps package testing out of
// the binaries that use this server.
type TB interface {
	Helper()
	Fatalf(format string, args ...any)
	Cleanup(func())
}

// Start returns a new server listening on 127.0.0.1 on a free port. It is
// shut down, and its connections closed, when the test and its subtests
// end. A failure to listen fails the test at once.
func Start(t TB) *Server {
	t.Helper()
	s := New()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("fhirserver: listen: %v", err)
	}
	s.url = "http://" + l.Addr().String() + BasePath
	hs := &http.Server{Handler: s, ReadHeaderTimeout: 10 * time.Second}
	served := make(chan struct{})
	go func() {
		defer close(served)
		_ = hs.Serve(l) // http.ErrServerClosed once shut down
	}()
	t.Cleanup(func() {
		s.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := hs.Shutdown(ctx); err != nil {
			_ = hs.Close()
		}
		<-served
	})
	return s
}

// URL returns the FHIR base of a server made by Start, without a trailing
// slash: "http://127.0.0.1:PORT/fhir". It is "" for a server made by New.
func (s *Server) URL() string { return s.url }

// Close ends every pending SetDelay wait, so that a server being shut down
// is not held up by it; requests that arrive later are not delayed. Start
// calls it on cleanup. It may be called more than once.
func (s *Server) Close() {
	s.closeOnce.Do(func() { close(s.closed) })
}

// ServeHTTP answers one FHIR request, after the faults set on the server.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	down, delay := s.faults.down, s.faults.delay
	s.mu.Unlock()
	if down {
		s.record(r, 0)
		hangUp(w)
		return
	}
	if delay > 0 && !s.wait(r.Context(), delay) {
		s.record(r, 0) // the client gave up: nothing is answered
		return
	}
	a, faulted := s.injected()
	if !faulted {
		a = s.route(r)
	}
	s.record(r, a.status)
	write(w, a)
}

// wait sleeps for d, and reports false when the request ended first.
func (s *Server) wait(ctx context.Context, d time.Duration) bool {
	timer := time.NewTimer(d)
	defer timer.Stop()
	select {
	case <-timer.C:
		return true
	case <-s.closed:
		return true
	case <-ctx.Done():
		return false
	}
}

// hangUp closes the request's connection without an answer: the client
// sees a connection reset. Without a connection to take over (a
// ResponseRecorder) it aborts the handler, which net/http turns into a
// closed connection too.
func hangUp(w http.ResponseWriter) {
	hj, ok := w.(http.Hijacker)
	if !ok {
		panic(http.ErrAbortHandler)
	}
	conn, _, err := hj.Hijack()
	if err != nil {
		panic(http.ErrAbortHandler)
	}
	if tcp, ok := conn.(*net.TCPConn); ok {
		_ = tcp.SetLinger(0) // a reset rather than an orderly close
	}
	_ = conn.Close()
}

// answer is one response: status, extra headers and an optional body.
type answer struct {
	status int
	header http.Header
	body   fhir.Resource // nil for no body
}

// write sends a. A body that cannot be encoded (never for what this
// package stores) becomes a 500.
func write(w http.ResponseWriter, a answer) {
	h := w.Header()
	for k, v := range a.header {
		h[k] = v
	}
	if a.body == nil {
		w.WriteHeader(a.status)
		return
	}
	b, err := fhir.EncodeJSON(a.body)
	if err != nil {
		a.status = http.StatusInternalServerError
		b = []byte(`{"resourceType":"OperationOutcome","issue":[{"severity":"error","code":"exception","diagnostics":"cannot encode the answer"}]}`)
	}
	h.Set("Content-Type", mimeFHIRJSON+";charset=utf-8")
	h.Set("Content-Length", strconv.Itoa(len(b)))
	w.WriteHeader(a.status)
	_, _ = w.Write(b)
}

const mimeFHIRJSON = "application/fhir+json"

// outcome is an answer holding one OperationOutcome issue.
func outcome(status int, code fhir.IssueType, diagnostics string) answer {
	sev := fhir.SeverityError
	if status < 400 {
		sev = fhir.SeverityInformation
	}
	return answer{status: status, body: fhir.Outcome(fhir.Issue{Severity: sev, Code: code, Diagnostics: diagnostics})}
}

// issues is an answer holding the issues.
func issues(status int, is fhir.Issues) answer {
	return answer{status: status, body: fhir.Outcome(is...)}
}
