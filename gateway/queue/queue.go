package queue

import (
	"context"
	"io"
	"log/slog"
	"time"
)

// Handler processes one message. deliveryID identifies the message, the
// same on every delivery of it (each adapter documents where it comes
// from); payload is the message body, which the Handler must not keep
// after it returns. The consumer settles the message by the result: see
// the package documentation. ctx ends when the consumer stops.
//
// A consumer calls its Handler from one goroutine, one message at a time,
// in the order the broker delivers them.
type Handler func(ctx context.Context, deliveryID string, payload []byte) error

// Options tune a consumer. A zero field takes its default.
type Options struct {
	// Logger receives the consumer's warnings (a lost connection, a
	// message terminated as poison): ids and counts, never a payload.
	// Default: discard.
	Logger *slog.Logger
	// RetryDelay is how long a message waits before it is redelivered
	// after the first failed delivery; each further failure doubles it,
	// up to MaxRetryDelay. Defaults 1s and 1m.
	RetryDelay    time.Duration
	MaxRetryDelay time.Duration
	// Prefetch bounds the messages the broker hands the consumer before
	// they are settled. Default 8.
	Prefetch int
	// AckWait is how long NATS JetStream waits for a delivered message to
	// be settled before it redelivers it, as after a crash. The consumer
	// keeps a message it is still handling alive, so this bounds only the
	// delay after a crash. Default 30s. RabbitMQ redelivers as soon as
	// the connection is lost, and ignores it.
	AckWait time.Duration
}

// The defaults of Options.
const (
	DefaultRetryDelay    = time.Second
	DefaultMaxRetryDelay = time.Minute
	DefaultPrefetch      = 8
	DefaultAckWait       = 30 * time.Second
)

// Option sets one of Options.
type Option func(*Options)

// WithLogger sets Options.Logger.
func WithLogger(l *slog.Logger) Option { return func(o *Options) { o.Logger = l } }

// WithRetryDelay sets Options.RetryDelay and MaxRetryDelay.
func WithRetryDelay(first, max time.Duration) Option {
	return func(o *Options) { o.RetryDelay, o.MaxRetryDelay = first, max }
}

// WithPrefetch sets Options.Prefetch.
func WithPrefetch(n int) Option { return func(o *Options) { o.Prefetch = n } }

// WithAckWait sets Options.AckWait.
func WithAckWait(d time.Duration) Option { return func(o *Options) { o.AckWait = d } }

// NewOptions applies opts, in order, to the zero Options and fills in the
// defaults of the fields still zero (or negative). MaxRetryDelay is raised
// to RetryDelay when less.
func NewOptions(opts ...Option) Options {
	var o Options
	for _, opt := range opts {
		opt(&o)
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if o.RetryDelay <= 0 {
		o.RetryDelay = DefaultRetryDelay
	}
	if o.MaxRetryDelay <= 0 {
		o.MaxRetryDelay = DefaultMaxRetryDelay
	}
	o.MaxRetryDelay = max(o.MaxRetryDelay, o.RetryDelay)
	if o.Prefetch <= 0 {
		o.Prefetch = DefaultPrefetch
	}
	if o.AckWait <= 0 {
		o.AckWait = DefaultAckWait
	}
	return o
}

// Delay is how long to wait before redelivering a message that has failed
// n times (n ≥ 1): RetryDelay doubled n-1 times, at most MaxRetryDelay.
func (o Options) Delay(n int) time.Duration {
	d := o.RetryDelay
	for i := 1; i < n && d < o.MaxRetryDelay; i++ {
		d *= 2
	}
	return min(d, o.MaxRetryDelay)
}
