package connector

import (
	"bytes"
	"encoding/json"
	"errors"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"
)

// designBody is DESIGN.md's registration body, as written.
const designBody = `{ "name": "StateEHR", "type": "FHIR", "endpoint": "https://stateehr.gov/fhir/Patient",
  "auth": { "scheme": "OAuth2", "clientId": "ABC123", "clientSecret": "SECRET" },
  "sync": { "mode": "webhook", "path": "/api/webhooks/state-ehr/patient" },
  "mapping": { "hmsPatientId": "id", "hmsName": "name" } }`

func TestParseDesignBody(t *testing.T) {
	c, err := Parse([]byte(designBody))
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	want := Config{
		Name:     "StateEHR",
		Type:     FHIR,
		Endpoint: "https://stateehr.gov/fhir/Patient",
		Auth:     &Auth{Scheme: SchemeOAuth2, ClientID: "ABC123", ClientSecret: "SECRET"},
		Sync:     Sync{Mode: ModeWebhook, Path: "/api/webhooks/state-ehr/patient"},
		Mapping:  Mapping{Rename: map[string]string{"hmsPatientId": "id", "hmsName": "name"}},
	}
	if !reflect.DeepEqual(c, want) {
		t.Fatalf("Parse:\n got %+v\nwant %+v", c, want)
	}
	if err := c.Validate(); err != nil {
		t.Fatalf("Validate: %v", err)
	}
	d := c.WithDefaults()
	if err := d.Validate(); err != nil {
		t.Fatalf("Validate after WithDefaults: %v", err)
	}
	if !slices.Equal(d.Resources, []string{"Patient"}) {
		t.Errorf("Resources = %q, want [Patient]", d.Resources)
	}
}

func TestParse(t *testing.T) {
	tests := []struct {
		name string
		body string
		want Config
	}{
		{
			name: "minimal",
			body: `{"name":"a","type":"rest","endpoint":"https://x.test/api"}`,
			want: Config{Name: "a", Type: REST, Endpoint: "https://x.test/api"},
		},
		{
			name: "type and scheme in any case, with spaces",
			body: `{"name":"a","type":" GraphQL ","auth":{"scheme":"BEARER","token":"t"},"sync":{"mode":"Push-Only"}}`,
			want: Config{Name: "a", Type: GraphQL, Auth: &Auth{Scheme: SchemeBearer, Token: "t"}, Sync: Sync{Mode: ModePushOnly}},
		},
		{
			name: "api-key spelling",
			body: `{"auth":{"scheme":"API-Key","key":"k","query":"api_key"}}`,
			want: Config{Auth: &Auth{Scheme: SchemeAPIKey, Key: "k", Query: "api_key"}},
		},
		{
			name: "api_key spelling",
			body: `{"auth":{"scheme":"api_key","key":"k"}}`,
			want: Config{Auth: &Auth{Scheme: SchemeAPIKey, Key: "k"}},
		},
		{
			name: "inbound and outbound mappings",
			body: `{"mapping":{"inbound":{"Patient":"fhir-patient-to-hms"},"outbound":{"Appointment":"hms-appointment-to-fhir"}}}`,
			want: Config{Mapping: Mapping{
				Inbound:  map[string]string{"Patient": "fhir-patient-to-hms"},
				Outbound: map[string]string{"Appointment": "hms-appointment-to-fhir"},
			}},
		},
		{
			name: "outbound only",
			body: `{"mapping":{"outbound":{"Appointment":"m"}}}`,
			want: Config{Mapping: Mapping{Outbound: map[string]string{"Appointment": "m"}}},
		},
		{
			name: "explicit rename, as json.Marshal writes it",
			body: `{"mapping":{"rename":{"hmsName":"name"}}}`,
			want: Config{Mapping: Mapping{Rename: map[string]string{"hmsName": "name"}}},
		},
		{
			name: "rename map with a field called inbound",
			body: `{"mapping":{"inbound":"in","b":"c"}}`,
			want: Config{Mapping: Mapping{Rename: map[string]string{"inbound": "in", "b": "c"}}},
		},
		{
			name: "durations as text and as seconds",
			body: `{"sync":{"mode":"poll","interval":"1m30s"},"delivery":{"maxAge":"96h","initialBackoff":0.5,"maxBackoff":600,"timeout":"10s","concurrency":4}}`,
			want: Config{
				Sync: Sync{Mode: ModePoll, Interval: Duration(90 * time.Second)},
				Delivery: Delivery{
					MaxAge:         Duration(96 * time.Hour),
					InitialBackoff: Duration(500 * time.Millisecond),
					MaxBackoff:     Duration(10 * time.Minute),
					Timeout:        Duration(10 * time.Second),
					Concurrency:    4,
				},
			},
		},
		{
			name: "null is absent",
			body: `{"name":null,"auth":null,"sync":null,"resources":null,"mapping":null,"delivery":{"timeout":null}}`,
			want: Config{},
		},
		{
			name: "empty lists and maps are nil",
			body: `{"resources":[],"auth":{"scheme":"oauth2","scopes":[]},"mapping":{"inbound":{}}}`,
			want: Config{Auth: &Auth{Scheme: SchemeOAuth2}},
		},
		{
			name: "every auth field",
			body: `{"auth":{"scheme":"smart","clientId":"c","clientSecret":"cs","tokenUrl":"https://t","scopes":["system/*.read"],
				"username":"u","password":"p","token":"tk","key":"k","header":"h","query":"q","secret":"s",
				"privateKey":"pk","keyId":"kid","algorithm":"ES384","certificate":"cert"}}`,
			want: Config{Auth: &Auth{
				Scheme: SchemeSMART, ClientID: "c", ClientSecret: "cs", TokenURL: "https://t", Scopes: []string{"system/*.read"},
				Username: "u", Password: "p", Token: "tk", Key: "k", Header: "h", Query: "q", Secret: "s",
				PrivateKey: "pk", KeyID: "kid", Algorithm: "ES384", Certificate: "cert",
			}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Parse([]byte(tt.body))
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("Parse:\n got %+v\nwant %+v", got, tt.want)
			}
		})
	}
}

// fieldErrors returns the *FieldErrors that err joins, failing the test
// for any other error.
func fieldErrors(t *testing.T, err error) []*FieldError {
	t.Helper()
	var out []*FieldError
	for _, e := range flatten(err) {
		var fe *FieldError
		if !errors.As(e, &fe) {
			t.Fatalf("error %v (%T) is not a *FieldError", e, e)
		}
		out = append(out, fe)
	}
	return out
}

