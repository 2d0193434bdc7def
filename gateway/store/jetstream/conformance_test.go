package jetstream

import (
	"testing"

	"github.com/liaisonhq/liaison/gateway/outbox"
	"github.com/liaisonhq/liaison/gateway/store/storetest"
)

// TestConformance runs the store.Backend suite on a Backend over a fresh
// single JetStream server per subtest.
func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) storetest.Harness {
		b := openBackend(t, startSingle(t), 0, "gw")
		return storetest.Harness{Backend: b, Deliverer: func(cfg outbox.Config) outbox.Deliverer { return b.Deliverer(cfg) }}
	})
}
