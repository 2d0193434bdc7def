package jetstream

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go"
	natsjs "github.com/nats-io/nats.go/jetstream"

	"github.com/liaisonhq/liaison/gateway/store"
)

// auditWindow is how many audit entries Audit reads per request, going
// back from the newest; auditScan bounds the entries one call looks at,
// as on bbolt.
const (
	auditWindow = 256
	auditScan   = 100_000
)

// appendAudit publishes an entry to the audit stream; its sequence there
// is its Seq, so its ID (store.MessageID(Seq)) orders entries and pages
// Audit. With BackendConfig.AuditMessage, the entry's message is then
// published to the outbox (ID MessageID of its record and version 1) and
// its state created: not atomic with the entry, so an entry whose
// message publish failed has no message, and the caller gets the error.
func (b *Backend) appendAudit(ctx context.Context, e *store.AuditEntry) error {
	e.At = time.Now().UTC()
	data, err := json.Marshal(e)
	if err != nil {
		return fmt.Errorf("jetstream backend: audit: %w", err)
	}
	ack, err := b.js.PublishMsg(ctx, &nats.Msg{Subject: b.cfg.AuditSubject, Data: data}, natsjs.WithExpectStream(b.cfg.AuditStream))
	if err != nil {
		return fmt.Errorf("jetstream backend: audit: %w", err)
	}
	e.Seq = ack.Sequence
	if b.cfg.AuditMessage == nil {
		return nil
	}
	m, err := b.cfg.AuditMessage(e)
	if m == nil || err != nil {
		return err
	}
	m.ID = MessageID(m.RecordType, m.RecordID, 1, m.Connector)
	m.State, m.CreatedAt = store.Queued, e.At
	if err := b.out.Publish(ctx, []store.Message{*m}); err != nil {
		return fmt.Errorf("jetstream backend: audit message: %w", err)
	}
	return b.createStates(ctx, []store.Message{*m})
}

// Audit returns audit entries, newest first, reading the stream backwards
// a window at a time from the newest entry (or from the one before
// f.Before) through a short-lived consumer per window; it looks at most
// 100,000 entries per call, and a caller pages with Before.
func (b *Backend) Audit(ctx context.Context, f store.AuditFilter) ([]store.AuditEntry, error) {
	if err := b.live(); err != nil {
		return nil, err
	}
	if f.Limit <= 0 {
		f.Limit = 100
	}
	s, err := b.js.Stream(ctx, b.cfg.AuditStream)
	if err != nil {
		return nil, fmt.Errorf("jetstream backend: audit: %w", err)
	}
	first, last := s.CachedInfo().State.FirstSeq, s.CachedInfo().State.LastSeq
	end := last
	if seq, ok := store.ParseMessageID(f.Before); ok {
		end = min(end, seq-1)
	}
	var out []store.AuditEntry
	for scanned := 0; end >= first && end > 0 && len(out) < f.Limit && scanned < auditScan; {
		start := max(first, end-min(end, auditWindow-1))
		window, err := b.readAudit(ctx, start, end)
		if err != nil {
			return nil, err
		}
		for i := len(window) - 1; i >= 0 && len(out) < f.Limit; i-- {
			e := window[i]
			scanned++
			if !f.Since.IsZero() && e.At.Before(f.Since) {
				return out, nil
			}
			if (f.Kind == "" || e.Kind == f.Kind) && (f.RecordType == "" || e.RecordType == f.RecordType) &&
				(f.RecordID == "" || e.RecordID == f.RecordID) && (f.Connector == "" || e.Connector == f.Connector || e.Agent == f.Connector) {
				out = append(out, e)
			}
		}
		if start <= first {
			break
		}
		end = start - 1
	}
	return out, nil
}

// readAudit reads the entries with sequences start to end, oldest first,
// through an ephemeral consumer that it deletes after.
func (b *Backend) readAudit(ctx context.Context, start, end uint64) ([]store.AuditEntry, error) {
	cons, err := b.js.CreateConsumer(ctx, b.cfg.AuditStream, natsjs.ConsumerConfig{
		DeliverPolicy:     natsjs.DeliverByStartSequencePolicy,
		OptStartSeq:       start,
		AckPolicy:         natsjs.AckNonePolicy,
		InactiveThreshold: time.Minute,
		MemoryStorage:     true,
	})
	if err != nil {
		return nil, fmt.Errorf("jetstream backend: audit: %w", err)
	}
	defer func() {
		dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), settleTimeout)
		defer cancel()
		_ = b.js.DeleteConsumer(dctx, b.cfg.AuditStream, cons.CachedInfo().Name)
	}()
	var out []store.AuditEntry
	for {
		want := int(end-start+1) - len(out)
		if want <= 0 {
			return out, nil
		}
		batch, err := cons.Fetch(want, natsjs.FetchMaxWait(2*time.Second))
		if err != nil {
			return nil, fmt.Errorf("jetstream backend: audit: %w", err)
		}
		n := 0
		for msg := range batch.Messages() {
			n++
			md, err := msg.Metadata()
			if err != nil {
				continue
			}
			if md.Sequence.Stream > end {
				return out, nil
			}
			var e store.AuditEntry
			if err := json.Unmarshal(msg.Data(), &e); err != nil {
				return nil, fmt.Errorf("jetstream backend: audit entry %d: %w", md.Sequence.Stream, err)
			}
			e.Seq = md.Sequence.Stream
			out = append(out, e)
			if e.Seq == end {
				return out, nil
			}
		}
		if err := batch.Error(); err != nil && !errors.Is(err, natsjs.ErrNoMessages) && !errors.Is(err, nats.ErrTimeout) {
			return nil, fmt.Errorf("jetstream backend: audit: %w", err)
		}
		if n == 0 { // deleted entries: nothing more up to end
			return out, nil
		}
	}
}

// purgeAudit removes the entries older than before: it finds the first
// entry at or after before by bisecting the sequences, then purges the
// stream below it.
func (b *Backend) purgeAudit(ctx context.Context, before time.Time) error {
	s, err := b.js.Stream(ctx, b.cfg.AuditStream)
	if err != nil {
		return fmt.Errorf("jetstream backend: purge audit: %w", err)
	}
	lo, hi := s.CachedInfo().State.FirstSeq, s.CachedInfo().State.LastSeq+1
	if hi <= lo {
		return nil
	}
	for lo < hi { // the first sequence whose entry is at or after before
		mid := lo + (hi-lo)/2
		m, err := s.GetMsg(ctx, mid, natsjs.WithGetMsgSubject(b.cfg.AuditSubject))
		if errors.Is(err, natsjs.ErrMsgNotFound) {
			hi = mid
			continue
		}
		if err != nil {
			return fmt.Errorf("jetstream backend: purge audit: %w", err)
		}
		if m.Time.Before(before) {
			lo = max(mid, m.Sequence) + 1
		} else {
			hi = mid
		}
	}
	if lo <= s.CachedInfo().State.FirstSeq {
		return nil
	}
	if err := s.Purge(ctx, natsjs.WithPurgeSequence(lo)); err != nil {
		return fmt.Errorf("jetstream backend: purge audit: %w", err)
	}
	return nil
}
