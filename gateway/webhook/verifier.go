package webhook

import (
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/liaisonhq/liaison/gateway/connector"
)

// Verifier checks inbound webhook deliveries with one connector's
// verification scheme and secrets. Build it with NewVerifier; it is
// immutable and safe for concurrent use.
type Verifier struct {
	scheme string
	// keys are the HMAC keys (standard-webhooks: decoded from "whsec_";
	// hmac-sha256: the secrets' bytes).
	keys [][]byte
	// digests are the SHA-256 of the API keys (apikey), or of the user
	// name and password (basic), so that comparisons take the same time
	// whatever the lengths.
	digests [][sha256.Size]byte

	header    string        // hmac-sha256, apikey: the header that carries the signature or key
	prefix    string        // hmac-sha256: before the signature
	base64    bool          // hmac-sha256: the signature is base64, not hex
	tolerance time.Duration // standard-webhooks
}

// NewVerifier returns a Verifier for v, such as a connector's
// Config.WebhookVerify. It fills v's defaults, checks it (Verify.Validate)
// and resolves its secrets with connector.ResolveSecret; a Standard
// Webhooks secret must be "whsec_" and base64. Every problem is a
// *connector.FieldError naming the field of v ("secrets[1]"), joined with
// errors.Join; no error contains a secret's value.
func NewVerifier(v *connector.Verify) (*Verifier, error) {
	if v == nil {
		return nil, errors.New("no webhook verification configured")
	}
	cfg := v.WithDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	vr := &Verifier{scheme: cfg.Scheme, header: cfg.Header, tolerance: time.Duration(cfg.Tolerance)}
	if cfg.Prefix != nil {
		vr.prefix = *cfg.Prefix
	}
	vr.base64 = cfg.Encoding == connector.EncodingBase64

	var errs []error
	fail := func(field string, err error) {
		errs = append(errs, &connector.FieldError{Field: field, Err: err})
	}
	if cfg.Scheme == connector.VerifyBasic {
		password, err := connector.ResolveSecret(cfg.Password)
		if err != nil {
			fail("password", err)
		}
		if err := errors.Join(errs...); err != nil {
			return nil, err
		}
		vr.digests = [][sha256.Size]byte{sha256.Sum256([]byte(cfg.Username)), sha256.Sum256([]byte(password))}
		return vr, nil
	}

	type ref struct{ field, value string }
	var refs []ref
	if cfg.Secret != "" {
		refs = append(refs, ref{"secret", cfg.Secret})
	}
	for i, s := range cfg.Secrets {
		refs = append(refs, ref{"secrets[" + strconv.Itoa(i) + "]", s})
	}
	for _, r := range refs {
		secret, err := connector.ResolveSecret(r.value)
		if err != nil {
			fail(r.field, err)
			continue
		}
		switch cfg.Scheme {
		case connector.VerifyStandardWebhooks:
			key, err := connector.DecodeWebhookSecret(secret)
			if err != nil {
				fail(r.field, err)
				continue
			}
			vr.keys = append(vr.keys, key)
		case connector.VerifyHMACSHA256:
			vr.keys = append(vr.keys, []byte(secret))
		case connector.VerifyAPIKey:
			if strings.TrimSpace(secret) != secret || strings.ContainsFunc(secret, isControl) {
				fail(r.field, errors.New("has white space at an end or a control character, which an HTTP header cannot carry"))
				continue
			}
			vr.digests = append(vr.digests, sha256.Sum256([]byte(secret)))
		}
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return vr, nil
}

func isControl(r rune) bool { return r < ' ' || r == 0x7f }

// Scheme returns the verification scheme, one of connector's Verify*
// constants.
func (v *Verifier) Scheme() string { return v.scheme }

// Verify checks one delivery: its headers h and its raw body, as
// received, at the time now (which standard-webhooks compares with the
// delivery's timestamp). It returns the delivery id for deduplication:
// webhook-id for standard-webhooks; for the other schemes the first of
// the headers X-Webhook-Id, X-GitHub-Delivery and Idempotency-Key that is
// present, else the hex SHA-256 of the body. A delivery id is 1 to 256
// visible ASCII characters.
//
// A delivery that fails gets an *Error; its Reason never contains a
// secret, a signature or the body.
func (v *Verifier) Verify(h http.Header, body []byte, now time.Time) (id string, err error) {
	switch v.scheme {
	case connector.VerifyStandardWebhooks:
		return v.verifyStandard(h, body, now)
	case connector.VerifyHMACSHA256:
		err = v.verifyHMAC(h, body)
	case connector.VerifyAPIKey:
		err = v.verifyAPIKey(h)
	case connector.VerifyBasic:
		err = v.verifyBasic(h)
	default: // NewVerifier accepts only the schemes above
		err = &Error{Reason: "unknown verification scheme"}
	}
	if err != nil {
		return "", err
	}
	return deliveryID(h, body)
}

// verifyHMAC checks an HMAC-SHA256 of the body in v.header. Each value of
// the header is tried.
func (v *Verifier) verifyHMAC(h http.Header, body []byte) error {
	values := h.Values(v.header)
	if len(values) == 0 {
		return &Error{Reason: "missing " + v.header + " header"}
	}
	macs := make([][]byte, len(v.keys))
	for i, key := range v.keys {
		m := hmac.New(sha256.New, key)
		m.Write(body)
		macs[i] = m.Sum(nil)
	}
	wellFormed := false
	match := 0
	for _, value := range values {
		sig, ok := cutPrefixFold(strings.TrimSpace(value), v.prefix)
		if !ok {
			continue
		}
		raw, ok := v.decode(sig)
		if !ok {
			continue
		}
		wellFormed = true
		for _, m := range macs {
			match |= subtle.ConstantTimeCompare(raw, m)
		}
	}
	switch {
	case match == 1:
		return nil
	case !wellFormed:
		enc := "hex"
		if v.base64 {
			enc = "base64"
		}
		want := "the " + enc + " HMAC-SHA256 of the body"
		if v.prefix != "" {
			want = strconv.Quote(v.prefix) + " and " + want
		}
		return &Error{Reason: "malformed " + v.header + " header: want " + want}
	default:
		return &Error{Reason: reasonNoMatch}
	}
}

// cutPrefixFold returns s without prefix, matched in any case.
func cutPrefixFold(s, prefix string) (string, bool) {
	if len(s) < len(prefix) || !strings.EqualFold(s[:len(prefix)], prefix) {
		return "", false
	}
	return s[len(prefix):], true
}

// decode reads a signature in the configured encoding: hex in either
// case, or base64 in the standard or URL alphabet, padded or not.
func (v *Verifier) decode(sig string) ([]byte, bool) {
	if sig == "" {
		return nil, false
	}
	if !v.base64 {
		raw, err := hex.DecodeString(sig)
		return raw, err == nil
	}
	if strings.ContainsAny(sig, "\r\n") { // the decoders skip line breaks
		return nil, false
	}
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
		if raw, err := enc.DecodeString(sig); err == nil {
			return raw, true
		}
	}
	return nil, false
}