func fieldsOf(fes []*FieldError) []string {
	var out []string
	for _, fe := range fes {
		out = append(out, fe.Field)
	}
	return out
}

func TestParseErrors(t *testing.T) {
	tests := []struct {
		name   string
		body   string
		fields []string // the fields named, in order
		is     error    // every error wraps it, when set
		msg    string   // the message contains it, when set
	}{
		{"unknown top-level field", `{"name":"a","nmae":"b"}`, []string{"nmae"}, ErrUnknownField, `did you mean "name"?`},
		{"unknown field, other case", `{"Name":"a"}`, []string{"Name"}, ErrUnknownField, `did you mean "name"?`},
		{"unknown field, nothing close", `{"colour":"red"}`, []string{"colour"}, ErrUnknownField, "want one of auth, delivery, endpoint"},
		{"unknown auth field", `{"auth":{"scheme":"oauth2","client_id":"x"}}`, []string{"auth.client_id"}, ErrUnknownField, `did you mean "clientId"?`},
		{"unknown sync field", `{"sync":{"mode":"poll","every":"1m"}}`, []string{"sync.every"}, ErrUnknownField, ""},
		{"unknown delivery field", `{"delivery":{"attempts":3}}`, []string{"delivery.attempts"}, ErrUnknownField, ""},
		{"odd unknown key is quoted", `{"a b":1}`, []string{`["a b"]`}, ErrUnknownField, ""},
		{"duplicate field", `{"name":"a","name":"b"}`, []string{"name"}, ErrDuplicateField, ""},
		{"duplicate rename key", `{"mapping":{"a":"b","a":"c"}}`, []string{"mapping.a"}, ErrDuplicateField, ""},
		{"resources is a string", `{"resources":"Patient"}`, []string{"resources"}, nil, "want an array of strings, got a string"},
		{"resources item is a number", `{"resources":["Patient",1]}`, []string{"resources[1]"}, nil, "want a string, got a number"},
		{"resources item is null", `{"resources":[null]}`, []string{"resources[0]"}, nil, "got null"},
		{"name is a number", `{"name":5}`, []string{"name"}, nil, "want a string, got a number"},
		{"type is an object", `{"type":{}}`, []string{"type"}, nil, "got an object"},
		{"auth is a string", `{"auth":"OAuth2"}`, []string{"auth"}, nil, "want an object, got a string"},
		{"scheme is a boolean", `{"auth":{"scheme":true}}`, []string{"auth.scheme"}, nil, "got a boolean"},
		{"scopes is a string", `{"auth":{"scopes":"a b"}}`, []string{"auth.scopes"}, nil, ""},
		{"sync is an array", `{"sync":[]}`, []string{"sync"}, nil, "got an array"},
		{"interval is not a duration", `{"sync":{"interval":"soon"}}`, []string{"sync.interval"}, nil, `want a duration like "30s"`},
		{"interval without unit", `{"sync":{"interval":"30"}}`, []string{"sync.interval"}, nil, ""},
		{"interval is a boolean", `{"sync":{"interval":true}}`, []string{"sync.interval"}, nil, ""},
		{"duration out of range", `{"delivery":{"maxAge":1e300}}`, []string{"delivery.maxAge"}, nil, "out of range"},
		{"concurrency is a fraction", `{"delivery":{"concurrency":1.5}}`, []string{"delivery.concurrency"}, nil, "want an integer"},
		{"concurrency is a string", `{"delivery":{"concurrency":"8"}}`, []string{"delivery.concurrency"}, nil, "want an integer"},
		{"concurrency out of range", `{"delivery":{"concurrency":99999999999999999999}}`, []string{"delivery.concurrency"}, nil, "out of range"},
		{"mapping is an array", `{"mapping":["a"]}`, []string{"mapping"}, nil, "got an array"},
		{"mapping name is a number", `{"mapping":{"outbound":{"Appointment":5}}}`, []string{"mapping.outbound.Appointment"}, nil, "want a string"},
		{"mapping direction is a list", `{"mapping":{"inbound":{"Patient":"p"},"outbound":["x"]}}`, []string{"mapping.outbound"}, nil, "got an array"},
		{"mapping mixes both forms", `{"mapping":{"inbound":{"Patient":"p"},"hmsName":"name"}}`, []string{"mapping.hmsName"}, ErrUnknownField, ""},
		{"rename value is a number", `{"mapping":{"hmsPatientId":"id","hmsAge":5}}`, []string{"mapping.hmsAge"}, nil, "want a string"},
		{"rename key with a dot", `{"mapping":{"hms.name":null}}`, []string{`mapping["hms.name"]`}, nil, "got null"},
		{"not an object", `["name"]`, []string{""}, nil, "want a JSON object, got an array"},
		{"null body", `null`, []string{""}, nil, "want a JSON object"},
		{"empty body", ``, []string{""}, nil, "unexpected end"},
		{"truncated", `{"name":"a"`, []string{""}, nil, "unexpected end"},
		{"syntax error", `{"name":"a",}`, []string{""}, nil, "invalid JSON at byte"},
		{"data after the object", `{"name":"a"} {}`, []string{""}, nil, "more data"},
		{"too deep", `{"mapping":{"inbound":` + strings.Repeat("[", 100) + strings.Repeat("]", 100) + `}}`, []string{""}, nil, "nested more than"},
		{
			"several problems, all reported",
			`{"nmae":"a","resources":"Patient","auth":{"scheme":1},"delivery":{"timeout":"x"}}`,
			[]string{"nmae", "resources", "auth.scheme", "delivery.timeout"}, nil, "",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := Parse([]byte(tt.body))
			if err == nil {
				t.Fatalf("Parse = %+v, want an error", c)
			}
			fes := fieldErrors(t, err)
			if got := fieldsOf(fes); !slices.Equal(got, tt.fields) {
				t.Errorf("fields = %q, want %q; error:\n%v", got, tt.fields, err)
			}
			for _, fe := range fes {
				if tt.is != nil && !errors.Is(fe, tt.is) {
					t.Errorf("%v: does not wrap %v", fe, tt.is)
				}
				if fe.Field != "" && !strings.HasPrefix(fe.Error(), fe.Field+": ") {
					t.Errorf("%q does not start with the field %q", fe.Error(), fe.Field)
				}
			}
			if !strings.Contains(err.Error(), tt.msg) {
				t.Errorf("error %q does not contain %q", err, tt.msg)
			}
		})
	}
}

