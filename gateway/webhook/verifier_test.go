package webhook

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/liaisonhq/liaison/gateway/connector"
)

// The test vector of the Standard Webhooks reference libraries
// (github.com/standard-webhooks/standard-webhooks, libraries/go/
// webhook_test.go TestWebhookSign, and the same in the JavaScript,
// Python and other libraries' tests).
const (
	vecSecret    = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
	vecID        = "msg_p5jXN8AQM9LWM0D4loKWxJek"
	vecTimestamp = 1614265330
	vecPayload   = `{"test": 2432232314}`
	vecSignature = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
	// A well-formed signature that is not the vector's, from the same
	// tests ("invalid signature is invalid", "valid multi sig is valid").
	vecOtherSig = "v1,Ceo5qEr07ixe2NLpvHk3FH9bwy/WavXrAFQ/9tdO6mc="
)

var vecTime = time.Unix(vecTimestamp, 0)

// GitHub's documented test values for X-Hub-Signature-256
// (docs.github.com/webhooks/using-webhooks/validating-webhook-deliveries,
// "Testing the webhook payload validation").
const (
	ghSecret    = "It's a Secret to Everybody"
	ghPayload   = "Hello, World!"
	ghSignature = "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17"
)

// marker is put in every secret, signature and body of the error tests; no
// error may contain it.
const marker = "s3cr3t-MARKER"

func newVerifier(t testing.TB, v connector.Verify) *Verifier {
	t.Helper()
	vr, err := NewVerifier(&v)
	if err != nil {
		t.Fatalf("NewVerifier: %v", err)
	}
	return vr
}

// vecHeader returns the vector's headers with signature sig.
func vecHeader(sig string) http.Header {
	h := http.Header{}
	h.Set(HeaderID, vecID)
	h.Set(HeaderTimestamp, "1614265330")
	if sig != "" {
		h.Set(HeaderSignature, sig)
	}
	return h
}

// whsec returns a Standard Webhooks secret with key.
func whsec(key string) string {
	return "whsec_" + base64.StdEncoding.EncodeToString([]byte(key))
}

func TestStandardWebhooksVector(t *testing.T) {
	tests := []struct {
		name   string
		secret string
		header http.Header
		body   string
		now    time.Time
		reason string // "" for verified
	}{
		{"the vector", vecSecret, vecHeader(vecSignature), vecPayload, vecTime, ""},
		{"the secret without whsec_", strings.TrimPrefix(vecSecret, "whsec_"), vecHeader(vecSignature), vecPayload, vecTime, ""},
		{"several signatures, one valid", vecSecret, vecHeader(strings.Join([]string{
			vecOtherSig, "v2,Ceo5qEr07ixe2NLpvHk3FH9bwy/WavXrAFQ/9tdO6mc=", vecSignature, vecOtherSig,
		}, " ")), vecPayload, vecTime, ""},
		{"asymmetric signature beside", vecSecret, vecHeader("v1a,hnO3f9T8Ytu9HwrXslvumlUpqtNVqkhqw/enGzPCXe5BdqzCInXqYXFymVJaA7AZdpXwVLPo3mNl8EM+m7TBAg== " + vecSignature), vecPayload, vecTime, ""},
		{"4 minutes 59 late", vecSecret, vecHeader(vecSignature), vecPayload, vecTime.Add(5*time.Minute - time.Second), ""},
		{"exactly 5 minutes late", vecSecret, vecHeader(vecSignature), vecPayload, vecTime.Add(5 * time.Minute), ""},
		{"exactly 5 minutes early", vecSecret, vecHeader(vecSignature), vecPayload, vecTime.Add(-5 * time.Minute), ""},

		{"invalid signature", vecSecret, vecHeader(vecOtherSig), vecPayload, vecTime, reasonNoMatch},
		{"last character changed", vecSecret, vecHeader("v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OA="), vecPayload, vecTime, reasonNoMatch},
		{"not base64", vecSecret, vecHeader("v1,dawfeoifkpqwoekfpqoekf"), vecPayload, vecTime, reasonNoMatch},
		{"partial signature", vecSecret, vecHeader(vecSignature[:8]), vecPayload, vecTime, reasonNoMatch},
		{"empty signature", vecSecret, vecHeader("v1,"), vecPayload, vecTime, reasonNoMatch},
		{"only v2", vecSecret, vecHeader("v2," + vecSignature[3:]), vecPayload, vecTime, "no v1 signature in webhook-signature header"},
		{"body changed", vecSecret, vecHeader(vecSignature), `{"test": 2432232315}`, vecTime, reasonNoMatch},
		{"body with a trailing newline", vecSecret, vecHeader(vecSignature), vecPayload + "\n", vecTime, reasonNoMatch},
		{"other secret", whsec("another key of 24 bytes!"), vecHeader(vecSignature), vecPayload, vecTime, reasonNoMatch},
		{"5 minutes and a second late", vecSecret, vecHeader(vecSignature), vecPayload, vecTime.Add(5*time.Minute + time.Second), reasonTolerance},
		{"5 minutes and a second early", vecSecret, vecHeader(vecSignature), vecPayload, vecTime.Add(-5*time.Minute - time.Second), reasonTolerance},
		{"a year late", vecSecret, vecHeader(vecSignature), vecPayload, vecTime.AddDate(1, 0, 0), reasonTolerance},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v := newVerifier(t, connector.Verify{Scheme: connector.VerifyStandardWebhooks, Secret: tt.secret})
			id, err := v.Verify(tt.header, []byte(tt.body), tt.now)
			if tt.reason == "" {
				if err != nil || id != vecID {
					t.Fatalf("Verify = %q, %v; want %q", id, err, vecID)
				}
				return
			}
			var e *Error
			if !errors.As(err, &e) || e.Reason != tt.reason {
				t.Fatalf("Verify = %q, %v; want *Error %q", id, err, tt.reason)
			}
			if id != "" {
				t.Errorf("id = %q on failure", id)
			}
		})
	}
}

