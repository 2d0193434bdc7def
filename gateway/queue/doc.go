// Package queue is the contract between the gateway and its message-queue
// adapters (natsq for NATS JetStream, amqpq for RabbitMQ, kafkaq for
// Kafka): what a consumer hands the gateway for each message, how the
// gateway says that a message can never be processed, and the options
// every consumer takes.
//
// A consumer delivers each message to a Handler and settles it by the
// answer, at least once:
//
//	nil                    acknowledged: the broker forgets the message
//	an error wrapping      terminated: the broker drops it (or
//	ErrPoison              dead-letters it, where the queue is set up so)
//	any other error        redelivered after a delay that grows with each
//	                       failed delivery (Options.Delay)
//
// So a Handler makes its work durable before it returns nil (the gateway
// commits the inbound event inside it), and since a message may come
// again — after a crash between that commit and the acknowledgement, or a
// lost acknowledgement — it dedupes by the delivery id, which is the same
// on every delivery of one message.
//
// The adapters' own packages document how a connector's endpoint and
// subject name a stream, an exchange or a queue.
package queue
