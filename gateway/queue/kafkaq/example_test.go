package kafkaq_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"

	"github.com/liaisonhq/liaison/gateway/connector"
	"github.com/liaisonhq/liaison/gateway/outbox"
	"github.com/liaisonhq/liaison/gateway/queue"
	"github.com/liaisonhq/liaison/gateway/queue/kafkaq"
)

// A connector that consumes the topic ehr.patients and produces by record
// type to hms.out.<type>, over TLS with SCRAM.
var cfg = connector.Config{
	Name:     "Registry",
	Type:     connector.Kafka,
	Endpoint: "kafka+ssl://k1.example:9093,k2.example:9093?subject=hms.out.{type}&sasl=scram-sha-512",
	Auth:     &connector.Auth{Scheme: connector.SchemeBasic, Username: "liaison", Password: "env:KAFKA_PASSWORD"},
	Sync:     connector.Sync{Mode: connector.ModeQueue, Subject: "ehr.patients"},
}

func ExamplePublisher_Send() {
	p, err := kafkaq.NewPublisher(cfg)
	if err != nil {
		fmt.Println(err) // a bad cfg, naming the field
		return
	}
	defer p.Close()
	// Keyed "Appointment/A1", to the topic hms.out.Appointment.
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
	c, err := kafkaq.NewConsumer(cfg, "liaison-registry", queue.WithLogger(slog.Default()))
	if err != nil {
		fmt.Println(err)
		return
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	_ = c.Run(ctx, func(ctx context.Context, deliveryID string, payload []byte) error {
		if len(payload) == 0 {
			return queue.Poison(errors.New("empty payload")) // skipped, its offset committed
		}
		// Commit the inbound event durably, deduped by deliveryID; an
		// error reads the record again later, and commits nothing.
		return nil
	})
}

func ExampleNewPublisher_badConfig() {
	bad := cfg
	bad.Endpoint = "kafka://k1.example:9092?topic=hms.out"
	_, err := kafkaq.NewPublisher(bad)
	var fe *connector.FieldError
	if errors.As(err, &fe) {
		fmt.Println(fe.Field)
	}
	// Output: endpoint
}