func TestStandardWebhooksHeaders(t *testing.T) {
	v := newVerifier(t, connector.Verify{Scheme: connector.VerifyStandardWebhooks, Secret: vecSecret})
	tests := []struct {
		name   string
		edit   func(h http.Header)
		reason string
	}{
		{"missing id", func(h http.Header) { h.Del(HeaderID) }, "missing webhook-id header"},
		{"missing timestamp", func(h http.Header) { h.Del(HeaderTimestamp) }, "missing webhook-timestamp header"},
		{"missing signature", func(h http.Header) { h.Del(HeaderSignature) }, "missing webhook-signature header"},
		{"blank signature", func(h http.Header) { h.Set(HeaderSignature, "  ") }, "missing webhook-signature header"},
		{"timestamp not a number", func(h http.Header) { h.Set(HeaderTimestamp, "hello") }, "invalid webhook-timestamp header: want seconds since 1970"},
		{"timestamp with a sign", func(h http.Header) { h.Set(HeaderTimestamp, "+1614265330") }, "invalid webhook-timestamp header: want seconds since 1970"},
		{"timestamp in milliseconds", func(h http.Header) { h.Set(HeaderTimestamp, "1614265330000") }, reasonTolerance},
		{"timestamp too long", func(h http.Header) { h.Set(HeaderTimestamp, strings.Repeat("9", 19)) }, "invalid webhook-timestamp header: want seconds since 1970"},
		{"timestamp with leading zeros signs the number", func(h http.Header) { h.Set(HeaderTimestamp, "01614265330") }, ""},
		{"id with a space", func(h http.Header) { h.Set(HeaderID, "msg 1") }, "invalid webhook-id header: want 1 to 256 visible ASCII characters"},
		{"id too long", func(h http.Header) { h.Set(HeaderID, strings.Repeat("a", 257)) }, "invalid webhook-id header: want 1 to 256 visible ASCII characters"},
		{"id changed", func(h http.Header) { h.Set(HeaderID, "msg_other") }, reasonNoMatch},
		{"canonical header names", func(h http.Header) {
			for k, vs := range h {
				delete(h, k)
				h[http.CanonicalHeaderKey(k)] = vs
			}
		}, ""},
		{"signature split over two header lines", func(h http.Header) {
			h.Set(HeaderSignature, vecOtherSig)
			h.Add(HeaderSignature, vecSignature)
		}, ""},
		{"extra spaces between signatures", func(h http.Header) { h.Set(HeaderSignature, "  "+vecOtherSig+"   "+vecSignature+" ") }, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := vecHeader(vecSignature)
			tt.edit(h)
			id, err := v.Verify(h, []byte(vecPayload), vecTime)
			if tt.reason == "" {
				if err != nil || id == "" {
					t.Fatalf("Verify = %q, %v; want verified", id, err)
				}
				return
			}
			var e *Error
			if !errors.As(err, &e) || e.Reason != tt.reason {
				t.Fatalf("Verify = %q, %v; want *Error %q", id, err, tt.reason)
			}
		})
	}
}

