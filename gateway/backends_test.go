package gateway

import (
	"strings"
	"testing"
	"time"

	natsserver "github.com/nats-io/nats-server/v2/server"

	"github.com/liaisonhq/liaison/gateway/connector"
)

// forEachBackend runs an end-to-end test once per store backend: bbolt,
// then JetStream on an in-process NATS server (nats-server v2.12, as
// jetstream needs; Debian's is older). startLive, called inside, sees
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

// startJetStream runs a NATS server with JetStream in the test process,
// on 127.0.0.1, until the test ends, and returns its URL.
func startJetStream(t *testing.T) string { return startJetStreamServer(t).ClientURL() }

// startJetStreamServer is startJetStream, returning the server.
func startJetStreamServer(t *testing.T) *natsserver.Server {
	t.Helper()
	s, err := natsserver.NewServer(&natsserver.Options{Host: "127.0.0.1", Port: -1, JetStream: true, StoreDir: t.TempDir(), NoLog: true, NoSigs: true})
	if err != nil {
		t.Fatal(err)
	}
	go s.Start()
	if !s.ReadyForConnections(10 * time.Second) {
		t.Fatal("nats-server did not start")
	}
	t.Cleanup(func() { s.Shutdown(); s.WaitForShutdown() })
	return s
}
