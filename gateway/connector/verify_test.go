package connector

import (
	"encoding/json"
	"errors"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"
)

// The Standard Webhooks secret of the reference libraries' tests.
const testWhsec = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"

func ptr(s string) *string { return &s }

// hook returns a valid webhook-mode Config that verifies with v.
func hook(v *Verify) Config {
	c := valid()
	c.Sync.Verify = v
	return c
}

func TestParseVerify(t *testing.T) {
	const sync = `{"sync":{"mode":"webhook","path":"/api/webhooks/a","verify":`
	tests := []struct {
		name   string
		verify string
		want   *Verify
	}{
		{"standard webhooks", `{"scheme":"Standard-Webhooks","secret":"` + testWhsec + `","tolerance":"2m"}`,
			&Verify{Scheme: VerifyStandardWebhooks, Secret: testWhsec, Tolerance: Duration(2 * time.Minute)}},
		{"rotation", `{"scheme":"standard-webhooks","secrets":["env:NEW","file:/run/old"]}`,
			&Verify{Scheme: VerifyStandardWebhooks, Secrets: []string{"env:NEW", "file:/run/old"}}},
		{"tolerance in seconds", `{"scheme":"standard_webhooks","secret":"s","tolerance":90}`,
			&Verify{Scheme: VerifyStandardWebhooks, Secret: "s", Tolerance: Duration(90 * time.Second)}},
		{"hmac, every field", `{"scheme":"HMAC-SHA256","secret":"s","header":"X-Signature","prefix":"v1=","encoding":"Base64"}`,
			&Verify{Scheme: VerifyHMACSHA256, Secret: "s", Header: "X-Signature", Prefix: ptr("v1="), Encoding: EncodingBase64}},
		{"hmac, no prefix", `{"scheme":"hmac","secret":"s","prefix":""}`,
			&Verify{Scheme: VerifyHMACSHA256, Secret: "s", Prefix: ptr("")}},
		{"hmac, null prefix is absent", `{"scheme":"hmac_sha256","secret":"s","prefix":null}`,
			&Verify{Scheme: VerifyHMACSHA256, Secret: "s"}},
		{"apikey spellings", `{"scheme":"API-Key","secrets":["k1","k2"],"header":"X-Key"}`,
			&Verify{Scheme: VerifyAPIKey, Secrets: []string{"k1", "k2"}, Header: "X-Key"}},
		{"basic", `{"scheme":"Basic","username":"ehr","password":"p"}`,
			&Verify{Scheme: VerifyBasic, Username: "ehr", Password: "p"}},
		{"empty secrets are nil", `{"scheme":"apikey","secrets":[]}`, &Verify{Scheme: VerifyAPIKey}},
		{"null", `null`, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := Parse([]byte(sync + tt.verify + `}}`))
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			if !reflect.DeepEqual(c.Sync.Verify, tt.want) {
				t.Errorf("Verify:\n got %+v\nwant %+v", c.Sync.Verify, tt.want)
			}
			// A round trip through JSON keeps it, the prefix included.
			b, err := json.Marshal(c)
			if err != nil {
				t.Fatal(err)
			}
			c2, err := Parse(b)
			if err != nil {
				t.Fatalf("Parse(Marshal): %v\n%s", err, b)
			}
			if !reflect.DeepEqual(c2, c) {
				t.Errorf("round trip:\n got %+v\nwant %+v\n%s", c2, c, b)
			}
		})
	}
}

