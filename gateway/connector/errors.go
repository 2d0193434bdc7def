package connector

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
)

var (
	// ErrUnknownField is wrapped by the *FieldError for a field that a
	// connector configuration does not have: a typo, or a field of another
	// version. The sender renames or removes the field; the message
	// suggests a known field when one is close.
	ErrUnknownField = errors.New("unknown field")

	// ErrDuplicateField is wrapped by the *FieldError for a field given
	// twice in one object. The sender keeps one of them.
	ErrDuplicateField = errors.New("duplicate field")

	// ErrRequired is wrapped by the *FieldError for a required field that
	// is missing or empty. The sender adds it.
	ErrRequired = errors.New("required")

	// ErrSecretNotSet is returned, wrapped, by ResolveSecret for an
	// "env:NAME" reference to a variable that is not set. The operator sets
	// the variable, or changes the reference.
	ErrSecretNotSet = errors.New("environment variable not set")

	// ErrSecretEmpty is returned, wrapped, by ResolveSecret when a
	// reference resolves to an empty secret: an empty variable or file.
	ErrSecretEmpty = errors.New("secret is empty")

	// ErrSecretSealed is returned by ResolveSecret for a secret
	// sealed by EncryptSecrets ("enc:v1:…"): it is ciphertext, not the
	// secret. The caller opens the configuration with DecryptSecrets
	// before it uses its secrets.
	ErrSecretSealed = errors.New("secret is sealed (enc:v1:); decrypt the configuration with the secret key first")

	// ErrSecretKey is returned, wrapped, by SecretKey, EncryptSecrets and
	// DecryptSecrets for an unusable key: not 32 bytes, or
	// LIAISON_SECRET_KEY neither the base64 of 32 bytes nor a long enough
	// passphrase. The operator sets a proper key.
	ErrSecretKey = errors.New("invalid secret key")

	// ErrSecretDecrypt is wrapped by the *FieldError that DecryptSecrets
	// returns for a sealed secret it cannot open: it was sealed with
	// another key, or the value is damaged. The operator restores the key
	// the configuration was sealed with, or sends the secret again.
	ErrSecretDecrypt = errors.New("cannot decrypt the sealed secret: wrong secret key, or a damaged value")
)

// FieldError is a problem with one field of a connector configuration, as
// Parse, Validate and LoadFile report it. Several are joined with
// errors.Join. The message never contains a secret's value.
type FieldError struct {
	// Field is where the problem is, as a JSON-path-like name:
	// "endpoint", "auth.scheme", "resources[1]",
	// "mapping.outbound.Appointment", `mapping["hms.name"]`; in a config
	// file "connectors[2].auth.scheme". Empty for the input as a whole,
	// such as a JSON syntax error.
	Field string
	Err   error // what is wrong

	// File, Line and Col locate the problem in a config file (LoadFile);
	// Line and Col are 1-based, and zero when unknown. File is empty for a
	// registration body.
	File      string
	Line, Col int
}

// Error returns "file:line:col: field: message", leaving out the parts
// that are empty or zero.
func (e *FieldError) Error() string {
	var b strings.Builder
	if e.File != "" {
		b.WriteString(e.File)
		if e.Line > 0 {
			b.WriteString(":" + strconv.Itoa(e.Line))
			if e.Col > 0 {
				b.WriteString(":" + strconv.Itoa(e.Col))
			}
		}
		b.WriteString(": ")
	}
	if e.Field != "" {
		b.WriteString(e.Field + ": ")
	}
	if e.Err != nil {
		b.WriteString(e.Err.Error())
	} else {
		b.WriteString("invalid")
	}
	return b.String()
}

// Unwrap returns e.Err.
func (e *FieldError) Unwrap() error { return e.Err }

// maxErrors bounds the problems reported at once: a large body of junk
// gets a readable answer.
const maxErrors = 100

// joinErrors joins at most maxErrors of errs, then a *FieldError that
// counts the rest; nil when errs is empty.
func joinErrors(errs []error) error {
	return errors.Join(capErrors(errs)...)
}

// capErrors returns the first maxErrors of errs, then a *FieldError that
// counts the rest.
func capErrors(errs []error) []error {
	if n := len(errs) - maxErrors; n > 0 {
		return append(errs[:maxErrors:maxErrors], &FieldError{Err: fmt.Errorf("and %d more problems", n)})
	}
	return errs
}

// fieldPath returns the path of member key of the object at path: "a.key",
// or `a["odd key"]` when key is not a plain name.
func fieldPath(path, key string) string {
	if !plainName(key) {
		return path + "[" + strconv.Quote(key) + "]"
	}
	if path == "" {
		return key
	}
	return path + "." + key
}

// indexPath returns the path of item i of the array at path: "a[i]".
func indexPath(path string, i int) string {
	return path + "[" + strconv.Itoa(i) + "]"
}

// parentPath returns the path of the object or array that holds path, ""
// at the top.
func parentPath(path string) string {
	if strings.HasSuffix(path, "]") {
		if i := strings.LastIndexByte(path, '['); i >= 0 {
			return path[:i]
		}
	}
	if i := strings.LastIndexByte(path, '.'); i >= 0 {
		return path[:i]
	}
	return ""
}

// plainName reports whether s is a letter or underscore followed by
// letters, digits, '_' and '-': a name that a path shows without quotes.
func plainName(s string) bool {
	if s == "" {
		return false
	}
	for i, r := range s {
		switch {
		case 'a' <= r && r <= 'z', 'A' <= r && r <= 'Z', r == '_':
		case i > 0 && ('0' <= r && r <= '9' || r == '-'):
		default:
			return false
		}
	}
	return true
}

// quote returns s quoted for an error message, cut to 40 characters.
// Only for values that are not secret.
func quote(s string) string {
	const limit = 40
	if r := []rune(s); len(r) > limit {
		return strconv.Quote(string(r[:limit])) + "…"
	}
	return strconv.Quote(s)
}
