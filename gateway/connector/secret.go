package connector

import (
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"net/url"
	"os"
	"slices"
	"strings"
)

// RedactedSecret is what Redacted puts in place of a secret, and what
// KeepSecrets reads as "keep the secret you have".
const RedactedSecret = "***"

// Redacted returns a deep copy of c for showing: every non-empty secret
// field (Auth's ClientSecret, Password, Token, Key, Secret and PrivateKey;
// Sync.Verify's Secrets, Secret and Password; values and env:/file:
// references alike) is RedactedSecret, and so are credentials written
// into the endpoint or token URL. Every API response shows a connector
// through Redacted; c itself is not modified.
func (c Config) Redacted() Config {
	c = c.clone()
	c.Endpoint = redactURL(c.Endpoint)
	if c.Auth != nil {
		for _, f := range authFields {
			if p := f.field(c.Auth); f.secret && *p != "" {
				*p = RedactedSecret
			}
		}
		c.Auth.TokenURL = redactURL(c.Auth.TokenURL)
	}
	if v := c.Sync.Verify; v != nil {
		for _, p := range v.secretFields() {
			if *p != "" {
				*p = RedactedSecret
			}
		}
	}
	return c
}

// secretFields returns pointers to v's secret fields: each of Secrets,
// then Secret and Password.
func (v *Verify) secretFields() []*string {
	out := make([]*string, 0, len(v.Secrets)+2)
	for i := range v.Secrets {
		out = append(out, &v.Secrets[i])
	}
	return append(out, &v.Secret, &v.Password)
}

// redactURL returns raw with any user information replaced by
// RedactedSecret, or RedactedSecret when raw is not a URL but might hold
// one.
func redactURL(raw string) string {
	if !strings.Contains(raw, "@") {
		return raw
	}
	u, err := url.Parse(raw)
	if err != nil {
		return RedactedSecret
	}
	if u.User != nil {
		u.User = url.User(RedactedSecret)
	}
	return u.String()
}

// KeepSecrets returns c for an update (PUT) of the connector old: every
// secret field of c that is RedactedSecret, as a client sends back what
// it was shown, takes old's value (empty when old has none). Other fields
// are c's. Neither c nor old is modified.
//
// Sync.Verify's secrets are matched against old's webhook secrets
// (old.WebhookVerify, so the seed form's Auth.Secret counts) by position:
// secrets[i] = "***" keeps old's secrets[i] (or its single secret, for
// i = 0), and secret = "***" keeps old's secret (or its first of
// secrets). So a rotation sends back ["***", "whsec_new"] to keep the
// current secret and add a new one.
func (c Config) KeepSecrets(old Config) Config {
	if c.Auth != nil {
		a := *c.Auth
		for _, f := range authFields {
			if p := f.field(&a); f.secret && *p == RedactedSecret {
				*p = ""
				if old.Auth != nil {
					*p = *f.field(old.Auth)
				}
			}
		}
		c.Auth = &a
	}
	if c.Sync.Verify != nil {
		v := c.Sync.Verify.clone()
		// was are old's secrets by position, first is its first.
		var was []string
		var first, password string
		if ov := old.WebhookVerify(); ov != nil {
			was, first, password = ov.Secrets, ov.Secret, ov.Password
			if len(was) == 0 && first != "" {
				was = []string{first}
			}
			if first == "" && len(was) > 0 {
				first = was[0]
			}
		}
		if v.Secret == RedactedSecret {
			v.Secret = first
		}
		for i, s := range v.Secrets {
			if s == RedactedSecret {
				v.Secrets[i] = ""
				if i < len(was) {
					v.Secrets[i] = was[i]
				}
			}
		}
		if v.Password == RedactedSecret {
			v.Password = password
		}
		c.Sync.Verify = &v
	}
	return c
}

// clone returns a copy of c that shares no memory with it.
func (c Config) clone() Config {
	if c.Auth != nil {
		a := *c.Auth
		a.Scopes = slices.Clone(a.Scopes)
		c.Auth = &a
	}
	if c.Sync.Verify != nil {
		v := c.Sync.Verify.clone()
		c.Sync.Verify = &v
	}
	c.Resources = slices.Clone(c.Resources)
	c.Mapping = Mapping{
		Inbound:  maps.Clone(c.Mapping.Inbound),
		Outbound: maps.Clone(c.Mapping.Outbound),
		Rename:   maps.Clone(c.Mapping.Rename),
	}
	return c
}

// ResolveSecret returns the secret that ref stands for:
//
//   - "env:NAME": the environment variable NAME; an error wrapping
//     ErrSecretNotSet when it is not set;
//   - "file:PATH": the file's content without one trailing newline
//     ("\n" or "\r\n"); a relative PATH is relative to the working
//     directory;
//   - anything else: ref itself, a literal value.
//
// A reference that resolves to an empty secret is an error wrapping
// ErrSecretEmpty. Errors name the variable or file, never the secret.
// ResolveSecret reads the environment and files afresh on each call, so
// that a rotated secret takes effect.
func ResolveSecret(ref string) (string, error) {
	if name, ok := strings.CutPrefix(ref, "env:"); ok {
		if !envName(name) {
			return "", errors.New("secret reference: env: wants a variable name of letters, digits and '_'")
		}
		v, ok := os.LookupEnv(name)
		if !ok {
			return "", fmt.Errorf("secret reference env:%s: %w", name, ErrSecretNotSet)
		}
		if v == "" {
			return "", fmt.Errorf("secret reference env:%s: %w", name, ErrSecretEmpty)
		}
		return v, nil
	}
	if path, ok := strings.CutPrefix(ref, "file:"); ok {
		if path == "" {
			return "", errors.New("secret reference: file: wants a path")
		}
		b, err := os.ReadFile(path)
		if err != nil {
			var pe *fs.PathError
			if errors.As(err, &pe) {
				err = pe.Err // the path is in the message already
			}
			return "", fmt.Errorf("secret reference file:%s: %w", path, err)
		}
		v := string(b)
		if t, ok := strings.CutSuffix(v, "\n"); ok {
			v = strings.TrimSuffix(t, "\r")
		}
		if v == "" {
			return "", fmt.Errorf("secret reference file:%s: %w", path, ErrSecretEmpty)
		}
		return v, nil
	}
	return ref, nil
}
