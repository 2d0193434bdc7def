package store_test

import (
	"log/slog"
	"testing"

	"github.com/liaisonhq/liaison/gateway/outbox"
	"github.com/liaisonhq/liaison/gateway/store"
	"github.com/liaisonhq/liaison/gateway/store/storetest"
)

// TestConformance runs the backend conformance suite on bbolt.
func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) storetest.Harness {
		st, err := store.Open(t.TempDir(), store.Options{NoSync: true})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { st.Close() })
		return storetest.Harness{Backend: st, Deliverer: func(cfg outbox.Config) outbox.Deliverer {
			return outbox.New(st, cfg, slog.New(slog.DiscardHandler))
		}}
	})
}
