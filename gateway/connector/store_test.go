package connector

import (
	"slices"
	"strings"
	"testing"
)

func TestFileStore(t *testing.T) {
	f, err := ParseFile("liaison.yaml", []byte(`
store:
  url: nats://nats-1:4222, nats://nats-2:4222,nats://nats-3:4222
  replicas: 3
  partitions: 32
  user: liaison
  password: env:NATS_PASSWORD
`))
	if err != nil {
		t.Fatal(err)
	}
	s := f.Store
	if !s.NATS() || s.Replicas != 3 || s.Partitions != 32 || s.User != "liaison" || s.Password != "env:NATS_PASSWORD" {
		t.Fatalf("store = %+v", s)
	}
	if want := []string{"nats://nats-1:4222", "nats://nats-2:4222", "nats://nats-3:4222"}; !slices.Equal(s.URLs(), want) {
		t.Errorf("urls = %q", s.URLs())
	}
	if s.String() != "nats nats://nats-1:4222, nats://nats-2:4222,nats://nats-3:4222 (replicas 3)" {
		t.Errorf("String() = %q", s)
	}
	if f, err := ParseFile("liaison.yaml", []byte("connectors: []\n")); err != nil || f.Store.NATS() || f.Store.String() != "bbolt" {
		t.Errorf("no store section: %+v, %v", f.Store, err)
	}
}

func TestFileStoreErrors(t *testing.T) {
	for _, tc := range []struct {
		name, yaml string
		want       []string // file:line:col: field: …
	}{
		{"scheme", "store:\n  url: http://nats:4222\n", []string{"liaison.yaml:2:8: store.url: want nats://"}},
		{"credentials in the URL", "store:\n  url: nats://liaison:hunter2@nats:4222\n", []string{"store.url: credentials do not go in the URL"}},
		{"replicas", "store:\n  url: nats://nats:4222\n  replicas: 2\n", []string{"liaison.yaml:3:13: store.replicas: want 1, 3 or 5"}},
		{"partitions", "store:\n  url: nats://nats:4222\n  partitions: 5000\n", []string{"store.partitions: want 1 to 1024"}},
		{"two auths", "store:\n  url: nats://nats:4222\n  token: hunter2\n  creds: /x.creds\n", []string{"store: one of creds"}},
		{"password alone", "store:\n  url: nats://nats:4222\n  password: hunter2\n", []string{"store.password: user and password go together"}},
		{"settings without a url", "store:\n  replicas: 3\n", []string{"store.url: required"}},
		{"unknown field", "store:\n  url: nats://nats:4222\n  replica: 3\n", []string{"store.replica"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ParseFile("liaison.yaml", []byte(tc.yaml))
			if err == nil {
				t.Fatal("accepted")
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q lacks %q", err, w)
				}
			}
			if strings.Contains(err.Error(), "hunter2") {
				t.Errorf("error shows a secret: %q", err)
			}
		})
	}
}
