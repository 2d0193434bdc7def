package queue

import (
	"errors"
	"fmt"
	"testing"
	"time"
)

func TestPoison(t *testing.T) {
	base := errors.New("payload is not JSON")
	tests := []struct {
		name   string
		err    error
		poison bool
		base   bool
	}{
		{"plain", base, false, true},
		{"poison", Poison(base), true, true},
		{"wrapped poison", fmt.Errorf("inbound A1: %w", Poison(base)), true, true},
		{"sentinel", fmt.Errorf("inbound A1: %w", ErrPoison), true, false},
		{"nil", Poison(nil), true, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := errors.Is(tt.err, ErrPoison); got != tt.poison {
				t.Errorf("errors.Is(%v, ErrPoison) = %v, want %v", tt.err, got, tt.poison)
			}
			if got := errors.Is(tt.err, base); got != tt.base {
				t.Errorf("errors.Is(%v, base) = %v, want %v", tt.err, got, tt.base)
			}
		})
	}
	if got, want := Poison(base).Error(), "poison message: payload is not JSON"; got != want {
		t.Errorf("Error() = %q, want %q", got, want)
	}
}

func TestOptionsDelay(t *testing.T) {
	o := NewOptions(WithRetryDelay(100*time.Millisecond, time.Second))
	want := []time.Duration{100, 200, 400, 800, 1000, 1000}
	for i, w := range want {
		if got := o.Delay(i + 1); got != w*time.Millisecond {
			t.Errorf("Delay(%d) = %v, want %v", i+1, got, w*time.Millisecond)
		}
	}
	if got := o.Delay(1 << 20); got != time.Second {
		t.Errorf("Delay(huge) = %v, want 1s", got)
	}
}

func TestNewOptionsDefaults(t *testing.T) {
	o := NewOptions(WithPrefetch(-1), WithRetryDelay(2*time.Minute, time.Second))
	if o.Logger == nil || o.Prefetch != DefaultPrefetch || o.AckWait != DefaultAckWait {
		t.Errorf("defaults not filled: %+v", o)
	}
	if o.RetryDelay != 2*time.Minute || o.MaxRetryDelay != 2*time.Minute {
		t.Errorf("RetryDelay, MaxRetryDelay = %v, %v; want 2m, 2m", o.RetryDelay, o.MaxRetryDelay)
	}
	if d := NewOptions().Delay(1); d != DefaultRetryDelay {
		t.Errorf("default Delay(1) = %v", d)
	}
}
