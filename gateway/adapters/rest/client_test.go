package rest

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/liaisonhq/liaison/gateway/adapters/adaptertest"
	"github.com/liaisonhq/liaison/gateway/connector"
	"github.com/liaisonhq/liaison/gateway/outbox"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

const secretBody = `{"appointmentId":"A1","patientName":"Jane Secretperson","mrn":"SECRET-4711"}`

func TestConformance(t *testing.T) {
	for _, endpoint := range []string{"/records/{type}/{id}", "/appointments"} {
		t.Run(endpoint, func(t *testing.T) {
			adaptertest.Run(t, adaptertest.Factory{
				Target: func(t *testing.T) (adaptertest.Target, string) {
					srv := adaptertest.StartServer(t)
					return srv, srv.URL() + endpoint
				},
				New:    func(cfg connector.Config, c *http.Client) (outbox.Sender, error) { return New(cfg, c) },
				Config: connector.Config{Name: "conformance", Type: connector.REST},
				Message: outbox.Message{
					ID: "m1", Connector: "conformance", RecordType: "Appointment", RecordID: "A1",
					Op: outbox.Upsert, Body: []byte(secretBody), ContentType: "application/json",
				},
				Secrets: []string{"SECRET-4711", "Secretperson"},
			})
		})
	}
}

// start returns a test API and a Client for endpoint (after the API's
// root), with an HTTP client closed with the test.
func start(t *testing.T, endpoint string) (*adaptertest.Server, *Client) {
	t.Helper()
	srv := adaptertest.StartServer(t)
	tr := &http.Transport{}
	t.Cleanup(tr.CloseIdleConnections)
	c, err := New(connector.Config{Name: "api", Type: connector.REST, Endpoint: srv.URL() + endpoint}, &http.Client{Transport: tr})
	if err != nil {
		t.Fatal(err)
	}
	return srv, c
}

func message(op outbox.Op, typ, id string) outbox.Message {
	m := outbox.Message{ID: "m1", Connector: "api", RecordType: typ, RecordID: id, Op: op, IdempotencyKey: "key-1", Attempt: 1}
	if op == outbox.Upsert {
		m.Body = []byte(secretBody)
	}
	return m
}

func TestRequests(t *testing.T) {
	tests := []struct {
		name     string
		endpoint string
		m        outbox.Message
		method   string
		uri      string
	}{
		{"upsert with {id}", "/records/{type}/{id}", message(outbox.Upsert, "Appointment", "A1"), "PUT", "/records/Appointment/A1"},
		{"delete with {id}", "/records/{type}/{id}", message(outbox.Delete, "Appointment", "A1"), "DELETE", "/records/Appointment/A1"},
		{"upsert without {id}", "/appointments", message(outbox.Upsert, "Appointment", "A1"), "POST", "/appointments"},
		{"delete without {id}", "/appointments/", message(outbox.Delete, "Appointment", "A1"), "DELETE", "/appointments/A1"},
		{"upsert with {type} only", "/api/{type}", message(outbox.Upsert, "Appointment", "A1"), "POST", "/api/Appointment"},
		{"delete with {type} only", "/api/{type}", message(outbox.Delete, "Appointment", "A1"), "DELETE", "/api/Appointment/A1"},
		{"escaped in the path", "/r/{id}", message(outbox.Upsert, "Appointment", "a/b c?d"), "PUT", "/r/a%2Fb%20c%3Fd"},
		{"escaped in the query", "/r?type={type}&id={id}", message(outbox.Upsert, "Appointment", "a&b c"), "PUT", "/r?type=Appointment&id=a%26b+c"},
		{"delete appends before the query", "/r?v=2", message(outbox.Delete, "Appointment", "A1"), "DELETE", "/r/A1?v=2"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv, c := start(t, tt.endpoint)
			if err := c.Send(context.Background(), tt.m); err != nil {
				t.Fatalf("Send: %v", err)
			}
			reqs := srv.Requests()
			if len(reqs) != 1 {
				t.Fatalf("%d requests, want 1", len(reqs))
			}
			r := reqs[0]
			if r.Method != tt.method || r.URI != tt.uri {
				t.Errorf("got %s %s, want %s %s", r.Method, r.URI, tt.method, tt.uri)
			}
			if got := r.Header.Get("Idempotency-Key"); got != "key-1" {
				t.Errorf("Idempotency-Key %q, want key-1", got)
			}
			if tt.m.Op == outbox.Upsert {
				if string(r.Body) != secretBody || r.Header.Get("Content-Type") != "application/json" {
					t.Errorf("body %q Content-Type %q, want the message's JSON", r.Body, r.Header.Get("Content-Type"))
				}
			} else if len(r.Body) != 0 || r.Header.Get("Content-Type") != "" {
				t.Errorf("delete with a body %q, Content-Type %q", r.Body, r.Header.Get("Content-Type"))
			}
		})
	}
}

func TestContentType(t *testing.T) {
	srv, c := start(t, "/r")
	m := message(outbox.Upsert, "Patient", "P1")
	m.ContentType = "application/xml"
	m.Body = []byte(`<patient id="P1"/>`)
	if err := c.Send(context.Background(), m); err != nil {
		t.Fatal(err)
	}
	if got := srv.Requests()[0].Header.Get("Content-Type"); got != "application/xml" {
		t.Errorf("Content-Type %q, want the message's", got)
	}
}

