package main

import (
	"net/http"

	"github.com/liaisonhq/liaison/gateway"
	"github.com/liaisonhq/liaison/gateway/adapters/fhirrest"
	"github.com/liaisonhq/liaison/gateway/adapters/rest"
	"github.com/liaisonhq/liaison/gateway/adapters/signedwebhook"
	"github.com/liaisonhq/liaison/gateway/connector"
	"github.com/liaisonhq/liaison/gateway/outbox"
)

// adapters is the registry of connector adapters the binary ships: one
// entry per connector type.
func adapters() gateway.Adapters {
	return gateway.Adapters{
		connector.FHIR: func(cfg connector.Config, c *http.Client) (outbox.Sender, error) { return fhirrest.New(cfg, c) },
		connector.REST: func(cfg connector.Config, c *http.Client) (outbox.Sender, error) { return rest.New(cfg, c) },
		connector.Webhook: func(cfg connector.Config, c *http.Client) (outbox.Sender, error) {
			return signedwebhook.New(cfg, c)
		},
	}
}
