package amqpq

import (
	"context"
	"errors"
	"fmt"

	amqp "github.com/rabbitmq/amqp091-go"

	"github.com/liaisonhq/liaison/gateway/connector"
)

// Queue is a durable queue as EnsureQueue declares it.
type Queue struct {
	Name string // required
	// Exchange and Key bind the queue to the exchange, declared as a
	// durable topic exchange when missing. Exchange "" leaves the queue
	// on the default exchange only (routing key: its name).
	Exchange, Key string
	// Args are the queue's arguments: x-queue-type, x-max-length,
	// x-overflow, x-dead-letter-exchange, … Default none (a classic
	// queue). They must match those of an existing queue.
	Args amqp.Table
}

// EnsureQueue declares the queue q, and its exchange and binding, on the
// connector cfg's broker; for tests and operators, since the Publisher
// declares nothing (the Consumer declares its own queue). It connects for
// the call and closes the connection after.
func EnsureQueue(ctx context.Context, cfg connector.Config, q Queue) error {
	c, err := newConfig(cfg)
	if err != nil {
		return fmt.Errorf("amqpq: connector %q: %w", cfg.Name, err)
	}
	if q.Name == "" {
		return errors.New("amqpq: EnsureQueue: the queue needs a name")
	}
	conn, err := c.dial(ctx)
	if err != nil {
		return fmt.Errorf("amqpq: queue %s: %w", q.Name, err)
	}
	stop := context.AfterFunc(ctx, conn.abandon)
	defer func() {
		stop()
		_ = conn.close()
	}()
	ch, err := conn.Channel()
	if err != nil {
		return fmt.Errorf("amqpq: queue %s: %w", q.Name, err)
	}
	if q.Exchange != "" {
		if err := ch.ExchangeDeclare(q.Exchange, amqp.ExchangeTopic, true, false, false, false, nil); err != nil {
			return fmt.Errorf("amqpq: exchange %s: %w", q.Exchange, err)
		}
	}
	if _, err := ch.QueueDeclare(q.Name, true, false, false, false, q.Args); err != nil {
		return fmt.Errorf("amqpq: queue %s: %w", q.Name, err)
	}
	if q.Exchange != "" {
		if err := ch.QueueBind(q.Name, q.Key, q.Exchange, false, nil); err != nil {
			return fmt.Errorf("amqpq: bind queue %s to %s: %w", q.Name, q.Exchange, err)
		}
	}
	return nil
}
