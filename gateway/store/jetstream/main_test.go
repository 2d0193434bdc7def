package jetstream

import (
	"os"
	"testing"

	"go.uber.org/goleak"

	"github.com/liaisonhq/liaison/gateway/internal/natstest"
)

func TestMain(m *testing.M) {
	natstest.RunNode() // a node of startProcCluster, when started as one
	if os.Getenv(envRole) == roleGateway {
		os.Exit(gatewayProcess())
	}
	goleak.VerifyTestMain(m,
		// An in-process nats-server ends these after Shutdown and
		// WaitForShutdown have returned: its clock goroutine when the last
		// server unregisters, a stream's file store flushers when the store
		// closes. Seen once in a CI run; they are the server's, not ours.
		goleak.IgnoreTopFunction("github.com/nats-io/nats-server/v2/server/ats.Register.func1"),
		goleak.IgnoreTopFunction("github.com/nats-io/nats-server/v2/server.(*fileStore).flushStreamStateLoop"),
		goleak.IgnoreTopFunction("github.com/nats-io/nats-server/v2/server.(*msgBlock).flushLoop"),
	)
}
