package gateway

import (
	"bytes"
	"context"
	"time"

	"github.com/liaisonhq/liaison/gateway/store"
)

// Gateways that share a backend (JetStream) each run every connector:
// a connector registered, changed, paused, resumed or deleted through one
// gateway is picked up by the others when the backend says so
// (store.Backend.Changed). On bbolt, one process owns the store and there
// is nothing to follow.

// reconcileEvery is how often a gateway sharing its backend looks at the
// connectors even when Changed said nothing: a read served by a replica
// that had not yet applied the change it was told of sees the old
// connectors, and the next look puts it right.
const reconcileEvery = 5 * time.Second

// followConnectors applies the connector changes other gateways make,
// until ctx ends.
func (g *Gateway) followConnectors(ctx context.Context) {
	changed := g.store.Changed()
	if changed == nil {
		return
	}
	t := time.NewTicker(reconcileEvery)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		case _, ok := <-changed:
			if !ok {
				return
			}
		}
		if err := g.reconcileConnectors(ctx); err != nil && ctx.Err() == nil {
			g.log.Warn("follow connector changes", "error", err)
		}
	}
}

// reconcileConnectors makes the running connectors what the backend
// holds: new and changed ones prepared, paused and disabled ones stopped,
// resumed ones started, deleted ones released.
func (g *Gateway) reconcileConnectors(ctx context.Context) error {
	g.lifecycle.Lock()
	defer g.lifecycle.Unlock()
	stored, err := g.store.Connectors(ctx)
	if err != nil {
		return err
	}
	kept := map[string]bool{}
	for i := range stored {
		sc := &stored[i]
		kept[sc.ID] = true
		lc := g.live(sc.ID)
		replaced := false
		if lc == nil || !bytes.Equal(lc.stored, sc.Config) {
			next, err := g.runnable(sc)
			if err != nil {
				g.log.Error("connector cannot run", "connector", sc.ID, "error", err)
				continue
			}
			g.mu.Lock()
			g.connectors[sc.ID] = next
			g.mu.Unlock()
			if lc != nil {
				defer lc.close() // once its deliveries have moved to the new one
			}
			lc, replaced = next, true
		}
		switch wanted := !sc.Paused && !sc.Disabled; {
		case wanted && (replaced || !g.running(sc.ID)):
			g.outbox.Start(sc.ID, lc.sender, policy(lc.cfg.Delivery))
			g.startPolling(lc)
			g.startConsuming(lc)
		case !wanted && g.running(sc.ID):
			g.stopConnector(sc.ID)
		}
	}
	for _, lc := range g.liveConnectors() {
		if !kept[lc.id] {
			g.stopConnector(lc.id)
			g.mu.Lock()
			delete(g.connectors, lc.id)
			g.mu.Unlock()
			lc.close()
		}
	}
	return nil
}

// runnable prepares a stored connector to run here.
func (g *Gateway) runnable(sc *store.Connector) (*liveConnector, error) {
	cfg, err := g.storedConfig(sc)
	if err != nil {
		return nil, err
	}
	lc, err := g.prepare(sc.ID, cfg)
	if err != nil {
		return nil, err
	}
	lc.stored = sc.Config
	return lc, nil
}

// stopConnector stops delivering to, polling and consuming from a connector.
func (g *Gateway) stopConnector(id string) {
	g.outbox.Stop(id)
	g.pollers.loops.stop(id)
	g.consumers.stop(id)
}
