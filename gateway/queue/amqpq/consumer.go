package amqpq

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"

	"github.com/liaisonhq/liaison/gateway/connector"
	"github.com/liaisonhq/liaison/gateway/queue"
)

// Timings of a Consumer's own I/O.
const (
	// The pause before a new session after a failed one starts at
	// minReconnect and doubles up to maxReconnect.
	minReconnect = 100 * time.Millisecond
	maxReconnect = 5 * time.Second
	// maxTracked bounds the failure counts a session keeps for messages
	// that come without x-delivery-count.
	maxTracked = 10000
)

// Consumer consumes a durable queue, handing each message to a
// queue.Handler and settling it by the answer. Run does the work.
type Consumer struct {
	cfg     config
	queue   string // the queue consumed
	durable string // the consumer tag; the queue's name too when bound to an exchange
	opts    queue.Options
	log     *slog.Logger

	mu   sync.Mutex
	conn *amqp.Connection // the running session's connection; nil between sessions
}

// NewConsumer returns a Consumer for the connector cfg (type amqp, with
// Sync.Subject). A subject "queue" consumes that queue; a subject
// "exchange/bindingKey" consumes the queue named durable, bound to the
// exchange with the key, so that each gateway deployment (each durable
// name) gets every message. durable is also the consumer tag; "" means
// "liaison-" and the connector's name as a token. NewConsumer does no I/O;
// it fails only on a bad cfg or name.
func NewConsumer(cfg connector.Config, durable string, opts ...queue.Option) (*Consumer, error) {
	c, err := newConfig(cfg)
	if err == nil && !c.consumeSet {
		err = errors.New("sync.subject: missing: the queue, or exchange/bindingKey, to consume")
	}
	if durable == "" {
		durable = "liaison-" + token(cfg.Name)
	}
	if err == nil {
		if e := checkTarget("", durable); e != nil || strings.ContainsAny(durable, " /") {
			err = fmt.Errorf("durable name %q: want a queue name without white space or '/'", durable)
		}
	}
	if err != nil {
		return nil, fmt.Errorf("amqpq: connector %q: %w", cfg.Name, err)
	}
	name := c.consumeKey
	if c.consumeExchange != "" {
		name = durable
	}
	o := queue.NewOptions(opts...)
	return &Consumer{cfg: c, queue: name, durable: durable, opts: o, log: o.Logger.With("connector", cfg.Name, "queue", name)}, nil
}

// Run consumes until ctx ends, then returns nil; it returns an error only
// when handle is nil. Messages are handled one at a time, in the order the
// broker delivers them; at most Options.Prefetch are unsettled at once:
//
//   - handle returns nil: the message is acknowledged;
//   - an error wrapping queue.ErrPoison: it is rejected without requeue,
//     so the broker drops it or dead-letters it (the queue's
//     x-dead-letter-exchange);
//   - another error: it is held unsettled for Options.Delay of its failure
//     count (x-delivery-count on quorum queues, else counted here) while
//     the next messages are handled, then nacked with requeue; at once
//     when ctx has ended.
//
// A message left unsettled when the connection ends — a crash, a lost
// ack — is requeued by the broker and comes again. deliveryID is the
// message's MessageId, or "sha256:" and the hex SHA-256 of the body
// without one, so that every delivery of a message has the same id.
//
// Run connects, sets the prefetch, declares the queue when it does not
// exist (durable; bound to the exchange for an "exchange/key" subject,
// which must exist) and consumes it. When any of that fails, or the
// connection or channel is lost, it logs a warning and starts again after
// a pause of up to 5s.
func (c *Consumer) Run(ctx context.Context, handle queue.Handler) error {
	if handle == nil {
		return errors.New("amqpq: Run: nil handler")
	}
	pause := minReconnect
	for {
		handled, err := c.session(ctx, handle)
		if ctx.Err() != nil {
			return nil
		}
		if handled > 0 {
			pause = minReconnect
		}
		c.log.Warn("amqp consumer session ended; starting again", "in", pause, "err", err)
		t := time.NewTimer(pause)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil
		case <-t.C:
		}
		pause = min(2*pause, maxReconnect)
	}
}

// session connects, declares and consumes the queue, and handles messages
// until ctx ends (nil error) or something fails. It returns how many
// messages it handled.
func (c *Consumer) session(ctx context.Context, handle queue.Handler) (handled int, err error) {
	conn, err := c.cfg.dial(ctx)
	if err != nil {
		return 0, err
	}
	c.setConn(conn.Connection)
	s := &session{Consumer: c, failures: map[string]int{}}
	defer func() {
		s.wait.Wait() // the nacks under way
		c.setConn(nil)
		_ = conn.close() // unsettled messages are requeued
	}()
	defer s.stopTimers()

	// Setup is a few round trips; a broker that stalls them gets the
	// connection given up when ctx ends.
	stop := context.AfterFunc(ctx, conn.abandon)
	deliveries, err := c.setup(conn.Connection)
	stop()
	if ctx.Err() != nil {
		return 0, nil
	}
	if err != nil {
		return 0, err
	}
	closed := conn.NotifyClose(make(chan *amqp.Error, 1))
	for {
		select {
		case <-ctx.Done():
			return handled, nil
		case d, ok := <-deliveries:
			if !ok {
				reason := "the channel or connection closed"
				select {
				case e := <-closed:
					if e != nil {
						reason = fmt.Sprintf("the connection closed: %d %s", e.Code, e.Reason)
					}
				default:
				}
				return handled, errors.New("consume: " + reason)
			}
			if ctx.Err() != nil {
				return handled, nil // d is requeued when the connection closes
			}
			s.deliver(ctx, d, handle)
			handled++
		}
	}
}

