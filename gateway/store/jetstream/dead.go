package jetstream

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/nats-io/nats.go"
	natsjs "github.com/nats-io/nats.go/jetstream"

	"github.com/liaisonhq/liaison/gateway/outbox"
	"github.com/liaisonhq/liaison/gateway/store"
)

// replayBatch is how many dead letters Replay publishes before it deletes
// them and reports progress.
const replayBatch = 256

// bury publishes msg to the dead-letter stream with the attempt's error,
// then acknowledges it. When the dead letter cannot be stored, msg is
// retried after Policy.InitialBackoff instead: it is sent again, and
// buried again when it fails again.
func (pt *partition) bury(ctx context.Context, msg natsjs.Msg, md *natsjs.MsgMetadata, d decoded, cause error, took time.Duration) {
	r := pt.r
	o := r.o
	_ = msg.InProgress() // AckWait starts again: the dead letter's publish has all of it
	h := nats.Header{}
	for k, v := range msg.Headers() {
		h[k] = append([]string(nil), v...)
	}
	id := d.msg.ID
	if id == "" { // unreadable: name it by its place in the outbox
		id = fmt.Sprintf("%s:%d", o.cfg.Stream, md.Sequence.Stream)
		h.Set(HeaderMessageID, id)
		h.Set(HeaderConnector, r.conn)
	}
	h.Set(natsjs.MsgIDHeader, id+":dead:"+strconv.FormatUint(md.Sequence.Stream, 10))
	h.Set(HeaderError, oneLine(cause.Error()))
	h.Set(HeaderDeliveries, strconv.FormatUint(md.NumDelivered, 10))
	h.Set(HeaderDeadAt, time.Now().UTC().Format(time.RFC3339Nano))
	h.Set(HeaderOutboxSeq, strconv.FormatUint(md.Sequence.Stream, 10))
	var se *outbox.SendError
	if errors.As(cause, &se) {
		if se.Status != 0 {
			h.Set(HeaderStatus, strconv.Itoa(se.Status))
		}
		if len(se.Response) > 0 {
			h.Set(HeaderResponse, base64.StdEncoding.EncodeToString(se.Response[:min(len(se.Response), outbox.MaxResponse)]))
		}
	}
	dead := &nats.Msg{Subject: o.cfg.deadSubject(r.conn), Header: h, Data: msg.Data()}
	pctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), min(settleTimeout, r.policy.Timeout+o.cfg.AckMargin))
	defer cancel()
	if err := publishAll(pctx, o.js, o.cfg.DeadStream, []*nats.Msg{dead}); err != nil {
		o.log.Error("jetstream outbox: store dead letter; retrying the message", "connector", r.conn, "message", id, "error", err)
		_ = msg.NakWithDelay(r.policy.InitialBackoff)
		return
	}
	pt.ack(ctx, msg, md.Sequence.Stream, id)
}

// DeadLetter is a message given up on, as the dead-letter stream keeps it.
type DeadLetter struct {
	Seq uint64 `json:"seq"` // in the dead-letter stream
	// Message is the message as it was published, with State Dead and
	// LastError the last attempt's error.
	Message    store.Message `json:"message"`
	Status     int           `json:"status,omitempty"` // of the last attempt; 0 when no answer came
	Deliveries int           `json:"deliveries"`       // how often a gateway got it
	DeadAt     time.Time     `json:"deadAt"`
	Response   []byte        `json:"response,omitempty"` // the last answer's body
}

// Dead returns up to limit of a connector's dead letters (all when limit
// is 0 or less), oldest first.
func (o *Outbox) Dead(ctx context.Context, conn string, limit int) ([]DeadLetter, error) {
	if err := checkConnector(conn); err != nil {
		return nil, err
	}
	var out []DeadLetter
	err := o.eachDead(ctx, conn, func(dl DeadLetter, _ *natsjs.RawStreamMsg) (bool, error) {
		out = append(out, dl)
		return limit <= 0 || len(out) < limit, nil
	})
	return out, err
}

