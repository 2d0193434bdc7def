package fhirrest

import (
	"context"
	"errors"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/liaisonhq/liaison/fhir"
	"github.com/liaisonhq/liaison/gateway/adapters/adaptertest"
	"github.com/liaisonhq/liaison/gateway/connector"
	"github.com/liaisonhq/liaison/gateway/internal/fhirserver"
	"github.com/liaisonhq/liaison/gateway/outbox"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// target is a fhirserver as the conformance suite drives it.
type target struct{ *fhirserver.Server }

func (t target) Headers() []http.Header {
	reqs := t.Requests()
	out := make([]http.Header, len(reqs))
	for i, r := range reqs {
		out[i] = r.Header
	}
	return out
}

const secretAppointment = `{"resourceType":"Appointment",` +
	`"identifier":[{"system":"urn:hms:appointment","value":"SECRET-4711"}],` +
	`"status":"booked",` +
	`"participant":[{"actor":{"reference":"Patient/P9","display":"Jane Secretperson"},"status":"accepted"}]}`

func TestConformance(t *testing.T) {
	adaptertest.Run(t, adaptertest.Factory{
		Target: func(t *testing.T) (adaptertest.Target, string) {
			srv := fhirserver.Start(t)
			return target{srv}, srv.URL()
		},
		New:    func(cfg connector.Config, c *http.Client) (outbox.Sender, error) { return New(cfg, c) },
		Config: connector.Config{Name: "conformance", Type: connector.FHIR},
		Message: outbox.Message{
			ID: "m1", Connector: "conformance", RecordType: "Appointment", RecordID: "A1",
			Op: outbox.Upsert, Body: []byte(secretAppointment), ContentType: "application/fhir+json",
		},
		Secrets: []string{"SECRET-4711", "Secretperson"},
	})
}

// start returns a FHIR server and a Client for endpoint (relative to the
// server's base), with an HTTP client closed with the test.
func start(t *testing.T, endpoint string) (*fhirserver.Server, *Client) {
	t.Helper()
	srv := fhirserver.Start(t)
	tr := &http.Transport{}
	t.Cleanup(tr.CloseIdleConnections)
	c, err := New(connector.Config{Name: "ehr", Type: connector.FHIR, Endpoint: srv.URL() + endpoint}, &http.Client{Transport: tr})
	if err != nil {
		t.Fatal(err)
	}
	return srv, c
}

func upsert(body string) outbox.Message {
	return outbox.Message{
		ID: "m1", Connector: "ehr", RecordType: "Appointment", RecordID: "A1", Op: outbox.Upsert,
		Body: []byte(body), ContentType: "application/fhir+json", IdempotencyKey: "k1", Attempt: 1,
	}
}

func appointment(status string) string {
	return `{"resourceType":"Appointment","identifier":[{"system":"urn:hms:appointment","value":"A1"}],` +
		`"status":"` + status + `","participant":[{"actor":{"reference":"Patient/P9"},"status":"accepted"}]}`
}

func TestEndToEnd(t *testing.T) {
	srv, c := start(t, "")
	ctx := context.Background()

	t.Run("upsert by identifier twice", func(t *testing.T) {
		if err := c.Send(ctx, upsert(appointment("booked"))); err != nil {
			t.Fatalf("first upsert: %v", err)
		}
		if err := c.Send(ctx, upsert(appointment("cancelled"))); err != nil {
			t.Fatalf("second upsert: %v", err)
		}
		got := srv.Resources("Appointment")
		if len(got) != 1 {
			t.Fatalf("%d appointments on the server, want 1", len(got))
		}
		meta, _ := got[0]["meta"].(map[string]any)
		if got[0]["status"] != "cancelled" || meta["versionId"] != "2" {
			t.Errorf("status %v version %v, want cancelled 2", got[0]["status"], meta["versionId"])
		}
		for _, r := range srv.Requests() {
			if r.Method != http.MethodPut || r.Path != "/fhir/Appointment" || r.Query.Get("identifier") != "urn:hms:appointment|A1" {
				t.Errorf("request %s %s ? %v, want a conditional update", r.Method, r.Path, r.Query)
			}
		}
	})

	t.Run("repeat changes nothing", func(t *testing.T) {
		if err := c.Send(ctx, upsert(appointment("cancelled"))); err != nil {
			t.Fatal(err)
		}
		id := srv.Resources("Appointment")[0].ID()
		if n := len(srv.History("Appointment", id)); n != 2 {
			t.Errorf("%d versions after a repeat, want 2", n)
		}
	})

	t.Run("delete by identifier", func(t *testing.T) {
		id := srv.Resources("Appointment")[0].ID()
		m := upsert(appointment("cancelled"))
		m.Op = outbox.Delete
		if err := c.Send(ctx, m); err != nil {
			t.Fatalf("delete: %v", err)
		}
		if n := len(srv.Resources("Appointment")); n != 0 {
			t.Errorf("%d appointments after the delete, want 0", n)
		}
		last := srv.Requests()[len(srv.Requests())-1]
		if last.Method != http.MethodDelete || last.Query.Get("identifier") != "urn:hms:appointment|A1" {
			t.Errorf("request %s %v, want a conditional delete", last.Method, last.Query)
		}
		if err := c.Send(ctx, m); err != nil {
			t.Errorf("repeated delete: %v", err)
		}
		if h := srv.History("Appointment", id); len(h) != 3 || h[2] != nil {
			t.Errorf("history %v, want two versions and a deletion", h)
		}
	})

	t.Run("id only", func(t *testing.T) {
		body, err := os.ReadFile(filepath.Join("..", "..", "..", "testdata", "fhir", "examples", "Appointment-example.json"))
		if err != nil {
			t.Fatal(err)
		}
		if err := c.Send(ctx, upsert(string(body))); err != nil {
			t.Fatalf("upsert: %v", err)
		}
		last := srv.Requests()[len(srv.Requests())-1]
		if last.Method != http.MethodPut || last.Path != "/fhir/Appointment/example" || len(last.Query) != 0 {
			t.Errorf("request %s %s?%v, want PUT /fhir/Appointment/example", last.Method, last.Path, last.Query)
		}
		if h := srv.History("Appointment", "example"); len(h) != 1 {
			t.Errorf("%d versions of Appointment/example, want 1", len(h))
		}
		m := upsert(string(body))
		m.Op = outbox.Delete
		if err := c.Send(ctx, m); err != nil {
			t.Fatalf("delete: %v", err)
		}
		if last := srv.Requests()[len(srv.Requests())-1]; last.Method != http.MethodDelete || last.Path != "/fhir/Appointment/example" {
			t.Errorf("request %s %s, want DELETE /fhir/Appointment/example", last.Method, last.Path)
		}
	})

	t.Run("invalid resource", func(t *testing.T) {
		err := c.Send(ctx, upsert(appointment("maybe")))
		var se *outbox.SendError
		if !errors.As(err, &se) || se.Status != http.StatusUnprocessableEntity || se.Permanent {
			t.Fatalf("got %v, want a SendError with status 422", err)
		}
		oo, perr := fhir.ParseJSON(se.Response)
		if perr != nil || oo.Type() != "OperationOutcome" {
			t.Fatalf("Response %q: want an OperationOutcome", se.Response)
		}
		if !strings.Contains(string(se.Response), "Appointment.status") {
			t.Errorf("Response %s does not locate the problem", se.Response)
		}
		want := "status 422: conditional PUT Appointment: Unprocessable Entity: OperationOutcome error code-invalid at Appointment.status"
		if err.Error() != want {
			t.Errorf("error %q, want %q", err, want)
		}
	})
}

func TestRequests(t *testing.T) {
	tests := []struct {
		name     string
		endpoint string // after the server's base
		m        outbox.Message
		path     string
		query    string // the identifier searched for, "" for none
		check    func(t *testing.T, srv *fhirserver.Server)
	}{
		{
			name: "base with a trailing slash", endpoint: "/",
			m:    upsert(appointment("booked")),
			path: "/fhir/Appointment", query: "urn:hms:appointment|A1",
		},
		{
			name: "endpoint ending in the type", endpoint: "/Appointment",
			m:    upsert(appointment("booked")),
			path: "/fhir/Appointment", query: "urn:hms:appointment|A1",
		},
		{
			name: "body without resourceType takes the endpoint's", endpoint: "/Appointment/",
			m:    upsert(`{"id":"A7","status":"booked","participant":[{"status":"accepted"}]}`),
			path: "/fhir/Appointment/A7",
			check: func(t *testing.T, srv *fhirserver.Server) {
				if got := srv.Resources("Appointment"); len(got) != 1 || got[0].ID() != "A7" {
					t.Errorf("resources %v", got)
				}
			},
		},
		{
			name: "first identifier with system and value, escaped",
			m: upsert(`{"resourceType":"Patient","identifier":[{"value":"no-system"},` +
				`{"system":"urn:x","value":"a|b,c$d\\e f&g=h"}]}`),
			path: "/fhir/Patient", query: `urn:x|a\|b\,c\$d\\e f&g=h`,
			check: func(t *testing.T, srv *fhirserver.Server) {
				if got := srv.Resources("Patient"); len(got) != 1 {
					t.Errorf("%d patients", len(got))
				}
			},
		},
		{
			name: "FHIR XML sent as JSON",
			m: outbox.Message{Op: outbox.Upsert, ContentType: "application/fhir+xml", IdempotencyKey: "k",
				Body: []byte(`<Patient xmlns="http://hl7.org/fhir"><id value="p1"/><active value="true"/></Patient>`)},
			path: "/fhir/Patient/p1",
			check: func(t *testing.T, srv *fhirserver.Server) {
				if got := srv.Resources("Patient"); len(got) != 1 || got[0]["active"] != true {
					t.Errorf("resources %v", got)
				}
			},
		},
		{
			name: "delete without a body", endpoint: "/Appointment",
			m:    outbox.Message{Op: outbox.Delete, RecordType: "appointment", RecordID: "A1", IdempotencyKey: "k"},
			path: "/fhir/Appointment/A1",
		},
		{
			name: "delete without a body, typed by the record",
			m:    outbox.Message{Op: outbox.Delete, RecordType: "Patient", RecordID: "P-1", IdempotencyKey: "k"},
			path: "/fhir/Patient/P-1",
		},
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
			wantMethod := http.MethodPut
			if tt.m.Op == outbox.Delete {
				wantMethod = http.MethodDelete
			}
			if r.Method != wantMethod || r.Path != tt.path || r.Query.Get("identifier") != tt.query {
				t.Errorf("got %s %s identifier=%q, want %s %s %q", r.Method, r.Path, r.Query.Get("identifier"), wantMethod, tt.path, tt.query)
			}
			h := r.Header
			if h.Get("Accept") != "application/fhir+json" || h.Get("Prefer") != "return=minimal" {
				t.Errorf("Accept %q Prefer %q", h.Get("Accept"), h.Get("Prefer"))
			}
			if h.Get("Idempotency-Key") != tt.m.IdempotencyKey || h.Get("X-Request-Id") != tt.m.IdempotencyKey {
				t.Errorf("Idempotency-Key %q X-Request-Id %q, want %q", h.Get("Idempotency-Key"), h.Get("X-Request-Id"), tt.m.IdempotencyKey)
			}
			if wantCT := map[bool]string{true: "application/fhir+json"}[wantMethod == http.MethodPut]; h.Get("Content-Type") != wantCT {
				t.Errorf("Content-Type %q, want %q", h.Get("Content-Type"), wantCT)
			}
			if tt.check != nil {
				tt.check(t, srv)
			}
		})
	}
}

