package amqpq_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/liaisonhq/liaison/gateway/connector"
	"github.com/liaisonhq/liaison/gateway/outbox"
	"github.com/liaisonhq/liaison/gateway/queue"
	"github.com/liaisonhq/liaison/gateway/queue/amqpq"
)

// A connector that consumes what the exchange hms.in routes with keys
// fhir.*, and publishes to the exchange hms.out with the record's type as
// routing key.
var cfg = connector.Config{
	Name:     "Registry",
	Type:     connector.AMQP,
	Endpoint: "amqp://127.0.0.1:5672/hms?subject=hms.out/{type}",
	Auth:     &connector.Auth{Scheme: connector.SchemeBasic, Username: "liaison", Password: "env:AMQP_PASSWORD"},
	Sync:     connector.Sync{Mode: connector.ModeQueue, Subject: "hms.in/fhir.*"},
}

func ExampleEnsureQueue() {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	// Where the publisher's Appointments go.
	err := amqpq.EnsureQueue(ctx, cfg, amqpq.Queue{Name: "appointments", Exchange: "hms.out", Key: "Appointment"})
	if err != nil {
		fmt.Println(err)
	}
}

func ExamplePublisher_Send() {
	p, err := amqpq.NewPublisher(cfg)
	if err != nil {
		fmt.Println(err) // a bad cfg
		return
	}
	defer p.Close()
	err = p.Send(context.Background(), outbox.Message{
		RecordType: "Appointment", RecordID: "A1", Op: outbox.Upsert,
		Body: []byte(`{"resourceType":"Appointment","id":"A1"}`), ContentType: "application/fhir+json",
		IdempotencyKey: "hms:Appointment/A1:9f86d081",
	})
	var se *outbox.SendError
	if errors.As(err, &se) {
		fmt.Println("retry:", !se.Permanent, se.Err)
	}
}

func ExampleConsumer_Run() {
	// The queue "gateway", bound to hms.in with fhir.*.
	c, err := amqpq.NewConsumer(cfg, "gateway", queue.WithLogger(slog.Default()), queue.WithPrefetch(16))
	if err != nil {
		fmt.Println(err)
		return
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	_ = c.Run(ctx, func(ctx context.Context, deliveryID string, payload []byte) error {
		if len(payload) == 0 {
			return queue.Poison(errors.New("empty payload")) // rejected, dead-lettered
		}
		// Commit the inbound event durably, deduped by deliveryID; an
		// error requeues the message later.
		return nil
	})
}