// valid returns a Config that passes Validate, for tests to break.
func valid() Config {
	return Config{
		Name:     "StateEHR",
		Type:     FHIR,
		Endpoint: "https://stateehr.gov/fhir",
		Auth:     &Auth{Scheme: SchemeOAuth2, ClientID: "c", ClientSecret: "s"},
		Sync:     Sync{Mode: ModeWebhook, Path: "/api/webhooks/state-ehr/patient"},
		Mapping:  Mapping{Outbound: map[string]string{"Patient": "hms-patient-to-fhir"}},
	}
}

func TestValidate(t *testing.T) {
	tests := []struct {
		name   string
		edit   func(c *Config)
		fields []string // the fields named, nil for no error
		msg    string
	}{
		{"valid", func(c *Config) {}, nil, ""},
		{"defaults filled", func(c *Config) { *c = c.WithDefaults() }, nil, ""},
		{"no auth", func(c *Config) { c.Auth = nil }, nil, ""},
		{"scheme none", func(c *Config) { c.Auth = &Auth{Scheme: SchemeNone} }, nil, ""},
		{"oauth2 with token URL and scopes", func(c *Config) {
			c.Auth.TokenURL = "https://auth.test/token"
			c.Auth.Scopes = []string{"system/Patient.read"}
		}, nil, ""},
		{"basic", func(c *Config) { c.Auth = &Auth{Scheme: SchemeBasic, Username: "u", Password: "p"} }, nil, ""},
		{"bearer", func(c *Config) { c.Auth = &Auth{Scheme: SchemeBearer, Token: "env:TOKEN"} }, nil, ""},
		{"apikey in a header", func(c *Config) { c.Auth = &Auth{Scheme: SchemeAPIKey, Key: "k", Header: "X-Key"} }, nil, ""},
		{"apikey in the query", func(c *Config) { c.Auth = &Auth{Scheme: SchemeAPIKey, Key: "k", Query: "key"} }, nil, ""},
		{"smart", func(c *Config) {
			c.Auth = &Auth{Scheme: SchemeSMART, ClientID: "c", PrivateKey: "file:/etc/liaison/key.pem", Algorithm: "RS384", KeyID: "k1"}
		}, nil, ""},
		{"mtls", func(c *Config) {
			c.Auth = &Auth{Scheme: SchemeMTLS, Certificate: "-----BEGIN CERTIFICATE-----\nMII\n-----END CERTIFICATE-----\n", PrivateKey: "env:KEY"}
		}, nil, ""},
		{"webhook signing secret with any scheme", func(c *Config) { c.Auth.Secret = "whsec_abc" }, nil, ""},
		{"poll", func(c *Config) { c.Sync = Sync{Mode: ModePoll, Interval: Duration(time.Minute)} }, nil, ""},
		{"queue", func(c *Config) {
			c.Type, c.Endpoint, c.Auth = NATS, "nats://nats.test:4222", nil
			c.Sync = Sync{Mode: ModeQueue, Subject: "ehr.patient"}
		}, nil, ""},
		{"amqp without endpoint", func(c *Config) {
			c.Type, c.Endpoint, c.Auth = AMQP, "", nil
			c.Sync = Sync{Mode: ModeQueue, Subject: "patients"}
		}, nil, ""},
		{"amqps", func(c *Config) { c.Type, c.Endpoint, c.Sync = AMQP, "amqps://mq.test", Sync{} }, nil, ""},
		{"kafka queue", func(c *Config) {
			c.Type, c.Endpoint, c.Auth = Kafka, "kafka://k1.test:9092,k2.test:9092?subject=hms.out", nil
			c.Sync = Sync{Mode: ModeQueue, Subject: "ehr.patients"}
		}, nil, ""},
		{"kafka over TLS with SASL", func(c *Config) {
			c.Type, c.Endpoint, c.Sync = Kafka, "kafka+ssl://k.test:9093?sasl=scram-sha-512", Sync{}
			c.Auth = &Auth{Scheme: SchemeBasic, Username: "u", Password: "env:KAFKA_PASSWORD"}
		}, nil, ""},
		{"rename map with one resource", func(c *Config) {
			c.Mapping = Mapping{Rename: map[string]string{"hmsName": "name"}}
			c.Resources = []string{"Patient"}
		}, nil, ""},

		{"name missing", func(c *Config) { c.Name = "" }, []string{"name"}, "required"},
		{"name too long", func(c *Config) { c.Name = strings.Repeat("é", 101) }, []string{"name"}, "longer than 100"},
		{"name of 100 characters", func(c *Config) { c.Name = strings.Repeat("é", 100) }, nil, ""},
		{"name with a newline", func(c *Config) { c.Name = "a\nb" }, []string{"name"}, "control character"},
		{"name with a NUL", func(c *Config) { c.Name = "a\x00" }, []string{"name"}, "control character"},
		{"name padded", func(c *Config) { c.Name = " a" }, []string{"name"}, "white space"},
		{"name not UTF-8", func(c *Config) { c.Name = "a\xff" }, []string{"name"}, "UTF-8"},
		{"type missing", func(c *Config) { c.Type = "" }, []string{"type"}, "required"},
		{"type unknown", func(c *Config) { c.Type = "ftp" }, []string{"type"}, `unknown type "ftp"`},
		{"type not lower case", func(c *Config) { c.Type = "FHIR" }, []string{"type"}, "unknown type"},
		{"endpoint missing", func(c *Config) { c.Endpoint = "" }, []string{"endpoint"}, "required for type fhir"},
		{"endpoint relative", func(c *Config) { c.Endpoint = "/fhir" }, []string{"endpoint"}, "absolute http or https URL"},
		{"endpoint ftp", func(c *Config) { c.Endpoint = "ftp://x.test/fhir" }, []string{"endpoint"}, "http or https"},
		{"endpoint without host", func(c *Config) { c.Endpoint = "https:///fhir" }, []string{"endpoint"}, "with a host"},
		{"endpoint with a space", func(c *Config) { c.Endpoint = "https://x.test/a b" }, []string{"endpoint"}, "white space"},
		{"endpoint with credentials", func(c *Config) { c.Endpoint = "https://u:p@x.test/fhir" }, []string{"endpoint"}, "credentials"},
		{"endpoint with a fragment", func(c *Config) { c.Endpoint = "https://x.test/fhir#a" }, []string{"endpoint"}, "fragment"},
		{"endpoint not a URL", func(c *Config) { c.Endpoint = "https://x.test:port/" }, []string{"endpoint"}, "invalid port"},
		{"nats endpoint is http", func(c *Config) {
			c.Type, c.Endpoint, c.Auth, c.Sync = NATS, "https://nats.test", nil, Sync{}
		}, []string{"endpoint"}, "nats URL"},
		{"amqp endpoint is nats", func(c *Config) {
			c.Type, c.Endpoint, c.Auth, c.Sync = AMQP, "nats://x", nil, Sync{}
		}, []string{"endpoint"}, "amqp or amqps"},
		{"kafka endpoint is https", func(c *Config) {
			c.Type, c.Endpoint, c.Auth, c.Sync = Kafka, "https://k.test", nil, Sync{}
		}, []string{"endpoint"}, "kafka or kafka+ssl"},
		{"kafka endpoint with credentials", func(c *Config) {
			c.Type, c.Endpoint, c.Auth, c.Sync = Kafka, "kafka://u:p@k.test:9092", nil, Sync{}
		}, []string{"endpoint"}, "credentials"},
		{"poll for kafka", func(c *Config) {
			c.Type, c.Endpoint, c.Auth, c.Sync = Kafka, "kafka://k.test", nil, Sync{Mode: ModePoll, Interval: Duration(time.Minute)}
		}, []string{"sync.mode"}, "does not go with type kafka"},
		{"mode unknown", func(c *Config) { c.Sync.Mode = "push" }, []string{"sync.mode"}, `unknown mode "push"`},
		{"queue for fhir", func(c *Config) { c.Sync = Sync{Mode: ModeQueue, Subject: "s"} }, []string{"sync.mode"}, "does not go with type fhir"},
		{"poll for nats", func(c *Config) {
			c.Type, c.Endpoint, c.Auth, c.Sync = NATS, "", nil, Sync{Mode: ModePoll, Interval: Duration(time.Minute)}
		}, []string{"sync.mode"}, "does not go with type nats"},
		{"webhook without path", func(c *Config) { c.Sync.Path = "" }, []string{"sync.path"}, "required for webhook mode"},
		{"webhook path elsewhere", func(c *Config) { c.Sync.Path = "/hooks/a" }, []string{"sync.path"}, `starting with "/api/webhooks/"`},
		{"webhook path is the prefix", func(c *Config) { c.Sync.Path = "/api/webhooks/" }, []string{"sync.path"}, "want a name"},
		{"webhook path with ..", func(c *Config) { c.Sync.Path = "/api/webhooks/../admin" }, []string{"sync.path"}, ".. segment"},
		{"webhook path with //", func(c *Config) { c.Sync.Path = "/api/webhooks/a//b" }, []string{"sync.path"}, "empty segment"},
		{"webhook path with a query", func(c *Config) { c.Sync.Path = "/api/webhooks/a?b" }, []string{"sync.path"}, `character '?'`},
		{"path outside webhook mode", func(c *Config) { c.Sync.Mode = ModePushOnly }, []string{"sync.path"}, "only used in webhook mode"},
		{"poll without interval", func(c *Config) { c.Sync = Sync{Mode: ModePoll} }, []string{"sync.interval"}, "required for poll mode"},
		{"poll too often", func(c *Config) {
			c.Sync = Sync{Mode: ModePoll, Interval: Duration(999 * time.Millisecond)}
		}, []string{"sync.interval"}, "less than 1s"},
		{"interval outside poll mode", func(c *Config) { c.Sync.Interval = Duration(time.Minute) }, []string{"sync.interval"}, "only used in poll mode"},
		{"queue without subject", func(c *Config) {
			c.Type, c.Endpoint, c.Auth, c.Sync = NATS, "", nil, Sync{Mode: ModeQueue}
		}, []string{"sync.subject"}, "required for queue mode"},
		{"subject with a space", func(c *Config) {
			c.Type, c.Endpoint, c.Auth, c.Sync = NATS, "", nil, Sync{Mode: ModeQueue, Subject: "a b"}
		}, []string{"sync.subject"}, "white space"},
		{"subject outside queue mode", func(c *Config) { c.Sync.Subject = "s" }, []string{"sync.subject"}, "only used in queue mode"},
		{"scheme missing", func(c *Config) { c.Auth.Scheme = "" }, []string{"auth.scheme"}, "required"},
		{"scheme unknown", func(c *Config) { c.Auth.Scheme = "kerberos" }, []string{"auth.scheme"}, `unknown scheme "kerberos"`},
		{"seed form: oauth2 without token URL", func(c *Config) { c.Auth.TokenURL = "" }, nil, ""},
		{"oauth2 without client id", func(c *Config) { c.Auth.ClientID = "" }, []string{"auth.clientId"}, "required for scheme oauth2"},
		{"oauth2 without client secret", func(c *Config) { c.Auth.ClientSecret = "" }, []string{"auth.clientSecret"}, "required for scheme oauth2"},
		{"oauth2 token URL relative", func(c *Config) { c.Auth.TokenURL = "/token" }, []string{"auth.tokenUrl"}, "absolute"},
		{"oauth2 scope with a space", func(c *Config) { c.Auth.Scopes = []string{"a b"} }, []string{"auth.scopes[0]"}, "own item"},
		{"oauth2 empty scope", func(c *Config) { c.Auth.Scopes = []string{"a", ""} }, []string{"auth.scopes[1]"}, "empty"},
		{"field of another scheme", func(c *Config) { c.Auth.Password = "p" }, []string{"auth.password"}, "not used by scheme oauth2"},
		{"scopes for basic", func(c *Config) {
			c.Auth = &Auth{Scheme: SchemeBasic, Username: "u", Password: "p", Scopes: []string{"a"}}
		}, []string{"auth.scopes"}, "not used by scheme basic"},
		{"basic without password", func(c *Config) { c.Auth = &Auth{Scheme: SchemeBasic, Username: "u"} }, []string{"auth.password"}, "required"},
		{"basic without anything", func(c *Config) { c.Auth = &Auth{Scheme: SchemeBasic} }, []string{"auth.username", "auth.password"}, "required"},
		{"basic user with a colon", func(c *Config) {
			c.Auth = &Auth{Scheme: SchemeBasic, Username: "a:b", Password: "p"}
		}, []string{"auth.username"}, "':'"},
		{"bearer without token", func(c *Config) { c.Auth = &Auth{Scheme: SchemeBearer} }, []string{"auth.token"}, "required"},
		{"bearer token with a newline", func(c *Config) { c.Auth = &Auth{Scheme: SchemeBearer, Token: "a\nb"} }, []string{"auth.token"}, "control character"},
		{"apikey without key", func(c *Config) { c.Auth = &Auth{Scheme: SchemeAPIKey} }, []string{"auth.key"}, "required"},
		{"apikey header and query", func(c *Config) {
			c.Auth = &Auth{Scheme: SchemeAPIKey, Key: "k", Header: "X-Key", Query: "key"}
		}, []string{"auth.query"}, "not both"},
		{"apikey bad header", func(c *Config) {
			c.Auth = &Auth{Scheme: SchemeAPIKey, Key: "k", Header: "X Key"}
		}, []string{"auth.header"}, "header name"},
		{"smart without key", func(c *Config) { c.Auth = &Auth{Scheme: SchemeSMART, ClientID: "c"} }, []string{"auth.privateKey"}, "required"},
		{"smart bad algorithm", func(c *Config) {
			c.Auth = &Auth{Scheme: SchemeSMART, ClientID: "c", PrivateKey: "k", Algorithm: "HS256"}
		}, []string{"auth.algorithm"}, "RS384 or ES384"},
		{"mtls without certificate", func(c *Config) { c.Auth = &Auth{Scheme: SchemeMTLS, PrivateKey: "k"} }, []string{"auth.certificate"}, "required"},
		{"secret is the placeholder", func(c *Config) { c.Auth.ClientSecret = RedactedSecret }, []string{"auth.clientSecret"}, "placeholder"},
		{"env reference without name", func(c *Config) { c.Auth.ClientSecret = "env:" }, []string{"auth.clientSecret"}, "variable name"},
		{"env reference with a bad name", func(c *Config) { c.Auth.ClientSecret = "env:A-B" }, []string{"auth.clientSecret"}, "variable name"},
		{"file reference without path", func(c *Config) { c.Auth.ClientSecret = "file:" }, []string{"auth.clientSecret"}, "want a path"},
		{"resource empty", func(c *Config) { c.Resources = []string{"Patient", ""} }, []string{"resources[1]"}, "empty"},
		{"resource odd", func(c *Config) { c.Resources = []string{"Patient", "a/b"} }, []string{"resources[1]"}, "record type name"},
		{"resource twice", func(c *Config) { c.Resources = []string{"Patient", "Patient"} }, []string{"resources[1]"}, "twice"},
		{"mapping type not in resources", func(c *Config) {
			c.Resources = []string{"Appointment"}
		}, []string{"mapping.outbound.Patient"}, "not in resources"},
		{"mapping type odd", func(c *Config) {
			c.Mapping.Inbound = map[string]string{"a b": "m"}
		}, []string{`mapping.inbound["a b"]`}, "record type name"},
		{"mapping name empty", func(c *Config) { c.Mapping.Outbound["Patient"] = "" }, []string{"mapping.outbound.Patient"}, "required"},
		{"rename with outbound", func(c *Config) {
			c.Mapping.Rename = map[string]string{"a": "b"}
		}, []string{"mapping.rename"}, "does not go with"},
		{"rename without a resource", func(c *Config) {
			c.Mapping = Mapping{Rename: map[string]string{"a": "b"}}
		}, []string{"mapping.rename"}, "has 0"},
		{"rename with two resources", func(c *Config) {
			c.Mapping = Mapping{Rename: map[string]string{"a": "b"}}
			c.Resources = []string{"Patient", "Appointment"}
		}, []string{"mapping.rename"}, "has 2"},
		{"rename empty key and value", func(c *Config) {
			c.Mapping = Mapping{Rename: map[string]string{"": "b", "c": ""}}
			c.Resources = []string{"Patient"}
		}, []string{`mapping.rename[""]`, "mapping.rename.c"}, ""},
		{"negative durations", func(c *Config) {
			c.Delivery = Delivery{MaxAge: -1, InitialBackoff: -1, MaxBackoff: -1, Timeout: -1}
		}, []string{"delivery.maxAge", "delivery.initialBackoff", "delivery.maxBackoff", "delivery.timeout"}, "negative"},
		{"concurrency negative", func(c *Config) { c.Delivery.Concurrency = -1 }, []string{"delivery.concurrency"}, "want 1 to 256"},
		{"concurrency too high", func(c *Config) { c.Delivery.Concurrency = 257 }, []string{"delivery.concurrency"}, "want 1 to 256"},
		{"concurrency at most", func(c *Config) { c.Delivery.Concurrency = 256 }, nil, ""},
		{"max backoff below initial", func(c *Config) {
			c.Delivery.InitialBackoff = Duration(time.Minute)
			c.Delivery.MaxBackoff = Duration(time.Second)
		}, []string{"delivery.maxBackoff"}, "less than initialBackoff"},
		{"initial backoff above the default max", func(c *Config) {
			c.Delivery.InitialBackoff = Duration(time.Hour)
		}, []string{"delivery.maxBackoff"}, "less than initialBackoff"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := valid()
			tt.edit(&c)
			err := c.Validate()
			if tt.fields == nil {
				if err != nil {
					t.Fatalf("Validate: %v", err)
				}
				return
			}
			if err == nil {
				t.Fatalf("Validate = nil, want errors at %q", tt.fields)
			}
			if got := fieldsOf(fieldErrors(t, err)); !slices.Equal(got, tt.fields) {
				t.Errorf("fields = %q, want %q; error:\n%v", got, tt.fields, err)
			}
			if !strings.Contains(err.Error(), tt.msg) {
				t.Errorf("error %q does not contain %q", err, tt.msg)
			}
		})
	}
}

