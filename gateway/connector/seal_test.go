package connector

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"reflect"
	"slices"
	"strings"
	"testing"
)

var (
	testKey  = bytes.Repeat([]byte{1}, SecretKeySize)
	otherKey = bytes.Repeat([]byte{2}, SecretKeySize)
)

// everySecret returns a valid Config with every secret field set to a
// literal holding secretMarker, but for one env: and one file:
// reference.
func everySecret() Config {
	c := soapConfig(soapSecrets())
	c.Auth = &Auth{Scheme: SchemeBasic, Username: "u", Password: secretMarker + "-basic", Secret: "whsec_" + base64.StdEncoding.EncodeToString([]byte(secretMarker))}
	c.Sync = Sync{Mode: ModeWebhook, Path: "/api/webhooks/registry", Verify: &Verify{
		Scheme: VerifyHMACSHA256, Secrets: []string{secretMarker + "-new", "env:OLD_SECRET", "file:/run/secrets/older"},
	}}
	return c
}

func TestEncryptSecrets(t *testing.T) {
	c := everySecret()
	if err := c.Validate(); err != nil {
		t.Fatalf("Validate before: %v", err)
	}
	before := c.clone()
	sealed, err := c.EncryptSecrets(testKey)
	if err != nil {
		t.Fatalf("EncryptSecrets: %v", err)
	}
	if !reflect.DeepEqual(c, before) {
		t.Errorf("EncryptSecrets modified its receiver")
	}

	// Every literal is sealed, references are not, nothing else changes.
	for _, f := range sealed.secrets() {
		v := *f.value
		switch {
		case v == "":
		case strings.HasPrefix(v, "env:") || strings.HasPrefix(v, "file:"):
		case !strings.HasPrefix(v, SealedPrefix):
			t.Errorf("%s = %q, not sealed", f.path, v)
		default:
			raw, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(v, SealedPrefix))
			if err != nil || len(raw) <= 12+16 {
				t.Errorf("%s = %q: not base64 of nonce and ciphertext", f.path, v)
			}
		}
	}
	if got, want := sealed.Sync.Verify.Secrets[1:], c.Sync.Verify.Secrets[1:]; !slices.Equal(got, want) {
		t.Errorf("references = %q, want them unchanged: %q", got, want)
	}
	withoutSecrets := func(c Config) Config {
		c = c.clone()
		for _, f := range c.secrets() {
			*f.value = ""
		}
		return c
	}
	if !reflect.DeepEqual(withoutSecrets(sealed), withoutSecrets(c)) {
		t.Errorf("EncryptSecrets changed a field that is not secret")
	}

	// The sealed configuration, as the store would hold it, shows no
	// secret.
	b, err := json.Marshal(sealed)
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(b, []byte(secretMarker)) || bytes.Contains(b, []byte(base64.StdEncoding.EncodeToString([]byte(secretMarker)))) {
		t.Errorf("sealed JSON holds a secret: %s", b)
	}

	// It is still valid, in JSON too, and shows as "***".
	if err := sealed.Validate(); err != nil {
		t.Errorf("Validate after EncryptSecrets: %v", err)
	}
	stored, err := Parse(b)
	if err != nil || !reflect.DeepEqual(stored, sealed) {
		t.Errorf("Parse(sealed JSON) = %+v, %v", stored, err)
	}
	redacted := sealed.Redacted()
	for _, f := range redacted.secrets() {
		if *f.value != "" && *f.value != RedactedSecret {
			t.Errorf("Redacted %s = %q", f.path, *f.value)
		}
	}

	// Sealing again changes nothing; opening gives c back.
	again, err := sealed.EncryptSecrets(testKey)
	if err != nil || !reflect.DeepEqual(again, sealed) {
		t.Errorf("EncryptSecrets twice = %+v, %v; want it unchanged", again, err)
	}
	opened, err := sealed.DecryptSecrets(testKey)
	if err != nil {
		t.Fatalf("DecryptSecrets: %v", err)
	}
	if !reflect.DeepEqual(opened, c) {
		t.Errorf("DecryptSecrets:\n got %+v\nwant %+v", opened, c)
	}
	if plain, err := c.DecryptSecrets(testKey); err != nil || !reflect.DeepEqual(plain, c) {
		t.Errorf("DecryptSecrets of a config without sealed secrets = %+v, %v; want it unchanged", plain, err)
	}
}

