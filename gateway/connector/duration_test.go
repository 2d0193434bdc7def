package connector

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"
)

func TestDurationString(t *testing.T) {
	tests := []struct {
		d    time.Duration
		want string
	}{
		{0, "0s"},
		{30 * time.Second, "30s"},
		{10 * time.Minute, "10m"},
		{72 * time.Hour, "72h"},
		{90 * time.Minute, "1h30m"},
		{time.Hour + 30*time.Second, "1h0m30s"},
		{1500 * time.Millisecond, "1.5s"},
		{-time.Hour, "-1h"},
		{time.Nanosecond, "1ns"},
	}
	for _, tt := range tests {
		if got := Duration(tt.d).String(); got != tt.want {
			t.Errorf("Duration(%v).String() = %q, want %q", tt.d, got, tt.want)
		}
		if back, err := time.ParseDuration(tt.want); err != nil || back != tt.d {
			t.Errorf("ParseDuration(%q) = %v, %v; want %v", tt.want, back, err, tt.d)
		}
	}
}

func TestDurationJSON(t *testing.T) {
	tests := []struct {
		in      string
		want    time.Duration
		wantErr bool
	}{
		{in: `"30s"`, want: 30 * time.Second},
		{in: `"72h"`, want: 72 * time.Hour},
		{in: `"1h30m"`, want: 90 * time.Minute},
		{in: `30`, want: 30 * time.Second},
		{in: `0.25`, want: 250 * time.Millisecond},
		{in: `1e-9`, want: time.Nanosecond},
		{in: `-5`, want: -5 * time.Second},
		{in: `null`, want: 7}, // unchanged
		{in: `"30"`, wantErr: true},
		{in: `"soon"`, wantErr: true},
		{in: `""`, wantErr: true},
		{in: `true`, wantErr: true},
		{in: `1e300`, wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			d := Duration(7)
			err := json.Unmarshal([]byte(tt.in), &d)
			if tt.wantErr {
				if err == nil {
					t.Fatalf("Unmarshal = %v, want an error", time.Duration(d))
				}
				return
			}
			if err != nil || time.Duration(d) != tt.want {
				t.Fatalf("Unmarshal = %v, %v; want %v", time.Duration(d), err, tt.want)
			}
		})
	}

	b, err := json.Marshal(Delivery{MaxAge: Duration(72 * time.Hour), Timeout: Duration(1500 * time.Millisecond)})
	if err != nil {
		t.Fatal(err)
	}
	if want := `{"maxAge":"72h","timeout":"1.5s"}`; string(b) != want {
		t.Errorf("Marshal = %s, want %s", b, want)
	}
}

func TestDurationYAML(t *testing.T) {
	tests := []struct {
		in      string
		want    time.Duration
		wantErr string
	}{
		{in: `d: 30s`, want: 30 * time.Second},
		{in: `d: "10m"`, want: 10 * time.Minute},
		{in: `d: 45`, want: 45 * time.Second},
		{in: `d: 0x10`, want: 16 * time.Second},
		{in: `d: 1.5`, want: 1500 * time.Millisecond},
		{in: `d: ~`, want: 0},
		{in: `d: soon`, wantErr: "line 1"},
		{in: `d: [1]`, wantErr: "line 1"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			var v struct{ D Duration }
			err := yaml.Unmarshal([]byte(tt.in), &v)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("Unmarshal error = %v, want one containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil || time.Duration(v.D) != tt.want {
				t.Fatalf("Unmarshal = %v, %v; want %v", time.Duration(v.D), err, tt.want)
			}
		})
	}

	b, err := yaml.Marshal(Delivery{MaxAge: Duration(72 * time.Hour), Concurrency: 4})
	if err != nil {
		t.Fatal(err)
	}
	if want := "maxAge: 72h\nconcurrency: 4\n"; string(b) != want {
		t.Errorf("Marshal = %q, want %q", b, want)
	}
}