func TestValidateDoesNotModify(t *testing.T) {
	c := valid()
	c.Auth = &Auth{Scheme: SchemeAPIKey, Key: "k"}
	before := c.clone()
	_ = c.Validate()
	_ = c.WithDefaults()
	if !reflect.DeepEqual(c, before) {
		t.Errorf("Validate or WithDefaults modified the config:\n got %+v\nwant %+v", c, before)
	}
}

// secretMarker is put in every secret; no error or redacted output may
// contain it.
const secretMarker = "s3cr3t-MARKER"

func TestSecretsNotInErrors(t *testing.T) {
	parses := []string{
		`{"auth":{"scheme":"basic","password":["` + secretMarker + `"]}}`,
		`{"auth":{"scheme":"basic","password":{"` + secretMarker + `":1}}}`,
		`{"auth":{"scheme":"basic","password":"` + secretMarker,
		`{"auth":{"scheme":"basic","password":"` + secretMarker + `"},}`,
		`{"auth":{"scheme":"basic","password":"` + secretMarker + `"}} x`,
		`{"auth":{"scheme":"basic","password":"` + secretMarker + `","password":"` + secretMarker + `"}}`,
		`{"auth":{"scheme":"bearer","token":"` + secretMarker + `"},"sync":{"interval":"` + secretMarker + `"}}`,
		`{"soap":{"password":["` + secretMarker + `"]}}`,
		`{"soap":{"password":"` + secretMarker + `","password":"` + secretMarker + `"}}`,
		`{"soap":{"wsSecurity":{"password":{"` + secretMarker + `":1}}}}`,
		`{"soap":{"wsSecurity":{"password":"` + secretMarker + `"},"version":"` + secretMarker + `"},}`,
	}
	for _, body := range parses {
		_, err := Parse([]byte(body))
		if err == nil {
			t.Errorf("Parse(%s) = nil error", body)
			continue
		}
		if strings.Contains(err.Error(), secretMarker) {
			t.Errorf("Parse(%s) error shows the secret: %v", body, err)
		}
	}

	configs := []func(c *Config){
		func(c *Config) { c.Auth.ClientSecret = secretMarker + "\n" },
		func(c *Config) { c.Auth.ClientSecret = "env:" + secretMarker },
		func(c *Config) { c.Auth.Password = secretMarker },
		func(c *Config) {
			c.Auth.Token, c.Auth.Key, c.Auth.PrivateKey = secretMarker, secretMarker, secretMarker
		},
		func(c *Config) { c.Auth.Scheme = "kerberos"; c.Auth.ClientSecret = secretMarker },
		func(c *Config) { c.Endpoint = "https://user:" + secretMarker + "@x.test/fhir" },
		func(c *Config) { c.Endpoint = "https://user:" + secretMarker + "@x.test:bad/fhir" },
		func(c *Config) { c.Endpoint = "https://" + secretMarker + "@x.test/fhir#f" },
		func(c *Config) { c.Auth.TokenURL = "https://user:" + secretMarker + "@x.test/token" },
		func(c *Config) {
			c.Type = SOAP
			c.SOAP = &SOAPOptions{Password: secretMarker + "\n", WSSecurity: &WSSecurity{Password: secretMarker}}
		},
		func(c *Config) {
			c.SOAP = &SOAPOptions{Password: secretMarker, WSSecurity: &WSSecurity{Password: "env:" + secretMarker}}
		},
		func(c *Config) {
			c.Type = SOAP
			c.SOAP = &SOAPOptions{Password: SealedPrefix + secretMarker, WSSecurity: &WSSecurity{Username: "u", Password: SealedPrefix + secretMarker}}
		},
	}
	for i, edit := range configs {
		c := valid()
		edit(&c)
		err := c.Validate()
		if err == nil {
			t.Errorf("config %d: Validate = nil", i)
			continue
		}
		if strings.Contains(err.Error(), secretMarker) {
			t.Errorf("config %d: Validate error shows the secret: %v", i, err)
		}
		b, _ := json.Marshal(c.Redacted())
		if strings.Contains(string(b), secretMarker) {
			t.Errorf("config %d: Redacted shows the secret: %s", i, b)
		}
	}
}

