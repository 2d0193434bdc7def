package signedwebhook

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"time"

	"github.com/liaisonhq/liaison/gateway/adapters/httpresult"
	"github.com/liaisonhq/liaison/gateway/connector"
	"github.com/liaisonhq/liaison/gateway/outbox"
)

// Client posts signed webhooks. Safe for concurrent use.
type Client struct {
	cfg  config
	http *http.Client
	now  func() time.Time
}

var _ outbox.Sender = (*Client)(nil)

// New returns a Client for the connector; client carries its outbound
// auth (nil: a plain client). New does no I/O.
func New(cfg connector.Config, client *http.Client) (*Client, error) {
	c, err := newConfig(cfg)
	if err != nil {
		return nil, fmt.Errorf("webhook: connector %q: %w", cfg.Name, err)
	}
	if client == nil {
		client = &http.Client{Timeout: c.timeout}
	}
	return &Client{cfg: c, http: client, now: time.Now}, nil
}

// event is the body of one webhook.
type event struct {
	Type string          `json:"type"`
	ID   string          `json:"id"`
	Op   outbox.Op       `json:"op"`
	Data json.RawMessage `json:"data,omitempty"`
}

// Send posts the change, signed with the message's idempotency key as
// webhook-id. 2xx is done; everything else is classified like any HTTP
// answer (httpresult).
func (c *Client) Send(ctx context.Context, m outbox.Message) error {
	ctx, cancel := context.WithTimeout(ctx, c.cfg.timeout)
	defer cancel()
	ev := event{Type: m.RecordType, ID: m.RecordID, Op: m.Op}
	if len(m.Body) > 0 {
		if !json.Valid(m.Body) {
			return &outbox.SendError{Permanent: true, Err: fmt.Errorf("webhook %s: the mapped record is not JSON", m.RecordType)}
		}
		ev.Data = m.Body
	}
	body, err := json.Marshal(ev)
	if err != nil {
		return &outbox.SendError{Permanent: true, Err: fmt.Errorf("webhook %s: %w", m.RecordType, err)}
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.cfg.url, bytes.NewReader(body))
	if err != nil {
		return &outbox.SendError{Permanent: true, Err: fmt.Errorf("webhook %s: cannot build the request", m.RecordType)}
	}
	for k, v := range c.cfg.signer.Sign(m.IdempotencyKey, c.now(), body) {
		req.Header[k] = v
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Idempotency-Key", m.IdempotencyKey)
	resp, err := c.http.Do(req)
	return httpresult.Classify("webhook "+m.RecordType, resp, err)
}