func TestEncryptSecretsFreshNonce(t *testing.T) {
	c := Config{Auth: &Auth{Scheme: SchemeBasic, Username: "u", Password: "same"}, SOAP: &SOAPOptions{Password: "same"}}
	a, err := c.EncryptSecrets(testKey)
	if err != nil {
		t.Fatal(err)
	}
	b, err := c.EncryptSecrets(testKey)
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for _, v := range []string{a.Auth.Password, a.SOAP.Password, b.Auth.Password, b.SOAP.Password} {
		if seen[v] {
			t.Errorf("the same plaintext sealed twice gives the same value %q", v)
		}
		seen[v] = true
	}
}

func TestEncryptSecretsLeavesAlone(t *testing.T) {
	c := Config{
		Auth:    &Auth{Scheme: SchemeBearer, Token: RedactedSecret},
		SOAP:    &SOAPOptions{Password: "env:IIS_PASSWORD", WSSecurity: &WSSecurity{Username: "u", Password: "file:/run/wss"}},
		GraphQL: &GraphQLOptions{Mutation: "file:upsert.graphql"},
	}
	got, err := c.EncryptSecrets(testKey)
	if err != nil || !reflect.DeepEqual(got, c) {
		t.Errorf("EncryptSecrets = %+v, %v; want it unchanged", got, err)
	}
}

func TestDecryptSecretsWrongKey(t *testing.T) {
	c := everySecret()
	sealed, err := c.EncryptSecrets(testKey)
	if err != nil {
		t.Fatal(err)
	}
	got, err := sealed.DecryptSecrets(otherKey)
	if err == nil {
		t.Fatalf("DecryptSecrets with another key = %+v, nil", got)
	}
	fes := fieldErrors(t, err)
	want := []string{"auth.password", "auth.secret", "sync.verify.secrets[0]", "soap.password", "soap.wsSecurity.password"}
	if got := fieldsOf(fes); !slices.Equal(got, want) {
		t.Errorf("fields = %q, want %q", got, want)
	}
	for _, fe := range fes {
		if !errors.Is(fe, ErrSecretDecrypt) {
			t.Errorf("%v does not wrap ErrSecretDecrypt", fe)
		}
	}
	if msg := err.Error(); strings.Contains(msg, secretMarker) || strings.Contains(msg, SealedPrefix) {
		t.Errorf("error shows a secret or a sealed value: %s", msg)
	}
	if !strings.Contains(err.Error(), "soap.wsSecurity.password: cannot decrypt the sealed secret: wrong secret key") {
		t.Errorf("error %q does not name the field and the cause", err)
	}

	t.Run("damaged", func(t *testing.T) {
		d := sealed.clone()
		raw, _ := base64.StdEncoding.DecodeString(strings.TrimPrefix(d.SOAP.Password, SealedPrefix))
		raw[len(raw)-1] ^= 1
		d.SOAP.Password = SealedPrefix + base64.StdEncoding.EncodeToString(raw)
		d.Auth.Password = SealedPrefix + "not base64!"
		_, err := d.DecryptSecrets(testKey)
		if got := fieldsOf(fieldErrors(t, err)); !slices.Equal(got, []string{"auth.password", "soap.password"}) {
			t.Errorf("fields = %q, want auth.password and soap.password; error: %v", got, err)
		}
	})
}

func TestSecretKeySize(t *testing.T) {
	c := everySecret()
	for _, key := range [][]byte{nil, make([]byte, 16), make([]byte, 33)} {
		if _, err := c.EncryptSecrets(key); !errors.Is(err, ErrSecretKey) {
			t.Errorf("EncryptSecrets with a %d-byte key: %v, want ErrSecretKey", len(key), err)
		}
		if _, err := c.DecryptSecrets(key); !errors.Is(err, ErrSecretKey) {
			t.Errorf("DecryptSecrets with a %d-byte key: %v, want ErrSecretKey", len(key), err)
		}
	}
}

