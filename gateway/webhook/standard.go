package webhook

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"hash"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// The Standard Webhooks headers.
const (
	HeaderID        = "webhook-id"
	HeaderTimestamp = "webhook-timestamp"
	HeaderSignature = "webhook-signature"
)

// signatureVersion starts each symmetric (HMAC-SHA256) signature in
// webhook-signature: "v1,<base64>". Other versions, such as the
// asymmetric "v1a", are skipped.
const signatureVersion = "v1,"

// standardMAC returns the base64 Standard Webhooks signature of id, ts
// and body, without its "v1," version: mac, an HMAC-SHA256 under the
// key, of "{id}.{ts}.{body}".
func standardMAC(mac hash.Hash, id string, ts int64, body []byte) []byte {
	mac.Reset()
	mac.Write([]byte(id))
	mac.Write([]byte{'.'})
	mac.Write(strconv.AppendInt(nil, ts, 10))
	mac.Write([]byte{'.'})
	mac.Write(body)
	sum := mac.Sum(nil)
	out := make([]byte, base64.StdEncoding.EncodedLen(len(sum)))
	base64.StdEncoding.Encode(out, sum)
	return out
}

// maxTimestampDigits bounds webhook-timestamp so that it fits an int64.
const maxTimestampDigits = 18

// parseTimestamp reads webhook-timestamp: seconds since 1970, in decimal
// digits only.
func parseTimestamp(s string) (int64, bool) {
	if s == "" || len(s) > maxTimestampDigits {
		return 0, false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return 0, false
		}
	}
	ts, err := strconv.ParseInt(s, 10, 64)
	return ts, err == nil
}

// verifyStandard checks a Standard Webhooks delivery and returns its
// webhook-id.
func (v *Verifier) verifyStandard(h http.Header, body []byte, now time.Time) (string, error) {
	id := h.Get(HeaderID)
	tsText := h.Get(HeaderTimestamp)
	sigs := strings.Fields(strings.Join(h.Values(HeaderSignature), " "))
	switch {
	case id == "":
		return "", &Error{Reason: "missing " + HeaderID + " header"}
	case tsText == "":
		return "", &Error{Reason: "missing " + HeaderTimestamp + " header"}
	case len(sigs) == 0:
		return "", &Error{Reason: "missing " + HeaderSignature + " header"}
	case !validID(id):
		return "", &Error{Reason: "invalid " + HeaderID + " header: " + idWant}
	}
	ts, ok := parseTimestamp(tsText)
	if !ok {
		return "", &Error{Reason: "invalid " + HeaderTimestamp + " header: want seconds since 1970"}
	}
	if d := now.Sub(time.Unix(ts, 0)); d > v.tolerance || d < -v.tolerance {
		return "", &Error{Reason: reasonTolerance}
	}

	versioned := false
	match := 0
	for _, key := range v.keys {
		want := standardMAC(hmac.New(sha256.New, key), id, ts, body)
		for _, sig := range sigs {
			got, ok := strings.CutPrefix(sig, signatureVersion)
			if !ok {
				continue
			}
			versioned = true
			if hmac.Equal([]byte(got), want) {
				match = 1
			}
		}
	}
	switch {
	case match == 1:
		return id, nil
	case !versioned:
		return "", &Error{Reason: "no v1 signature in " + HeaderSignature + " header"}
	default:
		return "", &Error{Reason: reasonNoMatch}
	}
}
