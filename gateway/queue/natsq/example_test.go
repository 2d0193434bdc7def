package natsq_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/liaisonhq/liaison/gateway/connector"
	"github.com/liaisonhq/liaison/gateway/outbox"
	"github.com/liaisonhq/liaison/gateway/queue"
	"github.com/liaisonhq/liaison/gateway/queue/natsq"
)

// A connector that consumes hms.in and publishes by record type to
// hms.out.<type>, on a stream that holds both.
var cfg = connector.Config{
	Name:     "Registry",
	Type:     connector.NATS,
	Endpoint: "nats://127.0.0.1:4222?subject=hms.out.{type}",
	Sync:     connector.Sync{Mode: connector.ModeQueue, Subject: "hms.in"},
}

func ExampleEnsureStream() {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	// Subjects hms.out.* and hms.in; a retried publish is stored once
	// within an hour.
	if err := natsq.EnsureStream(ctx, cfg, natsq.Stream{Name: "HMS", Duplicates: time.Hour}); err != nil {
		fmt.Println(err)
	}
}

func ExamplePublisher_Send() {
	p, err := natsq.NewPublisher(cfg)
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
	c, err := natsq.NewConsumer(cfg, "gateway", queue.WithLogger(slog.Default()))
	if err != nil {
		fmt.Println(err)
		return
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	_ = c.Run(ctx, func(ctx context.Context, deliveryID string, payload []byte) error {
		if len(payload) == 0 {
			return queue.Poison(errors.New("empty payload")) // terminated, never redelivered
		}
		// Commit the inbound event durably, deduped by deliveryID; an
		// error redelivers the message later.
		return nil
	})
}
