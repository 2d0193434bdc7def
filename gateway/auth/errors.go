package auth

import (
	"errors"
	"fmt"
	"net/http"
	"strings"
)

var (
	// ErrUnknownScheme is wrapped by the *connector.FieldError NewClient
	// returns for an auth scheme it does not implement. The operator fixes
	// the connector's auth.scheme.
	ErrUnknownScheme = errors.New("unknown auth scheme")

	// ErrDiscovery is wrapped by the error of a token request when the
	// token endpoint could not be discovered from the FHIR server's
	// .well-known/smart-configuration. The request may be retried later
	// (discovery is tried again); if it keeps failing, the operator gives
	// auth.tokenUrl.
	ErrDiscovery = errors.New("smart configuration discovery")

	// ErrTokenResponse is wrapped by the error of a token request when the
	// token endpoint answered 2xx with something that is not an RFC 6749
	// token response (not JSON or a form, or no access_token). It may be
	// retried; a persistent one is a wrong token URL.
	ErrTokenResponse = errors.New("not an OAuth2 token response")
)

// TokenError is a token endpoint's refusal to issue a token: an answer
// other than 2xx, or an RFC 6749 §5.2 error response. It is returned by
// Prefetch and, wrapped in the *url.Error of http.Client.Do, by requests
// that needed a token.
//
// Code tells what to do: "invalid_client", "unauthorized_client" and
// "invalid_scope" are configuration problems for the operator; a 5xx or
// 429 without a code is worth retrying. The endpoint's error_description
// and body are left out, since servers echo what they were sent.
type TokenError struct {
	Scheme     string // connector.SchemeOAuth2 or connector.SchemeSMART
	StatusCode int    // the HTTP status of the token endpoint's answer
	// Code is the RFC 6749 §5.2 error code, such as "invalid_client"; empty
	// when the answer had none or it was not a well-formed code.
	Code string
}

// Error returns "oauth2 token endpoint answered 401 Unauthorized:
// invalid_client".
func (e *TokenError) Error() string {
	s := fmt.Sprintf("%s token endpoint answered %d %s", e.Scheme, e.StatusCode, http.StatusText(e.StatusCode))
	s = strings.TrimSpace(s)
	if e.Code != "" {
		s += ": " + e.Code
	}
	return s
}

// errorCode returns code when it is a well-formed RFC 6749 error code of
// at most 64 characters (%x20-21 / %x23-5B / %x5D-7E, and in practice no
// spaces), "" otherwise: the code is the one part of a token endpoint's
// error answer an error message repeats.
func errorCode(code string) string {
	if len(code) > 64 {
		return ""
	}
	for _, r := range code {
		if r <= 0x20 || r > 0x7e || r == '"' || r == '\\' {
			return ""
		}
	}
	return code
}