func TestWithDefaults(t *testing.T) {
	got := Config{}.WithDefaults()
	want := Config{
		Sync: Sync{Mode: ModePushOnly},
		Delivery: Delivery{
			MaxAge:         Duration(72 * time.Hour),
			InitialBackoff: Duration(time.Second),
			MaxBackoff:     Duration(10 * time.Minute),
			Timeout:        Duration(30 * time.Second),
			Concurrency:    8,
		},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("Config{}.WithDefaults():\n got %+v\nwant %+v", got, want)
	}

	set := Config{
		Sync:     Sync{Mode: ModePoll},
		Delivery: Delivery{MaxAge: 1, InitialBackoff: 2, MaxBackoff: 3, Timeout: 4, Concurrency: 5},
	}
	if got := set.WithDefaults(); !reflect.DeepEqual(got, set) {
		t.Errorf("WithDefaults changed set fields:\n got %+v\nwant %+v", got, set)
	}
}

func TestWithDefaultsAPIKeyHeader(t *testing.T) {
	tests := []struct {
		name       string
		auth       *Auth
		wantHeader string
	}{
		{"apikey without header", &Auth{Scheme: SchemeAPIKey, Key: "k"}, DefaultAPIKeyHeader},
		{"apikey with header", &Auth{Scheme: SchemeAPIKey, Key: "k", Header: "Api-Key"}, "Api-Key"},
		{"apikey in the query", &Auth{Scheme: SchemeAPIKey, Key: "k", Query: "key"}, ""},
		{"bearer", &Auth{Scheme: SchemeBearer, Token: "t"}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := *tt.auth
			got := Config{Auth: tt.auth}.WithDefaults()
			if got.Auth.Header != tt.wantHeader {
				t.Errorf("Header = %q, want %q", got.Auth.Header, tt.wantHeader)
			}
			if !reflect.DeepEqual(*tt.auth, before) {
				t.Errorf("WithDefaults modified the caller's Auth: %+v", *tt.auth)
			}
		})
	}
}

