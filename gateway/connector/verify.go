package connector

import (
	"encoding/base64"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
	"unicode"
)

// The inbound webhook verification schemes, the values of Verify.Scheme.
// Parse also reads "standard_webhooks" and "standardwebhooks" as
// VerifyStandardWebhooks, "hmac_sha256" and "hmac" as VerifyHMACSHA256,
// and "api-key" and "api_key" as VerifyAPIKey.
const (
	// VerifyStandardWebhooks is the Standard Webhooks signature
	// (standardwebhooks.com): headers webhook-id, webhook-timestamp and
	// webhook-signature, HMAC-SHA256 with a "whsec_" secret.
	VerifyStandardWebhooks = "standard-webhooks"
	// VerifyHMACSHA256 is an HMAC-SHA256 of the raw body in one header,
	// GitHub's X-Hub-Signature-256 style.
	VerifyHMACSHA256 = "hmac-sha256"
	// VerifyAPIKey is a header whose value is one of the secrets.
	VerifyAPIKey = "apikey"
	// VerifyBasic is HTTP basic authentication.
	VerifyBasic = "basic"
)

// verifySchemes lists the verification schemes in the order messages
// name them.
var verifySchemes = []string{VerifyStandardWebhooks, VerifyHMACSHA256, VerifyAPIKey, VerifyBasic}

// verifySchemeAliases maps other spellings of a verification scheme,
// lower case, to the scheme.
var verifySchemeAliases = map[string]string{
	"standard_webhooks": VerifyStandardWebhooks,
	"standardwebhooks":  VerifyStandardWebhooks,
	"hmac_sha256":       VerifyHMACSHA256,
	"hmac":              VerifyHMACSHA256,
	"api-key":           VerifyAPIKey,
	"api_key":           VerifyAPIKey,
}

// The signature encodings, the values of Verify.Encoding.
const (
	EncodingHex    = "hex"
	EncodingBase64 = "base64"
)

// Defaults that Verify.WithDefaults fills in for zero fields.
const (
	DefaultSignatureHeader   = "X-Hub-Signature-256" // hmac-sha256
	DefaultSignaturePrefix   = "sha256="             // hmac-sha256
	DefaultSignatureEncoding = EncodingHex           // hmac-sha256
	DefaultTolerance         = Duration(5 * time.Minute)
	// The apikey scheme's header defaults to DefaultAPIKeyHeader.
)

// MaxVerifySecrets bounds the secrets of one Verify: a few are enough
// for a rotation, and each costs an HMAC per request.
const MaxVerifySecrets = 16

// WebhookSecretPrefix starts a Standard Webhooks secret: "whsec_" and the
// key in base64.
const WebhookSecretPrefix = "whsec_"

// Verify is how the gateway authenticates the webhooks a connector posts
// to Sync.Path. Secret fields (Secrets, Secret, Password) hold values,
// "env:NAME" / "file:PATH" references that ResolveSecret reads, or values
// sealed by EncryptSecrets; they are write-only: Redacted replaces them
// with "***".
//
// Each scheme uses some fields and requires some of them:
//
//	standard-webhooks  secrets or secret (required: "whsec_" + base64), tolerance
//	hmac-sha256        secrets or secret (required), header, prefix, encoding
//	apikey             secrets or secret (required), header
//	basic              username, password (both required)
//
// Several secrets serve a rotation: a webhook verified by any of them is
// accepted. Secret is the same as Secrets with one item; give one or the
// other.
type Verify struct {
	Scheme  string   `json:"scheme" yaml:"scheme"`                       // standard-webhooks, hmac-sha256, apikey, basic (case-insensitive on input)
	Secrets []string `json:"secrets,omitempty" yaml:"secrets,omitempty"` // secret: the signing secrets or API keys
	Secret  string   `json:"secret,omitempty" yaml:"secret,omitempty"`   // secret: a single secret, as Secrets: [Secret]
	// Header is the header that carries the signature (hmac-sha256,
	// default "X-Hub-Signature-256") or the API key (apikey, default
	// "X-API-Key").
	Header string `json:"header,omitempty" yaml:"header,omitempty"`
	// Prefix comes before the signature in Header (hmac-sha256). Nil
	// (absent or null on input) is the default "sha256="; a pointer to ""
	// ("prefix": "") is no prefix.
	Prefix    *string  `json:"prefix,omitempty" yaml:"prefix,omitempty"`
	Encoding  string   `json:"encoding,omitempty" yaml:"encoding,omitempty"`   // hmac-sha256: hex (default) or base64
	Tolerance Duration `json:"tolerance,omitempty" yaml:"tolerance,omitempty"` // standard-webhooks: the allowed clock difference; default 5m
	Username  string   `json:"username,omitempty" yaml:"username,omitempty"`   // basic
	Password  string   `json:"password,omitempty" yaml:"password,omitempty"`   // basic; secret
}

