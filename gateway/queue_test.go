package gateway

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os/exec"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/liaisonhq/liaison/gateway/connector"
	"github.com/liaisonhq/liaison/gateway/internal/proctest"
	"github.com/liaisonhq/liaison/gateway/outbox"
	"github.com/liaisonhq/liaison/gateway/queue/natsq"
)

// startNATS runs a real nats-server with JetStream on 127.0.0.1 for the
// test, stopped (by its PID) when the test ends.
func startNATS(t *testing.T) string {
	t.Helper()
	bin, err := exec.LookPath("nats-server")
	if err != nil {
		t.Skip("nats-server is not installed (bash scripts/test installs it)")
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	proc, err := proctest.Spawn(exec.Command(bin, "-js", "-a", "127.0.0.1", "-p", fmt.Sprint(port), "-sd", t.TempDir()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(proc.Kill)
	url := fmt.Sprintf("nats://127.0.0.1:%d", port)
	deadline := time.Now().Add(10 * time.Second)
	for {
		nc, err := nats.Connect(url)
		if err == nil {
			nc.Close()
			return url
		}
		if time.Now().After(deadline) {
			t.Fatalf("nats-server did not start: %v", err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// A queue connector consumes FHIR resources from JetStream (acknowledged
// after the commit, deduplicated by Nats-Msg-Id) and a NATS connector
// publishes HMS changes with the idempotency key as Nats-Msg-Id.
func TestQueueNATS(t *testing.T) {
	url := startNATS(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	in := connector.Config{Name: "EHR feed", Type: connector.NATS, Endpoint: url, Sync: connector.Sync{Mode: connector.ModeQueue, Subject: "ehr.patients"}}
	out := connector.Config{Name: "Registry", Type: connector.NATS, Endpoint: url + "?subject=hms.out.{type}"}
	if err := natsq.EnsureStream(ctx, in, natsq.Stream{Name: "EHR"}); err != nil {
		t.Fatal(err)
	}
	if err := natsq.EnsureStream(ctx, out, natsq.Stream{Name: "HMS_OUT"}); err != nil {
		t.Fatal(err)
	}
	adapters := testAdapters()
	adapters[connector.NATS] = func(cfg connector.Config, _ *http.Client) (outbox.Sender, error) { return natsq.NewPublisher(cfg) }
	lv := startLive(t, Config{Adapters: adapters, Consumers: map[connector.Type]ConsumerFactory{
		connector.NATS: func(cfg connector.Config, durable string) (Consumer, error) { return natsq.NewConsumer(cfg, durable) },
	}})
	var c map[string]any
	if code := lv.call("POST", "/api/external-connectors", map[string]any{
		"name": "Registry", "type": "nats", "endpoint": url + "?subject=hms.out.{type}", "resources": []string{"Patient"},
	}, &c); code != 201 {
		t.Fatalf("register the publisher: %d %v", code, c)
	}
	if code := lv.call("POST", "/api/external-connectors", map[string]any{
		"name": "EHR feed", "type": "nats", "endpoint": url, "resources": []string{"Patient"},
		"mapping": map[string]any{"inbound": map[string]any{"Patient": "fhir-patient-to-hms"}},
		"sync":    map[string]any{"mode": "queue", "subject": "ehr.patients"},
	}, &c); code != 201 {
		t.Fatalf("register the consumer: %d %v", code, c)
	}

	nc, err := nats.Connect(url)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	js, _ := jetstream.New(nc)
	for _, id := range []string{"evt-1", "evt-1", "evt-2"} { // evt-1 twice: one change
		msg := nats.NewMsg("ehr.patients")
		msg.Header.Set("Nats-Msg-Id", id)
		msg.Data = fhirPatient("Q-"+id, "Queue")
		if _, err := js.PublishMsg(ctx, msg); err != nil {
			t.Fatal(err)
		}
	}
	lv.waitFor("both patients stored", func() bool {
		return lv.call("GET", "/api/records/Patient/Q-evt-1", nil, nil) == 200 && lv.call("GET", "/api/records/Patient/Q-evt-2", nil, nil) == 200
	})
	// They go on to the NATS publisher, with the idempotency key as Nats-Msg-Id.
	stream, err := js.Stream(ctx, "HMS_OUT")
	if err != nil {
		t.Fatal(err)
	}
	lv.waitFor("two messages published", func() bool {
		info, err := stream.Info(ctx)
		return err == nil && info.State.Msgs == 2
	})
	raw, err := stream.GetMsg(ctx, 1)
	if err != nil {
		t.Fatal(err)
	}
	var rec map[string]any
	json.Unmarshal(raw.Data, &rec)
	if raw.Subject != "hms.out.Patient" || raw.Header.Get("Nats-Msg-Id") == "" || rec["lastName"] != "Queue" {
		t.Errorf("published %s %v %v", raw.Subject, raw.Header, rec)
	}
}
