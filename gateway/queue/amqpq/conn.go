package amqpq

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
	"strings"
	"sync/atomic"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"

	"github.com/liaisonhq/liaison/gateway/connector"
)

// conn is a connection to the broker and its socket. The socket is kept so
// that closing the connection is bounded whatever the broker does:
// amqp091's CloseDeadline sets the socket's deadline, but each frame the
// reader gets after that pushes the read deadline out again, to 1.5
// heartbeats (15s), so a close-ok that does not come can hold it (and
// every call waiting on the connection) for that long.
type conn struct {
	*amqp.Connection
	sock net.Conn
	gone atomic.Bool // given up: closing, or closed
}

// dial connects to the broker, bounded by dialTimeout and by ctx. The
// connection is named after the connector, for the broker's operators.
func (c config) dial(ctx context.Context) (*conn, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	deadline := time.Now().Add(dialTimeout)
	if d, ok := ctx.Deadline(); ok && d.Before(deadline) {
		deadline = d
	}
	var (
		sock net.Conn
		stop = func() bool { return true }
	)
	cfg := amqp.Config{
		Heartbeat:  heartbeat,
		Properties: amqp.Table{"connection_name": "liaison " + c.name, "product": "liaison"},
		Dial: func(network, addr string) (net.Conn, error) {
			d := net.Dialer{Deadline: deadline}
			s, err := d.DialContext(ctx, network, addr)
			if err != nil {
				return nil, err
			}
			// amqp091 clears the deadline once the handshake is done.
			if err := s.SetDeadline(deadline); err != nil {
				s.Close()
				return nil, err
			}
			// ctx's end cuts the handshake short.
			sock, stop = s, context.AfterFunc(ctx, func() { _ = s.Close() })
			return s, nil
		},
	}
	if a := c.auth; a != nil && strings.EqualFold(a.Scheme, connector.SchemeBasic) {
		pw, err := connector.ResolveSecret(a.Password)
		if err != nil {
			return nil, fmt.Errorf("auth password: %w", err)
		}
		cfg.SASL = []amqp.Authentication{&amqp.PlainAuth{Username: a.Username, Password: pw}}
	}
	ac, err := amqp.DialConfig(c.url, cfg)
	cut := !stop() // ctx ended: the socket is, or is about to be, cut
	switch {
	case err == nil && !cut:
		return &conn{Connection: ac, sock: sock}, nil
	case err == nil:
		_ = sock.Close() // amqp091's goroutines end with it
		return nil, fmt.Errorf("connect to %s: %w", redact(c.url), ctx.Err())
	case ctx.Err() != nil: // say so, rather than only what a cut socket says
		return nil, fmt.Errorf("connect to %s: %w (%v)", redact(c.url), ctx.Err(), err)
	default:
		return nil, fmt.Errorf("connect to %s: %w", redact(c.url), err)
	}
}

// usable reports whether c is open and not given up.
func (c *conn) usable() bool { return !c.gone.Load() && !c.IsClosed() }

// abandon gives c up without waiting: it closes c in the background as
// close does. Calls, and Sends, waiting on c return within closeGrace. It
// is idempotent and safe for concurrent use.
func (c *conn) abandon() {
	if !c.gone.Swap(true) {
		go c.shut()
	}
}

// close closes c and waits: the close handshake, for at most closeGrace,
// then the socket is cut if the broker has not answered. It returns nil
// when c was closed already.
func (c *conn) close() error {
	if c.gone.Swap(true) {
		return nil
	}
	return c.shut()
}

// shut closes c, cutting the socket after closeGrace.
func (c *conn) shut() error {
	cut := time.AfterFunc(closeGrace, func() { _ = c.sock.Close() })
	defer cut.Stop()
	err := c.CloseDeadline(time.Now().Add(closeGrace))
	if errors.Is(err, amqp.ErrClosed) {
		return nil
	}
	return err
}

// redact returns raw without the password it may hold.
func redact(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || u.User == nil {
		return raw
	}
	return u.Redacted()
}
