package kafkaq

import (
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/liaisonhq/liaison/gateway/connector"
)

func TestNewConfig(t *testing.T) {
	base := func() connector.Config {
		return connector.Config{
			Name: "State EHR", Type: connector.Kafka, Endpoint: "kafka://k1.test:9092,k2.test:9093",
			Sync: connector.Sync{Mode: connector.ModeQueue, Subject: "ehr.patients"},
		}
	}
	basic := &connector.Auth{Scheme: connector.SchemeBasic, Username: "u", Password: "env:KAFKA_PASSWORD"}
	tests := []struct {
		name  string
		edit  func(c *connector.Config)
		field string // the field named; "" for no error
		msg   string
		check func(t *testing.T, c config)
	}{
		{"brokers, publish to the topic consumed", func(*connector.Config) {}, "", "", func(t *testing.T, c config) {
			if !slices.Equal(c.brokers, []string{"k1.test:9092", "k2.test:9093"}) || c.tls || c.publish != "ehr.patients" || c.consume != "ehr.patients" || c.sasl != "" {
				t.Errorf("config %+v", c)
			}
		}},
		{"default port", func(c *connector.Config) { c.Endpoint = "kafka://k1.test,k2.test" }, "", "", func(t *testing.T, c config) {
			if !slices.Equal(c.brokers, []string{"k1.test:9092", "k2.test:9092"}) {
				t.Errorf("brokers %v", c.brokers)
			}
		}},
		{"subject, group and TLS", func(c *connector.Config) {
			c.Endpoint = "kafka+ssl://k.test:9093/?subject=hms.out.{type}&group=ops"
		}, "", "", func(t *testing.T, c config) {
			if !c.tls || c.publish != "hms.out.{type}" || c.group != "ops" || c.brokers[0] != "k.test:9093" {
				t.Errorf("config %+v", c)
			}
			if topic, err := c.topic("Patient"); topic != "hms.out.Patient" || err != nil {
				t.Errorf("topic(Patient) = %q, %v", topic, err)
			}
		}},
		{"default topic", func(c *connector.Config) { c.Sync = connector.Sync{} }, "", "", func(t *testing.T, c config) {
			if c.publish != "liaison.state_ehr" {
				t.Errorf("publish %q, want liaison.state_ehr", c.publish)
			}
		}},
		{"sasl defaults to plain", func(c *connector.Config) { c.Auth = basic }, "", "", func(t *testing.T, c config) {
			if c.sasl != SASLPlain {
				t.Errorf("sasl %q, want plain", c.sasl)
			}
		}},
		{"scram", func(c *connector.Config) { c.Auth, c.Endpoint = basic, "kafka://k.test?sasl=SCRAM-SHA-512" }, "", "", func(t *testing.T, c config) {
			if c.sasl != SASLScramSHA512 {
				t.Errorf("sasl %q, want scram-sha-512", c.sasl)
			}
		}},
		{"IPv6 broker", func(c *connector.Config) { c.Endpoint = "kafka://[::1]:9092" }, "", "", func(t *testing.T, c config) {
			if c.brokers[0] != "[::1]:9092" {
				t.Errorf("brokers %v", c.brokers)
			}
		}},

		{"another type", func(c *connector.Config) { c.Type = connector.NATS }, "type", `is not "kafka"`, nil},
		{"no endpoint", func(c *connector.Config) { c.Endpoint = "" }, "endpoint", "missing", nil},
		{"http endpoint", func(c *connector.Config) { c.Endpoint = "https://k.test" }, "endpoint", "expected kafka://", nil},
		{"credentials in the endpoint", func(c *connector.Config) { c.Endpoint = "kafka://u:secret@k.test" }, "endpoint", "give them in auth", nil},
		{"a path", func(c *connector.Config) { c.Endpoint = "kafka://k.test/topic" }, "endpoint", "has a path", nil},
		{"bad port", func(c *connector.Config) { c.Endpoint = "kafka://k1.test:x,k2.test:9092" }, "endpoint", `broker "k1.test:x"`, nil},
		{"empty broker", func(c *connector.Config) { c.Endpoint = "kafka://k1.test,,k2.test" }, "endpoint", "want host:port", nil},
		{"unknown parameter", func(c *connector.Config) { c.Endpoint = "kafka://k.test?topic=a" }, "endpoint", `unknown parameter "topic"`, nil},
		{"parameter twice", func(c *connector.Config) { c.Endpoint = "kafka://k.test?subject=a&subject=b" }, "endpoint", "given 2 times", nil},
		{"bad publish topic", func(c *connector.Config) { c.Endpoint = "kafka://k.test?subject=a/b" }, "endpoint", "letters, digits", nil},
		{"bad topic consumed", func(c *connector.Config) { c.Sync.Subject = "ehr.*" }, "sync.subject", "letters, digits", nil},
		{"topic too long", func(c *connector.Config) { c.Sync.Subject = strings.Repeat("t", 250) }, "sync.subject", "longer than 249", nil},
		{"empty group", func(c *connector.Config) { c.Endpoint = "kafka://k.test?group=" }, "endpoint", "group parameter: empty", nil},
		{"sasl without auth", func(c *connector.Config) { c.Endpoint = "kafka://k.test?sasl=plain" }, "endpoint", "needs auth basic", nil},
		{"unknown sasl", func(c *connector.Config) { c.Auth, c.Endpoint = basic, "kafka://k.test?sasl=gssapi" }, "endpoint", `"gssapi"`, nil},
		{"bearer", func(c *connector.Config) {
			c.Auth = &connector.Auth{Scheme: connector.SchemeBearer, Token: "t"}
		}, "auth.scheme", "take none, or basic", nil},
		{"basic without password", func(c *connector.Config) {
			c.Auth = &connector.Auth{Scheme: connector.SchemeBasic, Username: "u"}
		}, "auth.password", "required", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := base()
			tt.edit(&cfg)
			c, err := newConfig(cfg)
			if tt.field == "" {
				if err != nil {
					t.Fatalf("newConfig: %v", err)
				}
				tt.check(t, c)
				return
			}
			var fe *connector.FieldError
			if !errors.As(err, &fe) || fe.Field != tt.field || !strings.Contains(err.Error(), tt.msg) {
				t.Fatalf("newConfig: %v, want a FieldError on %s saying %q", err, tt.field, tt.msg)
			}
			if strings.Contains(err.Error(), "secret") {
				t.Errorf("the error shows a credential: %v", err)
			}
		})
	}
}

func TestNewConsumerGroup(t *testing.T) {
	cfg := connector.Config{Name: "State EHR", Type: connector.Kafka, Endpoint: "kafka://k.test", Sync: connector.Sync{Mode: connector.ModeQueue, Subject: "in"}}
	for _, tt := range []struct{ endpoint, durable, want string }{
		{"kafka://k.test", "liaison-c1", "liaison-c1"},
		{"kafka://k.test", "", "liaison-state_ehr"},
		{"kafka://k.test?group=ops", "liaison-c1", "ops"},
	} {
		cfg.Endpoint = tt.endpoint
		c, err := NewConsumer(cfg, tt.durable)
		if err != nil {
			t.Fatal(err)
		}
		if c.group != tt.want {
			t.Errorf("%s, durable %q: group %q, want %q", tt.endpoint, tt.durable, c.group, tt.want)
		}
	}
	cfg.Endpoint, cfg.Sync = "kafka://k.test", connector.Sync{}
	_, err := NewConsumer(cfg, "g")
	var fe *connector.FieldError
	if !errors.As(err, &fe) || fe.Field != "sync.subject" {
		t.Errorf("NewConsumer without a topic: %v, want a FieldError on sync.subject", err)
	}
}
