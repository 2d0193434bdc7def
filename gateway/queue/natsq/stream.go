package natsq

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/liaisonhq/liaison/gateway/connector"
)

// DefaultDuplicates is Stream.Duplicates' default: a publish retried
// within an hour of the first is stored once.
const DefaultDuplicates = time.Hour

// Stream is a JetStream stream as EnsureStream makes it: file storage,
// limits retention, one replica.
type Stream struct {
	Name string // required: letters, digits, '-' and '_'
	// Subjects are the subjects the stream stores. Default: the
	// connector's publish subject, with "*" for {type}, and its
	// Sync.Subject when different.
	Subjects []string
	// Duplicates is the window in which the server drops a message whose
	// Nats-Msg-Id it has stored already. Default DefaultDuplicates, at
	// most MaxAge.
	Duplicates time.Duration
	MaxAge     time.Duration // how long messages are kept; 0 for ever
}

// EnsureStream creates the stream s on the connector cfg's server, or
// updates it to s when it exists; for tests and operators, since the
// gateway itself never creates streams. It connects for the call and
// closes the connection after.
func EnsureStream(ctx context.Context, cfg connector.Config, s Stream) error {
	c, err := newConfig(cfg)
	if err != nil {
		return fmt.Errorf("natsq: connector %q: %w", cfg.Name, err)
	}
	if s.Name == "" {
		return errors.New("natsq: EnsureStream: the stream needs a name")
	}
	if len(s.Subjects) == 0 {
		s.Subjects = c.streamSubjects()
	}
	if s.Duplicates <= 0 {
		s.Duplicates = DefaultDuplicates
	}
	if s.MaxAge > 0 {
		s.Duplicates = min(s.Duplicates, s.MaxAge)
	}
	nc, err := c.connect(ctx)
	if err != nil {
		return fmt.Errorf("natsq: stream %s: %w", s.Name, err)
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		return fmt.Errorf("natsq: stream %s: %w", s.Name, err)
	}
	_, err = js.CreateOrUpdateStream(ctx, jetstream.StreamConfig{
		Name:       s.Name,
		Subjects:   s.Subjects,
		Storage:    jetstream.FileStorage,
		Retention:  jetstream.LimitsPolicy,
		Duplicates: s.Duplicates,
		MaxAge:     s.MaxAge,
		Replicas:   1,
	})
	if err != nil {
		return fmt.Errorf("natsq: stream %s: %w", s.Name, err)
	}
	return nil
}

// streamSubjects returns the subjects a stream for c stores by default.
func (c config) streamSubjects() []string {
	pub := strings.ReplaceAll(c.publish, placeType, "*")
	if c.consume == "" || c.consume == pub {
		return []string{pub}
	}
	return []string{pub, c.consume}
}