func TestParseVerifyErrors(t *testing.T) {
	tests := []struct {
		name   string
		verify string
		fields []string
		msg    string
	}{
		{"unknown field", `{"scheme":"basic","usernme":"u"}`, []string{"sync.verify.usernme"}, `unknown field (did you mean "username"?)`},
		{"typo of tolerance", `{"scheme":"standard-webhooks","tolernce":"1m"}`, []string{"sync.verify.tolernce"}, `did you mean "tolerance"?`},
		{"no suggestion", `{"scheme":"apikey","signingKey":"k"}`, []string{"sync.verify.signingKey"}, "want one of encoding, header, password, prefix, scheme, secret, secrets, tolerance, username"},
		{"a field of auth", `{"scheme":"apikey","key":"k"}`, []string{"sync.verify.key"}, "unknown field"},
		{"duplicate", `{"scheme":"apikey","scheme":"basic"}`, []string{"sync.verify.scheme"}, "duplicate field"},
		{"verify is a string", `"hmac"`, []string{"sync.verify"}, "want an object, got a string"},
		{"secrets is a string", `{"secrets":"` + secretMarker + `"}`, []string{"sync.verify.secrets"}, "want an array of strings, got a string"},
		{"secret in a list is null", `{"secrets":["k",null]}`, []string{"sync.verify.secrets[1]"}, "got null"},
		{"secret is a number", `{"secret":1234}`, []string{"sync.verify.secret"}, "want a string, got a number"},
		{"prefix is a boolean", `{"prefix":false}`, []string{"sync.verify.prefix"}, "want a string, got a boolean"},
		{"tolerance is not a duration", `{"tolerance":"soon"}`, []string{"sync.verify.tolerance"}, "want a duration"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse([]byte(`{"sync":{"mode":"webhook","verify":` + tt.verify + `}}`))
			if err == nil {
				t.Fatal("Parse = nil error")
			}
			if got := fieldsOf(fieldErrors(t, err)); !slices.Equal(got, tt.fields) {
				t.Errorf("fields = %q, want %q; error:\n%v", got, tt.fields, err)
			}
			if !strings.Contains(err.Error(), tt.msg) {
				t.Errorf("error %q does not contain %q", err, tt.msg)
			}
			if strings.Contains(err.Error(), secretMarker) {
				t.Errorf("error shows the secret: %v", err)
			}
		})
	}
}

