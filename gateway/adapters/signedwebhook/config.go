package signedwebhook

import (
	"errors"
	"fmt"
	"net/url"
	"time"

	"github.com/liaisonhq/liaison/gateway/connector"
	"github.com/liaisonhq/liaison/gateway/webhook"
)

// config is what the adapter takes from a connector.
type config struct {
	url     string
	signer  *webhook.Signer
	timeout time.Duration
}

func newConfig(cfg connector.Config) (config, error) {
	u, err := url.Parse(cfg.Endpoint)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return config{}, errors.New("endpoint: want an absolute http or https URL")
	}
	if cfg.Auth == nil || cfg.Auth.Secret == "" {
		return config{}, errors.New("auth.secret: the signing secret (whsec_…) is required")
	}
	signer, err := webhook.NewSigner(cfg.Auth.Secret)
	if err != nil {
		return config{}, fmt.Errorf("auth.secret: %w", err)
	}
	timeout := time.Duration(cfg.Delivery.Timeout)
	if timeout <= 0 {
		timeout = time.Duration(connector.DefaultTimeout)
	}
	return config{url: cfg.Endpoint, signer: signer, timeout: timeout}, nil
}
