package auth

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"errors"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"

	"github.com/liaisonhq/liaison/gateway/connector"
)

const smartClientID = "liaison-backend"

func TestSMART(t *testing.T) {
	tests := []struct {
		name   string
		key    func(t *testing.T) (pemKey string, public crypto.PublicKey)
		alg    string // the Algorithm field
		want   jose.SignatureAlgorithm
		scopes []string
		scope  string // the scope parameter wanted
	}{
		{
			name: "RSA PKCS #8",
			key:  func(t *testing.T) (string, crypto.PublicKey) { return pemPKCS8(t, rsaKey()), rsaKey().Public() },
			want: jose.RS384, scope: "system/*.*",
		},
		{
			name: "RSA PKCS #1, forced RS384",
			key:  func(t *testing.T) (string, crypto.PublicKey) { return pemPKCS1(rsaKey()), rsaKey().Public() },
			alg:  "RS384", want: jose.RS384,
			scopes: []string{"system/Patient.rs", "system/Appointment.cruds"}, scope: "system/Patient.rs system/Appointment.cruds",
		},
		{
			name: "EC P-384 SEC 1",
			key:  func(t *testing.T) (string, crypto.PublicKey) { return pemSEC1(t, p384()), p384().Public() },
			want: jose.ES384, scope: "system/*.*",
		},
		{
			name: "EC P-384 PKCS #8, forced es384",
			key:  func(t *testing.T) (string, crypto.PublicKey) { return pemPKCS8(t, p384()), p384().Public() },
			alg:  "es384", want: jose.ES384, scope: "system/*.*",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			pemKey, public := tt.key(t)
			ts := newTokenServer(t, smartClientID, "", func(ts *tokenServer) { ts.publicKey = public })
			api := newAPIServer(t, ts)
			c := newTestClient(t, connector.Config{
				Name: "ehr", Type: connector.FHIR, Endpoint: api.URL + "/fhir",
				Auth: &connector.Auth{Scheme: "SMART", ClientID: smartClientID, PrivateKey: pemKey, KeyID: "key-2024", Algorithm: tt.alg, TokenURL: ts.TokenURL(), Scopes: tt.scopes},
			})
			tr := c.Transport.(*Transport)

			if got := get(t, c, api.URL+"/fhir/Patient"); got != http.StatusOK {
				t.Fatalf("status %d, want 200", got)
			}
			expire(tr) // force a second token request
			if err := Prefetch(context.Background(), c); err != nil {
				t.Fatalf("second token request: %v", err)
			}

			reqs := ts.Requests()
			if len(reqs) != 2 {
				t.Fatalf("%d token requests, want 2", len(reqs))
			}
			for i, r := range reqs {
				if r.Assertion == nil {
					t.Fatalf("request %d: no verified assertion", i)
				}
				h := r.Assertion.Headers[0]
				if h.Algorithm != string(tt.want) || h.KeyID != "key-2024" || h.ExtraHeaders["typ"] != "JWT" {
					t.Errorf("request %d: header alg %s kid %q typ %v; want %s, key-2024, JWT", i, h.Algorithm, h.KeyID, h.ExtraHeaders["typ"], tt.want)
				}
				// Verify again here, with the public key, independently of
				// the server.
				var cl jwt.Claims
				if err := r.Assertion.Claims(public, &cl); err != nil {
					t.Fatalf("request %d: %v", i, err)
				}
				if cl.Issuer != smartClientID || cl.Subject != smartClientID || len(cl.Audience) != 1 || cl.Audience[0] != ts.TokenURL() {
					t.Errorf("request %d: iss %q sub %q aud %v", i, cl.Issuer, cl.Subject, cl.Audience)
				}
				if ahead := cl.Expiry.Time().Sub(r.At); ahead > 5*time.Minute || ahead <= 0 {
					t.Errorf("request %d: exp %v ahead, want (0, 5 min]", i, ahead)
				}
				if cl.ID == "" {
					t.Errorf("request %d: no jti", i)
				}
				f := r.Form
				if f.Get("grant_type") != "client_credentials" || f.Get("scope") != tt.scope ||
					f.Get("client_assertion_type") != "urn:ietf:params:oauth:client-assertion-type:jwt-bearer" {
					t.Errorf("request %d: form %v", i, f)
				}
				if f.Has("client_secret") || r.BasicUser != "" {
					t.Errorf("request %d: a client secret was sent", i)
				}
			}
			if reqs[0].Claims.ID == reqs[1].Claims.ID {
				t.Errorf("jti %q used twice", reqs[0].Claims.ID)
			}
		})
	}
}

func TestSMARTKeyFromFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "key.pem")
	if err := os.WriteFile(path, []byte(pemSEC1(t, p384())), 0o600); err != nil {
		t.Fatal(err)
	}
	ts := newTokenServer(t, smartClientID, "", func(ts *tokenServer) { ts.publicKey = p384().Public() })
	c := newTestClient(t, connector.Config{Auth: &connector.Auth{Scheme: "smart", ClientID: smartClientID, PrivateKey: "file:" + path, TokenURL: ts.TokenURL()}})
	if err := Prefetch(context.Background(), c); err != nil {
		t.Fatal(err)
	}
	if h := ts.Requests()[0].Assertion.Headers[0]; h.KeyID != "" {
		t.Errorf("kid %q without a keyId", h.KeyID)
	}
}

