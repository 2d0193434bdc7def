package jetstream

import (
	"math/rand/v2"
	"time"

	"github.com/liaisonhq/liaison/gateway/outbox"
)

// policy fills an outbox.Policy's defaults, as package outbox does: the
// two outboxes deliver a connector alike. Concurrency and BreakerCooldown
// play no part here (see the package documentation).
func policy(p outbox.Policy) outbox.Policy {
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
	return p
}

// backoff is the wait before retry n (1 for the first retry): capped
// exponential backoff with full jitter, a uniform draw between zero and
// min(MaxBackoff, InitialBackoff·2ⁿ⁻¹), so that many failed messages do
// not come back at the same instant. A server's Retry-After is a floor.
func backoff(p outbox.Policy, n int, retryAfter time.Duration) time.Duration {
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