func TestPermanent(t *testing.T) {
	tests := []struct {
		name     string
		endpoint string
		m        outbox.Message
	}{
		{"no identifier and no id", "", upsert(`{"resourceType":"Appointment","status":"booked","identifier":[{"value":"SECRET-1"}]}`)},
		{"upsert without a body", "", upsert("")},
		{"malformed JSON", "", upsert(`{"resourceType":"Appointment","id":"SECRET-1"`)},
		{"not a resource type", "", upsert(`{"resourceType":"Appointmnt","id":"a1"}`)},
		{"resourceType not a string", "", upsert(`{"resourceType":1,"id":"a1"}`)},
		{"no resourceType, endpoint is a base", "", upsert(`{"id":"a1"}`)},
		{"id that is a dot-segment", "", upsert(`{"resourceType":"Patient","id":".."}`)},
		{"unknown op", "", outbox.Message{Op: "merge", Body: []byte(`{"resourceType":"Patient","id":"p1"}`)}},
		{"content type", "", outbox.Message{Op: outbox.Upsert, ContentType: "text/csv", Body: []byte("SECRET-1,x")}},
		{"idempotency key", "", outbox.Message{Op: outbox.Upsert, IdempotencyKey: "a\r\nX-Evil: 1", Body: []byte(`{"resourceType":"Patient","id":"p1"}`)}},
		{"bare delete without a type", "", outbox.Message{Op: outbox.Delete, RecordType: "appointment", RecordID: "A1"}},
		{"bare delete without an id", "/Patient", outbox.Message{Op: outbox.Delete, RecordType: "Patient"}},
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
			if n := srv.Count(""); n != 0 {
				t.Errorf("%d requests sent", n)
			}
		})
	}
}