// setup opens the channel, sets its prefetch, declares (and binds) the
// queue when missing, and starts consuming.
func (c *Consumer) setup(conn *amqp.Connection) (<-chan amqp.Delivery, error) {
	ch, err := conn.Channel()
	if err != nil {
		return nil, fmt.Errorf("open a channel: %w", err)
	}
	if _, err := ch.QueueDeclarePassive(c.queue, true, false, false, false, nil); err != nil {
		var ae *amqp.Error
		if !errors.As(err, &ae) || ae.Code != amqp.NotFound {
			return nil, fmt.Errorf("queue %s: %w", c.queue, err)
		}
		// The failed passive declare closed the channel.
		if ch, err = conn.Channel(); err != nil {
			return nil, fmt.Errorf("open a channel: %w", err)
		}
		if _, err := ch.QueueDeclare(c.queue, true, false, false, false, nil); err != nil {
			return nil, fmt.Errorf("declare queue %s: %w", c.queue, err)
		}
	}
	if c.cfg.consumeExchange != "" {
		if err := ch.QueueBind(c.queue, c.cfg.consumeKey, c.cfg.consumeExchange, false, nil); err != nil {
			return nil, fmt.Errorf("bind queue %s to exchange %s: %w", c.queue, c.cfg.consumeExchange, err)
		}
	}
	if err := ch.Qos(c.opts.Prefetch, 0, false); err != nil {
		return nil, fmt.Errorf("prefetch: %w", err)
	}
	deliveries, err := ch.Consume(c.queue, c.durable, false, false, false, false, nil)
	if err != nil {
		return nil, fmt.Errorf("consume queue %s: %w", c.queue, err)
	}
	return deliveries, nil
}

// session is one connection's worth of consuming.
type session struct {
	*Consumer
	// failures counts the failed deliveries of messages by delivery id,
	// for queues that do not count them (x-delivery-count).
	failures map[string]int
	// timers hold failed messages until their nack; wait waits for the
	// timers' functions.
	timers []*held
	wait   sync.WaitGroup
}

// deliver hands d to handle and settles it by the answer.
func (s *session) deliver(ctx context.Context, d amqp.Delivery, handle queue.Handler) {
	id := d.MessageId
	if id == "" {
		sum := sha256.Sum256(d.Body)
		id = "sha256:" + hex.EncodeToString(sum[:])
	}
	err := handle(ctx, id, d.Body)
	switch {
	case err == nil:
		delete(s.failures, id)
		if err := d.Ack(false); err != nil {
			s.log.Warn("amqp consumer: ack failed; the message will come again", "delivery", id, "err", err)
		}
	case errors.Is(err, queue.ErrPoison):
		delete(s.failures, id)
		// The handler logs why; the payload and the reason stay out of
		// this log.
		s.log.Warn("amqp consumer: poison message rejected", "delivery", id, "redelivered", d.Redelivered)
		if err := d.Reject(false); err != nil {
			s.log.Warn("amqp consumer: reject failed; the message will come again", "delivery", id, "err", err)
		}
	case ctx.Err() != nil:
		_ = d.Nack(false, true)
	default:
		n := s.failed(id, d)
		delay := s.opts.Delay(n)
		s.log.Debug("amqp consumer: handler failed; requeueing later", "delivery", id, "failures", n, "in", delay)
		s.hold(d, delay)
	}
}

// failed counts a failed delivery of the message id and returns how many
// it has had: its x-delivery-count plus one where the queue keeps it,
// else the session's own count.
func (s *session) failed(id string, d amqp.Delivery) int {
	if len(s.failures) >= maxTracked {
		clear(s.failures)
	}
	s.failures[id]++
	n := s.failures[id]
	switch v := d.Headers["x-delivery-count"].(type) {
	case int64:
		n = max(n, int(min(v, 1<<20))+1)
	case int32:
		n = max(n, int(v)+1)
	}
	return n
}

// hold nacks d with requeue after delay.
func (s *session) hold(d amqp.Delivery, delay time.Duration) {
	s.timers = slices.DeleteFunc(s.timers, func(h *held) bool { return h.fired.Load() })
	h := &held{}
	s.wait.Add(1)
	h.timer = time.AfterFunc(delay, func() {
		defer s.wait.Done()
		h.fired.Store(true)
		_ = d.Nack(false, true) // if the channel is gone, the broker requeued it already
	})
	s.timers = append(s.timers, h)
}

// held is a failed message waiting for its nack.
type held struct {
	timer *time.Timer
	fired atomic.Bool
}

// stopTimers stops the timers that have not fired; their messages are
// requeued by the broker when the connection closes.
func (s *session) stopTimers() {
	for _, h := range s.timers {
		if h.timer.Stop() {
			s.wait.Done()
		}
	}
	s.timers = nil
}

func (c *Consumer) setConn(conn *amqp.Connection) {
	c.mu.Lock()
	c.conn = conn
	c.mu.Unlock()
}

// connection returns the running session's connection, nil between
// sessions.
func (c *Consumer) connection() *amqp.Connection {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.conn
}
