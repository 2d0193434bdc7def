package outbox

import "context"

// Deliverer delivers a backend's queued messages to the connectors this
// process has started. *Outbox is the one over a bbolt *store.Store;
// jetstream.Backend.Deliverer is the one over NATS JetStream, where every
// gateway of a cluster runs one and the engine shares the work out.
type Deliverer interface {
	// Run delivers until ctx ends, then waits for deliveries under way.
	Run(ctx context.Context) error
	// Start delivers to a connector with the sender and policy, replacing
	// what was started for it before.
	Start(connector string, s Sender, p Policy)
	// Stop stops delivering to a connector (paused, disabled or deleted)
	// and waits for its deliveries under way. Its messages stay queued.
	Stop(connector string)
	// Notify says messages were queued for the connectors: deliver now
	// rather than at the next look.
	Notify(connectors ...string)
	// RetryNow closes the connector's breaker and looks at once; with
	// the backend's RetryNow it re-sends everything undelivered now.
	RetryNow(connector string)
	// Status reports what this process does for a connector.
	Status(connector string) Status
}

var _ Deliverer = (*Outbox)(nil)
