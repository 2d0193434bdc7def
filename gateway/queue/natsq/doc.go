// Package natsq is the connector adapter for NATS JetStream (connector
// type nats): a Publisher that delivers outbox messages to a stream, and a
// Consumer that hands a stream's messages to the gateway.
//
//	p, err := natsq.NewPublisher(cfg)
//	err = p.Send(ctx, msg) // nil, or a *outbox.SendError
//
//	c, err := natsq.NewConsumer(cfg, "gateway", queue.WithLogger(log))
//	err = c.Run(ctx, handle) // until ctx ends
//
// # Subjects
//
// The connector's endpoint is the server, nats://host:4222 (credentials go
// in auth: basic for a user and password, bearer for a token). The
// Publisher sends to, first that is set:
//
//	the endpoint's subject parameter   nats://host:4222?subject=hms.out.{type}
//	sync.subject                       hms.in (the subject consumed, in queue mode)
//	"liaison." + the connector's name  liaison.state_ehr (lower case, one token)
//
// {type} stands for the record's type (Appointment). The Consumer consumes
// sync.subject, which may hold wildcards (hms.in.>). The gateway creates no
// streams: a stream must hold the subjects, or Send fails as retryable and
// Run retries; EnsureStream makes one, for tests and operators.
//
// # Publishing
//
// Each message is the outbox message's body, with the headers Nats-Msg-Id
// (the idempotency key: the stream stores a message once within its
// duplicate window, however often the outbox retries it), Content-Type,
// Liaison-Op, Liaison-Record-Type and Liaison-Record-Id. Send waits for the
// stream's acknowledgement. No server, no stream for the subject (no
// responders) and no acknowledgement in time are Status 0 errors, which
// the outbox retries; a message larger than the server or stream allows is
// Permanent. Errors never hold the payload.
//
// # Consuming
//
// The Consumer is a durable pull consumer with explicit acks on the stream
// that holds sync.subject, created or updated by Run. It settles each
// message as package queue describes: acknowledged after the handler
// succeeds, terminated for queue.ErrPoison, else redelivered after a
// growing delay (a NAK with delay). The delivery id is the Nats-Msg-Id
// header, or "js:<stream>:<stream sequence>" without one; both are the
// same on every delivery of a message.
package natsq
