package kafkaq

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sasl"
	"github.com/twmb/franz-go/pkg/sasl/plain"
	"github.com/twmb/franz-go/pkg/sasl/scram"

	"github.com/liaisonhq/liaison/gateway/connector"
)

// The SASL mechanisms, the values of the endpoint's sasl parameter.
const (
	SASLPlain       = "plain"
	SASLScramSHA256 = "scram-sha-256"
	SASLScramSHA512 = "scram-sha-512"
)

// Defaults of what the adapter takes from a connector.Config.
const (
	// defaultTimeout bounds one Send when the connector's Delivery.Timeout
	// is zero.
	defaultTimeout = 30 * time.Second
	// dialTimeout bounds one attempt to connect to a broker, TLS included.
	dialTimeout = 10 * time.Second
	// defaultPort is the port of a broker given without one.
	defaultPort = "9092"
	// placeType in a publish topic stands for the record's type.
	placeType = "{type}"
	// The endpoint's query parameters: the publish topic, the consumer
	// group, the SASL mechanism.
	subjectParam = "subject"
	groupParam   = "group"
	saslParam    = "sasl"
	// maxTopic bounds a topic name, as Kafka does.
	maxTopic = 249
	// maxGroup bounds a consumer group id.
	maxGroup = 255
)

// config is what the adapter takes from a connector.Config.
type config struct {
	name    string   // the connector's name, in the client id
	brokers []string // host:port, the seed brokers
	tls     bool     // the endpoint is kafka+ssl://
	// publish is the topic template the Publisher sends to; it may hold
	// {type}. See the package documentation for where it comes from.
	publish string
	// consume is Sync.Subject, the topic the Consumer reads; "" when the
	// connector has none.
	consume string
	group   string        // the endpoint's group parameter; "" for the durable name
	sasl    string        // the SASL mechanism, with auth basic; else ""
	timeout time.Duration // bounds one Send: Delivery.Timeout, default 30s
	auth    *connector.Auth
}

// newConfig reads cfg and checks it, without I/O. Its error is a
// *connector.FieldError naming the field; it never holds a secret.
func newConfig(cfg connector.Config) (config, error) {
	if cfg.Type != "" && !strings.EqualFold(string(cfg.Type), string(connector.Kafka)) {
		return config{}, fieldErrorf("type", "connector type %q is not %q", cfg.Type, connector.Kafka)
	}
	c := config{name: cfg.Name, consume: cfg.Sync.Subject, timeout: time.Duration(cfg.Delivery.Timeout), auth: cfg.Auth}
	if c.timeout <= 0 {
		c.timeout = defaultTimeout
	}
	if cfg.Endpoint == "" {
		return config{}, fieldErrorf("endpoint", "missing: expected kafka://host:9092 or kafka+ssl://host:9093, with more brokers after commas")
	}
	u, err := url.Parse(cfg.Endpoint)
	switch {
	case err != nil || u.Scheme != "kafka" && u.Scheme != "kafka+ssl" || u.Host == "" || u.Opaque != "":
		// url's error could quote a credential.
		return config{}, fieldErrorf("endpoint", "expected kafka://host:port[,host:port…] or kafka+ssl://…")
	case u.User != nil:
		return config{}, fieldErrorf("endpoint", "holds credentials; give them in auth (basic, with the sasl parameter)")
	case u.Path != "" && u.Path != "/":
		return config{}, fieldErrorf("endpoint", "has a path; a Kafka endpoint is brokers only, the topic goes in the subject parameter")
	}
	c.tls = u.Scheme == "kafka+ssl"
	if c.brokers, err = brokers(u.Host); err != nil {
		return config{}, &connector.FieldError{Field: "endpoint", Err: err}
	}
	q := u.Query()
	for k, vs := range q {
		switch {
		case k != subjectParam && k != groupParam && k != saslParam:
			return config{}, fieldErrorf("endpoint", "unknown parameter %q (want subject, group or sasl)", k)
		case len(vs) > 1:
			return config{}, fieldErrorf("endpoint", "parameter %s given %d times", k, len(vs))
		}
	}
	c.group = q.Get(groupParam)
	if q.Has(groupParam) {
		if err := checkGroup(c.group); err != nil {
			return config{}, fieldErrorf("endpoint", "group parameter: %v", err)
		}
	}

	c.publish = q.Get(subjectParam)
	switch {
	case c.publish != "":
		// from the endpoint
	case c.consume != "":
		c.publish = c.consume
	default:
		c.publish = "liaison." + token(cfg.Name)
	}
	if err := checkTopic(strings.ReplaceAll(c.publish, placeType, "T")); err != nil {
		field := "endpoint"
		if q.Get(subjectParam) == "" {
			field = "sync.subject"
		}
		return config{}, fieldErrorf(field, "publish topic %q: %v", c.publish, err)
	}
	if c.consume != "" {
		if err := checkTopic(c.consume); err != nil {
			return config{}, fieldErrorf("sync.subject", "topic %q: %v", c.consume, err)
		}
	}
	if c.sasl, err = checkAuth(cfg.Auth, q.Get(saslParam), q.Has(saslParam)); err != nil {
		return config{}, err
	}
	return c, nil
}

