package connector

import (
	"maps"
	"net/url"
	"slices"
	"strings"
	"time"
)

// Config is one connector as registered: the body of
// POST /api/external-connectors, or one entry of the config file's
// connectors list. Parse reads it (DESIGN.md's form as written, type and
// scheme case-insensitive); Validate checks it without I/O. Field comments
// give the defaults that WithDefaults fills in.
//
// A Config is a value: its methods never modify the receiver or anything
// it points to, so a Config that nobody mutates is safe for concurrent use.
type Config struct {
	Name     string `json:"name" yaml:"name"`                             // required, unique, shown to operators
	Type     Type   `json:"type" yaml:"type"`                             // required: fhir, rest, soap, graphql, webhook, nats, amqp, kafka
	Endpoint string `json:"endpoint,omitempty" yaml:"endpoint,omitempty"` // the system's base URL (a FHIR base, or ending in a resource type)
	Auth     *Auth  `json:"auth,omitempty" yaml:"auth,omitempty"`         // outbound authentication; nil for none
	Sync     Sync   `json:"sync" yaml:"sync,omitempty"`                   // the trigger; default push-only
	// Resources lists the HMS record types the connector exchanges
	// ("Patient", "Appointment"). Default: the types its mapping names,
	// else the resource type at the end of Endpoint.
	Resources []string `json:"resources,omitempty" yaml:"resources,omitempty"`
	Mapping   Mapping  `json:"mapping,omitzero" yaml:"mapping,omitempty"`
	Delivery  Delivery `json:"delivery,omitzero" yaml:"delivery,omitempty"`
	// SOAP holds the settings of a soap connector (type soap only). Nil:
	// SOAP 1.1 without WS-Security for XML bodies, the CDC IIS over SOAP
	// 1.2 for HL7 v2 bodies.
	SOAP *SOAPOptions `json:"soap,omitempty" yaml:"soap,omitempty"`
	// GraphQL holds the mutations of a graphql connector; required for
	// type graphql, not used by the others.
	GraphQL *GraphQLOptions `json:"graphql,omitempty" yaml:"graphql,omitempty"`
}

// Type is a connector type, lower case.
type Type string

// The connector types.
const (
	FHIR    Type = "fhir"
	REST    Type = "rest"
	SOAP    Type = "soap"
	GraphQL Type = "graphql"
	Webhook Type = "webhook"
	NATS    Type = "nats"
	AMQP    Type = "amqp"
	Kafka   Type = "kafka"
)

// types lists every Type, in the order error messages name them.
var types = []Type{FHIR, REST, SOAP, GraphQL, Webhook, NATS, AMQP, Kafka}

// The auth schemes, the values of Auth.Scheme. Parse also reads "api-key"
// and "api_key" as SchemeAPIKey.
const (
	SchemeNone   = "none"
	SchemeAPIKey = "apikey"
	SchemeBasic  = "basic"
	SchemeBearer = "bearer"
	SchemeOAuth2 = "oauth2" // OAuth2 client credentials
	SchemeSMART  = "smart"  // SMART Backend Services (private_key_jwt)
	SchemeMTLS   = "mtls"   // mutual TLS
)

