package connector

import (
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// Validate checks c, as WithDefaults would complete it, without I/O. It
// returns every problem found, each a *FieldError naming the field, joined
// with errors.Join; nil when c is good. It expects the lower-case forms
// that Parse produces. No message contains a secret's value.
//
// Mapping names are not checked here: the gateway checks them against the
// mappings it has loaded.
func (c Config) Validate() error {
	var p problems
	d := c.WithDefaults()
	p.name(d.Name)
	p.typ(d.Type)
	p.endpoint(d.Type, d.Endpoint)
	p.sync(d.Type, d.Sync)
	p.auth(d.Auth)
	p.webhookVerify(d)
	p.resources(c.Resources)
	p.mapping(d.Mapping, c.Resources, d.Resources)
	p.delivery("delivery", d.Delivery)
	p.soap(d.Type, d.SOAP)
	p.graphql(d.Type, d.GraphQL)
	return joinErrors(p)
}

// problems collects *FieldErrors.
type problems []error

func (p *problems) add(field string, err error) {
	*p = append(*p, &FieldError{Field: field, Err: err})
}

func (p *problems) addf(field, format string, args ...any) {
	p.add(field, fmt.Errorf(format, args...))
}

// maxName bounds Config.Name, in characters.
const maxName = 100

func (p *problems) name(name string) {
	switch {
	case name == "":
		p.add("name", ErrRequired)
	case !utf8.ValidString(name):
		p.addf("name", "not valid UTF-8")
	case utf8.RuneCountInString(name) > maxName:
		p.addf("name", "longer than %d characters", maxName)
	case strings.ContainsFunc(name, unicode.IsControl):
		p.addf("name", "contains a control character")
	case strings.TrimSpace(name) != name:
		p.addf("name", "starts or ends with white space")
	}
}

func (p *problems) typ(t Type) {
	switch {
	case t == "":
		p.add("type", fmt.Errorf("%w: one of %s", ErrRequired, joinTypes(types)))
	case !slices.Contains(types, t):
		p.addf("type", "unknown type %s (want one of %s)", quote(string(t)), joinTypes(types))
	}
}

func joinTypes(ts []Type) string {
	s := make([]string, len(ts))
	for i, t := range ts {
		s[i] = string(t)
	}
	return strings.Join(s, ", ")
}

func (p *problems) endpoint(t Type, endpoint string) {
	var schemes []string
	switch t {
	case NATS:
		schemes = []string{"nats"}
	case AMQP:
		schemes = []string{"amqp", "amqps"}
	case Kafka:
		schemes = []string{"kafka", "kafka+ssl"}
	case FHIR, REST, SOAP, GraphQL, Webhook:
		if endpoint == "" {
			p.add("endpoint", fmt.Errorf("%w for type %s", ErrRequired, t))
			return
		}
		schemes = []string{"http", "https"}
	default:
		return // the type is wrong; the endpoint cannot be judged
	}
	if endpoint == "" {
		return
	}
	if err := checkURL(endpoint, schemes...); err != nil {
		p.add("endpoint", err)
	}
}

// maxURL bounds the URLs of a configuration.
const maxURL = 2048

// checkURL checks that raw is an absolute URL with one of schemes and a
// host, and without credentials or a fragment. The error does not repeat
// raw, which could hold a credential.
func checkURL(raw string, schemes ...string) error {
	want := "an absolute " + strings.Join(schemes, " or ") + " URL"
	if len(raw) > maxURL {
		return fmt.Errorf("longer than %d bytes", maxURL)
	}
	if strings.ContainsFunc(raw, unicode.IsSpace) {
		return fmt.Errorf("want %s; it contains white space", want)
	}
	u, err := url.Parse(raw)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return fmt.Errorf("want %s: %w", want, err)
	}
	switch {
	case !slices.Contains(schemes, u.Scheme):
		return fmt.Errorf("want %s", want)
	case u.User != nil:
		return errors.New("holds credentials; give them in auth")
	case u.Host == "" || u.Hostname() == "":
		return fmt.Errorf("want %s with a host", want)
	case u.Fragment != "" || strings.HasSuffix(raw, "#"):
		return errors.New("has a fragment (#…)")
	}
	return nil
}

