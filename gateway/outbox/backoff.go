package outbox

import (
	"math/rand/v2"
	"time"
)

// Policy is how the outbox delivers to one connector.
type Policy struct {
	MaxAge         time.Duration // retried until the message is this old, then dead; default 72h
	InitialBackoff time.Duration // the first retry's ceiling; default 1s
	MaxBackoff     time.Duration // no retry waits longer, Retry-After aside; default 10m
	Timeout        time.Duration // bounds one attempt; default 30s
	Concurrency    int           // records delivered at once; default 8
	// BreakerCooldown is how long the circuit breaker stays open the first
	// time; it doubles with every failed probe, up to 5m or MaxBackoff,
	// whichever is shorter. Default 5s, or MaxBackoff when that is shorter.
	BreakerCooldown time.Duration
}

// WithDefaults returns the policy with every zero field set to its default.
func (p Policy) WithDefaults() Policy {
	if p.MaxAge <= 0 {
		p.MaxAge = 72 * time.Hour
	}
	if p.InitialBackoff <= 0 {
		p.InitialBackoff = time.Second
	}
	if p.MaxBackoff <= 0 {
		p.MaxBackoff = 10 * time.Minute
	}
	if p.MaxBackoff < p.InitialBackoff {
		p.MaxBackoff = p.InitialBackoff
	}
	if p.Timeout <= 0 {
		p.Timeout = 30 * time.Second
	}
	if p.Concurrency <= 0 {
		p.Concurrency = 8
	}
	if p.BreakerCooldown <= 0 {
		// The breaker never holds a message back longer than its own
		// backoff would.
		p.BreakerCooldown = min(breakerCooldown, p.MaxBackoff)
	}
	return p
}

// Backoff is the wait before retry n (1 for the first retry): capped
// exponential backoff with full jitter, a uniform draw between zero and
// min(MaxBackoff, InitialBackoff·2ⁿ⁻¹), so that many failed messages do not
// come back at the same instant. A server's Retry-After is a floor.
func (p Policy) Backoff(n int, retryAfter time.Duration) time.Duration {
	ceiling := p.MaxBackoff
	if n < 40 {
		if c := p.InitialBackoff << (n - 1); c > 0 && c < ceiling {
			ceiling = c
		}
	}
	wait := time.Duration(rand.Int64N(int64(ceiling) + 1))
	if retryAfter > wait {
		wait = min(retryAfter, p.MaxAge)
	}
	return wait
}
