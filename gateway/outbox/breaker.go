package outbox

import (
	"sync"
	"time"
)

// BreakerState is the state of a connector's circuit breaker.
type BreakerState string

const (
	BreakerClosed   BreakerState = "closed"    // deliveries flow
	BreakerOpen     BreakerState = "open"      // the connector keeps failing: nothing is sent until the cool-down ends
	BreakerHalfOpen BreakerState = "half-open" // one delivery probes the connector
)

const (
	// breakerThreshold consecutive retryable failures open the breaker.
	breakerThreshold = 5
	// breakerCooldown is the default first cool-down (Policy.BreakerCooldown);
	// it doubles with every failed probe, up to breakerMaxCooldown or the
	// policy's MaxBackoff, whichever is shorter: the breaker never holds a
	// message back longer than its own backoff would.
	breakerCooldown    = 5 * time.Second
	breakerMaxCooldown = 5 * time.Minute
)

// breaker stops hammering a connector that is down: after
// breakerThreshold consecutive failures no message is sent until a
// cool-down has passed; then a single probe decides whether deliveries
// resume or the cool-down doubles. Messages keep their own schedules
// meanwhile. Safe for concurrent use.
type breaker struct {
	mu       sync.Mutex
	failures int
	state    BreakerState
	until    time.Time // end of the cool-down when open
	cooldown time.Duration
	first    time.Duration // the first cool-down
	limit    time.Duration // the longest
	probing  bool
}

// newBreaker returns a closed breaker whose cool-down starts at first and
// doubles up to limit.
func newBreaker(first, limit time.Duration) *breaker {
	return &breaker{state: BreakerClosed, first: first, limit: max(first, min(limit, breakerMaxCooldown))}
}

// allow tells how many deliveries may start now, out of want, and when to
// ask again if none may.
func (b *breaker) allow(now time.Time, want int) (int, time.Time) {
	b.mu.Lock()
	defer b.mu.Unlock()
	switch b.state {
	case BreakerOpen:
		if now.Before(b.until) {
			return 0, b.until
		}
		b.state = BreakerHalfOpen
		fallthrough
	case BreakerHalfOpen:
		if b.probing || want == 0 {
			return 0, time.Time{}
		}
		return 1, time.Time{}
	}
	return want, time.Time{}
}

// started notes that n deliveries allowed by allow have started: in the
// half-open state, the probe. (allow does not count it itself, since
// nothing may be due.)
func (b *breaker) started(n int) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if n > 0 && b.state == BreakerHalfOpen {
		b.probing = true
	}
}

// success closes the breaker.
func (b *breaker) success() {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.failures, b.state, b.probing, b.cooldown = 0, BreakerClosed, false, 0
}

// failure counts a retryable failure, and opens the breaker at the
// threshold or when a probe failed.
func (b *breaker) failure(now time.Time) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.failures++
	if b.state == BreakerHalfOpen || b.failures >= breakerThreshold {
		switch {
		case b.cooldown == 0:
			b.cooldown = b.first
		case b.state == BreakerHalfOpen:
			b.cooldown = min(2*b.cooldown, b.limit)
		}
		b.state, b.until, b.probing = BreakerOpen, now.Add(b.cooldown), false
	}
}

// neutral ends a probe that said nothing about the connector's health
// (a message refused for its content).
func (b *breaker) neutral() {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.probing = false
}

// reset closes the breaker at once (a manual sync or resume).
func (b *breaker) reset() { b.success() }

func (b *breaker) current() BreakerState {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.state
}
