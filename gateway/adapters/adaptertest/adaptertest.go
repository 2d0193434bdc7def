// Package adaptertest is the conformance suite every HTTP connector
// adapter passes: what it returns for each kind of answer, how it treats
// timeouts and idempotency keys, and that its errors never show the
// payload.
//
//	func TestConformance(t *testing.T) {
//		adaptertest.Run(t, adaptertest.Factory{
//			Target: func(t *testing.T) (adaptertest.Target, string) {
//				srv := adaptertest.StartServer(t)
//				return srv, srv.URL() + "/records"
//			},
//			New: func(cfg connector.Config, c *http.Client) (outbox.Sender, error) { return rest.New(cfg, c) },
//			Config:  connector.Config{Name: "conformance", Type: connector.REST},
//			Message: msg,
//			Secrets: []string{"Jane"},
//		})
//	}
//
// Each case gets a target of its own; cases run in parallel.
package adaptertest

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/liaisonhq/liaison/gateway/connector"
	"github.com/liaisonhq/liaison/gateway/outbox"
)

// Target is the system an adapter delivers to, with the faults the suite
// injects. *Server is one; a FHIR server for tests is another.
type Target interface {
	// FailNext makes the next n requests fail with status and an
	// OperationOutcome body, and a Retry-After header when retryAfter is
	// not "".
	FailNext(n, status int, retryAfter string)
	// SetDelay makes every request wait d before it is answered, or until
	// the client gives up.
	SetDelay(d time.Duration)
	// Headers returns the headers of every request received so far,
	// oldest first.
	Headers() []http.Header
}

// Factory is what Run needs to test one adapter.
type Factory struct {
	// Target starts a fresh target for one case, stopped when t ends, and
	// returns it with the connector endpoint that reaches it.
	Target func(t *testing.T) (Target, string)
	// New makes the adapter for cfg, delivering with client.
	New func(cfg connector.Config, client *http.Client) (outbox.Sender, error)
	// Config is the connector; Run sets its Endpoint.
	Config connector.Config
	// Message is an upsert the target accepts with a 2xx. Run sets its
	// IdempotencyKey and Attempt.
	Message outbox.Message
	// Secrets are values in Message.Body (patient data) that no error may
	// show, nor the body itself.
	Secrets []string
}

// Run runs the conformance suite for the adapter f makes.
func Run(t *testing.T, f Factory) {
	t.Helper()
	cases := []struct {
		name string
		run  func(t *testing.T, f Factory)
	}{
		{"Accepted", testAccepted},
		{"Status", testStatus},
		{"RetryAfterSeconds", testRetryAfterSeconds},
		{"RetryAfterDate", testRetryAfterDate},
		{"RetryAfterMalformed", testRetryAfterMalformed},
		{"ConnectionRefused", testConnectionRefused},
		{"Timeout", testTimeout},
		{"Canceled", testCanceled},
		{"IdempotencyKey", testIdempotencyKey},
		{"Concurrent", testConcurrent},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			c.run(t, f)
		})
	}
}

// setup starts a target and makes the adapter for it, with a client of
// its own whose idle connections are closed when t ends.
func setup(t *testing.T, f Factory) (Target, outbox.Sender, outbox.Message) {
	t.Helper()
	target, endpoint := f.Target(t)
	return target, adapter(t, f, endpoint), message(f, t.Name())
}

func adapter(t *testing.T, f Factory, endpoint string) outbox.Sender {
	t.Helper()
	tr := &http.Transport{}
	t.Cleanup(tr.CloseIdleConnections)
	cfg := f.Config
	cfg.Endpoint = endpoint
	s, err := f.New(cfg, &http.Client{Transport: tr})
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return s
}

func message(f Factory, name string) outbox.Message {
	m := f.Message
	m.IdempotencyKey = "idem-" + strings.NewReplacer("/", "-", " ", "-").Replace(name)
	m.Attempt = 1
	return m
}

// sendError asserts that err is a *outbox.SendError with the status and
// that it shows no payload.
func sendError(t *testing.T, f Factory, m outbox.Message, err error, status int) *outbox.SendError {
	t.Helper()
	var se *outbox.SendError
	if !errors.As(err, &se) {
		t.Fatalf("Send: got %T %v, want a *outbox.SendError", err, err)
	}
	if se.Status != status {
		t.Errorf("Status = %d, want %d (err %v)", se.Status, status, err)
	}
	if se.Err == nil {
		t.Error("SendError without Err")
	}
	if se.Permanent {
		t.Error("Permanent set for a deliverable message")
	}
	msg := err.Error()
	for _, s := range f.Secrets {
		if strings.Contains(msg, s) {
			t.Errorf("error shows payload value %q: %s", s, msg)
		}
	}
	if len(m.Body) > 0 && strings.Contains(msg, string(m.Body)) {
		t.Errorf("error shows the body: %s", msg)
	}
	return se
}