func TestDeleteAbsent(t *testing.T) {
	for _, status := range []int{http.StatusNotFound, http.StatusGone} {
		t.Run(http.StatusText(status), func(t *testing.T) {
			srv, c := start(t, "")
			srv.FailNext(2, status, "")
			m := upsert(appointment("booked"))
			m.Op = outbox.Delete
			if err := c.Send(context.Background(), m); err != nil {
				t.Errorf("delete answered %d: %v, want nil", status, err)
			}
			var se *outbox.SendError
			if err := c.Send(context.Background(), upsert(appointment("booked"))); !errors.As(err, &se) || se.Status != status {
				t.Errorf("upsert answered %d: %v, want a SendError", status, err)
			}
		})
	}
}

func TestServerDown(t *testing.T) {
	srv, c := start(t, "")
	srv.SetDown(true)
	err := c.Send(context.Background(), upsert(appointment("booked")))
	var se *outbox.SendError
	if !errors.As(err, &se) || se.Status != 0 || se.Permanent {
		t.Fatalf("got %v, want a SendError with status 0", err)
	}
	srv.SetDown(false)
	if err := c.Send(context.Background(), upsert(appointment("booked"))); err != nil {
		t.Errorf("after the server is back: %v", err)
	}
}

func TestServerGone(t *testing.T) {
	srv, c := start(t, "")
	srv.Gone(true)
	var se *outbox.SendError
	if err := c.Send(context.Background(), upsert(appointment("booked"))); !errors.As(err, &se) || se.Status != http.StatusGone {
		t.Fatalf("got %v, want a SendError with status 410", err)
	}
}