func TestStandardWebhooksRotation(t *testing.T) {
	current, previous, retired := whsec("the current key, 24 byte"), whsec("the previous key, 24 byt"), whsec("a retired key of 24 byte")
	sign := func(secret string) string {
		s, err := NewSigner(secret)
		if err != nil {
			t.Fatal(err)
		}
		return s.Sign("msg_1", vecTime, []byte(vecPayload)).Get(HeaderSignature)
	}
	v := newVerifier(t, connector.Verify{Scheme: connector.VerifyStandardWebhooks, Secrets: []string{current, previous}})
	tests := []struct {
		name string
		sig  string
		ok   bool
	}{
		{"signed with the current secret", sign(current), true},
		{"signed with the previous secret", sign(previous), true},
		{"the sender signs with both", sign(retired) + " " + sign(previous) + " " + sign(current), true},
		{"the sender's new secret and our previous one", sign(whsec("the sender's next key 24")) + " " + sign(previous), true},
		{"signed with a retired secret", sign(retired), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := http.Header{}
			h.Set(HeaderID, "msg_1")
			h.Set(HeaderTimestamp, "1614265330")
			h.Set(HeaderSignature, tt.sig)
			id, err := v.Verify(h, []byte(vecPayload), vecTime)
			if ok := err == nil; ok != tt.ok {
				t.Fatalf("Verify = %q, %v; want verified %v", id, err, tt.ok)
			}
		})
	}
}

