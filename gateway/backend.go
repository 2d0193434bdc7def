package gateway

import (
	"github.com/liaisonhq/liaison/gateway/outbox"
	"github.com/liaisonhq/liaison/gateway/store"
)

// openStore opens the configured backend and its deliverer: the bbolt
// store in Config.DataDir (ErrLocked, wrapped, when another process holds
// it), by default.
func (g *Gateway) openStore(ocfg outbox.Config) (store.Backend, error) {
	st, err := store.Open(g.cfg.DataDir, store.Options{NoSync: g.cfg.NoSync, AuditMessage: g.auditMessage})
	if err != nil {
		return nil, err
	}
	g.store, g.outbox = st, outbox.New(st, ocfg, g.log)
	return st, nil
}
