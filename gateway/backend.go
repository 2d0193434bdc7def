package gateway

import (
	"context"
	"fmt"

	"github.com/liaisonhq/liaison/gateway/connector"
	"github.com/liaisonhq/liaison/gateway/outbox"
	"github.com/liaisonhq/liaison/gateway/store"
	"github.com/liaisonhq/liaison/gateway/store/jetstream"
)

// openStore opens the configured backend and its deliverer into g.store
// and g.outbox: the bbolt store in Config.DataDir (ErrLocked, wrapped,
// when another process holds it) by default, or the NATS JetStream
// cluster of Config.Store, shared with the other gateways configured
// with it.
func (g *Gateway) openStore(ocfg outbox.Config) error {
	if !g.cfg.Store.NATS() {
		st, err := store.Open(g.cfg.DataDir, store.Options{NoSync: g.cfg.NoSync, AuditMessage: g.auditMessage})
		if err != nil {
			return err
		}
		g.store, g.outbox = st, outbox.New(st, ocfg, g.log)
		return nil
	}
	s := g.cfg.Store
	cfg := jetstream.BackendConfig{URLs: s.URLs(), User: s.User, CredsFile: s.Creds, SeenTTL: dedupeWindow, AuditMessage: g.auditMessage}
	cfg.Replicas, cfg.Partitions = s.Replicas, s.Partitions
	var err error
	if s.Password != "" {
		if cfg.Password, err = connector.ResolveSecret(s.Password); err != nil {
			return fmt.Errorf("store.password: %w", err)
		}
	}
	if s.Token != "" {
		if cfg.Token, err = connector.ResolveSecret(s.Token); err != nil {
			return fmt.Errorf("store.token: %w", err)
		}
	}
	b, err := jetstream.Open(context.Background(), cfg, g.log)
	if err != nil {
		return fmt.Errorf("store %s: %w", s, err)
	}
	g.store, g.outbox = b, b.Deliverer(ocfg)
	return nil
}