func TestWithDefaultsResources(t *testing.T) {
	tests := []struct {
		name     string
		endpoint string
		mapping  Mapping
		given    []string
		want     []string
	}{
		{"from the endpoint", "https://stateehr.gov/fhir/Patient", Mapping{}, nil, []string{"Patient"}},
		{"endpoint with a trailing slash", "https://x.test/fhir/MedicationRequest/", Mapping{}, nil, []string{"MedicationRequest"}},
		{"endpoint is a FHIR base", "https://x.test/fhir", Mapping{}, nil, nil},
		{"endpoint is an R4 base", "https://x.test/fhir/R4", Mapping{}, nil, nil},
		{"endpoint ends in capitals", "https://x.test/FHIR", Mapping{}, nil, nil},
		{"endpoint is a host", "https://x.test", Mapping{}, nil, nil},
		{"endpoint is not a URL", "://", Mapping{}, nil, nil},
		{"from the mapping, sorted and merged", "https://x.test/fhir/Patient", Mapping{
			Inbound:  map[string]string{"Patient": "a", "Observation": "b"},
			Outbound: map[string]string{"Appointment": "c", "Patient": "d"},
		}, nil, []string{"Appointment", "Observation", "Patient"}},
		{"given", "https://x.test/fhir/Patient", Mapping{}, []string{"Encounter"}, []string{"Encounter"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := Config{Endpoint: tt.endpoint, Mapping: tt.mapping, Resources: tt.given}
			if got := c.WithDefaults().Resources; !slices.Equal(got, tt.want) {
				t.Errorf("Resources = %q, want %q", got, tt.want)
			}
		})
	}
}

