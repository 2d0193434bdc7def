package connector

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestResolveSecret(t *testing.T) {
	dir := t.TempDir()
	write := func(name, content string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	lf := write("lf", secretMarker+"\n")
	crlf := write("crlf", secretMarker+"\r\n")
	two := write("two", secretMarker+"\n\n")
	bare := write("bare", secretMarker)
	pem := write("pem", "-----BEGIN KEY-----\nabc\n-----END KEY-----\n")
	empty := write("empty", "\n")
	t.Setenv("LIAISON_TEST_SECRET", secretMarker)
	t.Setenv("LIAISON_TEST_EMPTY", "")

	tests := []struct {
		ref     string
		want    string
		is      error  // for an error
		errHas  string // for an error
		errNots string // never in the error
	}{
		{ref: "literal", want: "literal"},
		{ref: "", want: ""},
		{ref: "ENV:X", want: "ENV:X"}, // references are lower case
		{ref: "env:LIAISON_TEST_SECRET", want: secretMarker},
		{ref: "file:" + lf, want: secretMarker},
		{ref: "file:" + crlf, want: secretMarker},
		{ref: "file:" + two, want: secretMarker + "\n"},
		{ref: "file:" + bare, want: secretMarker},
		{ref: "file:" + pem, want: "-----BEGIN KEY-----\nabc\n-----END KEY-----"},
		{ref: "env:LIAISON_TEST_UNSET", is: ErrSecretNotSet, errHas: "env:LIAISON_TEST_UNSET"},
		{ref: "env:LIAISON_TEST_EMPTY", is: ErrSecretEmpty, errHas: "LIAISON_TEST_EMPTY"},
		{ref: "env:", errHas: "variable name"},
		{ref: "env:A B", errHas: "variable name"},
		{ref: "file:" + filepath.Join(dir, "missing"), is: fs.ErrNotExist, errHas: "missing"},
		{ref: "file:" + empty, is: ErrSecretEmpty, errHas: "empty"},
		{ref: "file:", errHas: "wants a path"},
		{ref: "file:" + dir, errHas: "is a directory"},
	}
	for _, tt := range tests {
		t.Run(tt.ref, func(t *testing.T) {
			got, err := ResolveSecret(tt.ref)
			if tt.is == nil && tt.errHas == "" {
				if err != nil || got != tt.want {
					t.Fatalf("ResolveSecret = %q, %v; want %q", got, err, tt.want)
				}
				return
			}
			if err == nil {
				t.Fatalf("ResolveSecret = %q, want an error", got)
			}
			if tt.is != nil && !errors.Is(err, tt.is) {
				t.Errorf("error %v does not wrap %v", err, tt.is)
			}
			if !strings.Contains(err.Error(), tt.errHas) {
				t.Errorf("error %q does not contain %q", err, tt.errHas)
			}
			if strings.Contains(err.Error(), secretMarker) {
				t.Errorf("error %q shows the secret", err)
			}
		})
	}
}
