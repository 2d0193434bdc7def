package natsq

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/liaisonhq/liaison/gateway/connector"
	"github.com/liaisonhq/liaison/gateway/outbox"
)

// assertRetry fails the test unless err is a retried *outbox.SendError.
func assertRetry(t *testing.T, err error) *outbox.SendError {
	t.Helper()
	var se *outbox.SendError
	if !errors.As(err, &se) || se.Status != 0 || se.Permanent || se.Err == nil {
		t.Fatalf("err = %#v (%v), want a *outbox.SendError with Status 0, not Permanent", err, err)
	}
	return se
}

// TestPublisherDedupe: the stream stores a message sent twice with one
// idempotency key once.
func TestPublisherDedupe(t *testing.T) {
	s := startNATS(t)
	cfg := queueConfig(t, s, "hms.in")
	p := publisher(t, cfg)
	send(t, p, "k1", "first")
	send(t, p, "k1", "first, again") // an outbox retry after a lost ack
	send(t, p, "k2", "second")

	nc, err := nats.Connect(s.url())
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	js, _ := jetstream.New(nc)
	stream, err := js.Stream(t.Context(), "STREAM")
	if err != nil {
		t.Fatal(err)
	}
	info, err := stream.Info(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if info.State.Msgs != 2 {
		t.Errorf("stream holds %d messages, want 2", info.State.Msgs)
	}
	if info.Config.Duplicates != DefaultDuplicates {
		t.Errorf("duplicate window %v, want %v", info.Config.Duplicates, DefaultDuplicates)
	}
	m, err := stream.GetMsg(t.Context(), 1)
	if err != nil {
		t.Fatal(err)
	}
	if string(m.Data) != "first" {
		t.Errorf("stored %q, want the first send", m.Data)
	}
}

func TestPublisherErrors(t *testing.T) {
	s := startNATS(t)
	cfg := queueConfig(t, s, "hms.in")
	tests := []struct {
		name      string
		endpoint  string
		recType   string
		body      []byte
		close     bool
		permanent bool
		want      string // in the error
	}{
		{name: "no stream", endpoint: s.url() + "?subject=elsewhere", want: "no stream holds the subject"},
		{name: "server down", endpoint: closedURL(t), want: "connect to nats://127.0.0.1:"},
		{name: "closed", endpoint: s.url(), close: true, want: "publisher closed"},
		{name: "larger than the server allows", endpoint: s.url(), body: make([]byte, 2<<20), permanent: true, want: "maximum payload"},
		{name: "type not a token", endpoint: s.url() + "?subject=hms.{type}", recType: "a.b", permanent: true, want: "cannot stand for {type}"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := cfg
			c.Endpoint = tt.endpoint
			p := publisher(t, c)
			if tt.close {
				_ = p.Close()
			}
			m := message("k1", "{}")
			if tt.body != nil {
				m.Body = tt.body
			}
			if tt.recType != "" {
				m.RecordType = tt.recType
			}
			ctx, cancel := context.WithTimeout(t.Context(), 3*time.Second)
			defer cancel()
			err := p.Send(ctx, m)
			var se *outbox.SendError
			if !errors.As(err, &se) {
				t.Fatalf("err = %v, want a *outbox.SendError", err)
			}
			if se.Permanent != tt.permanent || se.Status != 0 {
				t.Errorf("Permanent %v, Status %d; want %v, 0", se.Permanent, se.Status, tt.permanent)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("err %q does not say %q", err, tt.want)
			}
			if strings.Contains(err.Error(), "{}") {
				t.Errorf("err %q holds the payload", err)
			}
		})
	}
}

func TestConfig(t *testing.T) {
	tests := []struct {
		name     string
		cfg      connector.Config
		publish  string // the subject for an Appointment
		consume  string
		subjects []string // EnsureStream's default
		err      string
	}{
		{
			name:    "sync subject",
			cfg:     connector.Config{Name: "Registry", Type: "NATS", Endpoint: "nats://q:4222", Sync: connector.Sync{Mode: "queue", Subject: "hms.in"}},
			publish: "hms.in", consume: "hms.in", subjects: []string{"hms.in"},
		},
		{
			name:    "endpoint subject with {type}",
			cfg:     connector.Config{Name: "Registry", Type: connector.NATS, Endpoint: "nats://q:4222?subject=hms.out.{type}", Sync: connector.Sync{Mode: "queue", Subject: "hms.in.>"}},
			publish: "hms.out.Appointment", consume: "hms.in.>", subjects: []string{"hms.out.*", "hms.in.>"},
		},
		{
			name:    "derived from the name",
			cfg:     connector.Config{Name: "State EHR", Type: connector.NATS, Endpoint: "nats://q:4222"},
			publish: "liaison.state_ehr", subjects: []string{"liaison.state_ehr"},
		},
		{name: "wrong type", cfg: connector.Config{Name: "x", Type: connector.AMQP, Endpoint: "nats://q:4222"}, err: `connector type "amqp" is not "nats"`},
		{name: "no endpoint", cfg: connector.Config{Name: "x", Type: connector.NATS}, err: "endpoint: missing"},
		{name: "http endpoint", cfg: connector.Config{Name: "x", Type: connector.NATS, Endpoint: "http://q:4222"}, err: "expected nats://host:port"},
		{name: "wildcard publish", cfg: connector.Config{Name: "x", Type: connector.NATS, Endpoint: "nats://q:4222?subject=a.*"}, err: "white space or a wildcard"},
		{name: "bad consume subject", cfg: connector.Config{Name: "x", Type: connector.NATS, Endpoint: "nats://q:4222?subject=a", Sync: connector.Sync{Subject: "a..b"}}, err: "empty token"},
		{name: "oauth2", cfg: connector.Config{Name: "x", Type: connector.NATS, Endpoint: "nats://q:4222", Auth: &connector.Auth{Scheme: "oauth2"}}, err: "take none, basic"},
		{name: "basic without password", cfg: connector.Config{Name: "x", Type: connector.NATS, Endpoint: "nats://q:4222", Auth: &connector.Auth{Scheme: "basic", Username: "u"}}, err: "username and password are required"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := newConfig(tt.cfg)
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("err = %v, want %q", err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got, _ := c.subject("Appointment"); got != tt.publish {
				t.Errorf("publish subject %q, want %q", got, tt.publish)
			}
			if c.consume != tt.consume {
				t.Errorf("consume subject %q, want %q", c.consume, tt.consume)
			}
			if got := c.streamSubjects(); strings.Join(got, " ") != strings.Join(tt.subjects, " ") {
				t.Errorf("stream subjects %q, want %q", got, tt.subjects)
			}
			if strings.Contains(c.url, "?") {
				t.Errorf("url %q keeps the query", c.url)
			}
		})
	}
}

func TestNewConsumer(t *testing.T) {
	base := connector.Config{Name: "x", Type: connector.NATS, Endpoint: "nats://q:4222", Sync: connector.Sync{Mode: "queue", Subject: "in"}}
	if _, err := NewConsumer(base, "a.b"); err == nil {
		t.Error("durable a.b accepted")
	}
	c, err := NewConsumer(base, "")
	if err != nil || c.durable != "liaison-x" {
		t.Errorf("default durable: %v, %v", c, err)
	}
	noSubject := base
	noSubject.Sync = connector.Sync{}
	if _, err := NewConsumer(noSubject, "d"); err == nil || !strings.Contains(err.Error(), "sync.subject: missing") {
		t.Errorf("no subject: err = %v", err)
	}
	if err := c.Run(t.Context(), nil); err == nil {
		t.Error("Run with a nil handler: no error")
	}
}
