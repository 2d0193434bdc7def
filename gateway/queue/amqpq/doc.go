// Package amqpq is the connector adapter for RabbitMQ over AMQP 0.9.1
// (connector type amqp): a Publisher that delivers outbox messages with
// publisher confirms, and a Consumer that hands a queue's messages to the
// gateway.
//
//	p, err := amqpq.NewPublisher(cfg)
//	err = p.Send(ctx, msg) // nil, or a *outbox.SendError
//
//	c, err := amqpq.NewConsumer(cfg, "gateway", queue.WithLogger(log))
//	err = c.Run(ctx, handle) // until ctx ends
//
// # Exchanges and queues
//
// The connector's endpoint is the broker and virtual host,
// amqp://host:5672/vhost or amqps://… (credentials go in auth: basic; none
// means the URI's user, else guest). A subject names where messages go or
// come from:
//
//	"exchange/routingKey"  the exchange, with the routing key (publish) or
//	                       the binding key (consume)
//	"queue"                the default exchange, routing to the queue
//
// The Publisher sends to, first that is set: the endpoint's subject
// parameter (amqp://host:5672/vhost?subject=hms/out.{type}), sync.subject,
// else the queue "liaison." + the connector's name (lower case). {type} in
// the routing key stands for the record's type. The Publisher declares
// nothing.
//
// The Consumer consumes sync.subject: the queue it names, or, for
// "exchange/bindingKey", a queue named after the durable name given to
// NewConsumer, bound to the exchange (which must exist), so that each
// deployment gets every message. Run declares its queue, durable, when it
// does not exist, and uses an existing one as it is (classic or quorum,
// with its dead-letter exchange). EnsureQueue declares queues, exchanges
// and bindings for tests and operators.
//
// # Publishing
//
// Messages are persistent and mandatory, with the idempotency key as
// MessageId, the message's content type, and the headers liaison-op,
// liaison-record-type and liaison-record-id. Send waits for the broker's
// confirm. A nack, an unroutable message (returned: no queue is bound, and
// one may be added), a channel the broker closed (no such exchange), a
// broker unreachable or silent past the timeout are Status 0 errors, which
// the outbox retries; a message larger than the broker's max_message_size
// is Permanent. Errors never hold the payload.
//
// # Consuming
//
// The Consumer acknowledges manually and bounds unsettled messages with
// the prefetch (Qos). It settles each message as package queue describes:
// acknowledged after the handler succeeds, rejected without requeue for
// queue.ErrPoison (dead-lettered where the queue says so), else nacked
// with requeue after a growing delay. The delivery id is the MessageId,
// or "sha256:" and the hex SHA-256 of the body without one: the same on
// every delivery of a message, which a delivery tag is not.
package amqpq
