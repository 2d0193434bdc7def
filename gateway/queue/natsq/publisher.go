package natsq

import (
	"context"
	"errors"
	"fmt"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/liaisonhq/liaison/gateway/connector"
	"github.com/liaisonhq/liaison/gateway/outbox"
)

// The headers a published message carries besides Nats-Msg-Id.
const (
	HeaderContentType = "Content-Type"        // outbox.Message.ContentType
	HeaderOp          = "Liaison-Op"          // "upsert" or "delete"
	HeaderRecordType  = "Liaison-Record-Type" // "Appointment"
	HeaderRecordID    = "Liaison-Record-Id"   // "A1"
)

// Publisher publishes outbox messages to a JetStream stream. It connects
// on the first Send and then stays connected, nats.go reconnecting it
// whenever the connection drops. A Publisher is safe for concurrent use.
type Publisher struct {
	cfg config
	// sem, one slot, is held to read or change nc and js, and while
	// connecting, so that concurrent Sends dial once.
	sem    chan struct{}
	nc     *nats.Conn
	js     jetstream.JetStream
	closed bool
}

var _ outbox.Sender = (*Publisher)(nil)

// NewPublisher returns a Publisher for the connector cfg (type nats): it
// publishes to the subject the package documentation describes. It does
// no I/O; it fails only on a bad cfg.
func NewPublisher(cfg connector.Config) (*Publisher, error) {
	c, err := newConfig(cfg)
	if err != nil {
		return nil, fmt.Errorf("natsq: connector %q: %w", cfg.Name, err)
	}
	return &Publisher{cfg: c, sem: make(chan struct{}, 1)}, nil
}

// Send publishes m.Body with m.IdempotencyKey as Nats-Msg-Id, and waits for
// the stream's acknowledgement, bounded by ctx and the connector's
// Delivery.Timeout. It returns nil once the stream has stored the message,
// or had it already (a duplicate within the stream's duplicate window).
// Otherwise it returns a *outbox.SendError: Status 0 (retried) when the
// server is unreachable, no stream holds the subject, or no acknowledgement
// came in time; Permanent when the message can never be stored (larger
// than the server or stream allows, or a record type that cannot be a
// subject token).
func (p *Publisher) Send(ctx context.Context, m outbox.Message) error {
	subject, err := p.cfg.subject(m.RecordType)
	if err != nil {
		return &outbox.SendError{Permanent: true, Err: err}
	}
	ctx, cancel := context.WithTimeout(ctx, p.cfg.timeout)
	defer cancel()
	js, err := p.jetStream(ctx)
	if err != nil {
		return &outbox.SendError{Err: err}
	}
	msg := &nats.Msg{Subject: subject, Data: m.Body, Header: nats.Header{}}
	if m.IdempotencyKey != "" {
		msg.Header.Set(jetstream.MsgIDHeader, m.IdempotencyKey)
	}
	if m.ContentType != "" {
		msg.Header.Set(HeaderContentType, m.ContentType)
	}
	msg.Header.Set(HeaderOp, string(m.Op))
	msg.Header.Set(HeaderRecordType, m.RecordType)
	msg.Header.Set(HeaderRecordID, m.RecordID)
	if _, err := js.PublishMsg(ctx, msg); err != nil {
		return classify(subject, len(m.Body), err)
	}
	return nil
}

// classify turns a failed publish to subject into a *outbox.SendError.
func classify(subject string, size int, err error) *outbox.SendError {
	var apiErr *jetstream.APIError
	switch {
	case errors.Is(err, jetstream.ErrNoStreamResponse), errors.Is(err, nats.ErrNoResponders):
		return &outbox.SendError{Err: fmt.Errorf("publish to %s: no stream holds the subject (no responders)", subject)}
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, nats.ErrTimeout):
		return &outbox.SendError{Err: fmt.Errorf("publish to %s: no acknowledgement from the stream in time", subject)}
	case errors.Is(err, nats.ErrMaxPayload):
		return &outbox.SendError{Permanent: true, Err: fmt.Errorf("publish to %s: %d bytes exceed the server's maximum payload", subject, size)}
	case errors.As(err, &apiErr) && apiErr.ErrorCode == jetstream.JSErrCodeStreamMessageExceedsMaximum:
		return &outbox.SendError{Permanent: true, Err: fmt.Errorf("publish to %s: %d bytes exceed the stream's maximum message size", subject, size)}
	case errors.As(err, &apiErr):
		return &outbox.SendError{Err: fmt.Errorf("publish to %s: stream refused: %s (code %d)", subject, apiErr.Description, apiErr.ErrorCode)}
	}
	return &outbox.SendError{Err: fmt.Errorf("publish to %s: %w", subject, err)}
}

// jetStream returns the JetStream context, connecting first when there is
// no connection.
func (p *Publisher) jetStream(ctx context.Context) (jetstream.JetStream, error) {
	select {
	case p.sem <- struct{}{}:
	case <-ctx.Done():
		return nil, fmt.Errorf("connect: %w", ctx.Err())
	}
	defer func() { <-p.sem }()
	switch {
	case p.closed:
		return nil, ErrClosed
	case p.nc != nil && !p.nc.IsClosed():
		return p.js, nil
	}
	nc, err := p.cfg.connect(ctx)
	if err != nil {
		return nil, err
	}
	js, err := jetstream.New(nc)
	if err != nil {
		nc.Close()
		return nil, fmt.Errorf("jetstream: %w", err)
	}
	p.nc, p.js = nc, js
	return js, nil
}

// Close closes the connection. Sends under way fail; later ones return
// ErrClosed. Close waits for a Send that is connecting, and is idempotent.
func (p *Publisher) Close() error {
	p.sem <- struct{}{}
	defer func() { <-p.sem }()
	p.closed = true
	if p.nc != nil {
		p.nc.Close()
		p.nc, p.js = nil, nil
	}
	return nil
}