// allSecrets returns an Auth with every field set, secrets to secretMarker.
func allSecrets() *Auth {
	return &Auth{
		Scheme: SchemeSMART, ClientID: "client", ClientSecret: secretMarker, TokenURL: "https://t.test/token",
		Scopes: []string{"system/*.read"}, Username: "user", Password: secretMarker, Token: secretMarker,
		Key: secretMarker, Header: "X-Key", Query: "q", Secret: secretMarker, PrivateKey: secretMarker,
		KeyID: "kid", Algorithm: "RS384", Certificate: "cert",
	}
}

func TestRedacted(t *testing.T) {
	c := valid()
	c.Auth = allSecrets()
	c.Resources = []string{"Patient"}
	orig := c.clone()

	r := c.Redacted()
	want := *allSecrets()
	want.ClientSecret, want.Password, want.Token, want.Key, want.Secret, want.PrivateKey = "***", "***", "***", "***", "***", "***"
	if !reflect.DeepEqual(*r.Auth, want) {
		t.Errorf("Redacted auth:\n got %+v\nwant %+v", *r.Auth, want)
	}
	b, err := json.Marshal(r)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(b), secretMarker) {
		t.Errorf("redacted JSON shows a secret: %s", b)
	}

	// A deep copy: changing it leaves c alone.
	r.Auth.ClientID = "changed"
	r.Auth.Scopes[0] = "changed"
	r.Resources[0] = "changed"
	r.Mapping.Outbound["Patient"] = "changed"
	if !reflect.DeepEqual(c, orig) {
		t.Errorf("changing Redacted's result changed the config")
	}

	t.Run("empty secrets stay empty", func(t *testing.T) {
		r := Config{Auth: &Auth{Scheme: SchemeBasic, Username: "u"}}.Redacted()
		if r.Auth.Password != "" {
			t.Errorf("Password = %q, want empty", r.Auth.Password)
		}
	})
	t.Run("references are hidden too", func(t *testing.T) {
		r := Config{Auth: &Auth{Scheme: SchemeBearer, Token: "env:TOKEN"}}.Redacted()
		if r.Auth.Token != RedactedSecret {
			t.Errorf("Token = %q, want %q", r.Auth.Token, RedactedSecret)
		}
	})
	t.Run("no auth", func(t *testing.T) {
		c := valid()
		c.Auth = nil
		if r := c.Redacted(); !reflect.DeepEqual(r, c) {
			t.Errorf("Redacted = %+v, want it unchanged", r)
		}
	})
	t.Run("credentials in URLs", func(t *testing.T) {
		c := Config{Endpoint: "https://u:" + secretMarker + "@x.test/fhir", Auth: &Auth{TokenURL: "https://" + secretMarker + "@x.test/t"}}
		r := c.Redacted()
		if r.Endpoint != "https://%2A%2A%2A@x.test/fhir" && r.Endpoint != "https://***@x.test/fhir" {
			t.Errorf("Endpoint = %q", r.Endpoint)
		}
		if strings.Contains(r.Auth.TokenURL, secretMarker) {
			t.Errorf("TokenURL = %q", r.Auth.TokenURL)
		}
	})
}

func TestKeepSecrets(t *testing.T) {
	old := Config{Name: "old", Auth: &Auth{Scheme: SchemeOAuth2, ClientID: "c", ClientSecret: "old-secret", Secret: "whsec_old"}}
	tests := []struct {
		name string
		auth *Auth
		want *Auth
	}{
		{
			"placeholder keeps the old value",
			&Auth{Scheme: SchemeOAuth2, ClientID: "c2", ClientSecret: "***", Secret: "***"},
			&Auth{Scheme: SchemeOAuth2, ClientID: "c2", ClientSecret: "old-secret", Secret: "whsec_old"},
		},
		{
			"a new value replaces it",
			&Auth{Scheme: SchemeOAuth2, ClientID: "c", ClientSecret: "new-secret", Secret: "***"},
			&Auth{Scheme: SchemeOAuth2, ClientID: "c", ClientSecret: "new-secret", Secret: "whsec_old"},
		},
		{
			"an absent secret stays absent",
			&Auth{Scheme: SchemeOAuth2, ClientID: "c", ClientSecret: "***"},
			&Auth{Scheme: SchemeOAuth2, ClientID: "c", ClientSecret: "old-secret"},
		},
		{
			"placeholder for a secret the old config lacks is empty",
			&Auth{Scheme: SchemeBasic, Username: "u", Password: "***"},
			&Auth{Scheme: SchemeBasic, Username: "u"},
		},
		{"no auth", nil, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var before *Auth
			if tt.auth != nil {
				cp := *tt.auth
				before = &cp
			}
			got := Config{Name: "new", Auth: tt.auth}.KeepSecrets(old)
			if !reflect.DeepEqual(got.Auth, tt.want) {
				t.Errorf("Auth:\n got %+v\nwant %+v", got.Auth, tt.want)
			}
			if got.Name != "new" {
				t.Errorf("Name = %q, want new", got.Name)
			}
			if !reflect.DeepEqual(tt.auth, before) {
				t.Errorf("KeepSecrets modified its receiver's Auth")
			}
		})
	}

	t.Run("old without auth", func(t *testing.T) {
		got := Config{Auth: &Auth{Scheme: SchemeBearer, Token: "***"}}.KeepSecrets(Config{})
		if got.Auth.Token != "" {
			t.Errorf("Token = %q, want empty", got.Auth.Token)
		}
	})
	t.Run("round trip through Redacted", func(t *testing.T) {
		c := valid()
		c.Auth = allSecrets()
		if got := c.Redacted().KeepSecrets(c); !reflect.DeepEqual(got, c) {
			t.Errorf("Redacted then KeepSecrets:\n got %+v\nwant %+v", got, c)
		}
	})
}

func TestFieldErrorMessage(t *testing.T) {
	tests := []struct {
		err  FieldError
		want string
	}{
		{FieldError{Field: "auth.scheme", Err: ErrRequired}, "auth.scheme: required"},
		{FieldError{Err: errors.New("invalid JSON")}, "invalid JSON"},
		{FieldError{Field: "name", Err: ErrRequired, File: "c.yaml", Line: 3, Col: 5}, "c.yaml:3:5: name: required"},
		{FieldError{Err: errors.New("bad"), File: "c.yaml", Line: 3}, "c.yaml:3: bad"},
		{FieldError{Field: "x", File: "c.yaml"}, "c.yaml: x: invalid"},
	}
	for _, tt := range tests {
		if got := tt.err.Error(); got != tt.want {
			t.Errorf("Error() = %q, want %q", got, tt.want)
		}
	}
}

// fuzzKey seals secrets in FuzzParse.
var fuzzKey = bytes.Repeat([]byte{7}, SecretKeySize)

