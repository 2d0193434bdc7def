// Package kafkaq is the connector adapter for Apache Kafka (connector
// type kafka), on franz-go: a Publisher that delivers outbox messages with
// an idempotent producer, and a Consumer that hands a topic's records to
// the gateway as a member of a consumer group.
//
//	p, err := kafkaq.NewPublisher(cfg)
//	err = p.Send(ctx, msg) // nil, or a *outbox.SendError
//
//	c, err := kafkaq.NewConsumer(cfg, "gateway", queue.WithLogger(log))
//	err = c.Run(ctx, handle) // until ctx ends
//
// # Brokers and topics
//
// The connector's endpoint is the seed brokers, host:port and
// comma-separated, with kafka:// for plain TCP or kafka+ssl:// for TLS
// (the system's roots); brokers given without ports are on 9092:
//
//	kafka://k1.example:9092,k2.example:9092?subject=hms.out.{type}&sasl=scram-sha-512
//
// Its parameters, all optional:
//
//	subject  the topic the Publisher produces to; {type} stands for the
//	         record's type (Appointment)
//	group    the Consumer's group id, instead of the durable name the
//	         gateway gives (one group per connector: liaison-<id>)
//	sasl     plain (default), scram-sha-256 or scram-sha-512, with auth
//	         basic: the SASL user name and password, write-only like
//	         every secret, resolved afresh for each connection
//
// The Publisher produces to, first that is set: the subject parameter,
// sync.subject (the topic consumed, in queue mode), else "liaison." and
// the connector's name (liaison.state_ehr). The Consumer consumes
// sync.subject. Topics are not created: a topic that does not exist makes
// Send fail as retryable, and the Consumer waits for it. Errors of
// NewPublisher and NewConsumer are *connector.FieldError values naming
// the field (endpoint, sync.subject, auth.scheme, …).
//
// # Producing
//
// Each record is the outbox message's body, keyed by the record key
// "<type>/<id>" (Appointment/A1): the key picks the partition, so every
// change of one record lands in one partition, in the order the outbox
// sends them (one at a time per record). Headers: Idempotency-Key (the
// outbox's idempotency key), Content-Type, Liaison-Op, Liaison-Record-Type
// and Liaison-Record-Id; a delete is such a record too, with Liaison-Op
// delete and the record as last known, not a tombstone. The producer is
// idempotent and waits for every in-sync replica (acks=all): franz-go's
// own resends are stored once. No broker, no such topic, too few in-sync
// replicas and no acknowledgement in time are Status 0 errors, which the
// outbox retries; a record too large, an invalid topic and an
// authorization or SASL failure are Permanent. Errors never hold the
// payload.
//
// # Consuming
//
// The Consumer is a group member with autocommit off: it commits a
// record's offset only after the handler has succeeded — after the
// gateway's durable commit — and waits for the commit to be confirmed. A
// handler failure commits nothing: the partition pauses for a growing
// delay and is read again from that record, while the others go on. A
// poison record (queue.ErrPoison) is skipped and its offset committed,
// as the other queues drop one. Rebalances wait while a polled batch is
// handled, and a revoked partition's handled offsets whose commit failed
// are committed once more before it goes: no member commits an offset it
// has not handled or no longer owns. The delivery id is the Idempotency-Key
// header, or "kafka:<topic>:<partition>:<offset>" without one: the same
// on every delivery of a record, since a record can come again after a
// crash, a lost commit or a rebalance.
package kafkaq