// fieldErrorf is a *connector.FieldError for field.
func fieldErrorf(field, format string, args ...any) error {
	return &connector.FieldError{Field: field, Err: fmt.Errorf(format, args...)}
}

// brokers splits an endpoint's host, "h1:9092,h2:9092", into host:port
// pairs; a broker without a port takes 9092.
func brokers(hosts string) ([]string, error) {
	var out []string
	for _, b := range strings.Split(hosts, ",") {
		host, port, err := net.SplitHostPort(b)
		if err != nil {
			host, port = strings.Trim(b, "[]"), defaultPort
		}
		if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
			return nil, fmt.Errorf("broker %q: want host:port, with a port from 1 to 65535", b)
		}
		if host == "" || strings.ContainsAny(host, "[]") {
			return nil, fmt.Errorf("broker %q: want host:port", b)
		}
		out = append(out, net.JoinHostPort(host, port))
	}
	return out, nil
}

// checkTopic checks that t is a legal Kafka topic name: 1 to 249
// letters, digits, '.', '_' and '-', and not "." or "..".
func checkTopic(t string) error {
	switch {
	case t == "":
		return errors.New("empty")
	case len(t) > maxTopic:
		return fmt.Errorf("longer than %d bytes", maxTopic)
	case t == "." || t == "..":
		return errors.New(`"." and ".." are not topic names`)
	case strings.ContainsFunc(t, func(r rune) bool { return !topicRune(r) }):
		return errors.New("letters, digits, '.', '_' and '-' only")
	}
	return nil
}

func topicRune(r rune) bool {
	return 'a' <= r && r <= 'z' || 'A' <= r && r <= 'Z' || '0' <= r && r <= '9' || r == '.' || r == '_' || r == '-'
}

// checkGroup checks a consumer group id: 1 to 255 bytes, no white space
// or control characters.
func checkGroup(g string) error {
	switch {
	case g == "":
		return errors.New("empty")
	case len(g) > maxGroup:
		return fmt.Errorf("longer than %d bytes", maxGroup)
	case strings.ContainsFunc(g, func(r rune) bool { return r <= ' ' || r == 0x7f }):
		return errors.New("white space or a control character")
	}
	return nil
}

// topic returns the topic to publish a record of type typ to.
func (c config) topic(typ string) (string, error) {
	if !strings.Contains(c.publish, placeType) {
		return c.publish, nil
	}
	t := strings.ReplaceAll(c.publish, placeType, typ)
	if typ == "" || checkTopic(t) != nil {
		return "", fmt.Errorf("record type %q cannot stand for {type} in topic %q", typ, c.publish)
	}
	return t, nil
}

