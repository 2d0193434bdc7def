package amqpq

import (
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"

	"github.com/liaisonhq/liaison/gateway/connector"
)

// Defaults of what the adapter takes from a connector.Config.
const (
	// defaultTimeout bounds one Send when the connector's Delivery.Timeout
	// is zero.
	defaultTimeout = 30 * time.Second
	// dialTimeout bounds connecting, TLS and the AMQP handshake.
	dialTimeout = 10 * time.Second
	// heartbeat is the AMQP heartbeat interval asked for: amqp091 takes a
	// server silent for 1.5 of them (15s) for gone.
	heartbeat = 10 * time.Second
	// closeGrace bounds closing a connection: the close handshake, after
	// which the socket is cut.
	closeGrace = time.Second
	// placeType in a publish routing key stands for the record's type.
	placeType = "{type}"
	// subjectParam is the endpoint's query parameter naming the publish
	// target.
	subjectParam = "subject"
	// maxName bounds exchange, queue and routing key names (an AMQP short
	// string).
	maxName = 255
)

// config is what the adapter takes from a connector.Config.
type config struct {
	name string // the connector's name, in the connection's name
	url  string // the endpoint without the subject parameter
	// exchange and key are where the Publisher sends: the exchange ("" for
	// the default exchange) and the routing key template, which may hold
	// {type}. See the package documentation for where they come from.
	exchange, key string
	// consume is Sync.Subject split like the publish target: the queue
	// (exchange "") or the exchange and binding key of the consumer's own
	// queue. consumeSet tells whether there is one.
	consumeExchange, consumeKey string
	consumeSet                  bool
	timeout                     time.Duration // bounds one Send: Delivery.Timeout, default 30s
	auth                        *connector.Auth
}

// newConfig reads cfg and checks it, without I/O.
func newConfig(cfg connector.Config) (config, error) {
	if cfg.Type != "" && !strings.EqualFold(string(cfg.Type), string(connector.AMQP)) {
		return config{}, fmt.Errorf("connector type %q is not %q", cfg.Type, connector.AMQP)
	}
	c := config{name: cfg.Name, timeout: time.Duration(cfg.Delivery.Timeout), auth: cfg.Auth}
	if c.timeout <= 0 {
		c.timeout = defaultTimeout
	}
	if cfg.Endpoint == "" {
		return config{}, errors.New("endpoint: missing: expected amqp://host:5672/vhost")
	}
	u, err := url.Parse(cfg.Endpoint)
	if err != nil || (u.Scheme != "amqp" && u.Scheme != "amqps") || u.Host == "" {
		return config{}, errors.New("endpoint: expected amqp://host:port/vhost or amqps://…") // url's error could quote a credential
	}
	q := u.Query()
	publish := q.Get(subjectParam)
	q.Del(subjectParam)
	u.RawQuery, u.ForceQuery = q.Encode(), false
	c.url = u.String()
	if _, err := amqp.ParseURI(c.url); err != nil {
		return config{}, errors.New("endpoint: not an AMQP URI (host, port, vhost or query)") // the error could quote a credential
	}
	if s := cfg.Sync.Subject; s != "" {
		c.consumeExchange, c.consumeKey = split(s)
		c.consumeSet = true
		if err := checkTarget(c.consumeExchange, c.consumeKey); err != nil {
			return config{}, fmt.Errorf("sync.subject %q: %w", s, err)
		}
		if strings.Contains(s, placeType) {
			return config{}, fmt.Errorf("sync.subject %q: {type} only goes in a publish target", s)
		}
	}
	switch {
	case publish != "":
		// from the endpoint
	case cfg.Sync.Subject != "":
		publish = cfg.Sync.Subject
	default:
		publish = "liaison." + token(cfg.Name)
	}
	c.exchange, c.key = split(publish)
	if err := checkTarget(c.exchange, strings.ReplaceAll(c.key, placeType, "T")); err != nil {
		return config{}, fmt.Errorf("publish target %q: %w", publish, err)
	}
	if err := checkAuth(cfg.Auth); err != nil {
		return config{}, err
	}
	return c, nil
}

// split splits a subject "exchange/routingKey" at its first '/'; a subject
// without one is a queue name, on the default exchange "".
func split(subject string) (exchange, key string) {
	if e, k, ok := strings.Cut(subject, "/"); ok {
		return e, k
	}
	return "", subject
}

// checkTarget checks an exchange name and a routing key or queue name.
func checkTarget(exchange, key string) error {
	switch {
	case len(exchange) > maxName || len(key) > maxName:
		return fmt.Errorf("names are at most %d bytes", maxName)
	case strings.ContainsFunc(exchange, func(r rune) bool {
		return !('a' <= r && r <= 'z' || 'A' <= r && r <= 'Z' || '0' <= r && r <= '9' || strings.ContainsRune("-_.:", r))
	}):
		return fmt.Errorf("exchange %q: letters, digits, '-', '_', '.' and ':' only", exchange)
	case exchange == "" && key == "":
		return errors.New("no queue name")
	case strings.ContainsFunc(key, func(r rune) bool { return r < ' ' || r == 0x7f }):
		return errors.New("a control character")
	}
	return nil
}

// target returns the exchange and routing key to publish a record of type
// typ to.
func (c config) target(typ string) (exchange, key string, err error) {
	if !strings.Contains(c.key, placeType) {
		return c.exchange, c.key, nil
	}
	if typ == "" || strings.ContainsFunc(typ, func(r rune) bool { return r <= ' ' || r == 0x7f }) {
		return "", "", fmt.Errorf("record type %q cannot stand for {type} in routing key %q", typ, c.key)
	}
	return c.exchange, strings.ReplaceAll(c.key, placeType, typ), nil
}

// token turns a connector name into a name part: lower case, with
// everything but letters, digits, '-' and '_' as '_'.
func token(name string) string {
	t := strings.Map(func(r rune) rune {
		switch {
		case 'a' <= r && r <= 'z', '0' <= r && r <= '9', r == '-', r == '_':
			return r
		case 'A' <= r && r <= 'Z':
			return r + 'a' - 'A'
		}
		return '_'
	}, name)
	if t == "" {
		return "connector"
	}
	return t
}

// checkAuth checks that the adapter can use a, without resolving secrets.
func checkAuth(a *connector.Auth) error {
	if a == nil {
		return nil
	}
	switch strings.ToLower(a.Scheme) {
	case "", connector.SchemeNone:
	case connector.SchemeBasic:
		if a.Username == "" || a.Password == "" {
			return errors.New("auth basic: username and password are required")
		}
	default:
		return fmt.Errorf("auth scheme %q: AMQP connectors take none (the URI's user, else guest) or basic", a.Scheme)
	}
	return nil
}
