package connector

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"
)

// SealedPrefix starts a secret sealed by EncryptSecrets:
// "enc:v1:" + base64(nonce || ciphertext), in standard padded base64,
// where the nonce is 12 random bytes and the ciphertext, AES-256-GCM's,
// ends in its 16-byte tag.
const SealedPrefix = "enc:v1:"

// SecretKeySize is the size of the key of EncryptSecrets and
// DecryptSecrets, in bytes: AES-256.
const SecretKeySize = 32

// MinPassphrase is the least number of characters of a passphrase that
// SecretKey takes.
const MinPassphrase = 16

// sealOverhead is what sealing adds to a secret: the nonce and the tag.
const sealOverhead = 12 + 16

// IsSealed reports whether s is a secret sealed by EncryptSecrets: it
// starts with SealedPrefix. A literal secret that starts so is taken for
// a sealed one, and cannot be used.
func IsSealed(s string) bool {
	return strings.HasPrefix(s, SealedPrefix)
}

// SecretKey returns the key of EncryptSecrets and DecryptSecrets that s,
// the text of LIAISON_SECRET_KEY, gives. Surrounding white space is
// ignored; then s is either
//
//   - the base64 (standard or URL alphabet, padded or not) of 32 bytes,
//     which are the key: the recommended form, made with
//     "openssl rand -base64 32"; or else
//   - a passphrase of at least MinPassphrase characters, whose SHA-256 is
//     the key.
//
// A passphrase is stretched by one SHA-256 only, without salt or
// iterations, so it must be long and random to resist guessing by
// someone who holds the sealed configurations. Any other s is an error
// wrapping ErrSecretKey; no error repeats s.
func SecretKey(s string) ([]byte, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return nil, fmt.Errorf("%w: empty; want the base64 of %d bytes, or a passphrase of at least %d characters", ErrSecretKey, SecretKeySize, MinPassphrase)
	}
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
		if k, err := enc.DecodeString(s); err == nil && len(k) == SecretKeySize {
			return k, nil
		}
	}
	if !utf8.ValidString(s) || utf8.RuneCountInString(s) < MinPassphrase {
		return nil, fmt.Errorf("%w: neither the base64 of %d bytes nor a passphrase of at least %d characters", ErrSecretKey, SecretKeySize, MinPassphrase)
	}
	k := sha256.Sum256([]byte(s))
	return k[:], nil
}

// EncryptSecrets returns c with every secret field (see Redacted) that
// holds a literal value sealed with key, a SecretKeySize-byte AES-256-GCM
// key (see SecretKey), as SealedPrefix followed by the base64 of a fresh
// random 12-byte nonce and the ciphertext. Empty fields, "env:" and
// "file:" references, RedactedSecret and values sealed already are left
// as they are, so that sealing twice is sealing once. c itself is not
// modified.
//
// The gateway seals a connector before it stores it, and opens it with
// DecryptSecrets when it loads it. A sealed Config passes Validate and
// shows as "***" through Redacted, but ResolveSecret refuses its sealed
// values.
//
// Errors are an ErrSecretKey for a key of the wrong size, and a
// *FieldError naming the field of a malformed sealed value; no error
// holds a secret.
func (c Config) EncryptSecrets(key []byte) (Config, error) {
	aead, err := newAEAD(key)
	if err != nil {
		return Config{}, err
	}
	c = c.clone()
	var errs []error
	for _, f := range c.secrets() {
		v := *f.value
		switch {
		case v == "" || v == RedactedSecret || isReference(v):
		case IsSealed(v):
			if err := checkSealed(v); err != nil {
				errs = append(errs, &FieldError{Field: f.path, Err: err})
			}
		default:
			*f.value = SealedPrefix + base64.StdEncoding.EncodeToString(aead.Seal(nil, nil, []byte(v), nil))
		}
	}
	if err := joinErrors(errs); err != nil {
		return Config{}, err
	}
	return c, nil
}

// DecryptSecrets returns c with every sealed secret field (see
// EncryptSecrets) opened with key; the other fields are left as they
// are. c itself is not modified.
//
// A sealed value that key does not open, because it was sealed with
// another key or is damaged, is a *FieldError naming the field and
// wrapping ErrSecretDecrypt; every such field is reported, joined with
// errors.Join. A key of the wrong size is an error wrapping ErrSecretKey.
// No error holds a secret or a sealed value.
func (c Config) DecryptSecrets(key []byte) (Config, error) {
	aead, err := newAEAD(key)
	if err != nil {
		return Config{}, err
	}
	c = c.clone()
	var errs []error
	for _, f := range c.secrets() {
		if !IsSealed(*f.value) {
			continue
		}
		sealed, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(*f.value, SealedPrefix))
		var plain []byte
		if err == nil && len(sealed) > sealOverhead {
			plain, err = aead.Open(nil, nil, sealed, nil)
		}
		if err != nil || len(plain) == 0 {
			errs = append(errs, &FieldError{Field: f.path, Err: ErrSecretDecrypt})
			continue
		}
		*f.value = string(plain)
	}
	if err := joinErrors(errs); err != nil {
		return Config{}, err
	}
	return c, nil
}

// newAEAD returns AES-256-GCM with key, drawing a random 12-byte nonce
// for each Seal and putting it before the ciphertext.
func newAEAD(key []byte) (cipher.AEAD, error) {
	if len(key) != SecretKeySize {
		return nil, fmt.Errorf("%w: want %d bytes, got %d", ErrSecretKey, SecretKeySize, len(key))
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrSecretKey, err)
	}
	return cipher.NewGCMWithRandomNonce(block)
}

// checkSealed checks the form of a sealed value, without a key. The
// error does not repeat it.
func checkSealed(v string) error {
	b, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(v, SealedPrefix))
	if err != nil || len(b) <= sealOverhead || strings.ContainsAny(v, "\r\n") {
		return errors.New("not a sealed secret: want " + SealedPrefix + " followed by the base64 of nonce and ciphertext, as the gateway writes it; send the secret itself")
	}
	return nil
}