func TestHMACSHA256(t *testing.T) {
	ghVerify := connector.Verify{Scheme: connector.VerifyHMACSHA256, Secret: ghSecret}
	mac := func(key, body string) []byte {
		m := hmac.New(sha256.New, []byte(key))
		m.Write([]byte(body))
		return m.Sum(nil)
	}
	b64 := base64.StdEncoding.EncodeToString(mac(ghSecret, ghPayload))
	tests := []struct {
		name   string
		verify connector.Verify
		header http.Header
		body   string
		reason string // "" for verified
	}{
		{"GitHub's test values", ghVerify, http.Header{"X-Hub-Signature-256": {ghSignature}}, ghPayload, ""},
		{"upper-case hex and prefix", ghVerify, http.Header{"X-Hub-Signature-256": {strings.ToUpper(ghSignature)}}, ghPayload, ""},
		{"rotation: the second secret", connector.Verify{Scheme: connector.VerifyHMACSHA256, Secrets: []string{"new secret", ghSecret}},
			http.Header{"X-Hub-Signature-256": {ghSignature}}, ghPayload, ""},
		{"two header lines, one valid", ghVerify, http.Header{"X-Hub-Signature-256": {"sha256=00", ghSignature}}, ghPayload, ""},
		{"base64 without prefix", connector.Verify{Scheme: connector.VerifyHMACSHA256, Secret: ghSecret, Header: "X-Shopify-Hmac-Sha256", Prefix: new(string), Encoding: "base64"},
			http.Header{"X-Shopify-Hmac-Sha256": {b64}}, ghPayload, ""},
		{"base64, URL alphabet unpadded", connector.Verify{Scheme: connector.VerifyHMACSHA256, Secret: ghSecret, Prefix: new(string), Encoding: "base64"},
			http.Header{"X-Hub-Signature-256": {base64.RawURLEncoding.EncodeToString(mac(ghSecret, ghPayload))}}, ghPayload, ""},
		{"own prefix", connector.Verify{Scheme: connector.VerifyHMACSHA256, Secret: ghSecret, Header: "X-Signature", Prefix: ptr("v1=")},
			http.Header{"X-Signature": {"v1=" + hex.EncodeToString(mac(ghSecret, ghPayload))}}, ghPayload, ""},

		{"missing header", ghVerify, http.Header{}, ghPayload, "missing X-Hub-Signature-256 header"},
		{"SHA-1 header only", ghVerify, http.Header{"X-Hub-Signature": {"sha1=" + strings.Repeat("0", 40)}}, ghPayload, "missing X-Hub-Signature-256 header"},
		{"no prefix", ghVerify, http.Header{"X-Hub-Signature-256": {ghSignature[7:]}}, ghPayload,
			`malformed X-Hub-Signature-256 header: want "sha256=" and the hex HMAC-SHA256 of the body`},
		{"not hex", ghVerify, http.Header{"X-Hub-Signature-256": {"sha256=xyz"}}, ghPayload, `malformed X-Hub-Signature-256 header: want "sha256=" and the hex HMAC-SHA256 of the body`},
		{"empty", ghVerify, http.Header{"X-Hub-Signature-256": {"sha256="}}, ghPayload, `malformed X-Hub-Signature-256 header: want "sha256=" and the hex HMAC-SHA256 of the body`},
		{"base64 where hex is wanted", ghVerify, http.Header{"X-Hub-Signature-256": {"sha256=" + b64}}, ghPayload, `malformed X-Hub-Signature-256 header: want "sha256=" and the hex HMAC-SHA256 of the body`},
		{"wrong body", ghVerify, http.Header{"X-Hub-Signature-256": {ghSignature}}, ghPayload + " ", reasonNoMatch},
		{"wrong secret", connector.Verify{Scheme: connector.VerifyHMACSHA256, Secret: "It's a secret to everybody"},
			http.Header{"X-Hub-Signature-256": {ghSignature}}, ghPayload, reasonNoMatch},
		{"truncated", ghVerify, http.Header{"X-Hub-Signature-256": {ghSignature[:len(ghSignature)-2]}}, ghPayload, reasonNoMatch},
		{"base64 malformed", connector.Verify{Scheme: connector.VerifyHMACSHA256, Secret: ghSecret, Prefix: new(string), Encoding: "base64"},
			http.Header{"X-Hub-Signature-256": {"!!"}}, ghPayload, "malformed X-Hub-Signature-256 header: want the base64 HMAC-SHA256 of the body"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v := newVerifier(t, tt.verify)
			id, err := v.Verify(tt.header, []byte(tt.body), time.Time{})
			if tt.reason == "" {
				sum := sha256.Sum256([]byte(tt.body))
				if err != nil || id != hex.EncodeToString(sum[:]) {
					t.Fatalf("Verify = %q, %v; want the body's SHA-256", id, err)
				}
				return
			}
			var e *Error
			if !errors.As(err, &e) || e.Reason != tt.reason {
				t.Fatalf("Verify = %q, %v; want *Error %q", id, err, tt.reason)
			}
		})
	}
}

func ptr(s string) *string { return &s }

func TestAPIKey(t *testing.T) {
	v := newVerifier(t, connector.Verify{Scheme: connector.VerifyAPIKey, Secrets: []string{"key-new", "key-old"}})
	custom := newVerifier(t, connector.Verify{Scheme: connector.VerifyAPIKey, Secret: "k", Header: "X-EHR-Token"})
	tests := []struct {
		name   string
		v      *Verifier
		header http.Header
		reason string
	}{
		{"first key", v, http.Header{"X-Api-Key": {"key-new"}}, ""},
		{"second key", v, http.Header{"X-Api-Key": {"key-old"}}, ""},
		{"own header", custom, http.Header{"X-Ehr-Token": {"k"}}, ""},
		{"missing", v, http.Header{}, "missing X-API-Key header"},
		{"empty", v, http.Header{"X-Api-Key": {""}}, "missing X-API-Key header"},
		{"wrong key", v, http.Header{"X-Api-Key": {"key-older"}}, "API key does not match"},
		{"prefix of a key", v, http.Header{"X-Api-Key": {"key-ne"}}, "API key does not match"},
		{"other case", v, http.Header{"X-Api-Key": {"KEY-NEW"}}, "API key does not match"},
		{"in the wrong header", custom, http.Header{"X-Api-Key": {"k"}}, "missing X-EHR-Token header"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := tt.v.Verify(tt.header, []byte("{}"), time.Time{})
			checkReason(t, err, tt.reason)
		})
	}
}

