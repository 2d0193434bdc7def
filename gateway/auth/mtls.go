package auth

import (
	"crypto/tls"
	"encoding/pem"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/liaisonhq/liaison/gateway/connector"
)

// mtls returns a clone of base that presents the client certificate
// a.Certificate (a PEM chain, leaf first) with the key a.PrivateKey in
// every TLS handshake. Both are resolved as secrets.
func mtls(a *connector.Auth, base http.RoundTripper) (http.RoundTripper, error) {
	ht, ok := base.(*http.Transport)
	if !ok {
		return nil, fmt.Errorf("auth mtls: the base transport is a %T; want an *http.Transport to carry the client certificate", base)
	}
	certPEM, err := secret("certificate", a.Certificate)
	if err != nil {
		return nil, err
	}
	keyPEM, err := secret("privateKey", a.PrivateKey)
	if err != nil {
		return nil, err
	}
	if !hasPEMBlock(certPEM, func(t string) bool { return t == "CERTIFICATE" }) {
		return nil, &connector.FieldError{Field: "auth.certificate", Err: errors.New("no CERTIFICATE PEM block")}
	}
	if !hasPEMBlock(keyPEM, func(t string) bool { return strings.HasSuffix(t, "PRIVATE KEY") }) {
		return nil, &connector.FieldError{Field: "auth.privateKey", Err: errors.New("no PRIVATE KEY PEM block")}
	}
	cert, err := tls.X509KeyPair([]byte(certPEM), []byte(keyPEM))
	if err != nil {
		// tls's messages name the problem, never the key material.
		return nil, &connector.FieldError{Field: "auth.certificate", Err: errors.New("with auth.privateKey: " + keyPairProblem(err))}
	}
	ht = ht.Clone()
	if ht.TLSClientConfig == nil {
		ht.TLSClientConfig = &tls.Config{}
	}
	ht.TLSClientConfig.Certificates = []tls.Certificate{cert}
	return ht, nil
}

// hasPEMBlock reports whether s has a PEM block of a type that want
// accepts.
func hasPEMBlock(s string, want func(string) bool) bool {
	rest := []byte(s)
	for {
		var b *pem.Block
		if b, rest = pem.Decode(rest); b == nil {
			return false
		}
		if want(b.Type) {
			return true
		}
	}
}

// keyPairProblem returns tls.X509KeyPair's error message without its
// "tls: " prefix.
func keyPairProblem(err error) string {
	return strings.TrimPrefix(err.Error(), "tls: ")
}
