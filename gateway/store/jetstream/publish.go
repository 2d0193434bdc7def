package jetstream

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go"
	natsjs "github.com/nats-io/nats.go/jetstream"

	"github.com/liaisonhq/liaison/gateway/store"
)

// The pause between rounds of re-publishing starts at minRepublish and
// doubles up to maxRepublish.
const (
	minRepublish = 50 * time.Millisecond
	maxRepublish = time.Second
)

// Publish stores the messages in the outbox stream, each on its
// connector's partition subject, and returns nil only once the stream
// acknowledged every one of them: stored on disk, and with replicas on a
// quorum of them. The messages are published asynchronously and their
// acknowledgements awaited together. A publish that gets no answer, or
// lands during a leader election, is published again with the same
// Nats-Msg-Id (the message's ID), which the stream stores once within
// Config.Duplicates, until ctx ends.
//
// Order: several changes of one record (connector, type and id) in msgs
// are stored in the order of msgs: the n-th change of each record is
// published only once every (n-1)-th one is acknowledged, so that a
// re-published message never lands behind a later change of its record.
// Changes of one record in concurrent calls are not ordered: the caller
// publishes a record's next change after the previous call returned.
//
// An error means some message may not be stored: the caller must not
// acknowledge its own client; publishing the same messages again (same
// IDs) is safe. Errors never hold a payload.
func (o *Outbox) Publish(ctx context.Context, msgs []store.Message) error {
	now := time.Now()
	out := make([]*nats.Msg, len(msgs))
	lanes := make([]string, len(msgs))
	for i := range msgs {
		m, err := o.cfg.encode(&msgs[i], msgs[i].ID, now)
		if err != nil {
			return fmt.Errorf("jetstream outbox: publish: %w", err)
		}
		out[i], lanes[i] = m, lane(&msgs[i])
	}
	return o.publish(ctx, out, lanes)
}

// lane is a message's ordering key: connector and record.
func lane(m *store.Message) string {
	return m.Connector + "\x00" + m.RecordType + "/" + m.RecordID
}

// publish publishes msgs to the outbox stream, in waves that keep the
// order of each lane (lanes[i] is msgs[i]'s), and waits until all are
// acknowledged.
func (o *Outbox) publish(ctx context.Context, msgs []*nats.Msg, lanes []string) error {
	for _, wave := range waves(msgs, lanes) {
		if err := publishAll(ctx, o.js, o.cfg.Stream, wave); err != nil {
			return err
		}
	}
	return nil
}

// waves splits msgs so that wave n holds the n-th message of each lane.
func waves(msgs []*nats.Msg, lanes []string) [][]*nats.Msg {
	seen := make(map[string]int, len(lanes))
	var out [][]*nats.Msg
	for i, m := range msgs {
		n := seen[lanes[i]]
		seen[lanes[i]] = n + 1
		if n == len(out) {
			out = append(out, nil)
		}
		out[n] = append(out[n], m)
	}
	return out
}

// publishAll publishes msgs to stream, waits for every acknowledgement and
// publishes again what may be lost, until ctx ends.
func publishAll(ctx context.Context, js natsjs.JetStream, stream string, msgs []*nats.Msg) error {
	pause := minRepublish
	todo := msgs
	for {
		var again []*nats.Msg
		futures := make([]natsjs.PubAckFuture, 0, len(todo))
		sent := make([]*nats.Msg, 0, len(todo))
		for _, m := range todo {
			f, err := js.PublishMsgAsync(copyMsg(m), natsjs.WithExpectStream(stream))
			if err != nil {
				if !transient(err) {
					return fmt.Errorf("jetstream outbox: publish %s: %w", m.Header.Get(natsjs.MsgIDHeader), err)
				}
				again = append(again, m)
				continue
			}
			futures = append(futures, f)
			sent = append(sent, m)
		}
		for i, f := range futures {
			select {
			case <-f.Ok():
			case err := <-f.Err():
				if !transient(err) {
					return fmt.Errorf("jetstream outbox: publish %s: %w", sent[i].Header.Get(natsjs.MsgIDHeader), err)
				}
				again = append(again, sent[i])
			case <-ctx.Done():
				return fmt.Errorf("jetstream outbox: publish: %d of %d not acknowledged: %w", len(futures)-i+len(again), len(msgs), ctx.Err())
			}
		}
		if len(again) == 0 {
			return nil
		}
		if !sleep(ctx, pause) {
			return fmt.Errorf("jetstream outbox: publish: %d of %d not acknowledged: %w", len(again), len(msgs), ctx.Err())
		}
		pause = min(2*pause, maxRepublish)
		todo = again
	}
}

// transient reports whether a publish error may pass by itself: no
// answer, no responders (an election), a connection being re-made.
func transient(err error) bool {
	switch {
	case errors.Is(err, natsjs.ErrAsyncPublishTimeout),
		errors.Is(err, natsjs.ErrNoStreamResponse),
		errors.Is(err, natsjs.ErrTooManyStalledMsgs),
		errors.Is(err, nats.ErrNoResponders),
		errors.Is(err, nats.ErrTimeout),
		errors.Is(err, nats.ErrConnectionReconnecting),
		errors.Is(err, nats.ErrDisconnected),
		errors.Is(err, nats.ErrConnectionDraining),
		errors.Is(err, context.DeadlineExceeded):
		return true
	}
	var apiErr *natsjs.APIError
	if errors.As(err, &apiErr) {
		// 503: JetStream not available, e.g. no quorum for the moment.
		return apiErr.Code == 503 || apiErr.ErrorCode == natsjs.JSErrCodeJetStreamNotEnabled ||
			apiErr.ErrorCode == errCodeDuplicateInProcess
	}
	return false
}

// errCodeDuplicateInProcess is the stream's 409 for a publish whose
// Nats-Msg-Id an earlier publish, not yet stored, carries: a message
// published again after its answer was lost in a leader change. Once
// that publish is stored, publishing again gets its acknowledgement (a
// duplicate); if it fails, the message is stored then.
const errCodeDuplicateInProcess natsjs.ErrorCode = 10158

// copyMsg copies m's subject, header and data into a new message, since a
// publish sets fields of the message it is given.
func copyMsg(m *nats.Msg) *nats.Msg {
	h := make(nats.Header, len(m.Header))
	for k, v := range m.Header {
		h[k] = append([]string(nil), v...)
	}
	return &nats.Msg{Subject: m.Subject, Header: h, Data: m.Data}
}