func TestValidateVerify(t *testing.T) {
	tests := []struct {
		name   string
		edit   func(c *Config)
		fields []string // nil for no error
		msg    string
	}{
		{"standard webhooks", func(c *Config) { c.Sync.Verify = &Verify{Scheme: VerifyStandardWebhooks, Secret: testWhsec} }, nil, ""},
		{"standard webhooks without the prefix", func(c *Config) {
			c.Sync.Verify = &Verify{Scheme: VerifyStandardWebhooks, Secret: strings.TrimPrefix(testWhsec, "whsec_")}
		}, nil, ""},
		{"standard webhooks, unpadded", func(c *Config) {
			c.Sync.Verify = &Verify{Scheme: VerifyStandardWebhooks, Secret: "whsec_AAECAwQ"}
		}, nil, ""},
		{"standard webhooks, rotation with references", func(c *Config) {
			c.Sync.Verify = &Verify{Scheme: VerifyStandardWebhooks, Secrets: []string{testWhsec, "env:OLD_SECRET", "file:/run/s"}, Tolerance: Duration(time.Minute)}
		}, nil, ""},
		{"hmac with defaults", func(c *Config) { c.Sync.Verify = &Verify{Scheme: VerifyHMACSHA256, Secret: "plain text secret"} }, nil, ""},
		{"hmac, every field", func(c *Config) {
			c.Sync.Verify = &Verify{Scheme: VerifyHMACSHA256, Secrets: []string{"a", "b"}, Header: "X-Signature", Prefix: ptr(""), Encoding: EncodingBase64}
		}, nil, ""},
		{"apikey", func(c *Config) { c.Sync.Verify = &Verify{Scheme: VerifyAPIKey, Secret: "k", Header: "Authorization"} }, nil, ""},
		{"basic", func(c *Config) {
			c.Sync.Verify = &Verify{Scheme: VerifyBasic, Username: "ehr", Password: "env:HOOK_PASSWORD"}
		}, nil, ""},
		{"defaults filled", func(c *Config) {
			c.Sync.Verify = &Verify{Scheme: VerifyHMACSHA256, Secret: "s"}
			*c = c.WithDefaults()
		}, nil, ""},
		{"seed form", func(c *Config) { c.Auth.Secret = testWhsec }, nil, ""},
		{"seed form, reference", func(c *Config) { c.Auth.Secret = "env:EHR_WEBHOOK_SECRET" }, nil, ""},
		{"auth secret outside webhook mode is not checked here", func(c *Config) {
			c.Sync = Sync{}
			c.Auth.Secret = "any signing secret"
		}, nil, ""},
		{"verify wins over auth.secret", func(c *Config) {
			c.Auth.Secret = "not base64!"
			c.Sync.Verify = &Verify{Scheme: VerifyAPIKey, Secret: "k"}
		}, nil, ""},

		{"seed form, not a whsec secret", func(c *Config) { c.Auth.Secret = "not base64!" }, []string{"auth.secret"}, "not a Standard Webhooks secret"},
		{"verify outside webhook mode", func(c *Config) {
			c.Sync = Sync{Mode: ModePoll, Interval: Duration(time.Minute), Verify: &Verify{Scheme: VerifyAPIKey, Secret: "k"}}
		}, []string{"sync.verify"}, "only used in webhook mode (the mode is poll)"},
		{"verify in the default mode", func(c *Config) { c.Sync = Sync{Verify: &Verify{Scheme: VerifyAPIKey, Secret: "k"}} },
			[]string{"sync.verify"}, "the mode is push-only"},
		{"scheme missing", func(c *Config) { c.Sync.Verify = &Verify{Secret: "k"} }, []string{"sync.verify.scheme"}, "required: one of standard-webhooks, hmac-sha256, apikey, basic"},
		{"scheme unknown", func(c *Config) { c.Sync.Verify = &Verify{Scheme: "oauth2", Secret: "k"} }, []string{"sync.verify.scheme"}, `unknown scheme "oauth2"`},
		{"no secret", func(c *Config) { c.Sync.Verify = &Verify{Scheme: VerifyHMACSHA256} }, []string{"sync.verify.secrets"}, "required for scheme hmac-sha256"},
		{"secret and secrets", func(c *Config) {
			c.Sync.Verify = &Verify{Scheme: VerifyAPIKey, Secret: "a", Secrets: []string{"b"}}
		}, []string{"sync.verify.secret"}, "not both"},
		{"too many secrets", func(c *Config) {
			c.Sync.Verify = &Verify{Scheme: VerifyAPIKey, Secrets: slices.Repeat([]string{"k"}, MaxVerifySecrets+1)}
		}, []string{"sync.verify.secrets"}, "at most 16"},
		{"bad secrets", func(c *Config) {
			c.Sync.Verify = &Verify{Scheme: VerifyStandardWebhooks, Secrets: []string{"", RedactedSecret, "env:A-B", "whsec_!!", "whsec_\n", "file:", "whsec_"}}
		}, []string{"sync.verify.secrets[0]", "sync.verify.secrets[1]", "sync.verify.secrets[2]", "sync.verify.secrets[3]",
			"sync.verify.secrets[4]", "sync.verify.secrets[5]", "sync.verify.secrets[6]"}, "not a Standard Webhooks secret"},
		{"apikey with a control character", func(c *Config) {
			c.Sync.Verify = &Verify{Scheme: VerifyAPIKey, Secret: "k\r\n"}
		}, []string{"sync.verify.secret"}, "control character"},
		{"fields of other schemes", func(c *Config) {
			c.Sync.Verify = &Verify{Scheme: VerifyStandardWebhooks, Secret: testWhsec, Header: "X-Sig", Prefix: ptr("x"), Encoding: "hex", Username: "u", Password: "p"}
		}, []string{"sync.verify.header", "sync.verify.prefix", "sync.verify.encoding", "sync.verify.username", "sync.verify.password"}, "not used by scheme standard-webhooks"},
		{"tolerance for hmac", func(c *Config) {
			c.Sync.Verify = &Verify{Scheme: VerifyHMACSHA256, Secret: "s", Tolerance: Duration(time.Minute)}
		}, []string{"sync.verify.tolerance"}, "not used by scheme hmac-sha256"},
		{"secrets for basic", func(c *Config) {
			c.Sync.Verify = &Verify{Scheme: VerifyBasic, Username: "u", Password: "p", Secret: "s", Secrets: []string{"t"}}
		}, []string{"sync.verify.secret", "sync.verify.secrets"}, "not used by scheme basic"},
		{"basic without credentials", func(c *Config) { c.Sync.Verify = &Verify{Scheme: VerifyBasic} },
			[]string{"sync.verify.username", "sync.verify.password"}, "required for scheme basic"},
		{"basic user with a colon", func(c *Config) { c.Sync.Verify = &Verify{Scheme: VerifyBasic, Username: "a:b", Password: "p"} },
			[]string{"sync.verify.username"}, "':'"},
		{"basic password placeholder", func(c *Config) { c.Sync.Verify = &Verify{Scheme: VerifyBasic, Username: "u", Password: RedactedSecret} },
			[]string{"sync.verify.password"}, "placeholder"},
		{"bad header", func(c *Config) { c.Sync.Verify = &Verify{Scheme: VerifyHMACSHA256, Secret: "s", Header: "X Sig"} },
			[]string{"sync.verify.header"}, "header name"},
		{"bad prefix", func(c *Config) { c.Sync.Verify = &Verify{Scheme: VerifyHMACSHA256, Secret: "s", Prefix: ptr("a\nb")} },
			[]string{"sync.verify.prefix"}, "control character"},
		{"bad encoding", func(c *Config) { c.Sync.Verify = &Verify{Scheme: VerifyHMACSHA256, Secret: "s", Encoding: "base32"} },
			[]string{"sync.verify.encoding"}, `unknown encoding "base32" (want hex or base64)`},
		{"negative tolerance", func(c *Config) {
			c.Sync.Verify = &Verify{Scheme: VerifyStandardWebhooks, Secret: testWhsec, Tolerance: Duration(-time.Second)}
		}, []string{"sync.verify.tolerance"}, "negative"},
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

func TestVerifyValidate(t *testing.T) {
	if err := (Verify{Scheme: VerifyStandardWebhooks, Secret: testWhsec}).Validate(); err != nil {
		t.Errorf("Validate: %v", err)
	}
	err := Verify{Scheme: VerifyStandardWebhooks, Secrets: []string{testWhsec, "whsec_?" + secretMarker}}.Validate()
	if got := fieldsOf(fieldErrors(t, err)); !slices.Equal(got, []string{"secrets[1]"}) {
		t.Errorf("fields = %q, want [secrets[1]]: %v", got, err)
	}
	if strings.Contains(err.Error(), secretMarker) {
		t.Errorf("error shows the secret: %v", err)
	}
}

func TestVerifyWithDefaults(t *testing.T) {
	tests := []struct {
		in, want Verify
	}{
		{Verify{Scheme: VerifyStandardWebhooks}, Verify{Scheme: VerifyStandardWebhooks, Tolerance: DefaultTolerance}},
		{Verify{Scheme: VerifyHMACSHA256}, Verify{Scheme: VerifyHMACSHA256, Header: "X-Hub-Signature-256", Prefix: ptr("sha256="), Encoding: EncodingHex}},
		{Verify{Scheme: VerifyHMACSHA256, Header: "X-Sig", Prefix: ptr(""), Encoding: EncodingBase64},
			Verify{Scheme: VerifyHMACSHA256, Header: "X-Sig", Prefix: ptr(""), Encoding: EncodingBase64}},
		{Verify{Scheme: VerifyAPIKey}, Verify{Scheme: VerifyAPIKey, Header: "X-API-Key"}},
		{Verify{Scheme: VerifyBasic}, Verify{Scheme: VerifyBasic}},
		{Verify{Scheme: "other"}, Verify{Scheme: "other"}},
	}
	for _, tt := range tests {
		if got := tt.in.WithDefaults(); !reflect.DeepEqual(got, tt.want) {
			t.Errorf("%+v.WithDefaults() = %+v, want %+v", tt.in, got, tt.want)
		}
	}
	if DefaultTolerance != Duration(5*time.Minute) {
		t.Errorf("DefaultTolerance = %s, want 5m", DefaultTolerance)
	}

	c := hook(&Verify{Scheme: VerifyAPIKey, Secret: "k"})
	d := c.WithDefaults()
	if d.Sync.Verify.Header != DefaultAPIKeyHeader {
		t.Errorf("Config.WithDefaults: header = %q", d.Sync.Verify.Header)
	}
	if c.Sync.Verify.Header != "" {
		t.Errorf("Config.WithDefaults modified the receiver's Verify")
	}
}

func TestWebhookVerify(t *testing.T) {
	tests := []struct {
		name string
		c    Config
		want *Verify
	}{
		{"seed form: auth.secret in webhook mode", Config{
			Auth: &Auth{Scheme: SchemeOAuth2, ClientID: "c", ClientSecret: "s", Secret: testWhsec},
			Sync: Sync{Mode: ModeWebhook, Path: "/api/webhooks/a"},
		}, &Verify{Scheme: VerifyStandardWebhooks, Secret: testWhsec, Tolerance: DefaultTolerance}},
		{"explicit verify, defaults filled", Config{
			Sync: Sync{Mode: ModeWebhook, Verify: &Verify{Scheme: VerifyHMACSHA256, Secrets: []string{"a", "b"}}},
		}, &Verify{Scheme: VerifyHMACSHA256, Secrets: []string{"a", "b"}, Header: DefaultSignatureHeader, Prefix: ptr("sha256="), Encoding: "hex"}},
		{"explicit verify wins over auth.secret", Config{
			Auth: &Auth{Scheme: SchemeNone, Secret: testWhsec},
			Sync: Sync{Mode: ModeWebhook, Verify: &Verify{Scheme: VerifyBasic, Username: "u", Password: "p"}},
		}, &Verify{Scheme: VerifyBasic, Username: "u", Password: "p"}},
		{"webhook mode without verification", Config{
			Auth: &Auth{Scheme: SchemeOAuth2, ClientID: "c", ClientSecret: "s"},
			Sync: Sync{Mode: ModeWebhook},
		}, nil},
		{"no auth", Config{Sync: Sync{Mode: ModeWebhook}}, nil},
		{"auth.secret outside webhook mode", Config{Auth: &Auth{Scheme: SchemeNone, Secret: testWhsec}}, nil},
		{"verify outside webhook mode", Config{Sync: Sync{Mode: ModePoll, Verify: &Verify{Scheme: VerifyAPIKey, Secret: "k"}}}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := tt.c.clone()
			got := tt.c.WebhookVerify()
			if !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("WebhookVerify:\n got %+v\nwant %+v", got, tt.want)
			}
			if got != nil {
				// The result is the caller's: changing it leaves c alone.
				got.Scheme = "changed"
				for i := range got.Secrets {
					got.Secrets[i] = "changed"
				}
				if got.Prefix != nil {
					*got.Prefix = "changed"
				}
			}
			if !reflect.DeepEqual(tt.c, before) {
				t.Errorf("WebhookVerify's result shares memory with the config")
			}
		})
	}

	t.Run("the seed body with a secret", func(t *testing.T) {
		c, err := Parse([]byte(`{ "name": "StateEHR", "type": "FHIR", "endpoint": "https://stateehr.gov/fhir/Patient",
		  "auth": { "scheme": "OAuth2", "clientId": "ABC123", "clientSecret": "SECRET", "secret": "` + testWhsec + `" },
		  "sync": { "mode": "webhook", "path": "/api/webhooks/state-ehr/patient" } }`))
		if err != nil {
			t.Fatal(err)
		}
		if err := c.Validate(); err != nil {
			t.Fatal(err)
		}
		v := c.WithDefaults().WebhookVerify()
		if v == nil || v.Scheme != VerifyStandardWebhooks || !slices.Equal(v.AllSecrets(), []string{testWhsec}) {
			t.Errorf("WebhookVerify = %+v", v)
		}
		if err := v.Validate(); err != nil {
			t.Errorf("Validate of the result: %v", err)
		}
	})
}