func TestValidateSealed(t *testing.T) {
	sealed, err := everySecret().EncryptSecrets(testKey)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name   string
		edit   func(c *Config)
		fields []string
	}{
		{"sealed", func(c *Config) {}, nil},
		{"sealed Standard Webhooks secret", func(c *Config) {
			c.Sync.Verify = &Verify{Scheme: VerifyStandardWebhooks, Secrets: []string{c.Auth.Secret}}
		}, nil},
		{"sealed seed secret", func(c *Config) { c.Sync.Verify = nil }, nil},
		{"not base64", func(c *Config) { c.Auth.Password = SealedPrefix + "%%%" }, []string{"auth.password"}},
		{"too short", func(c *Config) { c.SOAP.Password = SealedPrefix + "AAAA" }, []string{"soap.password"}},
		{"with a line break", func(c *Config) {
			c.SOAP.WSSecurity.Password = c.SOAP.WSSecurity.Password[:20] + "\n" + c.SOAP.WSSecurity.Password[20:]
		}, []string{"soap.wsSecurity.password"}},
		{"in verify", func(c *Config) { c.Sync.Verify.Secrets[0] = SealedPrefix }, []string{"sync.verify.secrets[0]"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := sealed.clone()
			tt.edit(&c)
			err := c.Validate()
			if tt.fields == nil {
				if err != nil {
					t.Fatalf("Validate: %v", err)
				}
				return
			}
			if got := fieldsOf(fieldErrors(t, err)); !slices.Equal(got, tt.fields) {
				t.Errorf("fields = %q, want %q; error: %v", got, tt.fields, err)
			}
			if !strings.Contains(err.Error(), "not a sealed secret") {
				t.Errorf("error %q", err)
			}
			if _, err := c.EncryptSecrets(testKey); err == nil {
				t.Errorf("EncryptSecrets took a malformed sealed value")
			}
		})
	}
}

func TestResolveSecretSealed(t *testing.T) {
	sealed, err := everySecret().EncryptSecrets(testKey)
	if err != nil {
		t.Fatal(err)
	}
	_, err = ResolveSecret(sealed.SOAP.Password)
	if !errors.Is(err, ErrSecretSealed) {
		t.Fatalf("ResolveSecret(sealed) = %v, want ErrSecretSealed", err)
	}
	if strings.Contains(err.Error(), sealed.SOAP.Password) {
		t.Errorf("error %q shows the sealed value", err)
	}
}

func TestSecretKey(t *testing.T) {
	raw := bytes.Repeat([]byte{0xfb}, SecretKeySize) // base64 with '+' and '/', base64url with '-' and '_'
	const passphrase = "correct horse battery staple"
	sum := sha256.Sum256([]byte(passphrase))
	tests := []struct {
		name string
		in   string
		want []byte // nil for an error
	}{
		{"base64", base64.StdEncoding.EncodeToString(raw), raw},
		{"base64 without padding", base64.RawStdEncoding.EncodeToString(raw), raw},
		{"base64url", base64.URLEncoding.EncodeToString(raw), raw},
		{"base64url without padding", base64.RawURLEncoding.EncodeToString(raw), raw},
		{"base64 with a newline", base64.StdEncoding.EncodeToString(raw) + "\n", raw},
		{"passphrase", passphrase, sum[:]},
		{"passphrase with spaces around", "  " + passphrase + "\n", sum[:]},
		{"passphrase of 16 characters", "ééééééééééééééé1", func() []byte { s := sha256.Sum256([]byte("ééééééééééééééé1")); return s[:] }()},
		{"base64 of 16 bytes is a passphrase", base64.StdEncoding.EncodeToString(raw[:16]),
			func() []byte { s := sha256.Sum256([]byte(base64.StdEncoding.EncodeToString(raw[:16]))); return s[:] }()},

		{"empty", "", nil},
		{"white space", " \n", nil},
		{"short passphrase", "fifteen chars!!", nil},
		{"not UTF-8", strings.Repeat("\xff", 20), nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := SecretKey(tt.in)
			if tt.want == nil {
				if !errors.Is(err, ErrSecretKey) {
					t.Fatalf("SecretKey = %x, %v; want ErrSecretKey", got, err)
				}
				if tt.in != "" && strings.TrimSpace(tt.in) != "" && strings.Contains(err.Error(), tt.in) {
					t.Errorf("error %q shows the key", err)
				}
				return
			}
			if err != nil || !bytes.Equal(got, tt.want) {
				t.Fatalf("SecretKey = %x, %v; want %x", got, err, tt.want)
			}
		})
	}
}