// modeTypes lists the connector types each sync mode goes with.
var modeTypes = map[string][]Type{
	ModePushOnly: types,
	ModeWebhook:  {FHIR, REST, SOAP, GraphQL, Webhook},
	ModePoll:     {FHIR, REST, SOAP, GraphQL},
	ModeQueue:    {NATS, AMQP, Kafka},
}

// minInterval bounds Sync.Interval from below.
const minInterval = Duration(time.Second)

func (p *problems) sync(t Type, s Sync) {
	allowed, known := modeTypes[s.Mode]
	if !known {
		p.addf("sync.mode", "unknown mode %s (want push-only, webhook, poll or queue)", quote(s.Mode))
		return
	}
	if slices.Contains(types, t) && !slices.Contains(allowed, t) {
		p.addf("sync.mode", "%s does not go with type %s (it goes with %s)", s.Mode, t, joinTypes(allowed))
	}

	switch {
	case s.Mode == ModeWebhook && s.Path == "":
		p.add("sync.path", fmt.Errorf("%w for webhook mode: a path starting with %q", ErrRequired, WebhookPathPrefix))
	case s.Mode == ModeWebhook:
		if err := checkWebhookPath(s.Path); err != nil {
			p.add("sync.path", err)
		}
	case s.Path != "":
		p.addf("sync.path", "only used in webhook mode (the mode is %s)", s.Mode)
	}

	switch {
	case s.Mode == ModePoll && s.Interval == 0:
		p.add("sync.interval", fmt.Errorf("%w for poll mode: at least %s", ErrRequired, minInterval))
	case s.Mode == ModePoll && s.Interval < minInterval:
		p.addf("sync.interval", "%s is less than %s", s.Interval, minInterval)
	case s.Mode != ModePoll && s.Interval != 0:
		p.addf("sync.interval", "only used in poll mode (the mode is %s)", s.Mode)
	}

	restPoll := s.Mode == ModePoll && t == REST
	switch {
	case restPoll && s.Cursor == "":
		p.add("sync.cursor", fmt.Errorf("%w for polling a REST API: the item field that orders changes", ErrRequired))
	case !restPoll && (s.Cursor != "" || s.Items != "" || s.Since != ""):
		p.addf("sync.cursor", "items, cursor and since are only used when polling a REST API")
	}

	switch {
	case s.Mode == ModeQueue && s.Subject == "":
		p.add("sync.subject", fmt.Errorf("%w for queue mode", ErrRequired))
	case s.Mode == ModeQueue && strings.ContainsFunc(s.Subject, isSpaceOrControl):
		p.addf("sync.subject", "contains white space or a control character")
	case s.Mode != ModeQueue && s.Subject != "":
		p.addf("sync.subject", "only used in queue mode (the mode is %s)", s.Mode)
	}
}

func isSpaceOrControl(r rune) bool { return unicode.IsSpace(r) || unicode.IsControl(r) }

// maxWebhookPath bounds Sync.Path.
const maxWebhookPath = 256

// checkWebhookPath checks that path is WebhookPathPrefix followed by one or
// more segments of letters, digits, '-', '_', '.' and '~'.
func checkWebhookPath(path string) error {
	rest, ok := strings.CutPrefix(path, WebhookPathPrefix)
	switch {
	case !ok:
		return fmt.Errorf("want a path starting with %q", WebhookPathPrefix)
	case len(path) > maxWebhookPath:
		return fmt.Errorf("longer than %d bytes", maxWebhookPath)
	case rest == "":
		return fmt.Errorf("want a name after %q", WebhookPathPrefix)
	}
	for seg := range strings.SplitSeq(rest, "/") {
		switch seg {
		case "":
			return errors.New("has an empty segment (// or a trailing /)")
		case ".", "..":
			return errors.New("has a . or .. segment")
		}
		for _, r := range seg {
			if !('a' <= r && r <= 'z' || 'A' <= r && r <= 'Z' || '0' <= r && r <= '9' || strings.ContainsRune("-_.~", r)) {
				return fmt.Errorf("has the character %q; use letters, digits, '-', '_', '.' and '~'", r)
			}
		}
	}
	return nil
}