// Auth is outbound authentication. Secret fields hold a value, a
// reference "env:NAME" / "file:PATH" that ResolveSecret reads, or a value
// sealed by EncryptSecrets; they are write-only: Redacted replaces them
// with "***".
//
// Each scheme uses some fields and requires some of them:
//
//	none    -
//	apikey  key (required), header or query
//	basic   username, password (both required)
//	bearer  token (required)
//	oauth2  clientId, clientSecret (both required), tokenUrl, scopes
//	smart   clientId, privateKey (both required), keyId, algorithm, tokenUrl, scopes
//	mtls    certificate, privateKey (both required)
//
// Secret, the inbound webhook signing secret, goes with any scheme.
type Auth struct {
	Scheme       string `json:"scheme" yaml:"scheme"` // none, apikey, basic, bearer, oauth2, smart, mtls (case-insensitive on input)
	ClientID     string `json:"clientId,omitempty" yaml:"clientId,omitempty"`
	ClientSecret string `json:"clientSecret,omitempty" yaml:"clientSecret,omitempty"` // secret
	// TokenURL is the OAuth2 / SMART token endpoint. Optional: when empty
	// it is discovered from the FHIR server (.well-known/smart-configuration).
	TokenURL string   `json:"tokenUrl,omitempty" yaml:"tokenUrl,omitempty"`
	Scopes   []string `json:"scopes,omitempty" yaml:"scopes,omitempty"`
	Username string   `json:"username,omitempty" yaml:"username,omitempty"`
	Password string   `json:"password,omitempty" yaml:"password,omitempty"` // secret
	Token    string   `json:"token,omitempty" yaml:"token,omitempty"`       // secret: bearer token
	Key      string   `json:"key,omitempty" yaml:"key,omitempty"`           // secret: API key value
	Header   string   `json:"header,omitempty" yaml:"header,omitempty"`     // API key header name; default "X-API-Key"
	Query    string   `json:"query,omitempty" yaml:"query,omitempty"`       // API key query parameter name, instead of a header
	Secret   string   `json:"secret,omitempty" yaml:"secret,omitempty"`     // secret: a webhook signing secret (the seed's form)
	// PrivateKey is a PEM private key: the SMART client's signing key, or
	// the mTLS client key. Secret.
	PrivateKey string `json:"privateKey,omitempty" yaml:"privateKey,omitempty"`
	KeyID      string `json:"keyId,omitempty" yaml:"keyId,omitempty"`         // smart: the JWT "kid"
	Algorithm  string `json:"algorithm,omitempty" yaml:"algorithm,omitempty"` // smart: RS384 or ES384; default from the key's type
	// Certificate is the mTLS client certificate chain, PEM, or an
	// "env:NAME" / "file:PATH" reference.
	Certificate string `json:"certificate,omitempty" yaml:"certificate,omitempty"`
}

// The sync modes, the values of Sync.Mode.
const (
	ModePushOnly = "push-only" // the gateway only sends; nothing comes back
	ModeWebhook  = "webhook"   // the system posts to Sync.Path
	ModePoll     = "poll"      // the gateway polls the system every Sync.Interval
	ModeQueue    = "queue"     // the gateway consumes Sync.Subject
)

// WebhookPathPrefix starts every inbound webhook path (Sync.Path).
const WebhookPathPrefix = "/api/webhooks/"

// Sync is how changes from the connector reach the gateway.
type Sync struct {
	Mode     string   `json:"mode,omitempty" yaml:"mode,omitempty"`         // push-only (default), webhook, poll, queue
	Path     string   `json:"path,omitempty" yaml:"path,omitempty"`         // webhook: the gateway path it posts to
	Interval Duration `json:"interval,omitempty" yaml:"interval,omitempty"` // poll: how often, at least 1s
	Subject  string   `json:"subject,omitempty" yaml:"subject,omitempty"`   // queue: subject or queue name
	// Items, Cursor and Since configure polling a REST API (poll mode,
	// type rest): GET {endpoint}?{Since}={cursor} answers JSON whose items
	// are at the dotted path Items ("" for a top-level array, "data.items"),
	// and each item's field Cursor (required) orders them; the largest
	// value seen becomes the next cursor. Since defaults to "since".
	Items  string `json:"items,omitempty" yaml:"items,omitempty"`
	Cursor string `json:"cursor,omitempty" yaml:"cursor,omitempty"`
	Since  string `json:"since,omitempty" yaml:"since,omitempty"`
	// Verify is how the gateway authenticates the webhooks posted to
	// Path (webhook mode only). Nil: in the seed's form, Auth.Secret
	// means Standard Webhooks verification; see Config.WebhookVerify.
	Verify *Verify `json:"verify,omitempty" yaml:"verify,omitempty"`
}