func TestAllSecrets(t *testing.T) {
	for _, tt := range []struct {
		v    Verify
		want []string
	}{
		{Verify{}, nil},
		{Verify{Secret: "a"}, []string{"a"}},
		{Verify{Secrets: []string{"a", "b"}}, []string{"a", "b"}},
		{Verify{Secret: "a", Secrets: []string{"b"}}, []string{"a", "b"}},
	} {
		if got := tt.v.AllSecrets(); !slices.Equal(got, tt.want) {
			t.Errorf("%+v.AllSecrets() = %q, want %q", tt.v, got, tt.want)
		}
	}
}

func TestDecodeWebhookSecret(t *testing.T) {
	tests := []struct {
		secret string
		want   []byte // nil for an error
	}{
		{"whsec_AAECAw==", []byte{0, 1, 2, 3}},
		{"whsec_AAECAw", []byte{0, 1, 2, 3}},
		{"AAECAw==", []byte{0, 1, 2, 3}},
		{testWhsec, []byte{0x31, 0xf2, 0x90, 0xf6, 0xbf, 0x06, 0x29, 0x8a, 0xab, 0x4f, 0x08, 0xd4, 0x3c, 0x3f, 0x08, 0x2c, 0xf6, 0x48, 0xa3, 0x62, 0xda, 0x2d, 0xa4, 0xb0}},
		{"whsec_", nil},
		{"", nil},
		{"whsec_A", nil},
		{"whsec_AA-_", nil},
		{"whsec_AAECAw==\n", nil},
		{"whsec_" + secretMarker, nil},
	}
	for _, tt := range tests {
		got, err := DecodeWebhookSecret(tt.secret)
		switch {
		case tt.want == nil && err == nil:
			t.Errorf("DecodeWebhookSecret(%q) = %x, want an error", tt.secret, got)
		case tt.want == nil && strings.Contains(err.Error(), secretMarker):
			t.Errorf("error shows the secret: %v", err)
		case tt.want != nil && (err != nil || !slices.Equal(got, tt.want)):
			t.Errorf("DecodeWebhookSecret(%q) = %x, %v; want %x", tt.secret, got, err, tt.want)
		}
	}
}