func TestPermanent(t *testing.T) {
	noBody := message(outbox.Upsert, "Appointment", "A1")
	noBody.Body = nil
	badJSON := message(outbox.Upsert, "Appointment", "A1")
	badJSON.Body = []byte(`{"mrn":"SECRET-4711"`)
	badKey := message(outbox.Upsert, "Appointment", "A1")
	badKey.IdempotencyKey = "k\nX: y"
	tests := []struct {
		name     string
		endpoint string
		m        outbox.Message
	}{
		{"upsert without a body", "/r", noBody},
		{"invalid JSON", "/r", badJSON},
		{"no id for {id}", "/r/{id}", message(outbox.Upsert, "Appointment", "")},
		{"dot-segment id", "/r/{id}", message(outbox.Upsert, "Appointment", "..")},
		{"no id to delete", "/r", message(outbox.Delete, "Appointment", "")},
		{"no type for {type}", "/r/{type}", message(outbox.Upsert, "", "A1")},
		{"unknown op", "/r", message("merge", "Appointment", "A1")},
		{"idempotency key", "/r", badKey},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv, c := start(t, tt.endpoint)
			err := c.Send(context.Background(), tt.m)
			var se *outbox.SendError
			if !errors.As(err, &se) || !se.Permanent || se.Status != 0 || se.Err == nil {
				t.Fatalf("got %#v, want a Permanent SendError", err)
			}
			if strings.Contains(err.Error(), "SECRET") {
				t.Errorf("error shows the payload: %v", err)
			}
			if n := len(srv.Requests()); n != 0 {
				t.Errorf("%d requests sent", n)
			}
		})
	}
}

func TestDeleteAbsent(t *testing.T) {
	for _, status := range []int{http.StatusNotFound, http.StatusGone} {
		t.Run(http.StatusText(status), func(t *testing.T) {
			srv, c := start(t, "/r")
			srv.FailNext(1, status, "")
			if err := c.Send(context.Background(), message(outbox.Delete, "Appointment", "A1")); err != nil {
				t.Errorf("delete answered %d: %v, want nil", status, err)
			}
		})
	}
}

// TestDefaultClient: without a client, Delivery.Timeout bounds an attempt.
func TestDefaultClient(t *testing.T) {
	srv := adaptertest.StartServer(t)
	srv.SetDelay(time.Minute)
	cfg := connector.Config{Name: "api", Type: connector.REST, Endpoint: srv.URL() + "/r"}
	cfg.Delivery.Timeout = connector.Duration(100 * time.Millisecond)
	c, err := New(cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	err = c.Send(context.Background(), message(outbox.Upsert, "Appointment", "A1"))
	var se *outbox.SendError
	if !errors.As(err, &se) || se.Status != 0 || !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("got %v, want a SendError with status 0 for the deadline", err)
	}
	if d := time.Since(start); d > 3*time.Second {
		t.Errorf("took %v", d)
	}
	t.Cleanup(http.DefaultClient.CloseIdleConnections)
}

func TestNew(t *testing.T) {
	tests := []struct {
		endpoint string
		typ      connector.Type
		err      string
	}{
		{endpoint: "https://api.example/records/{type}/{id}"},
		{endpoint: "http://127.0.0.1:9000/r?id={id}"},
		{endpoint: "https://api.example/records", typ: "REST"},
		{endpoint: "", err: "missing"},
		{endpoint: "https://api.example/{name}", err: "unknown placeholder"},
		{endpoint: "https://api.example/{id", err: "unknown placeholder"},
		{endpoint: "https://{type}.example/r", err: "not the host"},
		{endpoint: "mailto:x@example.org", err: "http or https"},
		{endpoint: "https:///r", err: "no host"},
		{endpoint: "https://u:SECRET@api.example/r", err: "credentials"},
		{endpoint: "https://api.example/r#x", err: "fragment"},
		{endpoint: "https://api.example/%zz", err: "not a URL"},
		{endpoint: "https://api.example/r", typ: connector.FHIR, err: `not "rest"`},
	}
	for _, tt := range tests {
		t.Run(tt.endpoint, func(t *testing.T) {
			c, err := New(connector.Config{Name: "api", Type: tt.typ, Endpoint: tt.endpoint}, nil)
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("got %v, want an error about %q", err, tt.err)
				}
				if strings.Contains(err.Error(), "SECRET") {
					t.Errorf("error shows the endpoint's secret: %v", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if c.cfg.timeout != defaultTimeout {
				t.Errorf("timeout %v, want %v", c.cfg.timeout, defaultTimeout)
			}
		})
	}
}

// FuzzExpand: whatever a record's type and id, the URL keeps the
// endpoint's scheme and host, and the id comes back out of it unchanged,
// as one path segment or one query value.
func FuzzExpand(f *testing.F) {
	f.Add("Appointment", "A1")
	f.Add("a/b", "../x")
	f.Add("t?x=1#f", "id&y=2 %zz")
	f.Fuzz(func(t *testing.T, typ, id string) {
		for _, endpoint := range []string{"https://api.example/r/{type}/{id}", "https://api.example/r?t={type}&id={id}", "https://api.example/r"} {
			c, err := newConfig(connector.Config{Endpoint: endpoint})
			if err != nil {
				t.Fatal(err)
			}
			raw := c.expand(typ, id, !c.hasID)
			u, err := url.Parse(raw)
			if err != nil {
				t.Fatalf("expand(%q, %q) = %q: %v", typ, id, raw, err)
			}
			if u.Scheme != "https" || u.Host != "api.example" || u.Fragment != "" {
				t.Fatalf("expand(%q, %q) = %q leaves the endpoint's host", typ, id, raw)
			}
			var got string
			if strings.Contains(endpoint, "?") {
				got = u.Query().Get("id")
			} else {
				segs := strings.Split(u.EscapedPath(), "/")
				got, err = url.PathUnescape(segs[len(segs)-1])
				if err != nil {
					t.Fatal(err)
				}
			}
			if got != id {
				t.Fatalf("expand(%q, %q) = %q: id reads back as %q", typ, id, raw, got)
			}
		}
	})
}