// Mapping names the mappings the connector uses, per HMS record type.
// The registration accepts either {"inbound": {TYPE: NAME}, "outbound":
// {TYPE: NAME}} or a field rename map {"hmsPatientId": "id"} (Rename),
// which then serves both directions for the connector's one resource type.
// Rename does not go with Inbound or Outbound.
type Mapping struct {
	Inbound  map[string]string `json:"inbound,omitempty" yaml:"inbound,omitempty"`
	Outbound map[string]string `json:"outbound,omitempty" yaml:"outbound,omitempty"`
	Rename   map[string]string `json:"rename,omitempty" yaml:"rename,omitempty"`
}

// Delivery is the connector's delivery policy. A zero field takes its
// default; in a config file, it first takes the file's delivery field.
type Delivery struct {
	// MaxAge is how long a message is retried before it is dead. Default 72h.
	MaxAge Duration `json:"maxAge,omitempty" yaml:"maxAge,omitempty"`
	// Backoff: the first retry waits about InitialBackoff (default 1s),
	// each next one up to twice as long, never more than MaxBackoff
	// (default 10m), with full jitter.
	InitialBackoff Duration `json:"initialBackoff,omitempty" yaml:"initialBackoff,omitempty"`
	MaxBackoff     Duration `json:"maxBackoff,omitempty" yaml:"maxBackoff,omitempty"`
	// Timeout bounds one attempt. Default 30s.
	Timeout Duration `json:"timeout,omitempty" yaml:"timeout,omitempty"`
	// Concurrency bounds the records delivered at once, 1 to
	// MaxConcurrency. Default 8.
	Concurrency int `json:"concurrency,omitempty" yaml:"concurrency,omitempty"`
}

// Defaults that WithDefaults fills in for zero fields.
const (
	DefaultMode           = ModePushOnly
	DefaultAPIKeyHeader   = "X-API-Key"
	DefaultMaxAge         = Duration(72 * time.Hour)
	DefaultInitialBackoff = Duration(time.Second)
	DefaultMaxBackoff     = Duration(10 * time.Minute)
	DefaultTimeout        = Duration(30 * time.Second)
	DefaultConcurrency    = 8
)

// MaxConcurrency bounds Delivery.Concurrency.
const MaxConcurrency = 256

// WithDefaults returns c with every zero field that has a default set to
// it: Sync.Mode, Sync.Verify's fields (see Verify.WithDefaults),
// Auth.Header (apikey without Query), Resources and the Delivery fields.
// It does not check anything; c itself is not modified.
func (c Config) WithDefaults() Config {
	if c.Sync.Mode == "" {
		c.Sync.Mode = DefaultMode
	}
	if a := c.Auth; a != nil && a.Scheme == "" && a.Secret != "" {
		// The seed's form: only a webhook secret under auth, no outbound auth.
		cp := *a
		cp.Scheme = SchemeNone
		c.Auth = &cp
	}
	if c.Sync.Verify != nil {
		v := c.Sync.Verify.WithDefaults()
		c.Sync.Verify = &v
	}
	if a := c.Auth; a != nil && a.Scheme == SchemeAPIKey && a.Header == "" && a.Query == "" {
		cp := *a
		cp.Header = DefaultAPIKeyHeader
		c.Auth = &cp
	}
	if len(c.Resources) == 0 {
		c.Resources = c.defaultResources()
	}
	c.Delivery = c.Delivery.withDefaults()
	return c
}

