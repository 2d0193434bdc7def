package connector

import "time"

// Config is one connector as registered: the body of
// POST /api/external-connectors, or one entry of the config file's
// connectors list. Parse reads it (DESIGN.md's form as written, type and
// scheme case-insensitive); Validate checks it without I/O. Field comments
// give the defaults that WithDefaults fills in.
type Config struct {
	Name     string `json:"name" yaml:"name"`                   // required, unique, shown to operators
	Type     Type   `json:"type" yaml:"type"`                   // required: fhir, rest, soap, graphql, webhook, nats, amqp
	Endpoint string `json:"endpoint,omitempty" yaml:"endpoint"` // the system's base URL (a FHIR base, or ending in a resource type)
	Auth     *Auth  `json:"auth,omitempty" yaml:"auth"`         // outbound authentication; nil for none
	Sync     Sync   `json:"sync" yaml:"sync"`                   // the trigger; default push-only
	// Resources lists the HMS record types the connector exchanges
	// ("Patient", "Appointment"). Default: the types its mapping names,
	// else the resource type at the end of Endpoint.
	Resources []string `json:"resources,omitempty" yaml:"resources"`
	Mapping   Mapping  `json:"mapping,omitempty" yaml:"mapping"`
	Delivery  Delivery `json:"delivery,omitempty" yaml:"delivery"`
}

// Type is a connector type, lower case.
type Type string

const (
	FHIR    Type = "fhir"
	REST    Type = "rest"
	SOAP    Type = "soap"
	GraphQL Type = "graphql"
	Webhook Type = "webhook"
	NATS    Type = "nats"
	AMQP    Type = "amqp"
)

// Auth is outbound authentication. Secret fields hold a value, or a
// reference "env:NAME" / "file:PATH"; they are write-only: Redacted
// replaces them with "***".
type Auth struct {
	Scheme       string   `json:"scheme" yaml:"scheme"` // none, apikey, basic, bearer, oauth2, smart, mtls (case-insensitive on input)
	ClientID     string   `json:"clientId,omitempty" yaml:"clientId"`
	ClientSecret string   `json:"clientSecret,omitempty" yaml:"clientSecret"` // secret
	TokenURL     string   `json:"tokenUrl,omitempty" yaml:"tokenUrl"`
	Scopes       []string `json:"scopes,omitempty" yaml:"scopes"`
	Username     string   `json:"username,omitempty" yaml:"username"`
	Password     string   `json:"password,omitempty" yaml:"password"` // secret
	Token        string   `json:"token,omitempty" yaml:"token"`       // secret: bearer token
	Key          string   `json:"key,omitempty" yaml:"key"`           // secret: API key value
	Header       string   `json:"header,omitempty" yaml:"header"`     // API key header name; default "X-API-Key"
	Query        string   `json:"query,omitempty" yaml:"query"`       // API key query parameter name, instead of a header
	Secret       string   `json:"secret,omitempty" yaml:"secret"`     // secret: a webhook signing secret (the seed's form)
}

// Sync is how changes from the connector reach the gateway.
type Sync struct {
	Mode     string        `json:"mode,omitempty" yaml:"mode"`         // push-only (default), webhook, poll, queue
	Path     string        `json:"path,omitempty" yaml:"path"`         // webhook: the gateway path it posts to
	Interval time.Duration `json:"interval,omitempty" yaml:"interval"` // poll: how often
	Subject  string        `json:"subject,omitempty" yaml:"subject"`   // queue: subject or queue name
}

// Mapping names the mappings the connector uses, per HMS record type.
// The registration accepts either {"inbound": {TYPE: NAME}, "outbound":
// {TYPE: NAME}} or a field rename map {"hmsPatientId": "id"} (Rename),
// which then serves both directions for the connector's one resource type.
type Mapping struct {
	Inbound  map[string]string `json:"inbound,omitempty" yaml:"inbound"`
	Outbound map[string]string `json:"outbound,omitempty" yaml:"outbound"`
	Rename   map[string]string `json:"rename,omitempty" yaml:"rename"`
}

// Delivery is the connector's delivery policy.
type Delivery struct {
	// MaxAge is how long a message is retried before it is dead. Default 72h.
	MaxAge time.Duration `json:"maxAge,omitempty" yaml:"maxAge"`
	// Backoff: the first retry waits about InitialBackoff (default 1s),
	// each next one up to twice as long, never more than MaxBackoff
	// (default 10m), with full jitter.
	InitialBackoff time.Duration `json:"initialBackoff,omitempty" yaml:"initialBackoff"`
	MaxBackoff     time.Duration `json:"maxBackoff,omitempty" yaml:"maxBackoff"`
	// Timeout bounds one attempt. Default 30s.
	Timeout time.Duration `json:"timeout,omitempty" yaml:"timeout"`
	// Concurrency bounds the records delivered at once. Default 8.
	Concurrency int `json:"concurrency,omitempty" yaml:"concurrency"`
}
