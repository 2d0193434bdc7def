package natsq

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/liaisonhq/liaison/gateway/connector"
	"github.com/liaisonhq/liaison/gateway/queue"
)

// Timings of a Consumer's own I/O.
const (
	// settleTimeout bounds waiting for the server to confirm an
	// acknowledgement.
	settleTimeout = 5 * time.Second
	// The pause before a new session after a failed one starts at
	// minReconnect and doubles up to maxReconnect.
	minReconnect = 100 * time.Millisecond
	maxReconnect = 5 * time.Second
)

// Consumer consumes the connector's subject (Sync.Subject) through a
// durable pull consumer on the stream that holds it, handing each message
// to a queue.Handler and settling it by the answer. Run does the work.
type Consumer struct {
	cfg     config
	durable string
	opts    queue.Options
	log     *slog.Logger

	mu sync.Mutex
	nc *nats.Conn // the running session's connection; nil between sessions
}

// NewConsumer returns a Consumer for the connector cfg (type nats, with
// Sync.Subject), as the JetStream durable consumer durable: consumers of
// one durable name share the messages and their acknowledgements, across
// restarts. durable "" means "liaison-" and the connector's name as a
// token. NewConsumer does no I/O; it fails only on a bad cfg or name.
func NewConsumer(cfg connector.Config, durable string, opts ...queue.Option) (*Consumer, error) {
	c, err := newConfig(cfg)
	if err == nil && c.consume == "" {
		err = errors.New("sync.subject: missing: the subject to consume")
	}
	if durable == "" {
		durable = "liaison-" + token(cfg.Name)
	}
	if err == nil && (strings.ContainsAny(durable, ".*>/\\") || !validToken(durable, false)) {
		err = fmt.Errorf("durable name %q: white space, '.', '*', '>', '/' or '\\'", durable)
	}
	if err != nil {
		return nil, fmt.Errorf("natsq: connector %q: %w", cfg.Name, err)
	}
	o := queue.NewOptions(opts...)
	return &Consumer{cfg: c, durable: durable, opts: o, log: o.Logger.With("connector", cfg.Name, "durable", durable)}, nil
}

