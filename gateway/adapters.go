package gateway

import (
	"net/http"

	"github.com/liaisonhq/liaison/gateway/connector"
	"github.com/liaisonhq/liaison/gateway/outbox"
)

// Adapter builds the Sender that delivers to one connector, through client
// (which carries the connector's outbound auth). It checks the
// configuration for what the adapter itself needs (an endpoint it can use)
// and does no I/O.
type Adapter func(cfg connector.Config, client *http.Client) (outbox.Sender, error)

// Adapters lists the adapter of each connector type. cmd/liaison builds
// the full list; there is no global registry.
type Adapters map[connector.Type]Adapter
