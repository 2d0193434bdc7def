package webhook

import (
	"crypto/hmac"
	"crypto/sha256"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/liaisonhq/liaison/gateway/connector"
)

// Signer signs outbound webhooks the Standard Webhooks way, so that the
// receiver verifies them with a reference library (or a Verifier). Build
// it with NewSigner; it is immutable and safe for concurrent use.
type Signer struct {
	key []byte
}

// NewSigner returns a Signer for secret: a Standard Webhooks secret,
// "whsec_" and base64, or an "env:NAME" / "file:PATH" reference to one
// (see connector.ResolveSecret). The error does not contain the secret.
func NewSigner(secret string) (*Signer, error) {
	s, err := connector.ResolveSecret(secret)
	if err != nil {
		return nil, fmt.Errorf("webhook signer: %w", err)
	}
	key, err := connector.DecodeWebhookSecret(s)
	if err != nil {
		return nil, fmt.Errorf("webhook signer: %w", err)
	}
	return &Signer{key: key}, nil
}

// Sign returns the headers that sign one delivery of body: webhook-id
// (id, the same for every retry of the delivery: the receiver's
// idempotency key), webhook-timestamp (ts, the attempt's time, in
// seconds) and webhook-signature ("v1," and the base64 HMAC-SHA256 of
// "{id}.{ts}.{body}"). The body must be sent exactly as signed. id should
// be visible ASCII without '.', as the specification asks.
func (s *Signer) Sign(id string, ts time.Time, body []byte) http.Header {
	unix := ts.Unix()
	h := make(http.Header, 3)
	h.Set(HeaderID, id)
	h.Set(HeaderTimestamp, strconv.FormatInt(unix, 10))
	h.Set(HeaderSignature, signatureVersion+string(standardMAC(hmac.New(sha256.New, s.key), id, unix, body)))
	return h
}
