package kafkaq

import (
	"context"
	"errors"
	"fmt"
	"net"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/liaisonhq/liaison/gateway/connector"
	"github.com/liaisonhq/liaison/gateway/outbox"
)

// The headers a published record carries. Its key is the record key,
// "<type>/<id>".
const (
	HeaderIdempotencyKey = "Idempotency-Key"     // outbox.Message.IdempotencyKey: the consumer's delivery id
	HeaderContentType    = "Content-Type"        // outbox.Message.ContentType
	HeaderOp             = "Liaison-Op"          // "upsert" or "delete"
	HeaderRecordType     = "Liaison-Record-Type" // "Appointment"
	HeaderRecordID       = "Liaison-Record-Id"   // "A1"
)

// Publisher produces outbox messages to a Kafka topic with an idempotent
// producer (acks from all in-sync replicas). It creates its client on the
// first Send and keeps it; franz-go connects to the brokers as it needs
// them and reconnects on its own. A Publisher is safe for concurrent use.
type Publisher struct {
	cfg  config
	last lastError // what franz-go last logged, to explain a timeout
	// sem, one slot, is held to read or change cl and closed, so that
	// concurrent first Sends create one client.
	sem    chan struct{}
	cl     *kgo.Client
	closed bool
}

var _ outbox.Sender = (*Publisher)(nil)

// NewPublisher returns a Publisher for the connector cfg (type kafka): it
// produces to the topic the package documentation describes. It does no
// I/O; it fails only on a bad cfg, with a *connector.FieldError naming the
// field.
func NewPublisher(cfg connector.Config) (*Publisher, error) {
	c, err := newConfig(cfg)
	if err != nil {
		return nil, fmt.Errorf("kafkaq: connector %q: %w", cfg.Name, err)
	}
	return &Publisher{cfg: c, sem: make(chan struct{}, 1)}, nil
}

// Send produces m.Body as one record keyed by m's record key
// ("Appointment/A1"), so that every change of a record goes to one
// partition, in the order sent; with the headers Idempotency-Key,
// Content-Type, Liaison-Op, Liaison-Record-Type and Liaison-Record-Id. It
// waits for the acknowledgement of every in-sync replica, bounded by ctx
// and the connector's Delivery.Timeout, and returns nil once the record
// is stored. Otherwise it returns a *outbox.SendError: Status 0 (retried)
// when no broker answers, the topic does not exist (yet), too few
// replicas are in sync, or no acknowledgement came in time; Permanent when
// the record can never be stored: larger than the producer or the topic
// allows, an invalid topic, the producer not authorized for the topic or
// the cluster, SASL credentials the broker refuses (known when the Send
// times out), or a record type unfit for {type}. The idempotent producer
// stores a record once however often franz-go resends it; a Send retried
// by the outbox produces it again, and the consumer dedupes by
// Idempotency-Key. Errors never hold the payload.
func (p *Publisher) Send(ctx context.Context, m outbox.Message) error {
	topic, err := p.cfg.topic(m.RecordType)
	if err != nil {
		return &outbox.SendError{Permanent: true, Err: err}
	}
	start := time.Now()
	ctx, cancel := context.WithTimeout(ctx, p.cfg.timeout)
	defer cancel()
	cl, err := p.client(ctx)
	if err != nil {
		return &outbox.SendError{Err: err}
	}
	rec := &kgo.Record{
		Topic: topic,
		Key:   []byte(m.RecordType + "/" + m.RecordID),
		Value: m.Body,
		Headers: []kgo.RecordHeader{
			{Key: HeaderOp, Value: []byte(m.Op)},
			{Key: HeaderRecordType, Value: []byte(m.RecordType)},
			{Key: HeaderRecordID, Value: []byte(m.RecordID)},
		},
	}
	if m.IdempotencyKey != "" {
		rec.Headers = append(rec.Headers, kgo.RecordHeader{Key: HeaderIdempotencyKey, Value: []byte(m.IdempotencyKey)})
	}
	if m.ContentType != "" {
		rec.Headers = append(rec.Headers, kgo.RecordHeader{Key: HeaderContentType, Value: []byte(m.ContentType)})
	}
	// franz-go may hold on to a record whose request went out past ctx
	// (the idempotent producer cannot drop it safely); Send does not wait
	// for it.
	done := make(chan error, 1)
	cl.Produce(ctx, rec, func(_ *kgo.Record, err error) { done <- err })
	select {
	case err = <-done:
	case <-ctx.Done():
		err = ctx.Err()
	}
	if err != nil {
		return classify(topic, len(m.Body), err, p.last.since(start))
	}
	return nil
}

// permanent lists the Kafka errors that no retry cures.
var permanent = []*kerr.Error{
	kerr.MessageTooLarge, kerr.RecordListTooLarge, kerr.InvalidRecord,
	kerr.InvalidTopicException, kerr.PolicyViolation, kerr.InvalidRequiredAcks,
	kerr.TopicAuthorizationFailed, kerr.ClusterAuthorizationFailed,
	kerr.TransactionalIDAuthorizationFailed,
	kerr.SaslAuthenticationFailed, kerr.UnsupportedSaslMechanism,
}