// verifySecrets returns a Verify with every secret field set to
// secretMarker, and each other field set.
func verifySecrets() *Verify {
	return &Verify{
		Scheme: VerifyHMACSHA256, Secrets: []string{secretMarker, "env:" + secretMarker}, Secret: secretMarker,
		Header: "X-Sig", Prefix: ptr("sha256="), Encoding: "hex", Tolerance: Duration(time.Minute),
		Username: "user", Password: secretMarker,
	}
}

func TestRedactedVerify(t *testing.T) {
	c := hook(verifySecrets())
	orig := c.clone()
	r := c.Redacted()
	want := *verifySecrets()
	want.Secrets, want.Secret, want.Password = []string{"***", "***"}, "***", "***"
	if !reflect.DeepEqual(*r.Sync.Verify, want) {
		t.Errorf("Redacted verify:\n got %+v\nwant %+v", *r.Sync.Verify, want)
	}
	b, _ := json.Marshal(r)
	if strings.Contains(string(b), secretMarker) {
		t.Errorf("redacted JSON shows a secret: %s", b)
	}
	// A deep copy: changing it leaves c alone.
	r.Sync.Verify.Header = "changed"
	*r.Sync.Verify.Prefix = "changed"
	if !reflect.DeepEqual(c, orig) {
		t.Errorf("Redacted changed the config, or shares memory with it")
	}
	t.Run("empty secrets stay empty", func(t *testing.T) {
		r := hook(&Verify{Scheme: VerifyBasic, Username: "u"}).Redacted()
		if v := r.Sync.Verify; v.Password != "" || v.Secret != "" || v.Secrets != nil {
			t.Errorf("Redacted = %+v", v)
		}
	})
}