func TestBasic(t *testing.T) {
	v := newVerifier(t, connector.Verify{Scheme: connector.VerifyBasic, Username: "ehr", Password: "pa:ss word"})
	basic := func(user, password string) http.Header {
		return http.Header{"Authorization": {"Basic " + base64.StdEncoding.EncodeToString([]byte(user+":"+password))}}
	}
	tests := []struct {
		name   string
		header http.Header
		reason string
	}{
		{"right", basic("ehr", "pa:ss word"), ""},
		{"scheme in any case", http.Header{"Authorization": {"basic " + base64.StdEncoding.EncodeToString([]byte("ehr:pa:ss word"))}}, ""},
		{"missing", http.Header{}, "missing Authorization header"},
		{"bearer", http.Header{"Authorization": {"Bearer abc"}}, "Authorization header is not Basic"},
		{"not base64", http.Header{"Authorization": {"Basic !!"}}, "malformed Authorization header: want Basic and base64 of user:password"},
		{"no colon", http.Header{"Authorization": {"Basic " + base64.StdEncoding.EncodeToString([]byte("ehr"))}}, "malformed Authorization header: want Basic and base64 of user:password"},
		{"wrong password", basic("ehr", "pa:ss"), "username or password does not match"},
		{"wrong user", basic("EHR", "pa:ss word"), "username or password does not match"},
		{"empty", basic("", ""), "username or password does not match"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := v.Verify(tt.header, nil, time.Time{})
			checkReason(t, err, tt.reason)
		})
	}
}

func checkReason(t *testing.T, err error, reason string) {
	t.Helper()
	if reason == "" {
		if err != nil {
			t.Fatalf("Verify: %v", err)
		}
		return
	}
	var e *Error
	if !errors.As(err, &e) || e.Reason != reason {
		t.Fatalf("Verify = %v; want *Error %q", err, reason)
	}
}

func TestDeliveryID(t *testing.T) {
	v := newVerifier(t, connector.Verify{Scheme: connector.VerifyAPIKey, Secret: "k"})
	body := []byte(`{"resourceType":"Patient"}`)
	sum := sha256.Sum256(body)
	bodyID := hex.EncodeToString(sum[:])
	tests := []struct {
		name    string
		headers map[string]string
		want    string
		reason  string
	}{
		{"X-Webhook-Id", map[string]string{"X-Webhook-Id": "w1", "X-GitHub-Delivery": "g1", "Idempotency-Key": "i1"}, "w1", ""},
		{"X-GitHub-Delivery", map[string]string{"X-GitHub-Delivery": "72d3162e-cc78-11e3-81ab-4c9367dc0958", "Idempotency-Key": "i1"}, "72d3162e-cc78-11e3-81ab-4c9367dc0958", ""},
		{"Idempotency-Key", map[string]string{"Idempotency-Key": "i1"}, "i1", ""},
		{"the body's hash", nil, bodyID, ""},
		{"webhook-id is not used without standard-webhooks", map[string]string{HeaderID: "msg_1"}, bodyID, ""},
		{"invalid id", map[string]string{"X-GitHub-Delivery": "a b"}, "", "invalid X-GitHub-Delivery header: want 1 to 256 visible ASCII characters"},
		{"non-ASCII id", map[string]string{"Idempotency-Key": "clé"}, "", "invalid Idempotency-Key header: want 1 to 256 visible ASCII characters"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := http.Header{"X-Api-Key": {"k"}}
			for k, val := range tt.headers {
				h.Set(k, val)
			}
			id, err := v.Verify(h, body, time.Time{})
			checkReason(t, err, tt.reason)
			if id != tt.want {
				t.Errorf("id = %q, want %q", id, tt.want)
			}
		})
	}
}

// TestErrorsHideSecrets checks that no failure's message contains a
// secret, a signature or the body.
func TestErrorsHideSecrets(t *testing.T) {
	sw := whsec(marker + "-key-of-24-b")
	verifiers := []*Verifier{
		newVerifier(t, connector.Verify{Scheme: connector.VerifyStandardWebhooks, Secrets: []string{sw, vecSecret}}),
		newVerifier(t, connector.Verify{Scheme: connector.VerifyHMACSHA256, Secret: marker}),
		newVerifier(t, connector.Verify{Scheme: connector.VerifyHMACSHA256, Secret: marker, Encoding: "base64", Prefix: ptr("")}),
		newVerifier(t, connector.Verify{Scheme: connector.VerifyAPIKey, Secret: marker}),
		newVerifier(t, connector.Verify{Scheme: connector.VerifyBasic, Username: "u", Password: marker}),
	}
	b64 := base64.StdEncoding.EncodeToString([]byte(marker))
	headers := []http.Header{
		{},
		{"Webhook-Id": {marker}, "Webhook-Timestamp": {marker}, "Webhook-Signature": {"v1," + marker}},
		{"Webhook-Id": {"m" + marker}, "Webhook-Timestamp": {"1614265330"}, "Webhook-Signature": {"v1," + b64 + " v2," + marker}},
		{"Webhook-Id": {marker + " x"}, "Webhook-Timestamp": {"1614265330"}, "Webhook-Signature": {"v1," + marker}},
		{"X-Hub-Signature-256": {"sha256=" + marker}},
		{"X-Hub-Signature-256": {"sha256=" + hex.EncodeToString([]byte(marker))}},
		{"X-Hub-Signature-256": {b64}},
		{"X-Hub-Signature-256": {marker}},
		{"X-Api-Key": {marker + "x"}},
		{"Authorization": {"Basic " + base64.StdEncoding.EncodeToString([]byte("u:"+marker+"x"))}},
		{"Authorization": {"Basic " + marker}},
		{"Authorization": {marker}},
		{"X-Api-Key": {marker}, "X-Webhook-Id": {marker + "\n"}},
	}
	for i, v := range verifiers {
		for j, h := range headers {
			_, err := v.Verify(h, []byte(`{"body":"`+marker+`"}`), vecTime)
			if err == nil {
				continue
			}
			if strings.Contains(err.Error(), marker) || strings.Contains(err.Error(), b64) {
				t.Errorf("verifier %d, headers %d: error shows a secret: %v", i, j, err)
			}
			var e *Error
			if !errors.As(err, &e) {
				t.Errorf("verifier %d, headers %d: %T is not *Error", i, j, err)
			}
		}
	}
}

