package gateway

import (
	"context"
	"sync"
)

// tasks runs one background goroutine per connector id — a poll loop, a
// queue consumer, a set-up retry — under a parent context: starting a
// task for an id stops the one it replaces. Before run gives it a parent,
// nothing starts. Safe for concurrent use.
type tasks struct {
	mu     sync.Mutex
	ctx    context.Context
	cancel map[string]context.CancelFunc
	wg     sync.WaitGroup
}

// run sets the parent context of the tasks started from now on.
func (t *tasks) run(parent context.Context) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.ctx = parent
}

// start stops the task of id, then runs fn as its new task; false when
// there is no parent context yet.
func (t *tasks) start(id string, fn func(ctx context.Context)) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.stopLocked(id)
	if t.ctx == nil {
		return false
	}
	ctx, cancel := context.WithCancel(t.ctx)
	if t.cancel == nil {
		t.cancel = map[string]context.CancelFunc{}
	}
	t.cancel[id] = cancel
	t.wg.Add(1)
	go func() {
		defer t.wg.Done()
		fn(ctx)
	}()
	return true
}

// stop stops the task of id, if any, without waiting for it.
func (t *tasks) stop(id string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.stopLocked(id)
}

func (t *tasks) stopLocked(id string) {
	if stop := t.cancel[id]; stop != nil {
		stop()
		delete(t.cancel, id)
	}
}

// stopAll stops every task and waits for them all.
func (t *tasks) stopAll() {
	t.mu.Lock()
	for id := range t.cancel {
		t.stopLocked(id)
	}
	t.mu.Unlock()
	t.wg.Wait()
}