func TestKeepSecretsVerify(t *testing.T) {
	stored := hook(&Verify{Scheme: VerifyStandardWebhooks, Secrets: []string{"whsec_current", "whsec_old"}})
	tests := []struct {
		name string
		old  Config
		v    *Verify
		want *Verify
	}{
		{"placeholders keep the old values by position", stored,
			&Verify{Scheme: VerifyStandardWebhooks, Secrets: []string{"***", "***"}},
			&Verify{Scheme: VerifyStandardWebhooks, Secrets: []string{"whsec_current", "whsec_old"}}},
		{"rotation: keep the current secret, add a new one", stored,
			&Verify{Scheme: VerifyStandardWebhooks, Secrets: []string{"whsec_new", "***"}},
			&Verify{Scheme: VerifyStandardWebhooks, Secrets: []string{"whsec_new", "whsec_old"}}},
		{"a placeholder past the old secrets is empty", stored,
			&Verify{Scheme: VerifyStandardWebhooks, Secrets: []string{"***", "***", "***"}},
			&Verify{Scheme: VerifyStandardWebhooks, Secrets: []string{"whsec_current", "whsec_old", ""}}},
		{"secret keeps the first", stored,
			&Verify{Scheme: VerifyStandardWebhooks, Secret: "***"},
			&Verify{Scheme: VerifyStandardWebhooks, Secret: "whsec_current"}},
		{"from the seed form", Config{Auth: &Auth{Scheme: SchemeNone, Secret: "whsec_seed"}, Sync: Sync{Mode: ModeWebhook}},
			&Verify{Scheme: VerifyStandardWebhooks, Secrets: []string{"***", "whsec_next"}},
			&Verify{Scheme: VerifyStandardWebhooks, Secrets: []string{"whsec_seed", "whsec_next"}}},
		{"basic password", hook(&Verify{Scheme: VerifyBasic, Username: "u", Password: "pw"}),
			&Verify{Scheme: VerifyBasic, Username: "u2", Password: "***"},
			&Verify{Scheme: VerifyBasic, Username: "u2", Password: "pw"}},
		{"old without verification", valid(),
			&Verify{Scheme: VerifyAPIKey, Secret: "***", Password: "***"},
			&Verify{Scheme: VerifyAPIKey}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := hook(tt.v)
			before := c.clone()
			got := c.KeepSecrets(tt.old)
			if !reflect.DeepEqual(got.Sync.Verify, tt.want) {
				t.Errorf("Verify:\n got %+v\nwant %+v", got.Sync.Verify, tt.want)
			}
			if !reflect.DeepEqual(c, before) {
				t.Errorf("KeepSecrets modified its receiver")
			}
		})
	}
	t.Run("round trip through Redacted", func(t *testing.T) {
		c := hook(verifySecrets())
		c.Auth = allSecrets()
		if got := c.Redacted().KeepSecrets(c); !reflect.DeepEqual(got, c) {
			t.Errorf("Redacted then KeepSecrets:\n got %+v\nwant %+v", got, c)
		}
	})
}

