package gateway

import (
	"strings"
	"testing"
	"time"
)

func TestNewFillsDefaults(t *testing.T) {
	g, err := New(Config{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	want := Config{Addr: "127.0.0.1:8080", DataDir: "./liaison-data", ShutdownTimeout: 10 * time.Second}
	if got := g.Config(); got != want {
		t.Errorf("Config() = %+v, want %+v", got, want)
	}
}

func TestConfigValidate(t *testing.T) {
	tests := []struct {
		name string
		cfg  Config
		want string // part of the error, "" for none
	}{
		{"defaults", Config{}, ""},
		{"any port", Config{Addr: ":0"}, ""},
		{"no port", Config{Addr: "localhost"}, "want host:port"},
		{"empty port", Config{Addr: "localhost:"}, "missing port"},
		{"negative timeout", Config{ShutdownTimeout: -time.Second}, "negative"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := New(tt.cfg, nil)
			switch {
			case tt.want == "" && err != nil:
				t.Errorf("New = %v, want no error", err)
			case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)):
				t.Errorf("New = %v, want an error containing %q", err, tt.want)
			}
		})
	}
}