func TestSMARTRefused(t *testing.T) {
	other := must(ecdsa.GenerateKey(elliptic.P384(), rand.Reader))
	ts := newTokenServer(t, smartClientID, "", func(ts *tokenServer) { ts.publicKey = other.Public() })
	c := newTestClient(t, connector.Config{Auth: &connector.Auth{Scheme: "smart", ClientID: smartClientID, PrivateKey: pemPKCS8(t, p384()), TokenURL: ts.TokenURL()}})
	var te *TokenError
	err := Prefetch(context.Background(), c)
	if !errors.As(err, &te) || te.Code != "invalid_client" || te.Scheme != "smart" {
		t.Fatalf("Prefetch = %v, want a smart invalid_client *TokenError", err)
	}
	if strings.Contains(err.Error(), "signature") {
		t.Errorf("error %q repeats the server's description", err)
	}
}

func TestSMARTKeyErrors(t *testing.T) {
	p256 := must(ecdsa.GenerateKey(elliptic.P256(), rand.Reader))
	small := must(rsa.GenerateKey(rand.Reader, 1024))
	tests := []struct {
		name, key, alg, field string
	}{
		{"not PEM", "MIIEvQIBADANBgkqhkiG9w0BAQEFAASC", "", "auth.privateKey"},
		{"a certificate", "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n", "", "auth.privateKey"},
		{"malformed", "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n", "", "auth.privateKey"},
		{"EC P-256", pemPKCS8(t, p256), "", "auth.privateKey"},
		{"RSA 1024", pemPKCS1(small), "", "auth.privateKey"},
		{"ES384 with an RSA key", pemPKCS8(t, rsaKey()), "ES384", "auth.algorithm"},
		{"RS384 with an EC key", pemSEC1(t, p384()), "RS384", "auth.algorithm"},
		{"RS256", pemPKCS8(t, rsaKey()), "RS256", "auth.algorithm"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := NewClient(connector.Config{Auth: &connector.Auth{Scheme: "smart", ClientID: "c", PrivateKey: tt.key, Algorithm: tt.alg, TokenURL: "https://auth.example/token"}}, nil)
			var fe *connector.FieldError
			if !errors.As(err, &fe) || fe.Field != tt.field {
				t.Fatalf("err = %v, want a *connector.FieldError for %s", err, tt.field)
			}
		})
	}
}

func TestSMARTDiscovery(t *testing.T) {
	ts := newTokenServer(t, smartClientID, "", func(ts *tokenServer) { ts.publicKey = p384().Public() })
	api := newAPIServer(t, ts)
	api.set(func(as *apiServer) { as.noConfig = true })
	c := newTestClient(t, connector.Config{
		Name: "ehr", Type: connector.FHIR, Endpoint: api.URL + "/fhir/Patient/",
		Auth: &connector.Auth{Scheme: "smart", ClientID: smartClientID, PrivateKey: pemSEC1(t, p384())},
	})

	// Nothing happens before the first use.
	if n := api.Discoveries(); n != 0 {
		t.Fatalf("%d discovery requests before first use", n)
	}
	_, err := c.Get(api.URL + "/fhir/Patient")
	if !errors.Is(err, ErrDiscovery) || !strings.Contains(err.Error(), "404") {
		t.Fatalf("GET without a smart-configuration: %v, want ErrDiscovery with the 404", err)
	}
	if n := api.Discoveries(); n != 1 {
		t.Fatalf("%d discovery requests, want 1", n)
	}

	// A failed discovery is tried again; a found endpoint is kept.
	api.set(func(as *apiServer) { as.noConfig = false })
	for range 2 {
		if got := get(t, c, api.URL+"/fhir/Patient"); got != http.StatusOK {
			t.Fatalf("status %d, want 200", got)
		}
		expire(c.Transport.(*Transport))
	}
	if n, tokens := api.Discoveries(), ts.Count(); n != 2 || tokens != 2 {
		t.Errorf("%d discovery and %d token requests, want 2 and 2", n, tokens)
	}
	if aud := ts.Requests()[1].Claims.Audience; len(aud) != 1 || aud[0] != ts.TokenURL() {
		t.Errorf("aud %v, want the discovered %s", aud, ts.TokenURL())
	}
}

func TestOAuth2Discovery(t *testing.T) {
	ts := newTokenServer(t, testClientID, testClientSecret)
	api := newAPIServer(t, ts)
	c := newTestClient(t, connector.Config{
		Name: "ehr", Type: "FHIR", Endpoint: api.URL + "/fhir",
		Auth: &connector.Auth{Scheme: "oauth2", ClientID: testClientID, ClientSecret: testClientSecret},
	})
	if got := get(t, c, api.URL+"/fhir/Patient"); got != http.StatusOK {
		t.Fatalf("status %d, want 200", got)
	}
	if n := api.Discoveries(); n != 1 {
		t.Errorf("%d discovery requests, want 1", n)
	}
}