// schemeFields lists, for each scheme, the Auth fields it requires and
// those it may use. Auth.Secret goes with every scheme.
var schemeFields = map[string]struct{ required, optional []string }{
	SchemeNone:   {},
	SchemeAPIKey: {required: []string{"key"}, optional: []string{"header", "query"}},
	SchemeBasic:  {required: []string{"username", "password"}},
	SchemeBearer: {required: []string{"token"}},
	SchemeOAuth2: {required: []string{"clientId", "clientSecret"}, optional: []string{"tokenUrl", "scopes"}},
	SchemeSMART:  {required: []string{"clientId", "privateKey"}, optional: []string{"tokenUrl", "scopes", "keyId", "algorithm"}},
	SchemeMTLS:   {required: []string{"certificate", "privateKey"}},
}

// schemes lists the schemes in the order messages name them.
var schemes = []string{SchemeNone, SchemeAPIKey, SchemeBasic, SchemeBearer, SchemeOAuth2, SchemeSMART, SchemeMTLS}

func (p *problems) auth(a *Auth) {
	if a == nil {
		return
	}
	rule, known := schemeFields[a.Scheme]
	switch {
	case a.Scheme == "":
		p.add("auth.scheme", fmt.Errorf("%w: one of %s", ErrRequired, strings.Join(schemes, ", ")))
	case !known:
		p.addf("auth.scheme", "unknown scheme %s (want one of %s)", quote(a.Scheme), strings.Join(schemes, ", "))
	}
	uses := func(name string) bool {
		return !known || name == "secret" || slices.Contains(rule.required, name) || slices.Contains(rule.optional, name)
	}

	for _, f := range authFields {
		path := "auth." + f.name
		v := *f.field(a)
		if v == "" {
			if slices.Contains(rule.required, f.name) {
				p.add(path, fmt.Errorf("%w for scheme %s", ErrRequired, a.Scheme))
			}
			continue
		}
		if !uses(f.name) {
			p.addf(path, "not used by scheme %s", a.Scheme)
			continue
		}
		if f.secret && v == RedactedSecret {
			p.addf(path, "is the placeholder %q that responses show in place of a secret; send the secret itself", RedactedSecret)
			continue
		}
		check := checkReference
		if f.secret {
			check = checkSecret
		}
		if f.secret || f.pem {
			if err := check(v); err != nil {
				p.add(path, err)
				continue
			}
		}
		if !f.pem && strings.ContainsFunc(v, unicode.IsControl) {
			p.addf(path, "contains a control character")
		}
	}

	if len(a.Scopes) > 0 && !uses("scopes") {
		p.addf("auth.scopes", "not used by scheme %s", a.Scheme)
	} else {
		for i, s := range a.Scopes {
			switch {
			case s == "":
				p.add(indexPath("auth.scopes", i), errors.New("empty scope"))
			case strings.ContainsFunc(s, isSpaceOrControl):
				p.add(indexPath("auth.scopes", i), errors.New("contains white space or a control character; give each scope as its own item"))
			}
		}
	}
	if a.TokenURL != "" && uses("tokenUrl") {
		if err := checkURL(a.TokenURL, "http", "https"); err != nil {
			p.add("auth.tokenUrl", err)
		}
	}
	if a.Scheme == SchemeBasic && strings.Contains(a.Username, ":") {
		p.addf("auth.username", "contains ':', which basic auth does not allow in a user name")
	}
	if a.Scheme == SchemeAPIKey {
		switch {
		case a.Header != "" && a.Query != "":
			p.addf("auth.query", "give either header or query, not both")
		case a.Header != "" && !headerName(a.Header):
			p.addf("auth.header", "not a valid HTTP header name")
		case strings.ContainsFunc(a.Query, isSpaceOrControl):
			p.addf("auth.query", "contains white space or a control character")
		}
	}
	if a.Scheme == SchemeSMART && a.Algorithm != "" && a.Algorithm != "RS384" && a.Algorithm != "ES384" {
		p.addf("auth.algorithm", "unknown algorithm %s (want RS384 or ES384)", quote(a.Algorithm))
	}
}

// checkReference checks the form of an "env:NAME" or "file:PATH"
// reference; any other value is a literal and passes. The error does not
// repeat the value.
func checkReference(v string) error {
	if name, ok := strings.CutPrefix(v, "env:"); ok && !envName(name) {
		return errors.New("env: reference: want a variable name of letters, digits and '_'")
	}
	if v == "file:" {
		return errors.New("file: reference: want a path after file:")
	}
	return nil
}

