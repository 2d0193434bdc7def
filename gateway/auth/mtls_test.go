package auth

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/liaisonhq/liaison/gateway/connector"
)

// testPKI is a CA with a server certificate for 127.0.0.1 and a client
// certificate, all PEM.
type testPKI struct {
	pool                  *x509.CertPool
	serverCert            tls.Certificate
	clientCert, clientKey string
}

func newTestPKI(t *testing.T) testPKI {
	t.Helper()
	now := time.Now()
	caKey := must(ecdsa.GenerateKey(elliptic.P256(), rand.Reader))
	caTmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "Liaison Test CA"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}
	caDER := must(x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, caKey.Public(), caKey))
	ca := must(x509.ParseCertificate(caDER))

	issue := func(serial int64, tmpl *x509.Certificate) (certPEM, keyPEM []byte) {
		key := must(ecdsa.GenerateKey(elliptic.P256(), rand.Reader))
		tmpl.SerialNumber = big.NewInt(serial)
		tmpl.NotBefore, tmpl.NotAfter = now.Add(-time.Hour), now.Add(time.Hour)
		tmpl.KeyUsage = x509.KeyUsageDigitalSignature
		der := must(x509.CreateCertificate(rand.Reader, tmpl, ca, key.Public(), caKey))
		keyDER := must(x509.MarshalPKCS8PrivateKey(key))
		return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
			pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER})
	}
	srvCert, srvKey := issue(2, &x509.Certificate{
		Subject: pkix.Name{CommonName: "127.0.0.1"}, IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)},
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	})
	cliCert, cliKey := issue(3, &x509.Certificate{
		Subject:     pkix.Name{CommonName: "liaison-client"},
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	})
	pool := x509.NewCertPool()
	pool.AddCert(ca)
	return testPKI{
		pool:       pool,
		serverCert: must(tls.X509KeyPair(srvCert, srvKey)),
		clientCert: string(cliCert), clientKey: string(cliKey),
	}
}

// baseTrusting returns a transport that trusts pki's CA, closed with the
// test.
func (pki testPKI) baseTrusting(t *testing.T) *http.Transport {
	base := http.DefaultTransport.(*http.Transport).Clone()
	base.TLSClientConfig = &tls.Config{RootCAs: pki.pool}
	t.Cleanup(base.CloseIdleConnections)
	return base
}

func TestMTLS(t *testing.T) {
	pki := newTestPKI(t)
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if len(r.TLS.PeerCertificates) == 0 || r.TLS.PeerCertificates[0].Subject.CommonName != "liaison-client" {
			w.WriteHeader(http.StatusForbidden)
		}
	}))
	srv.TLS = &tls.Config{Certificates: []tls.Certificate{pki.serverCert}, ClientAuth: tls.RequireAndVerifyClientCert, ClientCAs: pki.pool}
	srv.Config.ErrorLog = quietLog
	srv.StartTLS()
	defer srv.Close()

	keyFile := filepath.Join(t.TempDir(), "client.key")
	if err := os.WriteFile(keyFile, []byte(pki.clientKey), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("LIAISON_TEST_CLIENT_CERT", pki.clientCert)

	tests := []struct {
		name string
		auth *connector.Auth
	}{
		{"PEM values", &connector.Auth{Scheme: "mtls", Certificate: pki.clientCert, PrivateKey: pki.clientKey}},
		{"env and file references", &connector.Auth{Scheme: "MTLS", Certificate: "env:LIAISON_TEST_CLIENT_CERT", PrivateKey: "file:" + keyFile}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			base := pki.baseTrusting(t)
			c, err := NewClient(connector.Config{Endpoint: srv.URL, Auth: tt.auth}, base)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(c.CloseIdleConnections)
			if got := get(t, c, srv.URL+"/fhir/metadata"); got != http.StatusOK {
				t.Errorf("status %d, want 200", got)
			}
			if len(base.TLSClientConfig.Certificates) != 0 {
				t.Errorf("the caller's base transport was modified")
			}
		})
	}

	t.Run("refused without a certificate", func(t *testing.T) {
		c, err := NewClient(connector.Config{Endpoint: srv.URL}, pki.baseTrusting(t))
		if err != nil {
			t.Fatal(err)
		}
		resp, err := c.Get(srv.URL + "/fhir/metadata")
		if err == nil {
			resp.Body.Close()
			t.Fatalf("status %d, want the handshake refused", resp.StatusCode)
		}
	})
}

func TestMTLSErrors(t *testing.T) {
	pki := newTestPKI(t)
	other := newTestPKI(t)
	tests := []struct {
		name  string
		auth  *connector.Auth
		base  http.RoundTripper
		field string
	}{
		{"key of another certificate", &connector.Auth{Scheme: "mtls", Certificate: pki.clientCert, PrivateKey: other.clientKey}, nil, "auth.certificate"},
		{"switched", &connector.Auth{Scheme: "mtls", Certificate: pki.clientKey, PrivateKey: pki.clientCert}, nil, "auth.certificate"},
		{"malformed certificate", &connector.Auth{Scheme: "mtls", Certificate: "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n", PrivateKey: pki.clientKey}, nil, "auth.certificate"},
		{"no key", &connector.Auth{Scheme: "mtls", Certificate: pki.clientCert}, nil, "auth.privateKey"},
		{"base not an *http.Transport", &connector.Auth{Scheme: "mtls", Certificate: pki.clientCert, PrivateKey: pki.clientKey}, roundTripFunc(nil), ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := NewClient(connector.Config{Auth: tt.auth}, tt.base)
			if err == nil {
				t.Fatal("no error")
			}
			var fe *connector.FieldError
			if tt.field != "" && (!errors.As(err, &fe) || fe.Field != tt.field) {
				t.Errorf("err = %v, want a *connector.FieldError for %s", err, tt.field)
			}
		})
	}
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }
