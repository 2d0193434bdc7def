package webhook

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/liaisonhq/liaison/gateway/connector"
)

// The fuzzed verifiers' secrets: two per scheme, for a rotation.
var (
	fuzzWhsec   = []string{vecSecret, whsec("a second key of 24 bytes")}
	fuzzHMAC    = []string{ghSecret, "second secret"}
	fuzzAPIKeys = []string{"key-one", "key-two"}
)

const fuzzUser, fuzzPassword = "ehr", "pa:ss"

// fuzzReasons are every Reason a fuzzed delivery may get: a closed set,
// so that none can carry a secret, a signature or the body.
var fuzzReasons = map[string]bool{
	"missing webhook-id header":                                         true,
	"missing webhook-timestamp header":                                  true,
	"missing webhook-signature header":                                  true,
	"invalid webhook-id header: want 1 to 256 visible ASCII characters": true,
	"invalid webhook-timestamp header: want seconds since 1970":         true,
	"no v1 signature in webhook-signature header":                       true,
	reasonTolerance:                      true,
	reasonNoMatch:                        true,
	"missing X-Hub-Signature-256 header": true,
	`malformed X-Hub-Signature-256 header: want "sha256=" and the hex HMAC-SHA256 of the body`: true,
	"missing X-API-Key header":                                               true,
	"API key does not match":                                                 true,
	"missing Authorization header":                                           true,
	"Authorization header is not Basic":                                      true,
	"username or password does not match":                                    true,
	"malformed Authorization header: want Basic and base64 of user:password": true,
	"invalid X-Webhook-Id header: want 1 to 256 visible ASCII characters":    true,
}

var (
	fuzzID = regexp.MustCompile(`^[!-~]{1,256}$`)
	fuzzTS = regexp.MustCompile(`^[0-9]{1,18}$`)
)

// FuzzVerify feeds every scheme random headers and bodies, and, when sign
// is set, adds a correct signature or credential. Verify must not panic,
// must accept exactly what an independent reading of the scheme accepts,
// and must fail only with a known *Error.
func FuzzVerify(f *testing.F) {
	verifiers := []*Verifier{
		newVerifier(f, connector.Verify{Scheme: connector.VerifyStandardWebhooks, Secrets: fuzzWhsec}),
		newVerifier(f, connector.Verify{Scheme: connector.VerifyHMACSHA256, Secrets: fuzzHMAC}),
		newVerifier(f, connector.Verify{Scheme: connector.VerifyAPIKey, Secrets: fuzzAPIKeys}),
		newVerifier(f, connector.Verify{Scheme: connector.VerifyBasic, Username: fuzzUser, Password: fuzzPassword}),
	}
	now := vecTime

	f.Add(uint8(0), vecID, "1614265330", vecSignature, "", []byte(vecPayload), false)
	f.Add(uint8(4), vecID, "1614265330", vecOtherSig+" v1a,x v2,y", "", []byte(vecPayload), true)
	f.Add(uint8(0), "msg.1", "01614265330", "v1,", "", []byte("{}"), true)
	f.Add(uint8(0), "msg 1", "1614265030", "", "", []byte(nil), true)
	f.Add(uint8(1), "", "", ghSignature, "", []byte(ghPayload), false)
	f.Add(uint8(5), "", "", "SHA256=ABC", "72d3162e-cc78-11e3", []byte(ghPayload), true)
	f.Add(uint8(2), "", "", "key-one", "", []byte("x"), false)
	f.Add(uint8(6), "", "", "", "bad id", []byte("x"), true)
	f.Add(uint8(3), "", "", "Basic ZWhyOnBhOnNz", "", []byte("x"), false)
	f.Add(uint8(3), "", "", "basic  ZWhyOnBhOnNz ", "", []byte("x"), false)
	f.Add(uint8(7), "", "", "Bearer x", "", []byte("x"), true)

	f.Fuzz(func(t *testing.T, scheme uint8, id, ts, sig, extra string, body []byte, sign bool) {
		which := int(scheme % 4)
		alt := int(scheme/4) % 2 // which secret signs
		v := verifiers[which]
		h := http.Header{}
		set := func(k, val string) {
			if val != "" {
				h.Add(k, val)
			}
		}
		var want bool // what an independent reading of the scheme says
		switch which {
		case 0:
			set(HeaderID, id)
			set(HeaderTimestamp, ts)
			set(HeaderSignature, sig)
			signed := func(key []byte) string {
				n, _ := strconv.ParseInt(ts, 10, 64)
				m := hmac.New(sha256.New, key)
				m.Write([]byte(id + "." + strconv.FormatInt(n, 10) + "."))
				m.Write(body)
				return "v1," + base64.StdEncoding.EncodeToString(m.Sum(nil))
			}
			keys := make([][]byte, len(fuzzWhsec))
			for i, s := range fuzzWhsec {
				keys[i], _ = connector.DecodeWebhookSecret(s)
			}
			if sign && fuzzTS.MatchString(ts) {
				h.Add(HeaderSignature, signed(keys[alt]))
			}
			if fuzzID.MatchString(id) && fuzzTS.MatchString(ts) {
				n, _ := strconv.ParseInt(ts, 10, 64)
				if d := now.Sub(time.Unix(n, 0)); d <= 5*time.Minute && d >= -5*time.Minute {
					for _, item := range strings.Fields(strings.Join(h.Values(HeaderSignature), " ")) {
						for _, k := range keys {
							want = want || item == signed(k)
						}
					}
				}
			}
		case 1:
			set("X-Hub-Signature-256", sig)
			macHex := func(key string) string {
				m := hmac.New(sha256.New, []byte(key))
				m.Write(body)
				return hex.EncodeToString(m.Sum(nil))
			}
			if sign {
				h.Add("X-Hub-Signature-256", "sha256="+macHex(fuzzHMAC[alt]))
			}
			for _, val := range h.Values("X-Hub-Signature-256") {
				for _, k := range fuzzHMAC {
					want = want || strings.ToLower(strings.TrimSpace(val)) == "sha256="+macHex(k)
				}
			}
		case 2:
			set("X-API-Key", sig)
			if sign {
				h.Set("X-API-Key", fuzzAPIKeys[alt])
			}
			want = h.Get("X-API-Key") == fuzzAPIKeys[0] || h.Get("X-API-Key") == fuzzAPIKeys[1]
		case 3:
			set("Authorization", sig)
			if sign {
				h.Set("Authorization", "Basic "+base64.StdEncoding.EncodeToString([]byte(fuzzUser+":"+fuzzPassword)))
			}
			authScheme, cred, _ := strings.Cut(strings.TrimSpace(h.Get("Authorization")), " ")
			raw, err := base64.StdEncoding.DecodeString(strings.TrimSpace(cred))
			want = strings.EqualFold(authScheme, "basic") && err == nil && string(raw) == fuzzUser+":"+fuzzPassword
		}
		wantID := id
		if which != 0 {
			set("X-Webhook-Id", extra)
			sum := sha256.Sum256(body)
			wantID = hex.EncodeToString(sum[:])
			if extra != "" {
				wantID = extra
				want = want && fuzzID.MatchString(extra)
			}
		}

		got, err := v.Verify(h, body, now)
		if err != nil {
			var e *Error
			if !errors.As(err, &e) {
				t.Fatalf("error %v is a %T, not an *Error", err, err)
			}
			if !fuzzReasons[e.Reason] {
				t.Fatalf("unexpected reason %q", e.Reason)
			}
			if got != "" {
				t.Fatalf("id %q with an error", got)
			}
		}
		if ok := err == nil; ok != want {
			t.Fatalf("scheme %s: Verify = %q, %v; an independent check says verified = %v\nheaders %q\nbody %q",
				v.Scheme(), got, err, want, h, body)
		}
		if err == nil && got != wantID {
			t.Fatalf("id = %q, want %q", got, wantID)
		}
	})
}
