package gateway

import (
	"bytes"
	"context"
	"errors"
	"strings"

	"github.com/liaisonhq/liaison/gateway/connector"
	"github.com/liaisonhq/liaison/gateway/outbox"
)

// scrubbingSender hides the connector's own secrets in what a failed
// delivery brings back: a server that echoes the Authorization header into
// its OperationOutcome must not put the token into the attempts history,
// where the API shows it.
type scrubbingSender struct {
	outbox.Sender
	secrets []string
}

// scrubbed wraps a sender when the connector has secrets.
func scrubbed(s outbox.Sender, cfg connector.Config) outbox.Sender {
	var secrets []string
	for _, v := range cfg.SecretValues() {
		if len(v) >= 4 { // shorter values would blank out ordinary text
			secrets = append(secrets, v)
		}
	}
	if len(secrets) == 0 {
		return s
	}
	return &scrubbingSender{Sender: s, secrets: secrets}
}

func (s *scrubbingSender) Send(ctx context.Context, m outbox.Message) error {
	err := s.Sender.Send(ctx, m)
	var se *outbox.SendError
	if err == nil || !errors.As(err, &se) {
		return err
	}
	for _, v := range s.secrets {
		se.Response = bytes.ReplaceAll(se.Response, []byte(v), []byte(connector.RedactedSecret))
		if se.Err != nil && strings.Contains(se.Err.Error(), v) {
			se.Err = errors.New(strings.ReplaceAll(se.Err.Error(), v, connector.RedactedSecret))
		}
	}
	return err
}

// Close closes the wrapped sender when it holds a connection.
func (s *scrubbingSender) Close() error {
	if c, ok := s.Sender.(interface{ Close() error }); ok {
		return c.Close()
	}
	return nil
}
