package natsq

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/liaisonhq/liaison/gateway/connector"
)

// Defaults of what the adapter takes from a connector.Config.
const (
	// defaultTimeout bounds one Send when the connector's Delivery.Timeout
	// is zero.
	defaultTimeout = 30 * time.Second
	// dialTimeout bounds one attempt to connect to the server.
	dialTimeout = 5 * time.Second
	// placeType in a publish subject stands for the record's type.
	placeType = "{type}"
	// subjectParam is the endpoint's query parameter naming the publish
	// subject.
	subjectParam = "subject"
)

// config is what the adapter takes from a connector.Config.
type config struct {
	name string // the connector's name, in the connection's name
	url  string // the endpoint without its query
	// publish is the subject template the Publisher sends to; it may hold
	// {type}. See the package documentation for where it comes from.
	publish string
	// consume is Sync.Subject, the Consumer's filter subject (wildcards
	// allowed); "" when the connector has none.
	consume string
	timeout time.Duration // bounds one Send: Delivery.Timeout, default 30s
	auth    *connector.Auth
}

// newConfig reads cfg and checks it, without I/O.
func newConfig(cfg connector.Config) (config, error) {
	if cfg.Type != "" && !strings.EqualFold(string(cfg.Type), string(connector.NATS)) {
		return config{}, fmt.Errorf("connector type %q is not %q", cfg.Type, connector.NATS)
	}
	c := config{name: cfg.Name, consume: cfg.Sync.Subject, timeout: time.Duration(cfg.Delivery.Timeout), auth: cfg.Auth}
	if c.timeout <= 0 {
		c.timeout = defaultTimeout
	}
	if cfg.Endpoint == "" {
		return config{}, errors.New("endpoint: missing: expected nats://host:4222")
	}
	u, err := url.Parse(cfg.Endpoint)
	if err != nil || u.Scheme != "nats" || u.Host == "" {
		return config{}, errors.New("endpoint: expected nats://host:port") // url's error could quote a credential
	}
	q := u.Query()
	c.publish = q.Get(subjectParam)
	u.RawQuery, u.ForceQuery = "", false
	c.url = u.String()
	switch {
	case c.publish != "":
		// from the endpoint
	case c.consume != "":
		c.publish = c.consume
	default:
		c.publish = "liaison." + token(cfg.Name)
	}
	if err := checkSubject(strings.ReplaceAll(c.publish, placeType, "T"), false); err != nil {
		return config{}, fmt.Errorf("publish subject %q: %w", c.publish, err)
	}
	if c.consume != "" {
		if err := checkSubject(c.consume, true); err != nil {
			return config{}, fmt.Errorf("sync.subject %q: %w", c.consume, err)
		}
	}
	if err := checkAuth(cfg.Auth); err != nil {
		return config{}, err
	}
	return c, nil
}

// subject returns the subject to publish a record of type typ to.
func (c config) subject(typ string) (string, error) {
	if !strings.Contains(c.publish, placeType) {
		return c.publish, nil
	}
	if typ == "" || !validToken(typ, false) {
		return "", fmt.Errorf("record type %q cannot stand for {type} in subject %q", typ, c.publish)
	}
	return strings.ReplaceAll(c.publish, placeType, typ), nil
}

// checkSubject checks that s is a NATS subject: tokens separated by '.',
// none empty, without white space; with wildcards, a token may be '*' and
// the last one '>'.
func checkSubject(s string, wildcards bool) error {
	if s == "" {
		return errors.New("empty")
	}
	toks := strings.Split(s, ".")
	for i, t := range toks {
		switch {
		case wildcards && (t == "*" || t == ">" && i == len(toks)-1):
		case t == "":
			return errors.New("empty token")
		case !validToken(t, true):
			if wildcards {
				return fmt.Errorf("bad token %q: white space, or a wildcard inside a token", t)
			}
			return fmt.Errorf("bad token %q: white space or a wildcard", t)
		}
	}
	return nil
}

// validToken reports whether t can be one token of a subject, without
// wildcards; dots reports whether t may be several tokens.
func validToken(t string, dots bool) bool {
	for _, r := range t {
		if r <= ' ' || r == 0x7f || r == '*' || r == '>' || !dots && r == '.' {
			return false
		}
	}
	return t != ""
}

// token turns a connector name into one subject or consumer-name token:
// lower case, with everything but letters, digits, '-' and '_' as '_'.
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
	case connector.SchemeBearer:
		if a.Token == "" {
			return errors.New("auth bearer: token is required")
		}
	default:
		return fmt.Errorf("auth scheme %q: NATS connectors take none, basic (user and password) or bearer (a token)", a.Scheme)
	}
	return nil
}

// options returns the nats options that connect as c, its secrets
// resolved afresh, and more.
func (c config) options(more ...nats.Option) ([]nats.Option, error) {
	opts := []nats.Option{
		nats.Name("liaison " + c.name),
		// Once connected, nats.go reconnects on its own, for ever.
		nats.MaxReconnects(-1),
		nats.ReconnectWait(500 * time.Millisecond),
		nats.NoCallbacksAfterClientClose(),
	}
	if a := c.auth; a != nil {
		switch strings.ToLower(a.Scheme) {
		case connector.SchemeBasic:
			pw, err := connector.ResolveSecret(a.Password)
			if err != nil {
				return nil, fmt.Errorf("auth password: %w", err)
			}
			opts = append(opts, nats.UserInfo(a.Username, pw))
		case connector.SchemeBearer:
			tok, err := connector.ResolveSecret(a.Token)
			if err != nil {
				return nil, fmt.Errorf("auth token: %w", err)
			}
			opts = append(opts, nats.Token(tok))
		}
	}
	return append(opts, more...), nil
}

// connect connects to the server, bounded by dialTimeout and by ctx's
// deadline.
func (c config) connect(ctx context.Context, more ...nats.Option) (*nats.Conn, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	timeout := dialTimeout
	if d, ok := ctx.Deadline(); ok {
		timeout = max(min(timeout, time.Until(d)), time.Millisecond)
	}
	opts, err := c.options(append(more, nats.Timeout(timeout))...)
	if err != nil {
		return nil, err
	}
	nc, err := nats.Connect(c.url, opts...)
	if err != nil {
		return nil, fmt.Errorf("connect to %s: %w", redact(c.url), err)
	}
	return nc, nil
}

// redact returns raw without the password it may hold.
func redact(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || u.User == nil {
		return raw
	}
	return u.Redacted()
}