// checkSecret checks the form of a secret: an "env:NAME" or "file:PATH"
// reference, a value sealed by EncryptSecrets, or a literal, which
// passes. The error does not repeat the value.
func checkSecret(v string) error {
	if IsSealed(v) {
		return checkSealed(v)
	}
	return checkReference(v)
}

// envName reports whether s is a portable environment variable name.
func envName(s string) bool {
	for i, r := range s {
		if !('A' <= r && r <= 'Z' || 'a' <= r && r <= 'z' || r == '_' || i > 0 && '0' <= r && r <= '9') {
			return false
		}
	}
	return s != ""
}

// headerName reports whether s is an HTTP field name (RFC 9110 token).
func headerName(s string) bool {
	for _, r := range s {
		if !('A' <= r && r <= 'Z' || 'a' <= r && r <= 'z' || '0' <= r && r <= '9' || strings.ContainsRune("!#$%&'*+-.^_`|~", r)) {
			return false
		}
	}
	return s != ""
}

// maxRecordType bounds a record type name.
const maxRecordType = 64

// recordType reports whether s is a record type name: a letter, then
// letters, digits, '_' and '-', as "Patient" or "lab-order".
func recordType(s string) bool {
	return len(s) <= maxRecordType && plainName(s) && s[0] != '_'
}

const recordTypeWant = `want a record type name such as "Patient": a letter, then letters, digits, '_' or '-'`

// resources checks the resources given, not the defaults derived from the
// mapping, whose problems the mapping reports.
func (p *problems) resources(rs []string) {
	seen := make(map[string]bool, len(rs))
	for i, r := range rs {
		path := indexPath("resources", i)
		switch {
		case r == "":
			p.add(path, errors.New("empty record type"))
		case !recordType(r):
			p.addf(path, "%s", recordTypeWant)
		case seen[r]:
			p.addf(path, "%s is listed twice", r)
		}
		seen[r] = true
	}
}

// mapping checks m against the resources given (explicit) and the
// connector's resources after defaults (all).
func (p *problems) mapping(m Mapping, explicit, all []string) {
	given := make(map[string]bool, len(explicit))
	for _, r := range explicit {
		given[r] = true
	}
	for _, dir := range []struct {
		name string
		m    map[string]string
	}{{"inbound", m.Inbound}, {"outbound", m.Outbound}} {
		for _, t := range sortedKeys(dir.m) {
			path := fieldPath("mapping."+dir.name, t)
			switch {
			case !recordType(t):
				p.addf(path, "%s", recordTypeWant)
			case len(explicit) > 0 && !given[t]:
				p.addf(path, "%s is not in resources", t)
			}
			if dir.m[t] == "" {
				p.add(path, fmt.Errorf("%w: a mapping name", ErrRequired))
			}
		}
	}
	if len(m.Rename) == 0 {
		return
	}
	switch {
	case len(m.Inbound) > 0 || len(m.Outbound) > 0:
		p.addf("mapping.rename", "a rename map does not go with inbound or outbound mappings")
	case len(all) != 1:
		p.addf("mapping.rename", "a rename map serves one record type, and the connector has %d; set resources to one type", len(all))
	}
	for _, k := range sortedKeys(m.Rename) {
		path := fieldPath("mapping.rename", k)
		if k == "" {
			p.addf(path, "empty field name")
		}
		if m.Rename[k] == "" {
			p.add(path, fmt.Errorf("%w: the field name to rename to", ErrRequired))
		}
	}
}

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// delivery checks a delivery policy at path; zero fields are unset.
func (p *problems) delivery(path string, d Delivery) {
	for _, f := range []struct {
		name string
		v    Duration
	}{
		{"maxAge", d.MaxAge},
		{"initialBackoff", d.InitialBackoff},
		{"maxBackoff", d.MaxBackoff},
		{"timeout", d.Timeout},
	} {
		if f.v < 0 {
			p.addf(path+"."+f.name, "%s is negative", f.v)
		}
	}
	if d.Concurrency < 0 || d.Concurrency > MaxConcurrency {
		p.addf(path+".concurrency", "%d is out of range: want 1 to %d", d.Concurrency, MaxConcurrency)
	}
	if d.InitialBackoff > 0 && d.MaxBackoff > 0 && d.MaxBackoff < d.InitialBackoff {
		p.addf(path+".maxBackoff", "%s is less than initialBackoff %s", d.MaxBackoff, d.InitialBackoff)
	}
}
