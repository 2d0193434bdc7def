package connector

import (
	"encoding/base64"
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
// Sync.Verify's Secrets, Secret and Password; SOAP's Password and
// WSSecurity.Password; values, env:/file: references and sealed
// "enc:v1:" values alike) is RedactedSecret, and so are credentials
// written into the endpoint or token URL. Every API response shows a
// connector through Redacted; c itself is not modified.
func (c Config) Redacted() Config {
	c = c.clone()
	c.Endpoint = redactURL(c.Endpoint)
	if c.Auth != nil {
		c.Auth.TokenURL = redactURL(c.Auth.TokenURL)
	}
	for _, f := range c.secrets() {
		if *f.value != "" {
			*f.value = RedactedSecret
		}
	}
	return c
}

// secretField is one secret field of a Config.
type secretField struct {
	path  string  // as in FieldError.Field: "auth.clientSecret", "sync.verify.secrets[1]"
	value *string // the field
}

// secrets returns c's secret fields, in the order of Config's fields,
// pointing into c: the caller works on a clone when it changes them.
func (c *Config) secrets() []secretField {
	var out []secretField
	if a := c.Auth; a != nil {
		for _, f := range authFields {
			if f.secret {
				out = append(out, secretField{"auth." + f.name, f.field(a)})
			}
		}
	}
	if v := c.Sync.Verify; v != nil {
		for i := range v.Secrets {
			out = append(out, secretField{indexPath("sync.verify.secrets", i), &v.Secrets[i]})
		}
		out = append(out,
			secretField{"sync.verify.secret", &v.Secret},
			secretField{"sync.verify.password", &v.Password})
	}
	if s := c.SOAP; s != nil {
		out = append(out, secretField{"soap.password", &s.Password})
		if w := s.WSSecurity; w != nil {
			out = append(out, secretField{"soap.wsSecurity.password", &w.Password})
		}
	}
	return out
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
//
// SOAP's Password and WSSecurity.Password keep old's SOAP Password and
// WSSecurity.Password.
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
	if c.SOAP != nil {
		s := c.SOAP.clone()
		var was SOAPOptions
		if old.SOAP != nil {
			was = *old.SOAP
		}
		if s.Password == RedactedSecret {
			s.Password = was.Password
		}
		if w := s.WSSecurity; w != nil && w.Password == RedactedSecret {
			w.Password = ""
			if was.WSSecurity != nil {
				w.Password = was.WSSecurity.Password
			}
		}
		c.SOAP = &s
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
	if c.SOAP != nil {
		s := c.SOAP.clone()
		c.SOAP = &s
	}
	if c.GraphQL != nil {
		g := *c.GraphQL
		g.RetryCodes = slices.Clone(g.RetryCodes)
		c.GraphQL = &g
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
//   - a value sealed by EncryptSecrets ("enc:v1:…"): ErrSecretSealed,
//     since the ciphertext is not the secret (open the
//     configuration with DecryptSecrets first);
//   - anything else: ref itself, a literal value.
//
// A reference that resolves to an empty secret is an error wrapping
// ErrSecretEmpty. Errors name the variable or file, never the secret.
// ResolveSecret reads the environment and files afresh on each call, so
// that a rotated secret takes effect.
func ResolveSecret(ref string) (string, error) {
	if IsSealed(ref) {
		return "", ErrSecretSealed
	}
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

// SecretValues returns the connector's secret values as they go on the
// wire: literal values, env: and file: references resolved (those that
// resolve), and for basic auth the base64 of "username:password". The
// gateway scrubs them from whatever a connector answers, in case it echoes
// them back.
func (c Config) SecretValues() []string {
	var out []string
	cc := c.clone()
	for _, f := range cc.secrets() {
		v := *f.value
		if v == "" || v == RedactedSecret || IsSealed(v) {
			continue
		}
		if strings.HasPrefix(v, "env:") || strings.HasPrefix(v, "file:") {
			resolved, err := ResolveSecret(v)
			if err != nil {
				continue
			}
			v = resolved
		}
		out = append(out, v)
		if cc.Auth != nil && f.value == &cc.Auth.Password {
			out = append(out, base64.StdEncoding.EncodeToString([]byte(cc.Auth.Username+":"+v)))
		}
	}
	return out
}
