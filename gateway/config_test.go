package gateway

import (
	"strings"
	"testing"
	"time"
)

func TestNewFillsDefaults(t *testing.T) {
	dir := t.TempDir()
	g, err := New(Config{DataDir: dir}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer g.Close()
	got := g.Config()
	if got.Addr != "127.0.0.1:8080" || got.ShutdownTimeout != 10*time.Second || got.MaxBody != DefaultMaxBody || got.RecordKeys["Appointment"] != "appointmentId" {
		t.Errorf("Config() = %+v", got)
	}
	if g.GeneratedToken() == "" {
		t.Error("no admin token generated")
	}
	g.Close()
	again, err := New(Config{DataDir: dir}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer again.Close()
	if again.GeneratedToken() != "" || !again.authorized(g.GeneratedToken()) {
		t.Error("the generated token is not kept across restarts")
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
			if tt.cfg.DataDir == "" {
				tt.cfg.DataDir = t.TempDir()
			}
			g, err := New(tt.cfg, nil)
			if err == nil {
				g.Close()
			}
			switch {
			case tt.want == "" && err != nil:
				t.Errorf("New = %v, want no error", err)
			case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)):
				t.Errorf("New = %v, want an error containing %q", err, tt.want)
			}
		})
	}
}
