package auth

import (
	"errors"
	"net/http"
	"net/url"
	"strings"

	"github.com/liaisonhq/liaison/gateway/connector"
)

// apiKey returns the setter of the apikey scheme: the key in the query
// parameter a.Query when it is set, otherwise in the header a.Header
// (default connector.DefaultAPIKeyHeader).
func apiKey(a *connector.Auth) (func(*http.Request), error) {
	key, err := secret("key", a.Key)
	if err != nil {
		return nil, err
	}
	if a.Query != "" {
		if a.Header != "" {
			return nil, &connector.FieldError{Field: "auth.query", Err: errors.New("give either header or query, not both")}
		}
		name := a.Query
		return func(r *http.Request) { setQuery(r.URL, name, key) }, nil
	}
	name := a.Header
	if name == "" {
		name = connector.DefaultAPIKeyHeader
	}
	if !validHeaderName(name) {
		return nil, &connector.FieldError{Field: "auth.header", Err: errors.New("not a valid HTTP header name")}
	}
	if err := headerSafe("key", key); err != nil {
		return nil, err
	}
	return func(r *http.Request) { r.Header.Set(name, key) }, nil
}

// setQuery sets the query parameter name of u to value. It appends it to
// the raw query, keeping the order and encoding of the other parameters,
// unless u has the parameter already.
func setQuery(u *url.URL, name, value string) {
	q := u.Query()
	if q.Has(name) {
		q.Set(name, value)
		u.RawQuery = q.Encode()
		return
	}
	p := url.QueryEscape(name) + "=" + url.QueryEscape(value)
	if u.RawQuery == "" {
		u.RawQuery = p
	} else {
		u.RawQuery += "&" + p
	}
}

// validHeaderName reports whether s is an HTTP field name (an RFC 9110
// token).
func validHeaderName(s string) bool {
	for _, r := range s {
		if !('a' <= r && r <= 'z' || 'A' <= r && r <= 'Z' || '0' <= r && r <= '9' || strings.ContainsRune("!#$%&'*+-.^_`|~", r)) {
			return false
		}
	}
	return s != ""
}

// basic returns the setter of the basic scheme.
func basic(a *connector.Auth) (func(*http.Request), error) {
	if a.Username == "" {
		return nil, &connector.FieldError{Field: "auth.username", Err: connector.ErrRequired}
	}
	if strings.Contains(a.Username, ":") {
		return nil, &connector.FieldError{Field: "auth.username", Err: errors.New("contains ':', which basic auth does not allow in a user name")}
	}
	if err := headerSafe("username", a.Username); err != nil {
		return nil, err
	}
	user := a.Username
	password, err := secret("password", a.Password)
	if err != nil {
		return nil, err
	}
	return func(r *http.Request) { r.SetBasicAuth(user, password) }, nil
}

// bearer returns the setter of the bearer scheme.
func bearer(a *connector.Auth) (func(*http.Request), error) {
	token, err := secret("token", a.Token)
	if err != nil {
		return nil, err
	}
	if err := headerSafe("token", token); err != nil {
		return nil, err
	}
	h := "Bearer " + token
	return func(r *http.Request) { r.Header.Set("Authorization", h) }, nil
}
