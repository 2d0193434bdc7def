package jetstream_test

import (
	"context"
	"fmt"
	"os"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"

	"github.com/liaisonhq/liaison/gateway/outbox"
	"github.com/liaisonhq/liaison/gateway/store"
	"github.com/liaisonhq/liaison/gateway/store/jetstream"
)

// printer is a Sender that prints what it delivers.
type printer chan string

func (p printer) Send(_ context.Context, m outbox.Message) error {
	p <- fmt.Sprintf("%s %s/%s attempt %d key %s", m.Op, m.RecordType, m.RecordID, m.Attempt, m.IdempotencyKey)
	return nil
}

// A gateway publishes a record change before answering 202, and delivers
// its connectors' messages with Run. Here one JetStream server runs in
// the process; a deployment connects to its cluster and sets Replicas 3.
func Example() {
	dir, _ := os.MkdirTemp("", "liaison-example")
	defer os.RemoveAll(dir)
	srv, err := server.NewServer(&server.Options{Host: "127.0.0.1", Port: -1, JetStream: true, StoreDir: dir, NoLog: true, NoSigs: true})
	if err != nil {
		fmt.Println(err)
		return
	}
	srv.Start()
	defer srv.Shutdown()
	if !srv.ReadyForConnections(10 * time.Second) {
		fmt.Println("server not ready")
		return
	}
	nc, err := nats.Connect(srv.ClientURL())
	if err != nil {
		fmt.Println(err)
		return
	}
	defer nc.Close()

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	o, err := jetstream.New(nc, jetstream.Config{Partitions: 4}, nil)
	if err != nil {
		fmt.Println(err)
		return
	}
	if err := o.Ensure(ctx); err != nil {
		fmt.Println(err)
		return
	}
	err = o.Publish(ctx, []store.Message{{
		ID: "m1", Connector: "state-ehr", RecordType: "Appointment", RecordID: "A1", Op: "upsert",
		Body: `{"resourceType":"Appointment","id":"A1"}`, ContentType: "application/fhir+json",
		IdempotencyKey: "9f86d081884c7d65",
	}})
	if err != nil {
		fmt.Println("not stored: answer 503, not 202:", err)
		return
	}
	c, _ := o.Counts(ctx, "state-ehr")
	fmt.Println("queued:", c.Queued)

	delivered := make(printer, 1)
	runCtx, stop := context.WithCancel(ctx)
	done := make(chan error)
	go func() { done <- o.Run(runCtx, "state-ehr", delivered, outbox.Policy{Timeout: 10 * time.Second}) }()
	fmt.Println(<-delivered)
	stop()
	<-done
	// Output:
	// queued: 1
	// upsert Appointment/A1 attempt 1 key 9f86d081884c7d65
}