func testAccepted(t *testing.T, f Factory) {
	target, s, m := setup(t, f)
	if err := s.Send(context.Background(), m); err != nil {
		t.Fatalf("Send: %v", err)
	}
	if n := len(target.Headers()); n != 1 {
		t.Errorf("%d requests, want 1", n)
	}
}

func testStatus(t *testing.T, f Factory) {
	for _, status := range []int{400, 401, 403, 404, 405, 409, 410, 412, 415, 422, 408, 429, 500, 502, 503, 504} {
		t.Run(http.StatusText(status), func(t *testing.T) {
			t.Parallel()
			target, s, m := setup(t, f)
			target.FailNext(1, status, "")
			se := sendError(t, f, m, s.Send(context.Background(), m), status)
			if se.RetryAfter != 0 {
				t.Errorf("RetryAfter = %v without a Retry-After header", se.RetryAfter)
			}
			if !strings.Contains(string(se.Response), `"OperationOutcome"`) {
				t.Errorf("Response = %q, want the OperationOutcome answered", se.Response)
			}
		})
	}
}

func testRetryAfterSeconds(t *testing.T, f Factory) {
	target, s, m := setup(t, f)
	target.FailNext(1, http.StatusServiceUnavailable, "7")
	se := sendError(t, f, m, s.Send(context.Background(), m), http.StatusServiceUnavailable)
	if se.RetryAfter != 7*time.Second {
		t.Errorf("RetryAfter = %v, want 7s", se.RetryAfter)
	}
}

func testRetryAfterDate(t *testing.T, f Factory) {
	target, s, m := setup(t, f)
	target.FailNext(1, http.StatusTooManyRequests, time.Now().Add(30*time.Second).UTC().Format(http.TimeFormat))
	se := sendError(t, f, m, s.Send(context.Background(), m), http.StatusTooManyRequests)
	if se.RetryAfter < 25*time.Second || se.RetryAfter > 31*time.Second {
		t.Errorf("RetryAfter = %v, want about 30s", se.RetryAfter)
	}
}

func testRetryAfterMalformed(t *testing.T, f Factory) {
	target, s, m := setup(t, f)
	target.FailNext(1, http.StatusServiceUnavailable, "soon")
	se := sendError(t, f, m, s.Send(context.Background(), m), http.StatusServiceUnavailable)
	if se.RetryAfter != 0 {
		t.Errorf("RetryAfter = %v for a malformed header, want 0", se.RetryAfter)
	}
}

func testConnectionRefused(t *testing.T, f Factory) {
	_, endpoint := f.Target(t)
	u, err := url.Parse(endpoint)
	if err != nil {
		t.Fatal(err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	u.Host = l.Addr().String()
	_ = l.Close() // nothing listens there now
	s, m := adapter(t, f, u.String()), message(f, t.Name())
	start := time.Now()
	sendError(t, f, m, s.Send(context.Background(), m), 0)
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("took %v to find nothing listening", d)
	}
}

func testTimeout(t *testing.T, f Factory) {
	target, s, m := setup(t, f)
	target.SetDelay(time.Minute)
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	start := time.Now()
	err := s.Send(ctx, m)
	if d := time.Since(start); d > 3*time.Second {
		t.Errorf("Send returned %v after its deadline", d)
	}
	sendError(t, f, m, err, 0)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("errors.Is(%v, context.DeadlineExceeded) = false", err)
	}
}

func testCanceled(t *testing.T, f Factory) {
	target, s, m := setup(t, f)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	err := s.Send(ctx, m)
	sendError(t, f, m, err, 0)
	if !errors.Is(err, context.Canceled) {
		t.Errorf("errors.Is(%v, context.Canceled) = false", err)
	}
	if n := len(target.Headers()); n != 0 {
		t.Errorf("%d requests sent with a canceled context", n)
	}
}

func testIdempotencyKey(t *testing.T, f Factory) {
	target, s, m := setup(t, f)
	target.FailNext(1, http.StatusServiceUnavailable, "")
	sendError(t, f, m, s.Send(context.Background(), m), http.StatusServiceUnavailable)
	m.Attempt = 2
	if err := s.Send(context.Background(), m); err != nil {
		t.Fatalf("second attempt: %v", err)
	}
	hs := target.Headers()
	if len(hs) != 2 {
		t.Fatalf("%d requests, want 2", len(hs))
	}
	for i, h := range hs {
		if got := h.Get("Idempotency-Key"); got != m.IdempotencyKey {
			t.Errorf("attempt %d: Idempotency-Key %q, want %q", i+1, got, m.IdempotencyKey)
		}
	}
}

func testConcurrent(t *testing.T, f Factory) {
	target, s, m := setup(t, f)
	const n = 8
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for range n {
		wg.Go(func() { errs <- s.Send(context.Background(), m) })
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Errorf("Send: %v", err)
		}
	}
	if got := len(target.Headers()); got != n {
		t.Errorf("%d requests, want %d", got, n)
	}
}