// AllSecrets returns the secrets v names: Secret, if set, then Secrets.
// The result is a new slice; nil when there are none.
func (v Verify) AllSecrets() []string {
	var out []string
	if v.Secret != "" {
		out = append(out, v.Secret)
	}
	return append(out, v.Secrets...)
}

// WithDefaults returns v with the zero fields that its scheme defaults
// set: Header, Prefix and Encoding for hmac-sha256, Header for apikey,
// Tolerance for standard-webhooks. It does not check anything; v itself
// is not modified.
func (v Verify) WithDefaults() Verify {
	switch v.Scheme {
	case VerifyStandardWebhooks:
		if v.Tolerance == 0 {
			v.Tolerance = DefaultTolerance
		}
	case VerifyHMACSHA256:
		if v.Header == "" {
			v.Header = DefaultSignatureHeader
		}
		if v.Prefix == nil {
			p := DefaultSignaturePrefix
			v.Prefix = &p
		}
		if v.Encoding == "" {
			v.Encoding = DefaultSignatureEncoding
		}
	case VerifyAPIKey:
		if v.Header == "" {
			v.Header = DefaultAPIKeyHeader
		}
	}
	return v
}

// clone returns a copy of v that shares no memory with it.
func (v Verify) clone() Verify {
	v.Secrets = slices.Clone(v.Secrets)
	if v.Prefix != nil {
		p := *v.Prefix
		v.Prefix = &p
	}
	return v
}

// Validate checks v, as WithDefaults would complete it, without I/O: the
// scheme is known, the fields it needs are set and those it does not use
// are not. It returns every problem, each a *FieldError whose Field is
// relative to v ("scheme", "secrets[1]"), joined with errors.Join; nil
// when v is good. No message contains a secret's value. A literal
// Standard Webhooks secret is checked for its form; references are
// checked when they are resolved.
func (v Verify) Validate() error {
	var p problems
	p.verify("", v.WithDefaults())
	return joinErrors(p)
}

// WebhookVerify returns how c's inbound webhooks are verified, with
// WithDefaults applied, or nil when c is not in webhook mode or names no
// verification. That is Sync.Verify when set; else, in the seed's form, a
// webhook signing secret given as Auth.Secret means Standard Webhooks
// verification with that secret. The result is a new value that the
// caller may keep or change.
func (c Config) WebhookVerify() *Verify {
	if c.Sync.Mode != ModeWebhook {
		return nil
	}
	var v Verify
	switch {
	case c.Sync.Verify != nil:
		v = c.Sync.Verify.clone()
	case c.Auth != nil && c.Auth.Secret != "":
		v = Verify{Scheme: VerifyStandardWebhooks, Secret: c.Auth.Secret}
	default:
		return nil
	}
	v = v.WithDefaults()
	return &v
}

// DecodeWebhookSecret returns the HMAC key of a Standard Webhooks secret:
// "whsec_" followed by the key in standard base64, padded or not. As the
// reference libraries do, it also takes the base64 without the prefix.
// The error does not repeat the secret.
func DecodeWebhookSecret(secret string) ([]byte, error) {
	b64 := strings.TrimPrefix(secret, WebhookSecretPrefix)
	key, err := base64.StdEncoding.DecodeString(b64)
	if err != nil {
		key, err = base64.RawStdEncoding.DecodeString(b64)
	}
	// The decoder skips line breaks; a secret has none.
	if err != nil || len(key) == 0 || strings.ContainsAny(b64, "\r\n") {
		return nil, errors.New(`not a Standard Webhooks secret: want "whsec_" followed by the key in base64`)
	}
	return key, nil
}