func FuzzParse(f *testing.F) {
	f.Add([]byte(designBody))
	f.Add([]byte(`{"name":"a","type":"nats","sync":{"mode":"queue","subject":"s"},"delivery":{"maxAge":3600,"concurrency":2}}`))
	f.Add([]byte(`{"name":"b","type":"rest","endpoint":"https://x.test/api","auth":{"scheme":"API_KEY","key":"env:K"},"resources":["Patient"],"mapping":{"inbound":{"Patient":"p"}}}`))
	f.Add([]byte(`{"name":"c","type":"fhir","endpoint":"http://x.test/fhir/Appointment","sync":{"mode":"poll","interval":"1m"},"mapping":{"rename":{"a":"b"}}}`))
	f.Add([]byte(`{"name":"d","type":"amqp","auth":{"scheme":"mtls","certificate":"file:c.pem","privateKey":"-----BEGIN\nx"}}`))
	f.Add([]byte(`{"mapping":{"hms.name":"name"},"nmae":1}`))
	f.Add([]byte(`{"name":"e","type":"webhook","endpoint":"https://x.test/hook","sync":{"mode":"webhook","path":"/api/webhooks/e",` +
		`"verify":{"scheme":"Standard-Webhooks","secrets":["whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw","env:OLD"],"tolerance":"2m"}}}`))
	f.Add([]byte(`{"name":"f","type":"rest","endpoint":"https://x.test/api","sync":{"mode":"webhook","path":"/api/webhooks/f",` +
		`"verify":{"scheme":"hmac","secret":"s3cr3t-value","header":"X-Sig","prefix":"","encoding":"base64"}}}`))
	f.Add([]byte(`{"name":"g","type":"rest","endpoint":"https://x.test/api","sync":{"mode":"webhook","path":"/api/webhooks/g",` +
		`"verify":{"scheme":"basic","username":"ehr","password":"pass-word"}}}`))
	f.Add([]byte(`{"name":"h","type":"fhir","endpoint":"https://x.test/fhir","auth":{"scheme":"none","secret":"whsec_AAECAw=="},"sync":{"mode":"webhook","path":"/api/webhooks/h"}}`))
	f.Add([]byte(`{"name":"i","type":"soap","endpoint":"https://iis.test/ws","soap":{"version":"1.2","facilityId":"CLINIC-1","username":"clinic","password":"pass-word",` +
		`"wsSecurity":{"username":"clinic","password":"env:WSS","digest":true},"delete":{"action":"urn:hms:Delete","namespace":"urn:hms","element":"DeletePatient","idElement":"patientId"}}}`))
	f.Add([]byte(`{"name":"j","type":"soap","endpoint":"https://x.test/ws","soap":{"version":"1.1","action":"urn:hms:Upsert","wsSecurity":{"username":"u","password":"enc:v1:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"}}}`))
	f.Add([]byte(`{"name":"k","type":"graphql","endpoint":"https://x.test/graphql","graphql":{"mutation":"mutation U($input: PatientInput!) { upsertPatient(input: $input) { id } }",` +
		`"operationName":"U","inputVariable":"input","deleteMutation":"file:del.graphql","deleteOperationName":"D","retryCodes":["TIMEOUT","RATE_LIMITED"]}}`))
	f.Add([]byte(`{"name":"l","type":"graphql","endpoint":"https://x.test/graphql","graphql":{"mutation":"file:upsert.graphql","retryCodes":[]},"soap":null}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := Parse(data)
		if err != nil {
			fieldErrors(t, err)
			return
		}
		if c.Validate() != nil {
			return
		}
		b, err := json.Marshal(c)
		if err != nil {
			t.Fatalf("Marshal: %v", err)
		}
		c2, err := Parse(b)
		if err != nil {
			t.Fatalf("Parse(Marshal(c)): %v\n%s", err, b)
		}
		if !reflect.DeepEqual(c, c2) {
			t.Fatalf("round trip:\n got %+v\nwant %+v\n%s", c2, c, b)
		}
		if err := c2.Validate(); err != nil {
			t.Fatalf("Validate after the round trip: %v", err)
		}
		if err := c.WithDefaults().Validate(); err != nil {
			t.Fatalf("Validate after WithDefaults: %v", err)
		}
		// A secret may show in Redacted's output only where another
		// field, or a field name, holds the same text.
		r, _ := json.Marshal(c.Redacted())
		noSecrets := c.clone()
		var secrets []string
		for _, f := range noSecrets.secrets() {
			secrets = append(secrets, *f.value)
			if *f.value != "" {
				*f.value = "-" // keeps the field's name in the JSON
			}
		}
		rest, _ := json.Marshal(noSecrets)
		for _, v := range secrets {
			if v != RedactedSecret && len(v) >= 4 && strings.Contains(string(r), v) && !strings.Contains(string(rest), v) {
				t.Fatalf("Redacted shows a secret: %s", r)
			}
		}
		// Sealing keeps the configuration valid, and opening gives it back.
		sealed, err := c.EncryptSecrets(fuzzKey)
		if err != nil {
			t.Fatalf("EncryptSecrets: %v", err)
		}
		if err := sealed.Validate(); err != nil {
			t.Fatalf("Validate after EncryptSecrets: %v", err)
		}
		opened, err := sealed.DecryptSecrets(fuzzKey)
		if slices.ContainsFunc(secrets, IsSealed) {
			// Sealed on input, with some other key: it need not open.
			if err != nil {
				for _, fe := range fieldErrors(t, err) {
					if !errors.Is(fe, ErrSecretDecrypt) {
						t.Fatalf("DecryptSecrets: %v", fe)
					}
				}
			}
			return
		}
		if err != nil {
			t.Fatalf("DecryptSecrets: %v", err)
		}
		if !reflect.DeepEqual(opened, c) {
			t.Fatalf("EncryptSecrets then DecryptSecrets:\n got %+v\nwant %+v", opened, c)
		}
	})
}

func TestParseErrorsCapped(t *testing.T) {
	var b strings.Builder
	b.WriteString(`{"name":"a"`)
	for i := range 150 {
		b.WriteString(`,"x` + strings.Repeat("y", i) + `":1`)
	}
	b.WriteString("}")
	_, err := Parse([]byte(b.String()))
	fes := fieldErrors(t, err)
	if len(fes) != maxErrors+1 {
		t.Fatalf("%d errors, want %d", len(fes), maxErrors+1)
	}
	if got, want := fes[maxErrors].Error(), "and 50 more problems"; got != want {
		t.Errorf("last error = %q, want %q", got, want)
	}
}
