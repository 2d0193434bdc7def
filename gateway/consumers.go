package gateway

import (
	"context"
	"errors"
	"time"

	"github.com/liaisonhq/liaison/gateway/connector"
	"github.com/liaisonhq/liaison/gateway/queue"
)

// Consumer takes a queue connector's messages, handing each to a handler
// and acknowledging it only when the handler returns nil.
type Consumer interface {
	Run(ctx context.Context, handle queue.Handler) error
}

// ConsumerFactory builds the consumer of a queue connector (sync.mode
// queue) under a durable name shared by every gateway on the connector.
type ConsumerFactory func(cfg connector.Config, durable string) (Consumer, error)

// startConsuming (re)starts the consumer of a queue connector while the
// gateway serves.
func (g *Gateway) startConsuming(lc *liveConnector) {
	if lc.cfg.Sync.Mode != connector.ModeQueue {
		g.consumers.stop(lc.id)
		return
	}
	factory := g.cfg.Consumers[lc.cfg.Type]
	if factory == nil {
		g.log.Error("no consumer for the connector's type", "connector", lc.id, "type", string(lc.cfg.Type))
		return
	}
	consumer, err := factory(lc.cfg, "liaison-"+lc.id)
	if err != nil {
		g.log.Error("connector cannot consume", "connector", lc.id, "error", err.Error())
		return
	}
	g.consumers.start(lc.id, func(ctx context.Context) {
		for ctx.Err() == nil {
			if err := consumer.Run(ctx, g.queueHandler(lc)); err != nil && ctx.Err() == nil {
				g.log.Warn("consumer stopped; restarting", "connector", lc.id, "error", err.Error())
				select {
				case <-ctx.Done():
				case <-time.After(time.Second):
				}
			}
		}
	})
}

// queueHandler applies one queue message like a webhook: mapped, stored,
// fanned out, deduplicated by its id, in one commit before the ack. A
// message the gateway will never take (a 4xx: not FHIR, no mapping, an
// invalid record) is poison: dropped, or dead-lettered by the broker.
func (g *Gateway) queueHandler(lc *liveConnector) queue.Handler {
	return func(ctx context.Context, id string, payload []byte) error {
		_, _, err := g.receive(ctx, inbound{conn: lc, deliveryID: id, payload: payload})
		if err == nil {
			return nil
		}
		status, _ := answer(err)
		if status >= 400 && status < 500 {
			g.log.Warn("queue message refused", "connector", lc.id, "status", status)
			return queue.Poison(err)
		}
		if !errors.Is(err, context.Canceled) {
			g.log.Error("queue message not stored", "connector", lc.id, "error", err.Error())
		}
		return err
	}
}
