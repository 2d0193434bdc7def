package webhook_test

import (
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/liaisonhq/liaison/gateway/connector"
	"github.com/liaisonhq/liaison/gateway/webhook"
)

// A connector in the seed's form: its webhook secret is auth.secret, so
// its webhooks are verified the Standard Webhooks way. The delivery is the
// reference libraries' test vector.
func Example() {
	c, _ := connector.Parse([]byte(`{"name": "StateEHR", "type": "FHIR", "endpoint": "https://stateehr.gov/fhir/Patient",
	  "auth": {"scheme": "OAuth2", "clientId": "ABC123", "clientSecret": "SECRET",
	           "secret": "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"},
	  "sync": {"mode": "webhook", "path": "/api/webhooks/state-ehr/patient"}}`))
	v, err := webhook.NewVerifier(c.WebhookVerify())
	if err != nil {
		fmt.Println(err)
		return
	}

	h := http.Header{}
	h.Set("webhook-id", "msg_p5jXN8AQM9LWM0D4loKWxJek")
	h.Set("webhook-timestamp", "1614265330")
	h.Set("webhook-signature", "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=")
	body := []byte(`{"test": 2432232314}`)

	sent := time.Unix(1614265330, 0)
	fmt.Println(v.Verify(h, body, sent.Add(2*time.Second)))
	fmt.Println(v.Verify(h, body, sent.Add(time.Hour)))
	fmt.Println(v.Verify(h, []byte(`{"test": 1}`), sent))
	// Output:
	// msg_p5jXN8AQM9LWM0D4loKWxJek <nil>
	//  timestamp outside tolerance
	//  signature does not match
}

// GitHub-style signatures: X-Hub-Signature-256 is "sha256=" and the hex
// HMAC-SHA256 of the body, here with GitHub's documented test values.
func ExampleNewVerifier() {
	v, err := webhook.NewVerifier(&connector.Verify{Scheme: "hmac-sha256", Secret: "It's a Secret to Everybody"})
	if err != nil {
		fmt.Println(err)
		return
	}
	h := http.Header{}
	h.Set("X-Hub-Signature-256", "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17")
	h.Set("X-GitHub-Delivery", "72d3162e-cc78-11e3-81ab-4c9367dc0958")
	fmt.Println(v.Verify(h, []byte("Hello, World!"), time.Now()))

	// Errors name the field, never the secret.
	_, err = webhook.NewVerifier(&connector.Verify{Scheme: "standard-webhooks", Secrets: []string{"whsec_!"}})
	fmt.Println(err)
	_, err = webhook.NewVerifier(&connector.Verify{Scheme: "standard-webhooks", Secrets: []string{"env:EHR_WEBHOOK_SECRET_UNSET"}})
	fmt.Println(err)
	// Output:
	// 72d3162e-cc78-11e3-81ab-4c9367dc0958 <nil>
	// secrets[0]: not a Standard Webhooks secret: want "whsec_" followed by the key in base64
	// secrets[0]: secret reference env:EHR_WEBHOOK_SECRET_UNSET: environment variable not set
}

func ExampleVerifier_Verify() {
	v, _ := webhook.NewVerifier(&connector.Verify{Scheme: "apikey", Secrets: []string{"new-key", "old-key"}})
	for _, key := range []string{"old-key", "", "guess"} {
		h := http.Header{}
		if key != "" {
			h.Set("X-API-Key", key)
		}
		h.Set("Idempotency-Key", "delivery-1")
		id, err := v.Verify(h, []byte(`{}`), time.Now())
		var e *webhook.Error
		if errors.As(err, &e) {
			fmt.Println("refused:", e.Reason)
			continue
		}
		fmt.Println("accepted:", id)
	}
	// Output:
	// accepted: delivery-1
	// refused: missing X-API-Key header
	// refused: API key does not match
}

// An outbound webhook signed the Standard Webhooks way, with the
// reference libraries' test vector: its receiver checks it with any of
// those libraries.
func ExampleSigner_Sign() {
	s, err := webhook.NewSigner("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")
	if err != nil {
		fmt.Println(err)
		return
	}
	h := s.Sign("msg_p5jXN8AQM9LWM0D4loKWxJek", time.Unix(1614265330, 0), []byte(`{"test": 2432232314}`))
	for _, k := range []string{"webhook-id", "webhook-timestamp", "webhook-signature"} {
		fmt.Printf("%s: %s\n", k, h.Get(k))
	}
	// Output:
	// webhook-id: msg_p5jXN8AQM9LWM0D4loKWxJek
	// webhook-timestamp: 1614265330
	// webhook-signature: v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=
}
