package store

import (
	"encoding/binary"
	"time"
)

// AuditKind says what an audit entry records.
type AuditKind string

const (
	AuditAccept   AuditKind = "accept"   // a record change accepted from HMS or from a connector
	AuditDelivery AuditKind = "delivery" // one attempt at delivering a message to a connector
)

// AuditEntry is one audited interaction, written in the same transaction
// as what it records. It holds ids, never record contents: the API renders
// it as a FHIR AuditEvent.
type AuditEntry struct {
	Seq         uint64
	Kind        AuditKind
	At          time.Time
	Interaction string // create, update or delete (FHIR restful-interaction)
	Outcome     int    // AuditEvent.outcome: 0 success, 4 minor failure, 8 serious failure
	RecordType  string
	RecordID    string
	Version     int64  // the record's version after an accept
	Agent       string // who asked: "hms" for the records API, else a connector id
	Connector   string // the connector delivered to, or the connector a change came from
	MessageID   string // the delivered message
	RequestID   string // X-Request-Id of the accepting request
	Address     string // the client's network address (accept)
	Status      int    // the HTTP status a delivery got; 0 when none came
	Unchanged   bool   // an accept of content the record already had
}

// ID is the entry's id, as AuditEvent.id.
func (e *AuditEntry) ID() string { return MessageID(e.Seq) }

// AuditFilter selects audit entries, newest first.
type AuditFilter struct {
	Before     string    // an entry id: only older entries
	Since      time.Time // only entries at or after
	Kind       AuditKind
	RecordType string
	RecordID   string
	Connector  string // Agent or Connector
	Limit      int    // default 100
}

func (f *AuditFilter) match(e *AuditEntry) bool {
	return (f.Kind == "" || e.Kind == f.Kind) &&
		(f.RecordType == "" || e.RecordType == f.RecordType) &&
		(f.RecordID == "" || e.RecordID == f.RecordID) &&
		(f.Connector == "" || e.Connector == f.Connector || e.Agent == f.Connector)
}

// AppendAudit adds an entry; it sets Seq and At. With
// Options.AuditMessage, it queues the entry's message too.
func (t *Tx) AppendAudit(e *AuditEntry) error {
	b := t.b(bucketAudit)
	seq, err := b.NextSequence()
	if err != nil {
		return err
	}
	e.Seq, e.At = seq, t.now
	if err := b.Put(u64(seq), encodeAudit(e)); err != nil {
		return err
	}
	if t.store == nil || t.store.opts.AuditMessage == nil {
		return nil
	}
	m, err := t.store.opts.AuditMessage(e)
	if m == nil || err != nil {
		return err
	}
	return t.Enqueue(m)
}

// Audit lists audit entries, newest first. It looks at most 100,000
// entries per call; a caller pages with Before.
func (t *Tx) Audit(f AuditFilter) ([]AuditEntry, error) {
	if f.Limit <= 0 {
		f.Limit = 100
	}
	c := t.b(bucketAudit).Cursor()
	var k, v []byte
	if seq, ok := ParseMessageID(f.Before); ok {
		k, v = c.Seek(u64(seq))
		if k != nil {
			k, v = c.Prev()
		} else {
			k, v = c.Last()
		}
	} else {
		k, v = c.Last()
	}
	var out []AuditEntry
	for scanned := 0; k != nil && len(out) < f.Limit && scanned < 100_000; k, v = c.Prev() {
		scanned++
		var e AuditEntry
		if err := decodeAudit(v, &e); err != nil {
			return nil, err
		}
		e.Seq = binary.BigEndian.Uint64(k)
		if !f.Since.IsZero() && e.At.Before(f.Since) {
			break
		}
		if f.match(&e) {
			out = append(out, e)
		}
	}
	return out, nil
}

// PurgeAudit deletes at most limit entries older than before, oldest
// first.
func (t *Tx) PurgeAudit(before time.Time, limit int) (int, error) {
	c := t.b(bucketAudit).Cursor()
	n := 0
	for k, v := c.First(); k != nil && n < limit; k, v = c.First() {
		var e AuditEntry
		if err := decodeAudit(v, &e); err == nil && !e.At.Before(before) {
			break
		}
		if err := c.Delete(); err != nil {
			return n, err
		}
		n++
	}
	return n, nil
}

func encodeAudit(e *AuditEntry) []byte {
	enc := encoder{b: make([]byte, 0, 96+len(e.RecordType)+len(e.RecordID)+len(e.Agent)+len(e.Connector)+len(e.RequestID)+len(e.Address))}
	enc.b = append(enc.b, formatBinary)
	enc.str(string(e.Kind))
	enc.time(e.At)
	enc.str(e.Interaction)
	enc.int(int64(e.Outcome))
	enc.str(e.RecordType)
	enc.str(e.RecordID)
	enc.int(e.Version)
	enc.str(e.Agent)
	enc.str(e.Connector)
	enc.str(e.MessageID)
	enc.str(e.RequestID)
	enc.str(e.Address)
	enc.int(int64(e.Status))
	unchanged := int64(0)
	if e.Unchanged {
		unchanged = 1
	}
	enc.int(unchanged)
	return enc.b
}

func decodeAudit(data []byte, e *AuditEntry) error {
	if len(data) == 0 || data[0] != formatBinary {
		return errCorrupt
	}
	d := &decoder{b: data[1:]}
	e.Kind = AuditKind(d.str())
	e.At = d.time()
	e.Interaction = d.str()
	e.Outcome = int(d.int())
	e.RecordType = d.str()
	e.RecordID = d.str()
	e.Version = d.int()
	e.Agent = d.str()
	e.Connector = d.str()
	e.MessageID = d.str()
	e.RequestID = d.str()
	e.Address = d.str()
	e.Status = int(d.int())
	e.Unchanged = d.int() != 0
	return d.done()
}