// classify turns a failed produce of size bytes to topic into a
// *outbox.SendError. cause is the last error franz-go logged during the
// Send (nil: none), which explains a timeout: a broker unreachable, or a
// SASL authentication that failed — Permanent, as the HTTP adapters take
// a 401.
func classify(topic string, size int, err, cause error) *outbox.SendError {
	var ke *kerr.Error
	var ne net.Error
	timeout := errors.Is(err, context.DeadlineExceeded) || errors.Is(err, kgo.ErrRecordTimeout) || errors.Is(err, kgo.ErrRecordRetries)
	switch {
	case timeout && cause != nil:
		if se := classify(topic, size, cause, nil); se.Permanent {
			return se
		}
		return &outbox.SendError{Err: fmt.Errorf("produce to %s: no acknowledgement in time (%w); last client error: %v", topic, err, cause)}
	case errors.As(err, &ke) && (ke == kerr.MessageTooLarge || ke == kerr.RecordListTooLarge):
		return &outbox.SendError{Permanent: true, Err: fmt.Errorf("produce to %s: %d bytes: %s: larger than the producer or the topic accepts", topic, size, ke.Message)}
	case errors.As(err, &ke) && ke == kerr.UnknownTopicOrPartition:
		return &outbox.SendError{Err: fmt.Errorf("produce to %s: no such topic (yet): %s", topic, ke.Message)}
	case errors.As(err, &ke):
		for _, p := range permanent {
			if ke == p {
				return &outbox.SendError{Permanent: true, Err: fmt.Errorf("produce to %s: refused: %s: %s", topic, ke.Message, ke.Description)}
			}
		}
		return &outbox.SendError{Err: fmt.Errorf("produce to %s: %s: %s", topic, ke.Message, ke.Description)}
	case timeout:
		return &outbox.SendError{Err: fmt.Errorf("produce to %s: no acknowledgement in time (%w)", topic, err)}
	case errors.As(err, &ne):
		return &outbox.SendError{Err: fmt.Errorf("produce to %s: no broker reachable: %w", topic, err)}
	}
	return &outbox.SendError{Err: fmt.Errorf("produce to %s: %w", topic, err)}
}

// lastError is a kgo.Logger that keeps the last error franz-go logged at
// warning level or above (connecting, authenticating, producing), with
// when; franz-go retries those by itself, so they never reach a Send
// otherwise.
type lastError struct {
	mu  sync.Mutex
	err error
	at  time.Time
}

func (*lastError) Level() kgo.LogLevel { return kgo.LogLevelWarn }

func (l *lastError) Log(_ kgo.LogLevel, _ string, keyvals ...any) {
	for i := 0; i+1 < len(keyvals); i += 2 {
		if k, _ := keyvals[i].(string); k != "err" {
			continue
		}
		if err, ok := keyvals[i+1].(error); ok && err != nil {
			l.mu.Lock()
			l.err, l.at = err, time.Now()
			l.mu.Unlock()
		}
	}
}

// since returns the last error logged at t or after, else nil.
func (l *lastError) since(t time.Time) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.at.Before(t) {
		return nil
	}
	return l.err
}

// client returns the producing client, creating it first when there is
// none.
func (p *Publisher) client(ctx context.Context) (*kgo.Client, error) {
	select {
	case p.sem <- struct{}{}:
	case <-ctx.Done():
		return nil, fmt.Errorf("client: %w", ctx.Err())
	}
	defer func() { <-p.sem }()
	switch {
	case p.closed:
		return nil, ErrClosed
	case p.cl != nil:
		return p.cl, nil
	}
	opts, err := p.cfg.clientOptions(&p.last)
	if err != nil {
		return nil, err
	}
	opts = append(opts,
		// Idempotent writes are franz-go's default, and need all acks.
		kgo.RequiredAcks(kgo.AllISRAcks()),
		// The key picks the partition (murmur2, as Java clients do).
		kgo.RecordPartitioner(kgo.StickyKeyPartitioner(nil)),
		// Records that could not be sent in time fail, rather than
		// wait in the client for a broker to come back.
		kgo.RecordDeliveryTimeout(p.cfg.timeout),
	)
	cl, err := kgo.NewClient(opts...)
	if err != nil {
		return nil, fmt.Errorf("client: %w", err)
	}
	p.cl = cl
	return cl, nil
}

// Close closes the client. Sends under way fail; later ones return
// ErrClosed. Close waits for a Send that is creating the client, and is
// idempotent.
func (p *Publisher) Close() error {
	p.sem <- struct{}{}
	defer func() { <-p.sem }()
	p.closed = true
	if p.cl != nil {
		p.cl.Close()
		p.cl = nil
	}
	return nil
}
