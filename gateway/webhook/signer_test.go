package webhook

import (
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/liaisonhq/liaison/gateway/connector"
)

func TestSignerVector(t *testing.T) {
	s, err := NewSigner(vecSecret)
	if err != nil {
		t.Fatal(err)
	}
	h := s.Sign(vecID, vecTime, []byte(vecPayload))
	want := http.Header{
		"Webhook-Id":        {vecID},
		"Webhook-Timestamp": {"1614265330"},
		"Webhook-Signature": {vecSignature},
	}
	if len(h) != len(want) {
		t.Errorf("Sign = %v, want %v", h, want)
	}
	for k, v := range want {
		if got := h.Values(k); len(got) != 1 || got[0] != v[0] {
			t.Errorf("%s = %q, want %q", k, got, v)
		}
	}
	// Sub-second parts of the time are dropped, as the timestamp is in
	// seconds.
	if got := s.Sign(vecID, vecTime.Add(999*time.Millisecond), []byte(vecPayload)).Get(HeaderSignature); got != vecSignature {
		t.Errorf("signature at +999ms = %q, want %q", got, vecSignature)
	}
	// Without the prefix, as the reference libraries take it too.
	s2, err := NewSigner(strings.TrimPrefix(vecSecret, "whsec_"))
	if err != nil {
		t.Fatal(err)
	}
	if got := s2.Sign(vecID, vecTime, []byte(vecPayload)).Get(HeaderSignature); got != vecSignature {
		t.Errorf("signature = %q, want %q", got, vecSignature)
	}
}

// TestSignThenVerify checks that what a Signer signs, a Verifier with the
// same secret accepts, and that any change to it is refused.
func TestSignThenVerify(t *testing.T) {
	secret := whsec("a signing key of 32 bytes, random")
	s, err := NewSigner(secret)
	if err != nil {
		t.Fatal(err)
	}
	v := newVerifier(t, connector.Verify{Scheme: connector.VerifyStandardWebhooks, Secret: secret})
	now := time.Date(2024, 6, 15, 13, 30, 0, 0, time.UTC)
	bodies := []string{"", "{}", `{"resourceType":"Appointment","id":"A1","status":"cancelled"}`, "a.b.c", "\x00\xff binary"}
	for _, body := range bodies {
		id := "msg_2KWPBgLlAfxdpx2AI54pPJ85f4W"
		h := s.Sign(id, now, []byte(body))
		if got, err := v.Verify(h, []byte(body), now.Add(time.Minute)); err != nil || got != id {
			t.Errorf("body %q: Verify = %q, %v; want %q", body, got, err, id)
		}
		if _, err := v.Verify(h, []byte(body+" "), now); err == nil {
			t.Errorf("body %q: a changed body verifies", body)
		}
		h2 := h.Clone()
		h2.Set(HeaderTimestamp, "1718458201")
		if _, err := v.Verify(h2, []byte(body), now); err == nil {
			t.Errorf("body %q: a changed timestamp verifies", body)
		}
		h3 := h.Clone()
		h3.Set(HeaderID, id+"x")
		if _, err := v.Verify(h3, []byte(body), now); err == nil {
			t.Errorf("body %q: a changed id verifies", body)
		}
	}

	// The official vector's headers, as our Signer writes them, verify.
	vs, _ := NewSigner(vecSecret)
	vv := newVerifier(t, connector.Verify{Scheme: connector.VerifyStandardWebhooks, Secret: vecSecret})
	if id, err := vv.Verify(vs.Sign(vecID, vecTime, []byte(vecPayload)), []byte(vecPayload), vecTime); err != nil || id != vecID {
		t.Errorf("Verify(Sign(vector)) = %q, %v", id, err)
	}
}

func TestNewSignerErrors(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "key")
	if err := os.WriteFile(file, []byte(vecSecret+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := NewSigner("file:" + file); err != nil {
		t.Errorf("NewSigner(file:): %v", err)
	}
	for _, secret := range []string{"", "whsec_", "whsec_" + marker + "!", "env:LIAISON_TEST_UNSET", "file:" + filepath.Join(dir, "missing")} {
		s, err := NewSigner(secret)
		if err == nil {
			t.Errorf("NewSigner(%q) = %v, want an error", secret, s)
			continue
		}
		if strings.Contains(err.Error(), marker) {
			t.Errorf("error shows the secret: %v", err)
		}
	}
}