// eachDead calls fn for each of a connector's dead letters, oldest first,
// while fn returns true.
func (o *Outbox) eachDead(ctx context.Context, conn string, fn func(DeadLetter, *natsjs.RawStreamMsg) (bool, error)) error {
	s, err := o.js.Stream(ctx, o.cfg.DeadStream)
	if err != nil {
		return fmt.Errorf("jetstream outbox: stream %s: %w", o.cfg.DeadStream, err)
	}
	subject := o.cfg.deadSubject(conn)
	for seq := uint64(1); ; {
		raw, err := s.GetMsg(ctx, seq, natsjs.WithGetMsgSubject(subject))
		if errors.Is(err, natsjs.ErrMsgNotFound) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("jetstream outbox: read dead letters of %s: %w", conn, err)
		}
		seq = raw.Sequence + 1
		more, err := fn(deadLetter(raw), raw)
		if err != nil || !more {
			return err
		}
	}
}

// deadLetter reads a dead letter; what it cannot read stays zero.
func deadLetter(raw *natsjs.RawStreamMsg) DeadLetter {
	d, _ := decode(raw.Header, raw.Data, raw.Time)
	dl := DeadLetter{Seq: raw.Sequence, Message: d.msg}
	dl.Message.State, dl.Message.LastError = store.Dead, raw.Header.Get(HeaderError)
	dl.Status, _ = strconv.Atoi(raw.Header.Get(HeaderStatus))
	dl.Deliveries, _ = strconv.Atoi(raw.Header.Get(HeaderDeliveries))
	dl.DeadAt, _ = time.Parse(time.RFC3339Nano, raw.Header.Get(HeaderDeadAt))
	if v := raw.Header.Get(HeaderResponse); v != "" {
		dl.Response, _ = base64.StdEncoding.DecodeString(v)
	}
	return dl
}

// Replay puts a connector's dead letters back into the outbox, at the end
// of their partitions, and deletes them from the dead-letter stream: those
// with the given message ids, or all when ids is empty. Each is published
// with the Nats-Msg-Id "<id>:replay:<dead-letter sequence>", so a replay
// interrupted between publishing and deleting and started again stores
// each message once (within Config.Duplicates). The message keeps its id
// and idempotency key; its age for Policy.MaxAge starts again. progress,
// when not nil, is called with the running count after each batch.
//
// It returns how many it replayed, and ErrNotFound (wrapped) when some of
// ids are not dead letters of the connector; the others are replayed.
func (o *Outbox) Replay(ctx context.Context, conn string, ids []string, progress func(replayed int)) (int, error) {
	if err := checkConnector(conn); err != nil {
		return 0, err
	}
	s, err := o.js.Stream(ctx, o.cfg.DeadStream)
	if err != nil {
		return 0, fmt.Errorf("jetstream outbox: stream %s: %w", o.cfg.DeadStream, err)
	}
	want := map[string]bool{}
	for _, id := range ids {
		want[id] = true
	}
	var batch []*nats.Msg
	var lanes []string
	var seqs []uint64
	replayed := 0
	flush := func() error {
		if len(batch) == 0 {
			return nil
		}
		if err := o.publish(ctx, batch, lanes); err != nil {
			return err
		}
		for _, seq := range seqs {
			if err := s.DeleteMsg(ctx, seq); err != nil && !errors.Is(err, natsjs.ErrMsgNotFound) {
				return fmt.Errorf("jetstream outbox: delete dead letter %d: %w", seq, err)
			}
			replayed++
		}
		batch, lanes, seqs = batch[:0], lanes[:0], seqs[:0]
		if progress != nil {
			progress(replayed)
		}
		return nil
	}
	now := time.Now()
	err = o.eachDead(ctx, conn, func(dl DeadLetter, raw *natsjs.RawStreamMsg) (bool, error) {
		if len(want) > 0 {
			if !want[dl.Message.ID] {
				return true, nil
			}
			delete(want, dl.Message.ID)
		}
		m := dl.Message
		m.Connector = conn
		msg, err := o.cfg.encode(&m, m.ID+":replay:"+strconv.FormatUint(dl.Seq, 10), now)
		if err != nil {
			return false, fmt.Errorf("jetstream outbox: replay dead letter %d: %w", dl.Seq, err)
		}
		msg.Header.Set(HeaderReplayedAt, now.UTC().Format(time.RFC3339Nano))
		batch, lanes, seqs = append(batch, msg), append(lanes, lane(&m)), append(seqs, dl.Seq)
		if len(batch) >= replayBatch {
			if err := flush(); err != nil {
				return false, err
			}
		}
		return len(ids) == 0 || len(want) > 0, nil
	})
	if err == nil {
		err = flush()
	}
	if err == nil && len(want) > 0 {
		err = fmt.Errorf("jetstream outbox: replay: %d message(s) not dead letters of %s: %w", len(want), conn, ErrNotFound)
	}
	return replayed, err
}
