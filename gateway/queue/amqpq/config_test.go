package amqpq

import (
	"strings"
	"testing"

	"github.com/liaisonhq/liaison/gateway/connector"
)

func TestConfig(t *testing.T) {
	tests := []struct {
		name              string
		cfg               connector.Config
		exchange, key     string // published to for an Appointment
		consumeEx, consKy string
		err               string
	}{
		{
			name:     "queue",
			cfg:      connector.Config{Name: "Registry", Type: "AMQP", Endpoint: "amqp://mq:5672/hms", Sync: connector.Sync{Mode: "queue", Subject: "hms-in"}},
			exchange: "", key: "hms-in", consumeEx: "", consKy: "hms-in",
		},
		{
			name:     "exchange and routing key, from the endpoint",
			cfg:      connector.Config{Name: "Registry", Type: connector.AMQP, Endpoint: "amqps://mq:5671/hms?subject=hms.out/fhir.{type}&heartbeat=5", Sync: connector.Sync{Mode: "queue", Subject: "hms.in/fhir.#"}},
			exchange: "hms.out", key: "fhir.Appointment", consumeEx: "hms.in", consKy: "fhir.#",
		},
		{
			name:     "derived from the name",
			cfg:      connector.Config{Name: "State EHR", Type: connector.AMQP, Endpoint: "amqp://mq"},
			exchange: "", key: "liaison.state_ehr",
		},
		{name: "wrong type", cfg: connector.Config{Name: "x", Type: connector.NATS, Endpoint: "amqp://mq"}, err: `connector type "nats" is not "amqp"`},
		{name: "no endpoint", cfg: connector.Config{Name: "x", Type: connector.AMQP}, err: "endpoint: missing"},
		{name: "nats endpoint", cfg: connector.Config{Name: "x", Type: connector.AMQP, Endpoint: "nats://mq:4222"}, err: "expected amqp://"},
		{name: "bad heartbeat", cfg: connector.Config{Name: "x", Type: connector.AMQP, Endpoint: "amqp://mq/?heartbeat=soon"}, err: "not an AMQP URI"},
		{name: "bad exchange", cfg: connector.Config{Name: "x", Type: connector.AMQP, Endpoint: "amqp://mq?subject=a b/k"}, err: "letters, digits"},
		{name: "no queue", cfg: connector.Config{Name: "x", Type: connector.AMQP, Endpoint: "amqp://mq", Sync: connector.Sync{Subject: "/"}}, err: "no queue name"},
		{name: "type in consume subject", cfg: connector.Config{Name: "x", Type: connector.AMQP, Endpoint: "amqp://mq", Sync: connector.Sync{Subject: "ex/{type}"}}, err: "only goes in a publish target"},
		{name: "bearer", cfg: connector.Config{Name: "x", Type: connector.AMQP, Endpoint: "amqp://mq", Auth: &connector.Auth{Scheme: "bearer", Token: "t"}}, err: "take none"},
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
			ex, key, err := c.target("Appointment")
			if err != nil || ex != tt.exchange || key != tt.key {
				t.Errorf("target = %q, %q, %v; want %q, %q", ex, key, err, tt.exchange, tt.key)
			}
			if c.consumeExchange != tt.consumeEx || c.consumeKey != tt.consKy {
				t.Errorf("consume = %q, %q; want %q, %q", c.consumeExchange, c.consumeKey, tt.consumeEx, tt.consKy)
			}
			if strings.Contains(c.url, subjectParam+"=") {
				t.Errorf("url %q keeps the subject parameter", c.url)
			}
		})
	}
}

func TestNewConsumer(t *testing.T) {
	base := connector.Config{Name: "x", Type: connector.AMQP, Endpoint: "amqp://mq", Sync: connector.Sync{Mode: "queue", Subject: "ex/key"}}
	c, err := NewConsumer(base, "")
	if err != nil || c.durable != "liaison-x" || c.queue != "liaison-x" {
		t.Fatalf("default durable: %+v, %v", c, err)
	}
	plain := base
	plain.Sync.Subject = "inbox"
	if c, err := NewConsumer(plain, "gw"); err != nil || c.queue != "inbox" || c.durable != "gw" {
		t.Errorf("queue subject: %+v, %v", c, err)
	}
	if _, err := NewConsumer(base, "a b"); err == nil {
		t.Error("durable with a space accepted")
	}
	none := base
	none.Sync = connector.Sync{}
	if _, err := NewConsumer(none, "gw"); err == nil || !strings.Contains(err.Error(), "sync.subject: missing") {
		t.Errorf("no subject: err = %v", err)
	}
	if err := c.Run(t.Context(), nil); err == nil {
		t.Error("Run with a nil handler: no error")
	}
}
