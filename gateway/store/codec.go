package store

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"time"
)

// Messages, records and sync states are stored in a compact binary form:
// a format byte, then each field in a fixed order — strings and byte
// strings as a uvarint length and the bytes, integers as varints, times as
// varint Unix nanoseconds (0 for the zero time). A message's body, a
// FHIR resource as JSON, is kept as its bytes: encoding it as a JSON
// string escaped every quote in it, and the commit of accepted records
// spent a fifth of its time in encoding/json.
//
// Values written by earlier versions are JSON objects; they start with
// '{' and are still read.

// formatBinary is the first byte of a binary value.
const formatBinary = 0x01

// errCorrupt reports a stored value that does not decode.
var errCorrupt = errors.New("store: corrupt value")

type encoder struct{ b []byte }

func (e *encoder) str(s string) {
	e.b = binary.AppendUvarint(e.b, uint64(len(s)))
	e.b = append(e.b, s...)
}

func (e *encoder) bytes(p []byte) {
	e.b = binary.AppendUvarint(e.b, uint64(len(p)))
	e.b = append(e.b, p...)
}

func (e *encoder) int(n int64) { e.b = binary.AppendVarint(e.b, n) }

func (e *encoder) time(t time.Time) {
	if t.IsZero() {
		e.int(0)
		return
	}
	e.int(t.UnixNano())
}

type decoder struct {
	b   []byte
	err error
}

func (d *decoder) fail() {
	if d.err == nil {
		d.err = errCorrupt
	}
	d.b = nil
}

func (d *decoder) bytes() []byte {
	n, k := binary.Uvarint(d.b)
	if k <= 0 || n > uint64(len(d.b)-k) {
		d.fail()
		return nil
	}
	p := d.b[k : k+int(n)]
	d.b = d.b[k+int(n):]
	return p
}

func (d *decoder) str() string { return string(d.bytes()) }

// raw copies a byte string: bbolt's values live only as long as their
// transaction.
func (d *decoder) raw() json.RawMessage {
	p := d.bytes()
	if len(p) == 0 {
		return nil
	}
	return append(json.RawMessage(nil), p...)
}

func (d *decoder) int() int64 {
	n, k := binary.Varint(d.b)
	if k <= 0 {
		d.fail()
		return 0
	}
	d.b = d.b[k:]
	return n
}

func (d *decoder) time() time.Time {
	n := d.int()
	if n == 0 {
		return time.Time{}
	}
	return time.Unix(0, n).UTC()
}

// done reports the first error, or a value longer than its fields.
func (d *decoder) done() error {
	if d.err == nil && len(d.b) != 0 {
		d.err = errCorrupt
	}
	return d.err
}

// start checks the format byte; a JSON value (an earlier version's) is
// decoded into v instead, and start reports false.
func start(data []byte, v any) (*decoder, bool, error) {
	if len(data) > 0 && data[0] == '{' {
		return nil, false, json.Unmarshal(data, v)
	}
	if len(data) == 0 || data[0] != formatBinary {
		return nil, false, errCorrupt
	}
	return &decoder{b: data[1:]}, true, nil
}

func encodeMessage(m *Message) []byte {
	n := 64 + len(m.ID) + len(m.Connector) + len(m.RecordType) + len(m.RecordID) + len(m.Op) + len(m.Body) +
		len(m.ContentType) + len(m.Mapping) + len(m.MappingVersion) + len(m.IdempotencyKey) + len(m.State) + len(m.LastError)
	for _, a := range m.Attempts {
		n += 32 + len(a.Error) + len(a.Outcome) + len(a.Response)
	}
	e := encoder{b: make([]byte, 0, n)}
	e.b = append(e.b, formatBinary)
	e.str(m.ID)
	e.str(m.Connector)
	e.str(m.RecordType)
	e.str(m.RecordID)
	e.str(m.Op)
	e.str(m.Body)
	e.str(m.ContentType)
	e.str(m.Mapping)
	e.str(m.MappingVersion)
	e.str(m.IdempotencyKey)
	e.str(string(m.State))
	e.time(m.CreatedAt)
	e.time(m.NextAttemptAt)
	e.time(m.DeliveredAt)
	e.str(m.LastError)
	e.int(int64(len(m.Attempts)))
	for _, a := range m.Attempts {
		e.time(a.At)
		e.int(int64(a.Duration))
		e.int(int64(a.Status))
		e.str(a.Error)
		e.bytes(a.Outcome)
		e.str(a.Response)
	}
	return e.b
}

func decodeMessage(data []byte, m *Message) error {
	d, ok, err := start(data, m)
	if !ok {
		return err
	}
	m.ID = d.str()
	m.Connector = d.str()
	m.RecordType = d.str()
	m.RecordID = d.str()
	m.Op = d.str()
	m.Body = d.str()
	m.ContentType = d.str()
	m.Mapping = d.str()
	m.MappingVersion = d.str()
	m.IdempotencyKey = d.str()
	m.State = State(d.str())
	m.CreatedAt = d.time()
	m.NextAttemptAt = d.time()
	m.DeliveredAt = d.time()
	m.LastError = d.str()
	n := d.int()
	if n < 0 || n > int64(len(d.b)) { // every attempt takes at least a byte
		d.fail()
		n = 0
	}
	m.Attempts = nil
	if n > 0 {
		m.Attempts = make([]Attempt, n)
	}
	for i := range m.Attempts {
		a := &m.Attempts[i]
		a.At = d.time()
		a.Duration = time.Duration(d.int())
		a.Status = int(d.int())
		a.Error = d.str()
		a.Outcome = d.raw()
		a.Response = d.str()
	}
	return d.done()
}

func encodeRecord(r *Record) []byte {
	e := encoder{b: make([]byte, 0, 48+len(r.Type)+len(r.ID)+len(r.Data)+len(r.Hash)+len(r.Source))}
	e.b = append(e.b, formatBinary)
	e.str(r.Type)
	e.str(r.ID)
	e.bytes(r.Data)
	e.str(r.Hash)
	e.int(r.Version)
	e.str(r.Source)
	deleted := int64(0)
	if r.Deleted {
		deleted = 1
	}
	e.int(deleted)
	e.time(r.UpdatedAt)
	return e.b
}

func decodeRecord(data []byte, r *Record) error {
	d, ok, err := start(data, r)
	if !ok {
		return err
	}
	r.Type = d.str()
	r.ID = d.str()
	r.Data = d.raw()
	r.Hash = d.str()
	r.Version = d.int()
	r.Source = d.str()
	r.Deleted = d.int() != 0
	r.UpdatedAt = d.time()
	return d.done()
}

func encodeSyncState(s *SyncState) []byte {
	e := encoder{b: make([]byte, 0, 32+len(s.Connector)+len(s.MessageID)+len(s.State)+len(s.LastError))}
	e.b = append(e.b, formatBinary)
	e.str(s.Connector)
	e.str(s.MessageID)
	e.str(string(s.State))
	e.time(s.UpdatedAt)
	e.str(s.LastError)
	return e.b
}

func decodeSyncState(data []byte, s *SyncState) error {
	d, ok, err := start(data, s)
	if !ok {
		return err
	}
	s.Connector = d.str()
	s.MessageID = d.str()
	s.State = State(d.str())
	s.UpdatedAt = d.time()
	s.LastError = d.str()
	return d.done()
}