// token turns a connector name into a topic or group name part: lower
// case, with everything but letters, digits, '-' and '_' as '_'.
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

// mechanisms lists the values of the sasl parameter.
var mechanisms = []string{SASLPlain, SASLScramSHA256, SASLScramSHA512}

// checkAuth checks that the adapter can use a with the sasl parameter
// mech (given tells whether there is one), without resolving secrets, and
// returns the SASL mechanism: "" without auth, else mech, default plain.
func checkAuth(a *connector.Auth, mech string, given bool) (string, error) {
	mech = strings.ToLower(mech)
	scheme := ""
	if a != nil {
		scheme = strings.ToLower(a.Scheme)
	}
	switch scheme {
	case "", connector.SchemeNone:
		if given {
			return "", fieldErrorf("endpoint", "the sasl parameter needs auth basic (the SASL user name and password)")
		}
		return "", nil
	case connector.SchemeBasic:
	default:
		return "", fieldErrorf("auth.scheme", "auth scheme %q: Kafka connectors take none, or basic for SASL (the endpoint's sasl parameter picks %s)", a.Scheme, strings.Join(mechanisms, ", "))
	}
	switch {
	case a.Username == "":
		return "", fieldErrorf("auth.username", "required for SASL")
	case a.Password == "":
		return "", fieldErrorf("auth.password", "required for SASL")
	case !given:
		return SASLPlain, nil
	case !slices.Contains(mechanisms, mech):
		return "", fieldErrorf("endpoint", "sasl parameter %q: want one of %s", mech, strings.Join(mechanisms, ", "))
	}
	return mech, nil
}

// clientOptions returns the kgo options that reach the brokers as c: the
// seed brokers, TLS and SASL (whose password is resolved afresh for each
// connection), logging to log. It fails when the password's reference
// does not resolve now.
func (c config) clientOptions(log kgo.Logger) ([]kgo.Opt, error) {
	opts := []kgo.Opt{
		kgo.SeedBrokers(c.brokers...),
		kgo.ClientID("liaison-" + token(c.name)),
		kgo.DialTimeout(dialTimeout),
		kgo.WithLogger(log),
	}
	if c.tls {
		opts = append(opts, kgo.DialTLSConfig(&tls.Config{MinVersion: tls.VersionTLS12}))
	}
	if c.sasl == "" {
		return opts, nil
	}
	user, ref := c.auth.Username, c.auth.Password
	if _, err := connector.ResolveSecret(ref); err != nil {
		return nil, &connector.FieldError{Field: "auth.password", Err: err}
	}
	var m sasl.Mechanism
	switch c.sasl {
	case SASLPlain:
		m = plain.Plain(func(context.Context) (plain.Auth, error) {
			pw, err := connector.ResolveSecret(ref)
			return plain.Auth{User: user, Pass: pw}, err
		})
	case SASLScramSHA256, SASLScramSHA512:
		auth := func(context.Context) (scram.Auth, error) {
			pw, err := connector.ResolveSecret(ref)
			return scram.Auth{User: user, Pass: pw}, err
		}
		if c.sasl == SASLScramSHA256 {
			m = scram.Sha256(auth)
		} else {
			m = scram.Sha512(auth)
		}
	}
	return append(opts, kgo.SASL(m)), nil
}

// kgoLogger passes franz-go's warnings and errors to a slog.Logger. They
// name brokers, topics, partitions and errors, never a record.
type kgoLogger struct{ log *slog.Logger }

func (kgoLogger) Level() kgo.LogLevel { return kgo.LogLevelWarn }

func (l kgoLogger) Log(level kgo.LogLevel, msg string, keyvals ...any) {
	lv := slog.LevelWarn
	if level == kgo.LogLevelError {
		lv = slog.LevelError
	}
	l.log.Log(context.Background(), lv, "kafka: "+msg, keyvals...)
}