func TestNewVerifier(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "secret")
	if err := os.WriteFile(file, []byte(vecSecret+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	bad := filepath.Join(dir, "bad")
	if err := os.WriteFile(bad, []byte("not base64 "+marker+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("LIAISON_TEST_WHSEC", vecSecret)
	t.Setenv("LIAISON_TEST_KEY", " "+marker)

	t.Run("references", func(t *testing.T) {
		for _, ref := range []string{"env:LIAISON_TEST_WHSEC", "file:" + file} {
			v := newVerifier(t, connector.Verify{Scheme: connector.VerifyStandardWebhooks, Secrets: []string{whsec("another key of 24 bytes!"), ref}})
			if _, err := v.Verify(vecHeader(vecSignature), []byte(vecPayload), vecTime); err != nil {
				t.Errorf("%s: Verify: %v", ref, err)
			}
		}
	})
	t.Run("the seed form", func(t *testing.T) {
		c := connector.Config{
			Auth: &connector.Auth{Scheme: connector.SchemeNone, Secret: "env:LIAISON_TEST_WHSEC"},
			Sync: connector.Sync{Mode: connector.ModeWebhook, Path: "/api/webhooks/ehr"},
		}
		v := newVerifier(t, *c.WebhookVerify())
		if v.Scheme() != connector.VerifyStandardWebhooks {
			t.Errorf("Scheme = %q", v.Scheme())
		}
		if id, err := v.Verify(vecHeader(vecSignature), []byte(vecPayload), vecTime); err != nil || id != vecID {
			t.Errorf("Verify = %q, %v", id, err)
		}
	})

	tests := []struct {
		name   string
		v      *connector.Verify
		fields []string // the fields the errors name, when they are *FieldErrors
		msg    string
	}{
		{"nil", nil, nil, "no webhook verification configured"},
		{"no scheme", &connector.Verify{Secret: "s"}, []string{"scheme"}, "required"},
		{"no secrets", &connector.Verify{Scheme: connector.VerifyHMACSHA256}, []string{"secrets"}, "required for scheme hmac-sha256"},
		{"literal not whsec", &connector.Verify{Scheme: connector.VerifyStandardWebhooks, Secrets: []string{vecSecret, "whsec_" + marker + "!"}},
			[]string{"secrets[1]"}, "not a Standard Webhooks secret"},
		{"variable not set", &connector.Verify{Scheme: connector.VerifyHMACSHA256, Secret: "env:LIAISON_TEST_UNSET"},
			[]string{"secret"}, "secret reference env:LIAISON_TEST_UNSET: environment variable not set"},
		{"file not whsec", &connector.Verify{Scheme: connector.VerifyStandardWebhooks, Secrets: []string{"file:" + bad}},
			[]string{"secrets[0]"}, "not a Standard Webhooks secret"},
		{"file missing", &connector.Verify{Scheme: connector.VerifyAPIKey, Secrets: []string{"k", "file:" + filepath.Join(dir, "missing")}},
			[]string{"secrets[1]"}, "no such file"},
		{"API key with a space", &connector.Verify{Scheme: connector.VerifyAPIKey, Secret: "env:LIAISON_TEST_KEY"},
			[]string{"secret"}, "white space"},
		{"basic password not set", &connector.Verify{Scheme: connector.VerifyBasic, Username: "u", Password: "env:LIAISON_TEST_UNSET"},
			[]string{"password"}, "not set"},
		{"fields of another scheme", &connector.Verify{Scheme: connector.VerifyBasic, Username: "u", Password: "p", Header: "X"},
			[]string{"header"}, "not used by scheme basic"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v, err := NewVerifier(tt.v)
			if err == nil {
				t.Fatalf("NewVerifier = %+v, want an error", v)
			}
			if v != nil {
				t.Errorf("NewVerifier returned a Verifier with the error")
			}
			if !strings.Contains(err.Error(), tt.msg) {
				t.Errorf("error %q does not contain %q", err, tt.msg)
			}
			if strings.Contains(err.Error(), marker) || strings.Contains(err.Error(), vecSecret) {
				t.Errorf("error shows a secret: %v", err)
			}
			var got []string
			for _, e := range flatten(err) {
				var fe *connector.FieldError
				if errors.As(e, &fe) {
					got = append(got, fe.Field)
				}
			}
			if strings.Join(got, ",") != strings.Join(tt.fields, ",") {
				t.Errorf("fields = %q, want %q: %v", got, tt.fields, err)
			}
		})
	}
}

// flatten returns the errors that err joins, or err alone.
func flatten(err error) []error {
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		return j.Unwrap()
	}
	return []error{err}
}

// TestConcurrentVerify runs one Verifier from many goroutines, for -race.
func TestConcurrentVerify(t *testing.T) {
	v := newVerifier(t, connector.Verify{Scheme: connector.VerifyStandardWebhooks, Secrets: []string{whsec("another key of 24 bytes!"), vecSecret}})
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 100 {
				sig := vecSignature
				if i%2 == 1 {
					sig = vecOtherSig
				}
				_, err := v.Verify(vecHeader(sig), []byte(vecPayload), vecTime)
				if (err == nil) != (i%2 == 0) {
					t.Errorf("goroutine %d: Verify = %v", i, err)
					return
				}
			}
		}()
	}
	wg.Wait()
}