// verify checks v, with defaults, at path ("sync.verify", or "" for
// Verify.Validate).
func (p *problems) verify(path string, v Verify) {
	at := func(name string) string {
		if path == "" {
			return name
		}
		return path + "." + name
	}
	scheme := v.Scheme
	known := slices.Contains(verifySchemes, scheme)
	switch {
	case scheme == "":
		p.add(at("scheme"), fmt.Errorf("%w: one of %s", ErrRequired, strings.Join(verifySchemes, ", ")))
	case !known:
		p.addf(at("scheme"), "unknown scheme %s (want one of %s)", quote(scheme), strings.Join(verifySchemes, ", "))
	}
	// uses reports whether the scheme uses a field; when the scheme is
	// unknown, every field is taken as used.
	uses := func(schemes ...string) bool { return !known || slices.Contains(schemes, scheme) }
	notUsed := func(name string) { p.addf(at(name), "not used by scheme %s", scheme) }

	// Secrets.
	withSecrets := uses(VerifyStandardWebhooks, VerifyHMACSHA256, VerifyAPIKey)
	switch {
	case !withSecrets:
		if v.Secret != "" {
			notUsed("secret")
		}
		if len(v.Secrets) > 0 {
			notUsed("secrets")
		}
	case v.Secret != "" && len(v.Secrets) > 0:
		p.addf(at("secret"), "give either secret or secrets, not both")
	case v.Secret == "" && len(v.Secrets) == 0:
		if known {
			p.add(at("secrets"), fmt.Errorf("%w for scheme %s: give secrets, or secret", ErrRequired, scheme))
		}
	case len(v.Secrets) > MaxVerifySecrets:
		p.addf(at("secrets"), "%d secrets; at most %d", len(v.Secrets), MaxVerifySecrets)
	default:
		if v.Secret != "" {
			p.secretValue(at("secret"), v.Secret, scheme)
		}
		for i, s := range v.Secrets {
			p.secretValue(indexPath(at("secrets"), i), s, scheme)
		}
	}

	// Header, prefix and encoding.
	switch {
	case v.Header == "":
	case !uses(VerifyHMACSHA256, VerifyAPIKey):
		notUsed("header")
	case !headerName(v.Header):
		p.addf(at("header"), "not a valid HTTP header name")
	}
	switch {
	case v.Prefix == nil:
	case !uses(VerifyHMACSHA256):
		notUsed("prefix")
	case strings.ContainsFunc(*v.Prefix, unicode.IsControl):
		p.addf(at("prefix"), "contains a control character")
	}
	switch {
	case v.Encoding == "":
	case !uses(VerifyHMACSHA256):
		notUsed("encoding")
	case v.Encoding != EncodingHex && v.Encoding != EncodingBase64:
		p.addf(at("encoding"), "unknown encoding %s (want hex or base64)", quote(v.Encoding))
	}

	// Tolerance.
	switch {
	case v.Tolerance == 0:
	case !uses(VerifyStandardWebhooks):
		notUsed("tolerance")
	case v.Tolerance < 0:
		p.addf(at("tolerance"), "%s is negative", v.Tolerance)
	}

	// Username and password.
	for _, f := range []struct {
		name, v string
		secret  bool
	}{{"username", v.Username, false}, {"password", v.Password, true}} {
		switch {
		case f.v == "" && scheme == VerifyBasic:
			p.add(at(f.name), fmt.Errorf("%w for scheme %s", ErrRequired, scheme))
		case f.v == "":
		case !uses(VerifyBasic):
			notUsed(f.name)
		case f.secret:
			p.secretValue(at(f.name), f.v, scheme)
		case strings.ContainsFunc(f.v, unicode.IsControl):
			p.addf(at(f.name), "contains a control character")
		case strings.Contains(f.v, ":"):
			p.addf(at(f.name), "contains ':', which basic auth does not allow in a user name")
		}
	}
}

// secretValue checks one secret at path: of a Verify whose scheme is
// scheme, or of another part of the configuration (scheme ""). A value
// sealed by EncryptSecrets is checked for its form only. The messages do
// not repeat the secret.
func (p *problems) secretValue(path, s, scheme string) {
	switch {
	case s == "":
		p.addf(path, "empty secret")
	case s == RedactedSecret:
		p.addf(path, "is the placeholder %q that responses show in place of a secret; send the secret itself", RedactedSecret)
	case checkSecret(s) != nil:
		p.add(path, checkSecret(s))
	case strings.ContainsFunc(s, unicode.IsControl):
		p.addf(path, "contains a control character")
	case scheme == VerifyStandardWebhooks && !isReference(s) && !IsSealed(s):
		if _, err := DecodeWebhookSecret(s); err != nil {
			p.add(path, err)
		}
	}
}

// isReference reports whether s is an "env:" or "file:" reference rather
// than a literal secret.
func isReference(s string) bool {
	return strings.HasPrefix(s, "env:") || strings.HasPrefix(s, "file:")
}

// webhookVerify checks the webhook verification of d, a Config with
// defaults: Sync.Verify where it goes, or, in the seed's form, the form
// of a literal Auth.Secret that serves as a Standard Webhooks secret.
func (p *problems) webhookVerify(d Config) {
	switch v := d.Sync.Verify; {
	case v != nil && d.Sync.Mode != ModeWebhook:
		p.addf("sync.verify", "only used in webhook mode (the mode is %s)", d.Sync.Mode)
	case v != nil:
		p.verify("sync.verify", v.WithDefaults())
	case d.Sync.Mode == ModeWebhook && d.Auth != nil && d.Auth.Secret != "":
		// Auth's checks report placeholders, references and control
		// characters; here only the form of a literal is left.
		s := d.Auth.Secret
		if s == RedactedSecret || isReference(s) || IsSealed(s) || strings.ContainsFunc(s, unicode.IsControl) {
			return
		}
		if _, err := DecodeWebhookSecret(s); err != nil {
			p.add("auth.secret", fmt.Errorf("as the webhook secret of Standard Webhooks verification: %w (or set sync.verify)", err))
		}
	}
}
