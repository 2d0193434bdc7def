package amqpq

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"

	"github.com/liaisonhq/liaison/gateway/connector"
	"github.com/liaisonhq/liaison/gateway/outbox"
)

// The headers a published message carries; its MessageId is the
// idempotency key and its ContentType the message's.
const (
	HeaderOp         = "liaison-op"          // "upsert" or "delete"
	HeaderRecordType = "liaison-record-type" // "Appointment"
	HeaderRecordID   = "liaison-record-id"   // "A1"
)

// maxIdle bounds the confirm-mode channels a Publisher keeps open between
// Sends.
const maxIdle = 16

// Publisher publishes outbox messages to a RabbitMQ exchange with
// publisher confirms. It connects on the first Send and again on the first
// Send after the connection is lost. Each Send uses a channel of its own,
// from a small pool, so that a confirm or a return can only be its
// message's. A Publisher is safe for concurrent use.
type Publisher struct {
	cfg config
	// sem, one slot, is held while connecting or opening a channel, so
	// that concurrent Sends dial once, and to change conn or closed.
	sem chan struct{}
	// mu guards conn, idle and closed; it is never held across I/O, so
	// that a Send that is done never waits for one that connects.
	mu     sync.Mutex
	conn   *conn
	idle   []*pubChannel
	closed bool
}

// pubChannel is a confirm-mode channel and what it notifies.
type pubChannel struct {
	conn    *conn
	ch      *amqp.Channel
	returns chan amqp.Return // unroutable mandatory publishes
	closes  chan *amqp.Error // why the server closed the channel
}

var _ outbox.Sender = (*Publisher)(nil)

// NewPublisher returns a Publisher for the connector cfg (type amqp): it
// publishes to the exchange and routing key the package documentation
// describes. It does no I/O; it fails only on a bad cfg.
func NewPublisher(cfg connector.Config) (*Publisher, error) {
	c, err := newConfig(cfg)
	if err != nil {
		return nil, fmt.Errorf("amqpq: connector %q: %w", cfg.Name, err)
	}
	return &Publisher{cfg: c, sem: make(chan struct{}, 1)}, nil
}

// Send publishes m, persistent and mandatory, with m.IdempotencyKey as its
// MessageId and m.ContentType as its content type, and waits for the
// broker's confirm, bounded by ctx and the connector's Delivery.Timeout.
// It returns nil once the broker has confirmed the message (stored it in
// every queue it was routed to). Otherwise it returns a *outbox.SendError:
// Status 0 (retried) when the broker is unreachable, nacks the message
// (a full queue with overflow reject-publish, say), returns it as
// unroutable (no queue bound: an operator can still add one, and nothing
// is lost meanwhile), closes the channel (no such exchange) or does not
// answer in time — a Send that outlives its ctx gives the connection up,
// since the channel's state is then unknown, and the next Send dials
// again. Permanent when the message can never be published: larger than
// the broker's max_message_size, or a record type unfit for {type}. A
// confirm does not come twice, but a retried Send publishes again: the
// consumer dedupes by MessageId.
//
// Send returns by the end of ctx or of the timeout, whatever the broker
// does, plus at most closeGrace (1s) when a call it made must wait for the
// connection given up to close.
func (p *Publisher) Send(ctx context.Context, m outbox.Message) error {
	exchange, key, err := p.cfg.target(m.RecordType)
	if err != nil {
		return &outbox.SendError{Permanent: true, Err: err}
	}
	ctx, cancel := context.WithTimeout(ctx, p.cfg.timeout)
	defer cancel()
	pc, err := p.acquire(ctx)
	if err != nil {
		return &outbox.SendError{Err: err}
	}
	err = pc.publish(ctx, exchange, key, amqp.Publishing{
		Headers: amqp.Table{
			HeaderOp:         string(m.Op),
			HeaderRecordType: m.RecordType,
			HeaderRecordID:   m.RecordID,
		},
		ContentType:  m.ContentType,
		DeliveryMode: amqp.Persistent,
		MessageId:    m.IdempotencyKey,
		Timestamp:    time.Now().UTC(),
		AppId:        "liaison",
		Body:         m.Body,
	})
	p.release(ctx, pc, err == nil)
	if err != nil {
		var se *outbox.SendError
		if errors.As(err, &se) {
			return se
		}
		return &outbox.SendError{Err: fmt.Errorf("publish to %s: %w", describe(exchange, key), err)}
	}
	return nil
}

