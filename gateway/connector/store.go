package connector

import (
	"fmt"
	"net/url"
	"strings"
)

// Store is where the gateway keeps its state: bbolt in its data folder
// (URL empty, the default), or a NATS JetStream cluster shared by several
// gateways. The config file's store section:
//
//	store:
//	  url: nats://nats-1:4222,nats://nats-2:4222,nats://nats-3:4222
//	  replicas: 3            # 1, 3 or 5; default 1
//	  partitions: 16         # per connector; default 16, fixed once chosen
//	  creds: /etc/liaison/nats.creds
//	  # or: user: liaison, password: env:NATS_PASSWORD; or token: env:NATS_TOKEN
//
// Password and Token are secrets: a value or an env:/file: reference.
type Store struct {
	URL        string `json:"url,omitempty" yaml:"url,omitempty"`
	Replicas   int    `json:"replicas,omitempty" yaml:"replicas,omitempty"`
	Partitions int    `json:"partitions,omitempty" yaml:"partitions,omitempty"`
	Creds      string `json:"creds,omitempty" yaml:"creds,omitempty"` // a NATS credentials file
	User       string `json:"user,omitempty" yaml:"user,omitempty"`
	Password   string `json:"password,omitempty" yaml:"password,omitempty"` // secret
	Token      string `json:"token,omitempty" yaml:"token,omitempty"`       // secret
}

// NATS reports whether the store is a NATS JetStream cluster.
func (s Store) NATS() bool { return s.URL != "" }

// URLs splits URL at its commas.
func (s Store) URLs() []string {
	var out []string
	for u := range strings.SplitSeq(s.URL, ",") {
		if u = strings.TrimSpace(u); u != "" {
			out = append(out, u)
		}
	}
	return out
}

// Validate checks the store section; every problem is a *FieldError
// under "store". No message holds a secret.
func (s Store) Validate() error {
	var p problems
	p.store(s)
	return joinErrors(p)
}

func (p *problems) store(s Store) {
	if s.URL == "" {
		if s.Replicas != 0 || s.Partitions != 0 || s.Creds != "" || s.User != "" || s.Password != "" || s.Token != "" {
			p.addf("store.url", "required with the other store settings: nats://host:4222")
		}
		return
	}
	for _, raw := range s.URLs() {
		u, err := url.Parse(raw)
		if err != nil || (u.Scheme != "nats" && u.Scheme != "tls") || u.Host == "" {
			p.addf("store.url", "want nats://host:port or tls://host:port, comma-separated; got %s", quote(redactedURL(raw)))
			continue
		}
		if u.User != nil {
			p.addf("store.url", "credentials do not go in the URL: use store.user and store.password, store.token or store.creds")
		}
	}
	switch s.Replicas {
	case 0, 1, 3, 5:
	default:
		p.addf("store.replicas", "want 1, 3 or 5; got %d", s.Replicas)
	}
	if s.Partitions < 0 || s.Partitions > 1024 {
		p.addf("store.partitions", "want 1 to 1024; got %d", s.Partitions)
	}
	auths := 0
	for _, set := range []bool{s.Creds != "", s.User != "" || s.Password != "", s.Token != ""} {
		if set {
			auths++
		}
	}
	if auths > 1 {
		p.addf("store", "one of creds, user and password, or token")
	}
	if (s.User == "") != (s.Password == "") {
		p.addf("store.password", "user and password go together")
	}
	if s.Password != "" {
		p.secretValue("store.password", s.Password, "store")
	}
	if s.Token != "" {
		p.secretValue("store.token", s.Token, "store")
	}
}

// redactedURL drops what could be a secret from a URL for a message.
func redactedURL(raw string) string {
	if i := strings.LastIndex(raw, "@"); i >= 0 {
		return "…@" + raw[i+1:]
	}
	return raw
}

// String describes the store for logs, without secrets.
func (s Store) String() string {
	if !s.NATS() {
		return "bbolt"
	}
	return fmt.Sprintf("nats %s (replicas %d)", redactedURL(s.URL), max(s.Replicas, 1))
}

func (d *decoder) store(path string, n *node) Store {
	var s Store
	d.object(path, n, fields{
		"url":        func(p string, v *node) { s.URL = d.str(p, v) },
		"replicas":   func(p string, v *node) { s.Replicas = d.integer(p, v) },
		"partitions": func(p string, v *node) { s.Partitions = d.integer(p, v) },
		"creds":      func(p string, v *node) { s.Creds = d.str(p, v) },
		"user":       func(p string, v *node) { s.User = d.str(p, v) },
		"password":   func(p string, v *node) { s.Password = d.str(p, v) },
		"token":      func(p string, v *node) { s.Token = d.str(p, v) },
	})
	return s
}