// verifyAPIKey checks that v.header holds one of the API keys.
func (v *Verifier) verifyAPIKey(h http.Header) error {
	value := h.Get(v.header)
	if value == "" {
		return &Error{Reason: "missing " + v.header + " header"}
	}
	got := sha256.Sum256([]byte(value))
	match := 0
	for _, want := range v.digests {
		match |= subtle.ConstantTimeCompare(got[:], want[:])
	}
	if match != 1 {
		return &Error{Reason: "API key does not match"}
	}
	return nil
}

// verifyBasic checks the Authorization header's basic credentials.
func (v *Verifier) verifyBasic(h http.Header) error {
	auth := h.Get("Authorization")
	if auth == "" {
		return &Error{Reason: "missing Authorization header"}
	}
	scheme, cred, _ := strings.Cut(strings.TrimSpace(auth), " ")
	if !strings.EqualFold(scheme, "Basic") {
		return &Error{Reason: "Authorization header is not Basic"}
	}
	raw, err := base64.StdEncoding.DecodeString(strings.TrimSpace(cred))
	user, password, ok := strings.Cut(string(raw), ":")
	if err != nil || !ok {
		return &Error{Reason: "malformed Authorization header: want Basic and base64 of user:password"}
	}
	u, p := sha256.Sum256([]byte(user)), sha256.Sum256([]byte(password))
	if subtle.ConstantTimeCompare(u[:], v.digests[0][:])&subtle.ConstantTimeCompare(p[:], v.digests[1][:]) != 1 {
		return &Error{Reason: "username or password does not match"}
	}
	return nil
}

// idHeaders name a delivery for the schemes that do not sign an id, in
// the order they are looked at.
var idHeaders = []string{"X-Webhook-Id", "X-GitHub-Delivery", "Idempotency-Key"}

// maxID bounds a delivery id.
const maxID = 256

const idWant = "want 1 to 256 visible ASCII characters"

// validID reports whether id is 1 to maxID visible ASCII characters.
func validID(id string) bool {
	if id == "" || len(id) > maxID {
		return false
	}
	for i := 0; i < len(id); i++ {
		if id[i] <= ' ' || id[i] > '~' {
			return false
		}
	}
	return true
}

// deliveryID returns the first of idHeaders present in h, else the hex
// SHA-256 of body.
func deliveryID(h http.Header, body []byte) (string, error) {
	for _, name := range idHeaders {
		if id := h.Get(name); id != "" {
			if !validID(id) {
				return "", &Error{Reason: "invalid " + name + " header: " + idWant}
			}
			return id, nil
		}
	}
	sum := sha256.Sum256(body)
	return hex.EncodeToString(sum[:]), nil
}
