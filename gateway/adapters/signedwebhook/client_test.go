package signedwebhook

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/liaisonhq/liaison/gateway/adapters/adaptertest"
	"github.com/liaisonhq/liaison/gateway/connector"
	"github.com/liaisonhq/liaison/gateway/outbox"
	"github.com/liaisonhq/liaison/gateway/webhook"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

const secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"

func conn(endpoint string) connector.Config {
	return connector.Config{Name: "hooks", Type: connector.Webhook, Endpoint: endpoint, Auth: &connector.Auth{Secret: secret}}
}

var msg = outbox.Message{ID: "1", Connector: "c", RecordType: "Appointment", RecordID: "A1", Op: outbox.Upsert,
	Body: []byte(`{"appointmentId":"A1","patientId":"Jane-Canary"}`), ContentType: "application/json", IdempotencyKey: "k1", Attempt: 1}

// A receiver verifying with Standard Webhooks accepts what we send, with
// the idempotency key as webhook-id; a tampered body would not verify.
func TestSignedDelivery(t *testing.T) {
	v := &connector.Verify{Scheme: connector.VerifyStandardWebhooks, Secrets: []string{secret}}
	verifier, err := webhook.NewVerifier(v)
	if err != nil {
		t.Fatal(err)
	}
	got := make(chan string, 2)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		id, err := verifier.Verify(r.Header, body, time.Now())
		if err != nil {
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		var ev map[string]any
		json.Unmarshal(body, &ev)
		got <- id + " " + ev["op"].(string) + " " + ev["data"].(map[string]any)["appointmentId"].(string)
		w.WriteHeader(http.StatusNoContent)
	}))
	defer srv.Close()
	c, err := New(conn(srv.URL+"/hooks"), nil)
	if err != nil {
		t.Fatal(err)
	}
	for range 2 {
		if err := c.Send(context.Background(), msg); err != nil {
			t.Fatal(err)
		}
	}
	if a, b := <-got, <-got; a != "k1 upsert A1" || b != a {
		t.Errorf("received %q and %q: want the same webhook-id on every attempt", a, b)
	}
}

func TestConfig(t *testing.T) {
	if _, err := New(connector.Config{Name: "x", Type: connector.Webhook, Endpoint: "http://127.0.0.1:1/h"}, nil); err == nil {
		t.Error("no secret accepted")
	}
	if _, err := New(connector.Config{Name: "x", Type: connector.Webhook, Endpoint: "ftp://x", Auth: &connector.Auth{Secret: secret}}, nil); err == nil {
		t.Error("an ftp endpoint accepted")
	}
}

func TestConformance(t *testing.T) {
	adaptertest.Run(t, adaptertest.Factory{
		Target: func(t *testing.T) (adaptertest.Target, string) {
			srv := adaptertest.StartServer(t)
			return srv, srv.URL() + "/hooks"
		},
		New:     func(cfg connector.Config, c *http.Client) (outbox.Sender, error) { return New(cfg, c) },
		Config:  conn(""),
		Message: msg,
		Secrets: []string{"Jane-Canary"},
	})
}
