package jetstream

import (
	"os"
	"testing"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	switch os.Getenv(envRole) {
	case roleGateway:
		os.Exit(gatewayProcess())
	case roleNode:
		os.Exit(nodeProcess())
	}
	goleak.VerifyTestMain(m)
}
