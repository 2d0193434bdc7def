package auth

import (
	"context"
	"crypto/rand"
	"net"
	"net/http"
	"strings"
	"testing"

	"github.com/liaisonhq/liaison/gateway/connector"
)

// TestSecretsNeverInErrors makes every failure it can with a unique
// secret in the configuration, and checks that no error text holds it.
func TestSecretsNeverInErrors(t *testing.T) {
	canary := "canary-" + strings.ToLower(rand.Text())
	t.Setenv("LIAISON_TEST_CANARY", canary)

	// A port that refuses connections.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := "http://" + l.Addr().String()
	l.Close()

	// A token server that refuses the client and echoes what it was sent.
	refusing := newTokenServer(t, testClientID, "another-secret", func(ts *tokenServer) { ts.echo = true })
	// One whose answers are not tokens, and quote the request.
	garbage := newTokenServer(t, testClientID, canary)
	garbage.Fail(&tokenFailure{Status: http.StatusOK, Body: "<html>" + canary + "</html>"})
	failing := newTokenServer(t, testClientID, canary)
	failing.Fail(&tokenFailure{Status: http.StatusInternalServerError, Body: "stack trace: client_secret=" + canary})
	smartRefusing := newTokenServer(t, smartClientID, "", func(ts *tokenServer) { ts.publicKey = rsaKey().Public(); ts.echo = true })

	garbled := "-----BEGIN PRIVATE KEY-----\n" + canary + "\n-----END PRIVATE KEY-----\n"

	// Configurations NewClient refuses.
	bad := []*connector.Auth{
		{Scheme: "apikey", Key: canary + "\n"},
		{Scheme: "apikey", Key: canary, Header: "bad header " + "x"},
		{Scheme: "bearer", Token: canary + "\r\nX-Injected: 1"},
		{Scheme: "basic", Username: "u", Password: "env:" + "LIAISON_TEST_NOT_SET"},
		{Scheme: "smart", ClientID: "c", PrivateKey: garbled, TokenURL: "https://x/token"},
		{Scheme: "smart", ClientID: "c", PrivateKey: canary, TokenURL: "https://x/token"},
		{Scheme: "mtls", Certificate: garbled, PrivateKey: garbled},
		{Scheme: "mtls", Certificate: canary, PrivateKey: canary},
	}
	var errs []error
	for _, a := range bad {
		_, err := NewClient(connector.Config{Auth: a}, nil)
		if err == nil {
			t.Errorf("NewClient(%s): no error", a.Scheme)
			continue
		}
		errs = append(errs, err)
	}

	// Clients whose requests fail.
	failingReq := []connector.Config{
		{Endpoint: closed, Auth: &connector.Auth{Scheme: "apikey", Key: canary, Query: "key"}},
		{Endpoint: closed, Auth: &connector.Auth{Scheme: "apikey", Key: "env:LIAISON_TEST_CANARY"}},
		{Endpoint: closed, Auth: &connector.Auth{Scheme: "basic", Username: "u", Password: canary}},
		{Endpoint: closed, Auth: &connector.Auth{Scheme: "bearer", Token: canary}},
		{Endpoint: closed, Auth: &connector.Auth{Scheme: "oauth2", ClientID: testClientID, ClientSecret: canary, TokenURL: closed + "/token"}},
		{Endpoint: closed, Auth: &connector.Auth{Scheme: "oauth2", ClientID: testClientID, ClientSecret: canary, TokenURL: refusing.TokenURL()}},
		{Endpoint: closed, Auth: &connector.Auth{Scheme: "oauth2", ClientID: testClientID, ClientSecret: "env:LIAISON_TEST_CANARY", TokenURL: garbage.TokenURL()}},
		{Endpoint: closed, Auth: &connector.Auth{Scheme: "oauth2", ClientID: testClientID, ClientSecret: canary, TokenURL: failing.TokenURL()}},
		{Endpoint: closed, Auth: &connector.Auth{Scheme: "smart", ClientID: smartClientID, PrivateKey: pemPKCS8(t, p384()), TokenURL: smartRefusing.TokenURL()}},
		{Type: connector.FHIR, Endpoint: closed + "/fhir", Auth: &connector.Auth{Scheme: "oauth2", ClientID: testClientID, ClientSecret: canary}},
	}
	for _, cfg := range failingReq {
		c := newTestClient(t, cfg)
		req, _ := http.NewRequestWithContext(context.Background(), http.MethodPost, closed+"/fhir/Patient?x=1", strings.NewReader(`{}`))
		resp, err := c.Do(req)
		if err == nil {
			resp.Body.Close()
			t.Errorf("%s: request succeeded", cfg.Auth.Scheme)
			continue
		}
		errs = append(errs, err)
		if err := Prefetch(context.Background(), c); err != nil {
			errs = append(errs, err)
		}
	}

	for _, err := range errs {
		if strings.Contains(err.Error(), canary) || strings.Contains(err.Error(), "another-secret") {
			t.Errorf("error holds a secret: %q", err)
		}
	}
	if len(errs) < len(bad)+len(failingReq) {
		t.Errorf("only %d errors", len(errs))
	}
}