// Run consumes until ctx ends, then returns nil; it returns an error only
// when handle is nil. Messages are handled one at a time, in stream order
// but for redeliveries:
//
//   - handle returns nil: the message is acknowledged, and Run waits for
//     the server to confirm it (a lost acknowledgement means the message
//     comes again);
//   - an error wrapping queue.ErrPoison: the message is terminated, never
//     delivered again;
//   - another error: the message is redelivered after Options.Delay of
//     its delivery count; at once when ctx has ended (a shutdown), so that
//     another gateway takes it up.
//
// While handle runs, Run tells the server every third of Options.AckWait
// that the message is in progress, so only a crash makes the server
// redeliver it, after AckWait. deliveryID is the message's Nats-Msg-Id
// header, or "js:<stream>:<stream sequence>" without one.
//
// Run connects, finds the stream by the subject, and creates or updates
// the durable consumer (explicit acks, no delivery limit, filtered on the
// subject). When any of that fails, or the connection is lost for good,
// it logs a warning and starts again after a pause of up to 5s; nats.go
// reconnects a dropped connection in between.
func (c *Consumer) Run(ctx context.Context, handle queue.Handler) error {
	if handle == nil {
		return errors.New("natsq: Run: nil handler")
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
		c.log.Warn("nats consumer session ended; starting again", "subject", c.cfg.consume, "in", pause, "err", err)
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

// session connects, binds the durable consumer and handles messages until
// ctx ends (nil error) or something fails. It returns how many messages
// it handled.
func (c *Consumer) session(ctx context.Context, handle queue.Handler) (int, error) {
	nc, err := c.cfg.connect(ctx,
		nats.DisconnectErrHandler(func(_ *nats.Conn, err error) {
			if err != nil {
				c.log.Warn("nats consumer disconnected", "err", err)
			}
		}),
		nats.ReconnectHandler(func(*nats.Conn) { c.log.Info("nats consumer reconnected") }),
	)
	if err != nil {
		return 0, err
	}
	c.setConn(nc)
	defer func() {
		c.setConn(nil)
		nc.Close()
	}()
	js, err := jetstream.New(nc)
	if err != nil {
		return 0, fmt.Errorf("jetstream: %w", err)
	}
	stream, err := js.StreamNameBySubject(ctx, c.cfg.consume)
	if err != nil {
		return 0, fmt.Errorf("find the stream of subject %s: %w", c.cfg.consume, err)
	}
	cons, err := js.CreateOrUpdateConsumer(ctx, stream, jetstream.ConsumerConfig{
		Durable:       c.durable,
		DeliverPolicy: jetstream.DeliverAllPolicy,
		AckPolicy:     jetstream.AckExplicitPolicy,
		AckWait:       c.opts.AckWait,
		MaxDeliver:    -1,
		FilterSubject: c.cfg.consume,
		MaxAckPending: max(1000, c.opts.Prefetch),
	})
	if err != nil {
		return 0, fmt.Errorf("consumer %s on stream %s: %w", c.durable, stream, err)
	}
	it, err := cons.Messages(jetstream.PullMaxMessages(c.opts.Prefetch))
	if err != nil {
		return 0, fmt.Errorf("consumer %s on stream %s: pull: %w", c.durable, stream, err)
	}
	defer it.Stop()
	handled := 0
	for {
		msg, err := it.Next(jetstream.NextContext(ctx))
		if ctx.Err() != nil {
			if err == nil {
				_ = msg.Nak() // not handed over: for another consumer, now
			}
			// Messages pulled but not handed over are redelivered after
			// AckWait.
			return handled, nil
		}
		if err != nil {
			return handled, fmt.Errorf("consumer %s on stream %s: %w", c.durable, stream, err)
		}
		c.deliver(ctx, msg, handle)
		handled++
	}
}

// deliver hands msg to handle and settles it by the answer.
func (c *Consumer) deliver(ctx context.Context, msg jetstream.Msg, handle queue.Handler) {
	md, err := msg.Metadata()
	if err != nil { // not a JetStream delivery: cannot happen with a pull consumer
		c.log.Warn("nats consumer: message without JetStream metadata; redelivering", "err", err)
		_ = msg.NakWithDelay(c.opts.Delay(1))
		return
	}
	id := msg.Headers().Get(jetstream.MsgIDHeader)
	if id == "" {
		id = fmt.Sprintf("js:%s:%d", md.Stream, md.Sequence.Stream)
	}
	stop := c.keepAlive(msg)
	err = handle(ctx, id, msg.Data())
	stop()
	switch {
	case err == nil:
		actx, cancel := context.WithTimeout(context.WithoutCancel(ctx), settleTimeout)
		defer cancel()
		if err := msg.DoubleAck(actx); err != nil {
			c.log.Warn("nats consumer: acknowledgement not confirmed; the message may come again", "delivery", id, "err", err)
		}
	case errors.Is(err, queue.ErrPoison):
		// The handler logs why; the payload and the reason stay out of
		// this log.
		c.log.Warn("nats consumer: poison message terminated", "delivery", id, "deliveries", md.NumDelivered)
		if err := msg.Term(); err != nil {
			c.log.Warn("nats consumer: terminate failed; the message may come again", "delivery", id, "err", err)
		}
	case ctx.Err() != nil:
		_ = msg.Nak() // the server redelivers after AckWait anyway
	default:
		delay := c.opts.Delay(int(min(md.NumDelivered, 1<<20)))
		c.log.Debug("nats consumer: handler failed; redelivering later", "delivery", id, "deliveries", md.NumDelivered, "in", delay)
		_ = msg.NakWithDelay(delay)
	}
}

// keepAlive tells the server every third of AckWait that msg is in
// progress, until the returned stop is called; stop waits for that to end.
func (c *Consumer) keepAlive(msg jetstream.Msg) (stop func()) {
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		t := time.NewTicker(max(c.opts.AckWait/3, 10*time.Millisecond))
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-t.C:
				_ = msg.InProgress()
			}
		}
	})
	return func() {
		close(done)
		wg.Wait()
	}
}

func (c *Consumer) setConn(nc *nats.Conn) {
	c.mu.Lock()
	c.nc = nc
	c.mu.Unlock()
}

// conn returns the running session's connection, nil between sessions.
func (c *Consumer) conn() *nats.Conn {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.nc
}
