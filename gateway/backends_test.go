package gateway

import (
	"strings"
	"testing"

	"github.com/liaisonhq/liaison/gateway/connector"
	"github.com/liaisonhq/liaison/gateway/internal/natstest"
)

// forEachBackend runs an end-to-end test once per store backend: bbolt,
// then JetStream on a NATS server of its own (nats-server v2.12, as
// jetstream needs; Debian's is older; see startJetStream). startLive, called inside, sees
// which from the subtest's name and configures the gateway for it.
func forEachBackend(t *testing.T, test func(t *testing.T)) {
	t.Run("bbolt", test)
	t.Run("jetstream", test)
}

// testSecretKey seals connector secrets in tests on a shared backend,
// where every gateway needs the same key.
var testSecretKey = []byte("0123456789abcdef0123456789abcdef")

// withBackend sets cfg's store for the backend the running subtest of
// forEachBackend names; a test outside forEachBackend runs on bbolt.
func withBackend(t *testing.T, cfg Config) Config {
	if !strings.Contains(t.Name(), "/jetstream") || cfg.Store.NATS() {
		return cfg
	}
	cfg.Store = connector.Store{URL: startJetStream(t)}
	if cfg.SecretKey == nil {
		cfg.SecretKey = testSecretKey
	}
	return cfg
}

// startJetStream runs a NATS server with JetStream on 127.0.0.1, in a
// process of its own (natstest.StartServer: nats-server's own data races,
// when a gateway creates consumers of one stream at once, would otherwise
// fail the race-checked test), until the test ends, and returns its URL.
func startJetStream(t *testing.T) string { return natstest.StartServer(t).URL(0) }