func TestVerifySecretsNotShown(t *testing.T) {
	const sync = `{"sync":{"mode":"webhook","path":"/api/webhooks/a","verify":`
	parses := []string{
		sync + `{"scheme":"apikey","secrets":"` + secretMarker + `"}}}`,
		sync + `{"scheme":"apikey","secrets":[{"` + secretMarker + `":1}]}}}`,
		sync + `{"scheme":"apikey","secret":["` + secretMarker + `"]}}}`,
		sync + `{"scheme":"basic","password":"` + secretMarker + `","password":"` + secretMarker + `"}}}`,
		sync + `{"scheme":"apikey","secret":"` + secretMarker + `"}}} x`,
		sync + `{"scheme":"apikey","secret":"` + secretMarker,
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
		func(c *Config) {
			c.Sync.Verify = &Verify{Scheme: VerifyStandardWebhooks, Secret: "whsec_" + secretMarker}
		},
		func(c *Config) {
			c.Sync.Verify = &Verify{Scheme: VerifyStandardWebhooks, Secrets: []string{"whsec_" + secretMarker, secretMarker + "\n"}}
		},
		func(c *Config) { c.Sync.Verify = &Verify{Scheme: VerifyAPIKey, Secret: "env:" + secretMarker} },
		func(c *Config) { c.Sync.Verify = &Verify{Scheme: "x", Secret: secretMarker, Password: secretMarker} },
		func(c *Config) { c.Sync.Verify = &Verify{Scheme: VerifyBasic, Password: secretMarker + "\x00"} },
		func(c *Config) {
			c.Sync.Verify = &Verify{Scheme: VerifyBasic, Username: "u", Password: "p", Secret: secretMarker}
		},
		func(c *Config) { c.Sync.Verify = verifySecrets(); c.Sync.Mode = ModePushOnly; c.Sync.Path = "" },
		func(c *Config) { c.Auth.Secret = "whsec_" + secretMarker },
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

func TestParseFileVerify(t *testing.T) {
	const head = "connectors:\n  - name: a\n    type: rest\n    endpoint: https://x.test\n    sync:\n      mode: webhook\n      path: /api/webhooks/a\n"
	f, err := ParseFile("c.yaml", []byte(head+
		"      verify:\n"+
		"        scheme: HMAC-SHA256\n"+
		"        secrets: [env:NEW_SECRET, file:/run/secrets/old]\n"+
		"        prefix: ''\n"+
		"        encoding: base64\n"))
	if err != nil {
		t.Fatalf("ParseFile: %v", err)
	}
	want := &Verify{Scheme: VerifyHMACSHA256, Secrets: []string{"env:NEW_SECRET", "file:/run/secrets/old"}, Prefix: ptr(""), Encoding: EncodingBase64}
	if got := f.Connectors[0].Sync.Verify; !reflect.DeepEqual(got, want) {
		t.Errorf("Verify:\n got %+v\nwant %+v", got, want)
	}

	tests := []struct {
		name, src, want string
	}{
		{"unknown field", head + "      verify: {scheme: apikey, secret: k, hedaer: X-Key}\n",
			`c.yaml:8:43: connectors[0].sync.verify.hedaer: unknown field (did you mean "header"?)`},
		{"missing secret, at its object", head + "      verify:\n        scheme: standard-webhooks\n",
			"c.yaml:9:9: connectors[0].sync.verify.secrets: required for scheme standard-webhooks: give secrets, or secret"},
		{"bad secret, at the item", head + "      verify:\n        scheme: standard-webhooks\n        secrets:\n          - " + testWhsec + "\n          - whsec_" + secretMarker + "\n",
			`c.yaml:12:13: connectors[0].sync.verify.secrets[1]: not a Standard Webhooks secret: want "whsec_" followed by the key in base64`},
		{"secrets a string", head + "      verify: {scheme: apikey, secrets: " + secretMarker + "}\n",
			"c.yaml:8:41: connectors[0].sync.verify.secrets: want an array of strings, got a string"},
		{"seed secret", "connectors:\n  - name: a\n    type: rest\n    endpoint: https://x.test\n    auth: {scheme: none, secret: " + secretMarker + "}\n" +
			"    sync: {mode: webhook, path: /api/webhooks/a}\n",
			`c.yaml:5:34: connectors[0].auth.secret: as the webhook secret of Standard Webhooks verification: not a Standard Webhooks secret: want "whsec_" followed by the key in base64 (or set sync.verify)`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseFile("c.yaml", []byte(tt.src))
			if err == nil {
				t.Fatalf("ParseFile = nil error, want\n%s", tt.want)
			}
			if err.Error() != tt.want {
				t.Errorf("ParseFile errors:\n%s\nwant:\n%s", err, tt.want)
			}
			fieldErrors(t, err)
		})
	}
}

func TestVerifyErrorsAreFieldErrors(t *testing.T) {
	err := hook(&Verify{Scheme: VerifyBasic}).Validate()
	for _, fe := range fieldErrors(t, err) {
		if !errors.Is(fe, ErrRequired) {
			t.Errorf("%v does not wrap ErrRequired", fe)
		}
	}
}