// publish publishes msg on pc and waits for the confirm. A failure leaves
// pc unfit for another publish. When ctx ends first, pc's connection is
// given up: the confirm may still come, and nothing else would unblock a
// broker that stalls.
func (pc *pubChannel) publish(ctx context.Context, exchange, key string, msg amqp.Publishing) error {
	// The write itself can block: TCP flow control, a broker that stalls.
	stop := context.AfterFunc(ctx, pc.conn.abandon)
	dc, err := pc.ch.PublishWithDeferredConfirm(exchange, key, true, false, msg)
	stop()
	if err != nil {
		return pc.failure(ctx, err)
	}
	select {
	case <-dc.Done():
	case <-ctx.Done():
		// Decided by ctx, never by stop's answer: ctx's Done is closed
		// before its AfterFuncs start, so stop can report that it stopped
		// one after ctx has ended.
		return pc.failure(ctx, nil)
	}
	acked := dc.Acked()
	// The broker returns an unroutable message before it confirms it, and
	// amqp091 hands the return over before the confirm.
	select {
	case r, ok := <-pc.returns:
		if !ok { // closed with the channel
			break
		}
		return &outbox.SendError{Err: fmt.Errorf("publish to %s: unroutable: %d %s (no queue bound to the routing key)", describe(exchange, key), r.ReplyCode, r.ReplyText)}
	default:
	}
	if !acked {
		if pc.ch.IsClosed() {
			return pc.failure(ctx, nil)
		}
		return errors.New("the broker refused the message (nack): a queue is full or unavailable")
	}
	return nil
}

// failure describes why a publish on pc failed: ctx's end (pc's connection
// is then given up), or the reason the server closed the channel, else
// err.
func (pc *pubChannel) failure(ctx context.Context, err error) error {
	if ctx.Err() != nil {
		pc.conn.abandon()
		return fmt.Errorf("no confirm from the broker in time (%w); connection closed", ctx.Err())
	}
	select {
	case e, ok := <-pc.closes:
		if ok && e != nil {
			if e.Code == amqp.PreconditionFailed && strings.Contains(e.Reason, "larger than") {
				return &outbox.SendError{Permanent: true, Err: fmt.Errorf("the broker refused the message: %d %s", e.Code, e.Reason)}
			}
			return fmt.Errorf("the broker closed the channel: %d %s", e.Code, e.Reason)
		}
	default:
	}
	if err == nil {
		err = amqp.ErrClosed
	}
	return fmt.Errorf("channel lost before the confirm: %w", err)
}

// describe names a publish target for errors.
func describe(exchange, key string) string {
	if exchange == "" {
		return fmt.Sprintf("queue %q", key)
	}
	return fmt.Sprintf("exchange %q, routing key %q", exchange, key)
}

// acquire returns a confirm-mode channel for one publish, connecting first
// when there is no connection.
func (p *Publisher) acquire(ctx context.Context) (*pubChannel, error) {
	select {
	case p.sem <- struct{}{}:
	case <-ctx.Done():
		return nil, fmt.Errorf("connect: %w", ctx.Err())
	}
	defer func() { <-p.sem }()
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return nil, ErrClosed
	}
	conn := p.conn
	if conn == nil || !conn.usable() {
		p.idle = nil // they went with the connection
		conn = nil
	}
	for len(p.idle) > 0 {
		pc := p.idle[len(p.idle)-1]
		p.idle = p.idle[:len(p.idle)-1]
		if !pc.ch.IsClosed() {
			p.mu.Unlock()
			return pc, nil
		}
	}
	p.mu.Unlock()
	if conn == nil {
		var err error
		if conn, err = p.cfg.dial(ctx); err != nil {
			return nil, err
		}
		p.mu.Lock()
		p.conn = conn // closed cannot have changed: Close takes sem
		p.mu.Unlock()
	}
	stop := context.AfterFunc(ctx, conn.abandon)
	ch, err := conn.Channel()
	if err == nil {
		err = ch.Confirm(false)
	}
	stop()
	if ctx.Err() != nil {
		conn.abandon() // stop can win the race with ctx's end
		return nil, fmt.Errorf("open a channel: no answer in time (%w); connection closed", ctx.Err())
	}
	if err != nil {
		return nil, fmt.Errorf("open a channel: %w", err)
	}
	return &pubChannel{
		conn:    conn,
		ch:      ch,
		returns: ch.NotifyReturn(make(chan amqp.Return, 1)),
		closes:  ch.NotifyClose(make(chan *amqp.Error, 1)),
	}, nil
}

// release takes pc back after a publish: into the pool when it is fit for
// another one, else it is closed (or went with its connection). Closing
// is a round trip, bounded by ctx like the publish: a broker that does not
// answer in time gets the connection given up.
func (p *Publisher) release(ctx context.Context, pc *pubChannel, ok bool) {
	p.mu.Lock()
	if ok && !p.closed && pc.conn == p.conn && pc.conn.usable() && len(p.idle) < maxIdle {
		p.idle = append(p.idle, pc)
		p.mu.Unlock()
		return
	}
	p.mu.Unlock()
	if !pc.conn.usable() || pc.ch.IsClosed() {
		return
	}
	// After a failed publish on a live connection the channel's state is
	// unknown: it goes. A nack or a return comes from a broker that
	// answers, but it may stall right after.
	stop := context.AfterFunc(ctx, pc.conn.abandon)
	_ = pc.ch.Close()
	stop()
}

// Close closes the connection. Sends under way fail; later ones return
// ErrClosed. Close waits for a Send that is connecting, and is idempotent.
func (p *Publisher) Close() error {
	p.sem <- struct{}{}
	defer func() { <-p.sem }()
	p.mu.Lock()
	conn := p.conn
	p.closed, p.conn, p.idle = true, nil, nil
	p.mu.Unlock()
	if conn == nil {
		return nil
	}
	return conn.close()
}