// TestDefaultClient: without a client, Delivery.Timeout bounds an attempt.
func TestDefaultClient(t *testing.T) {
	srv := fhirserver.Start(t)
	srv.SetDelay(time.Minute)
	cfg := connector.Config{Name: "ehr", Type: connector.FHIR, Endpoint: srv.URL()}
	cfg.Delivery.Timeout = connector.Duration(100 * time.Millisecond)
	c, err := New(cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	err = c.Send(context.Background(), upsert(appointment("booked")))
	var se *outbox.SendError
	if !errors.As(err, &se) || se.Status != 0 || !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("got %v, want a SendError with status 0 for the deadline", err)
	}
	if d := time.Since(start); d > 3*time.Second {
		t.Errorf("took %v", d)
	}
	srv.SetDelay(0)
	if err := c.Send(context.Background(), upsert(appointment("booked"))); err != nil {
		t.Errorf("without the delay: %v", err)
	}
	http.DefaultClient.CloseIdleConnections()
}

func TestNew(t *testing.T) {
	tests := []struct {
		endpoint string
		typ      connector.Type
		base     string
		resource string
		err      string
	}{
		{endpoint: "https://ehr.example/fhir", base: "https://ehr.example/fhir"},
		{endpoint: "https://ehr.example/fhir/", base: "https://ehr.example/fhir"},
		{endpoint: "https://stateehr.gov/fhir/Patient", typ: "FHIR", base: "https://stateehr.gov/fhir", resource: "Patient"},
		{endpoint: "http://127.0.0.1:8080/R4/Appointment/", base: "http://127.0.0.1:8080/R4", resource: "Appointment"},
		{endpoint: "https://ehr.example/fhir/Patients", base: "https://ehr.example/fhir/Patients"},
		{endpoint: "", err: "missing"},
		{endpoint: "ftp://ehr.example/fhir", err: "http or https"},
		{endpoint: "/fhir", err: "http or https"},
		{endpoint: "https:///fhir", err: "no host"},
		{endpoint: "https://user:SECRET@ehr.example/fhir", err: "credentials"},
		{endpoint: "https://ehr.example/fhir?SECRET=1", err: "query"},
		{endpoint: "https://ehr.example/fhir#x", err: "fragment"},
		{endpoint: "https://ehr.example/%zz", err: "not a URL"},
		{endpoint: "https://ehr.example/fhir", typ: connector.REST, err: "not \"fhir\""},
	}
	for _, tt := range tests {
		t.Run(tt.endpoint, func(t *testing.T) {
			c, err := New(connector.Config{Name: "ehr", Type: tt.typ, Endpoint: tt.endpoint}, nil)
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
			if c.cfg.base != tt.base || c.cfg.typ != tt.resource || c.cfg.timeout != defaultTimeout {
				t.Errorf("got %+v, want base %q type %q", c.cfg, tt.base, tt.resource)
			}
		})
	}
}