// defaultResources is the types c's mapping names, sorted, else the
// resource type at the end of c.Endpoint, else nil.
func (c Config) defaultResources() []string {
	if len(c.Mapping.Outbound)+len(c.Mapping.Inbound) > 0 {
		rs := slices.Collect(maps.Keys(c.Mapping.Outbound))
		for t := range c.Mapping.Inbound {
			if _, both := c.Mapping.Outbound[t]; !both {
				rs = append(rs, t)
			}
		}
		slices.Sort(rs)
		return rs
	}
	if t := endpointResource(c.Endpoint); t != "" {
		return []string{t}
	}
	return nil
}

// endpointResource returns the last segment of the endpoint's path when it
// is a capitalised word such as "Patient" or "MedicationRequest", and ""
// otherwise: "https://stateehr.gov/fhir/Patient" gives "Patient", while a
// FHIR base such as ".../fhir", ".../R4" or ".../FHIR" gives "".
func endpointResource(endpoint string) string {
	u, err := url.Parse(endpoint)
	if err != nil {
		return ""
	}
	p := strings.TrimSuffix(u.Path, "/")
	last := p[strings.LastIndexByte(p, '/')+1:]
	if len(last) < 2 || last[0] < 'A' || last[0] > 'Z' || last[1] < 'a' || last[1] > 'z' {
		return ""
	}
	for _, r := range last {
		if !('a' <= r && r <= 'z' || 'A' <= r && r <= 'Z') {
			return ""
		}
	}
	return last
}

// withDefaults returns d with its zero fields set to the defaults.
func (d Delivery) withDefaults() Delivery {
	return d.Inherit(Delivery{
		MaxAge:         DefaultMaxAge,
		InitialBackoff: DefaultInitialBackoff,
		MaxBackoff:     DefaultMaxBackoff,
		Timeout:        DefaultTimeout,
		Concurrency:    DefaultConcurrency,
	})
}

// Inherit returns d with its zero fields taken from def: the defaults of a
// config file, or of the gateway.
func (d Delivery) Inherit(def Delivery) Delivery {
	if d.MaxAge == 0 {
		d.MaxAge = def.MaxAge
	}
	if d.InitialBackoff == 0 {
		d.InitialBackoff = def.InitialBackoff
	}
	if d.MaxBackoff == 0 {
		d.MaxBackoff = def.MaxBackoff
	}
	if d.Timeout == 0 {
		d.Timeout = def.Timeout
	}
	if d.Concurrency == 0 {
		d.Concurrency = def.Concurrency
	}
	return d
}

// authField is one string field of Auth, for the code that treats them
// alike: decoding, validation and redaction.
type authField struct {
	name   string // as in JSON and YAML
	field  func(*Auth) *string
	secret bool // write-only: Redacted hides it, KeepSecrets keeps it
	pem    bool // PEM text: may span lines, may be an env: or file: reference
}

// authFields lists Auth's string fields but Scheme.
var authFields = []authField{
	{name: "clientId", field: func(a *Auth) *string { return &a.ClientID }},
	{name: "clientSecret", field: func(a *Auth) *string { return &a.ClientSecret }, secret: true},
	{name: "tokenUrl", field: func(a *Auth) *string { return &a.TokenURL }},
	{name: "username", field: func(a *Auth) *string { return &a.Username }},
	{name: "password", field: func(a *Auth) *string { return &a.Password }, secret: true},
	{name: "token", field: func(a *Auth) *string { return &a.Token }, secret: true},
	{name: "key", field: func(a *Auth) *string { return &a.Key }, secret: true},
	{name: "header", field: func(a *Auth) *string { return &a.Header }},
	{name: "query", field: func(a *Auth) *string { return &a.Query }},
	{name: "secret", field: func(a *Auth) *string { return &a.Secret }, secret: true},
	{name: "privateKey", field: func(a *Auth) *string { return &a.PrivateKey }, secret: true, pem: true},
	{name: "keyId", field: func(a *Auth) *string { return &a.KeyID }},
	{name: "algorithm", field: func(a *Auth) *string { return &a.Algorithm }},
	{name: "certificate", field: func(a *Auth) *string { return &a.Certificate }, pem: true},
}
