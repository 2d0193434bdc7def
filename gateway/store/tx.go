package store

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"time"

	bolt "go.etcd.io/bbolt"
)

// Tx is one transaction: read-only inside View, read-write inside Update.
// Its methods are the only way to the data, so the indexes stay consistent.
type Tx struct {
	tx    *bolt.Tx
	now   time.Time
	store *Store
	// counts holds the changes to the message counts that this write
	// transaction made, written once at its end (flushCounts): a commit of
	// a hundred accepted changes reads and writes a connector's count
	// once, not a hundred times.
	counts map[countKey]int64
}

// countKey names one count: a connector's messages in one state.
type countKey struct {
	conn  string
	state State
}

// newTx wraps a bbolt transaction. In a write transaction, the buckets
// whose keys mostly grow (sequence numbers, times) fill their pages before
// splitting them, rather than bbolt's default of half: its advice for
// appended keys, which makes the file smaller and a commit write fewer
// pages.
func newTx(btx *bolt.Tx, s *Store) *Tx {
	if btx.Writable() {
		for _, name := range appendedBuckets {
			btx.Bucket(name).FillPercent = 1
		}
	}
	return &Tx{tx: btx, now: time.Now(), store: s}
}

// Now is the transaction's clock: one instant for every write it makes.
func (t *Tx) Now() time.Time { return t.now }

func (t *Tx) b(name []byte) *bolt.Bucket { return t.tx.Bucket(name) }

func (t *Tx) getJSON(bucket, k []byte, v any) error {
	data := t.b(bucket).Get(k)
	if data == nil {
		return ErrNotFound
	}
	return json.Unmarshal(data, v)
}

func (t *Tx) putJSON(bucket, k []byte, v any) error {
	data, err := json.Marshal(v)
	if err != nil {
		return err
	}
	return t.b(bucket).Put(k, data)
}

// ---- connectors

// Connectors lists the connectors by id.
func (t *Tx) Connectors() ([]Connector, error) {
	var out []Connector
	err := t.b(bucketConns).ForEach(func(_, v []byte) error {
		var c Connector
		if err := json.Unmarshal(v, &c); err != nil {
			return err
		}
		out = append(out, c)
		return nil
	})
	return out, err
}

// Connector returns one connector, or ErrNotFound.
func (t *Tx) Connector(id string) (*Connector, error) {
	var c Connector
	if err := t.getJSON(bucketConns, []byte(id), &c); err != nil {
		return nil, err
	}
	return &c, nil
}

// PutConnector creates or replaces a connector. Another connector with
// the same name is ErrConflict.
func (t *Tx) PutConnector(c *Connector) error {
	cs, err := t.Connectors()
	if err != nil {
		return err
	}
	for _, other := range cs {
		if other.ID != c.ID && other.Name == c.Name {
			return fmt.Errorf("connector name %q: %w", c.Name, ErrConflict)
		}
	}
	return t.putJSON(bucketConns, []byte(c.ID), c)
}

// DeleteConnector removes a connector with its undelivered messages and
// its counts. Delivered and dead messages stay in the history until purged.
func (t *Tx) DeleteConnector(id string) error {
	if t.b(bucketConns).Get([]byte(id)) == nil {
		return ErrNotFound
	}
	conn := []byte(id)
	for _, st := range []State{Queued, Failed} {
		p := prefix([]byte(st), conn)
		c := t.b(bucketStates).Cursor()
		for k, _ := c.Seek(p); hasPrefix(k, p); k, _ = c.Seek(p) {
			if err := t.b(bucketMsgs).Delete(u64(lastSeq(k))); err != nil {
				return err
			}
			if err := c.Delete(); err != nil {
				return err
			}
		}
	}
	// Every lane that holds a message has its entry in the due index.
	p := prefix(conn)
	c := t.b(bucketDue).Cursor()
	for k, _ := c.Seek(p); hasPrefix(k, p) && len(k) > len(p)+9; k, _ = c.Next() {
		typ, id := splitLane(string(k[len(p)+9:]))
		if err := t.deletePrefix(bucketRecords, laneKey(id, typ, string(conn))); err != nil {
			return err
		}
	}
	for _, name := range [][]byte{bucketDue, bucketCounts} {
		if err := t.deletePrefix(name, p); err != nil {
			return err
		}
	}
	for ck := range t.counts {
		if ck.conn == id {
			delete(t.counts, ck)
		}
	}
	return t.b(bucketConns).Delete(conn)
}

func (t *Tx) deletePrefix(bucket, p []byte) error {
	c := t.b(bucket).Cursor()
	for k, _ := c.Seek(p); hasPrefix(k, p); k, _ = c.Seek(p) {
		if err := c.Delete(); err != nil {
			return err
		}
	}
	return nil
}

// ---- records

func recordKey(typ, id string) []byte { return key([]byte(typ), []byte(id)) }

// Record returns the record, or ErrNotFound.
func (t *Tx) Record(typ, id string) (*Record, error) {
	data := t.b(bucketRecords).Get(recordKey(typ, id))
	if data == nil {
		return nil, ErrNotFound
	}
	var r Record
	if err := decodeRecord(data, &r); err != nil {
		return nil, err
	}
	return &r, nil
}

// PutRecord writes the record as given.
func (t *Tx) PutRecord(r *Record) error {
	return t.b(bucketRecords).Put(recordKey(r.Type, r.ID), encodeRecord(r))
}

// SyncStates returns where the record stands at each connector it was sent to.
func (t *Tx) SyncStates(typ, id string) ([]SyncState, error) {
	var out []SyncState
	p := prefix([]byte(typ), []byte(id))
	c := t.b(bucketRecords).Cursor()
	for k, v := c.Seek(p); hasPrefix(k, p); k, v = c.Next() {
		if bytes.IndexByte(k[len(p):], sep) >= 0 {
			continue // a lane's entry: key(type, id, conn, …)
		}
		var s SyncState
		if err := decodeSyncState(v, &s); err != nil {
			return nil, err
		}
		out = append(out, s)
	}
	return out, nil
}

// syncKey is where a record's sync state at a connector is kept: in the
// records bucket, right after the record (key(type, id)).
func syncKey(m *Message) []byte {
	return key([]byte(m.RecordType), []byte(m.RecordID), []byte(m.Connector))
}

func (t *Tx) syncState(m *Message) SyncState {
	return SyncState{Connector: m.Connector, MessageID: m.ID, State: m.State, UpdatedAt: t.now, LastError: m.LastError}
}

func (t *Tx) putSyncState(m *Message) error {
	var old SyncState
	k := syncKey(m)
	if data := t.b(bucketRecords).Get(k); data != nil && decodeSyncState(data, &old) == nil {
		if old.MessageID > m.ID { // a later message already speaks for the record
			return nil
		}
	}
	s := t.syncState(m)
	return t.b(bucketRecords).Put(k, encodeSyncState(&s))
}

// ---- messages

// Enqueue adds a message at the end of its lane. It sets Seq, ID, State
// (Queued) and CreatedAt (when zero).
func (t *Tx) Enqueue(m *Message) error {
	seq, err := t.b(bucketMsgs).NextSequence()
	if err != nil {
		return err
	}
	m.Seq, m.ID, m.State = seq, MessageID(seq), Queued
	if m.CreatedAt.IsZero() {
		m.CreatedAt = t.now
	}
	if err := t.putMessage(m); err != nil {
		return err
	}
	lk := laneKey(m.RecordID, m.RecordType, m.Connector)
	if err := t.b(bucketRecords).Put(laneEntry(lk, seq), nil); err != nil {
		return err
	}
	if err := t.index(m, ""); err != nil {
		return err
	}
	// The newest message speaks for its record at the connector.
	s := t.syncState(m)
	if err := t.b(bucketRecords).Put(syncKey(m), encodeSyncState(&s)); err != nil {
		return err
	}
	// A lane that had a message keeps its head, and its due time; else
	// this message is the head, due at once.
	head, old, ok := t.lane(lk)
	if ok && head != seq {
		return nil
	}
	return t.moveLaneDue(m.Connector, m.Lane(), lk, old, timeKey(dueAt(m)))
}

// Message returns a message by id, or ErrNotFound.
func (t *Tx) Message(id string) (*Message, error) {
	seq, ok := ParseMessageID(id)
	if !ok {
		return nil, ErrNotFound
	}
	return t.message(seq)
}

func (t *Tx) message(seq uint64) (*Message, error) {
	data := t.b(bucketMsgs).Get(u64(seq))
	if data == nil {
		return nil, ErrNotFound
	}
	var m Message
	if err := decodeMessage(data, &m); err != nil {
		return nil, err
	}
	m.Seq = seq
	return &m, nil
}

func (t *Tx) putMessage(m *Message) error { return t.b(bucketMsgs).Put(u64(m.Seq), encodeMessage(m)) }

// index moves the message from the state index of old ("" for none) to
// that of m.State, and keeps the counts.
func (t *Tx) index(m *Message, old State) error {
	conn := []byte(m.Connector)
	if old != "" {
		if err := t.b(bucketStates).Delete(key([]byte(old), conn, u64(m.Seq))); err != nil {
			return err
		}
		t.addCount(conn, old, -1)
	}
	if err := t.b(bucketStates).Put(key([]byte(m.State), conn, u64(m.Seq)), nil); err != nil {
		return err
	}
	t.addCount(conn, m.State, 1)
	return nil
}

// addCount changes a count by delta, in the transaction's pending
// changes (flushCounts writes them).
func (t *Tx) addCount(conn []byte, st State, delta int64) {
	if t.counts == nil {
		t.counts = make(map[countKey]int64)
	}
	t.counts[countKey{string(conn), st}] += delta
}

// flushCounts writes the count changes of the transaction; a count never
// goes below zero.
func (t *Tx) flushCounts() error {
	for ck, delta := range t.counts {
		k := key([]byte(ck.conn), []byte(ck.state))
		var n uint64
		if v := t.b(bucketCounts).Get(k); v != nil {
			n = binary.BigEndian.Uint64(v)
		}
		if delta < 0 && n < uint64(-delta) {
			n = 0
		} else {
			n = uint64(int64(n) + delta)
		}
		if err := t.b(bucketCounts).Put(k, u64(n)); err != nil {
			return err
		}
	}
	clear(t.counts)
	return nil
}

// Counts returns how many messages of the connector are in each state.
// Delivered counts every message ever delivered, purged ones included.
func (t *Tx) Counts(conn string) Counts {
	out := Counts{}
	for _, st := range States {
		v := t.b(bucketCounts).Get(key([]byte(conn), []byte(st)))
		delta, pending := t.counts[countKey{conn, st}]
		if v == nil && !pending {
			continue
		}
		var n int64
		if v != nil {
			n = int64(binary.BigEndian.Uint64(v))
		}
		out[st] = uint64(max(n+delta, 0))
	}
	return out
}

// OldestUndelivered returns the creation time of the connector's oldest
// queued or failed message.
func (t *Tx) OldestUndelivered(conn string) (time.Time, bool) {
	var oldest time.Time
	for _, st := range []State{Queued, Failed} {
		p := prefix([]byte(st), []byte(conn))
		k, _ := t.b(bucketStates).Cursor().Seek(p)
		if !hasPrefix(k, p) {
			continue
		}
		if m, err := t.message(lastSeq(k)); err == nil && (oldest.IsZero() || m.CreatedAt.Before(oldest)) {
			oldest = m.CreatedAt
		}
	}
	return oldest, !oldest.IsZero()
}

// refreshLane keeps the lane's entry in the due index: absent when the
// lane is empty, else at the time its head message is due.
func (t *Tx) refreshLane(conn, lane string) error {
	var due []byte
	typ, id := splitLane(lane)
	if seq, ok := t.laneHead(laneKey(id, typ, conn)); ok {
		head, err := t.message(seq)
		if err != nil {
			return fmt.Errorf("lane %s: head: %w", lane, err)
		}
		due = timeKey(dueAt(head))
	}
	return t.setLaneDue(conn, lane, due)
}

// dueAt is when a message at the head of its lane is due.
func dueAt(m *Message) time.Time {
	if m.NextAttemptAt.IsZero() {
		return m.CreatedAt
	}
	return m.NextAttemptAt
}

// setLaneDue puts the lane in the due index at due (a timeKey), or takes
// it out for nil. The lane's current due time is kept at its laneKey,
// right before the lane's messages.
func (t *Tx) setLaneDue(conn, lane string, due []byte) error {
	typ, id := splitLane(lane)
	lk := laneKey(id, typ, conn)
	return t.moveLaneDue(conn, lane, lk, t.b(bucketRecords).Get(lk), due)
}

// moveLaneDue is setLaneDue for a lane whose key (laneKey) the caller has
// and whose current due time (a timeKey, nil for none) it has read.
func (t *Tx) moveLaneDue(conn, lane string, lk, old, due []byte) error {
	records := t.b(bucketRecords)
	if bytes.Equal(old, due) {
		return nil
	}
	if old != nil {
		if err := t.b(bucketDue).Delete(key([]byte(conn), old, []byte(lane))); err != nil {
			return err
		}
	}
	if due == nil {
		return records.Delete(lk)
	}
	if err := t.b(bucketDue).Put(key([]byte(conn), due, []byte(lane)), nil); err != nil {
		return err
	}
	return records.Put(lk, due)
}

// laneHead returns the sequence number of the first message of the lane
// at lk, a laneKey.
func (t *Tx) laneHead(lk []byte) (uint64, bool) {
	seq, _, ok := t.lane(lk)
	return seq, ok
}

// lane returns, in one seek, the sequence number of the first message of
// the lane at lk and the lane's due time (nil for none), which is kept
// right before it.
func (t *Tx) lane(lk []byte) (head uint64, due []byte, ok bool) {
	c := t.b(bucketRecords).Cursor()
	k, v := c.Seek(lk)
	if bytes.Equal(k, lk) { // the lane's due time
		due = bytes.Clone(v)
		k, _ = c.Next()
	}
	if hasPrefix(k, lk) && len(k) == len(lk)+8 {
		return lastSeq(k), due, true
	}
	return 0, due, false
}

// Due returns the head messages of the connector's lanes that are due at
// now, earliest first, at most limit, leaving out lanes skip names (those
// being delivered).
func (t *Tx) Due(conn string, now time.Time, limit int, skip func(lane string) bool) ([]*Message, error) {
	var out []*Message
	p := prefix([]byte(conn))
	c := t.b(bucketDue).Cursor()
	until := timeKey(now)
	for k, _ := c.Seek(p); hasPrefix(k, p) && len(out) < limit; k, _ = c.Next() {
		rest := k[len(p):]
		if len(rest) < 9 || bytes.Compare(rest[:8], until) > 0 {
			break
		}
		lane := string(rest[9:])
		if skip != nil && skip(lane) {
			continue
		}
		typ, id := splitLane(lane)
		seq, ok := t.laneHead(laneKey(id, typ, conn))
		if !ok {
			continue
		}
		m, err := t.message(seq)
		if err != nil {
			return nil, err
		}
		out = append(out, m)
	}
	return out, nil
}

// NextDue returns when the connector's earliest lane that skip does not
// name is due.
func (t *Tx) NextDue(conn string, skip func(lane string) bool) (time.Time, bool) {
	p := prefix([]byte(conn))
	c := t.b(bucketDue).Cursor()
	for k, _ := c.Seek(p); hasPrefix(k, p) && len(k) >= len(p)+9; k, _ = c.Next() {
		if skip == nil || !skip(string(k[len(p)+9:])) {
			return keyTime(k[len(p) : len(p)+8]), true
		}
	}
	return time.Time{}, false
}

// Finish records an attempt at a message and its outcome: Delivered or
// Dead take the message out of its lane, so the next one in the lane is
// due; Failed keeps it at the head of its lane, due again at next.
func (t *Tx) Finish(id string, a Attempt, st State, next time.Time) (*Message, error) {
	m, err := t.Message(id)
	if err != nil {
		return nil, err
	}
	old := m.State
	m.Attempts = appendAttempt(m.Attempts, a)
	m.LastError = a.Error
	m.State = st
	switch st {
	case Delivered:
		m.DeliveredAt, m.NextAttemptAt, m.LastError = t.now, time.Time{}, ""
		if err := t.b(bucketDone).Put(key(timeKey(t.now), u64(m.Seq)), nil); err != nil {
			return nil, err
		}
	case Dead:
		m.NextAttemptAt = time.Time{}
	case Failed:
		m.NextAttemptAt = next
	default:
		return nil, fmt.Errorf("finish %s: state %s", id, st)
	}
	if err := t.settle(m, old); err != nil {
		return nil, err
	}
	t.touchConnector(m.Connector, st, a.Error)
	return m, nil
}

// settle writes a message whose state changed from old, with its indexes,
// its lane and its record's sync state.
func (t *Tx) settle(m *Message, old State) error {
	if err := t.putMessage(m); err != nil {
		return err
	}
	if old != m.State {
		if err := t.index(m, old); err != nil {
			return err
		}
	}
	entry := laneEntry(laneKey(m.RecordID, m.RecordType, m.Connector), m.Seq)
	switch m.State {
	case Delivered, Dead:
		if err := t.b(bucketRecords).Delete(entry); err != nil {
			return err
		}
	default:
		if err := t.b(bucketRecords).Put(entry, nil); err != nil {
			return err
		}
	}
	if err := t.putSyncState(m); err != nil {
		return err
	}
	return t.refreshLane(m.Connector, m.Lane())
}

// touchConnector notes on the connector the last successful delivery, or
// the last error, for its status.
func (t *Tx) touchConnector(id string, st State, errText string) {
	c, err := t.Connector(id)
	if err != nil {
		return
	}
	if st == Delivered {
		if c.LastError == "" && t.now.Sub(c.LastSyncAt) < time.Second {
			return // busy and healthy: spare the write
		}
		c.LastSyncAt, c.LastError = t.now, ""
	} else {
		c.LastError = errText
	}
	t.putJSON(bucketConns, []byte(id), c)
}

// appendAttempt keeps the first and the latest attempts when there are
// more than MaxAttemptsKept.
func appendAttempt(as []Attempt, a Attempt) []Attempt {
	as = append(as, a)
	if len(as) > MaxAttemptsKept {
		keep := MaxAttemptsKept / 2
		as = append(as[:keep], as[len(as)-(MaxAttemptsKept-keep):]...)
	}
	return as
}

// Replay puts a dead message back in its lane, due now. Its place in the
// lane is its original one: it goes before later changes to the record
// that are still waiting.
func (t *Tx) Replay(id string) (*Message, error) {
	m, err := t.Message(id)
	if err != nil {
		return nil, err
	}
	if m.State != Dead {
		return nil, fmt.Errorf("message %s is %s, not dead: %w", id, m.State, ErrConflict)
	}
	m.State, m.NextAttemptAt = Queued, t.now
	return m, t.settle(m, Dead)
}

// ReplayDead replays every dead message of the connector.
func (t *Tx) ReplayDead(conn string) (int, error) {
	return t.eachSeq(Dead, conn, func(seq uint64) error {
		_, err := t.Replay(MessageID(seq))
		return err
	})
}

// RetryNow makes every failed message of the connector due now.
func (t *Tx) RetryNow(conn string) (int, error) {
	return t.eachSeq(Failed, conn, func(seq uint64) error {
		m, err := t.message(seq)
		if err != nil {
			return err
		}
		m.NextAttemptAt = t.now
		return t.settle(m, m.State)
	})
}

// eachSeq calls fn for the sequence numbers of a connector's messages in
// a state; fn may move them to another state.
func (t *Tx) eachSeq(st State, conn string, fn func(seq uint64) error) (int, error) {
	p := prefix([]byte(st), []byte(conn))
	var seqs []uint64
	c := t.b(bucketStates).Cursor()
	for k, _ := c.Seek(p); hasPrefix(k, p); k, _ = c.Next() {
		seqs = append(seqs, lastSeq(k))
	}
	for _, seq := range seqs {
		if err := fn(seq); err != nil {
			return 0, err
		}
	}
	return len(seqs), nil
}

// Filter selects messages for Messages.
type Filter struct {
	Connector string // "" for every connector
	State     State  // "" for every state
	Before    string // a message id: only older messages (paging)
	Limit     int    // default 100
	// RecordType and RecordID, when set, keep one record's messages.
	RecordType, RecordID string
}

func (f *Filter) matchRecord(m *Message) bool {
	return (f.RecordType == "" || m.RecordType == f.RecordType) && (f.RecordID == "" || m.RecordID == f.RecordID)
}

// Messages lists messages, newest first. A call looks at most 100,000
// messages; a caller pages with Before.
func (t *Tx) Messages(f Filter) ([]*Message, error) {
	if f.Limit <= 0 {
		f.Limit = 100
	}
	before := uint64(1<<64 - 1)
	if f.Before != "" {
		if seq, ok := ParseMessageID(f.Before); ok {
			before = seq
		}
	}
	var out []*Message
	if f.State == "" {
		c := t.b(bucketMsgs).Cursor()
		k, v := c.Seek(u64(before))
		if k == nil || binary.BigEndian.Uint64(k) >= before {
			k, v = c.Prev()
		}
		for scanned := 0; k != nil && len(out) < f.Limit && scanned < 100_000; k, v = c.Prev() {
			scanned++
			var m Message
			if err := decodeMessage(v, &m); err != nil {
				return nil, err
			}
			if (f.Connector == "" || m.Connector == f.Connector) && f.matchRecord(&m) {
				m.Seq = binary.BigEndian.Uint64(k)
				out = append(out, &m)
			}
		}
		return out, nil
	}
	p := prefix([]byte(f.State))
	if f.Connector != "" {
		p = prefix([]byte(f.State), []byte(f.Connector))
	}
	c := t.b(bucketStates).Cursor()
	// Walk the index backwards from its end (or the cursor's place).
	var k []byte
	end := append(bytes.Clone(p), 0xff)
	if k, _ = c.Seek(end); k == nil {
		k, _ = c.Last()
	} else {
		k, _ = c.Prev()
	}
	for scanned := 0; hasPrefix(k, p) && len(out) < f.Limit && scanned < 100_000; k, _ = c.Prev() {
		seq := lastSeq(k)
		if seq >= before {
			continue
		}
		scanned++
		m, err := t.message(seq)
		if err != nil {
			return nil, err
		}
		if f.matchRecord(m) {
			out = append(out, m)
		}
	}
	return out, nil
}

// PurgeDelivered deletes at most limit messages delivered before the time.
func (t *Tx) PurgeDelivered(before time.Time, limit int) (int, error) {
	c := t.b(bucketDone).Cursor()
	until := timeKey(before)
	n := 0
	for k, _ := c.First(); k != nil && n < limit && bytes.Compare(k[:8], until) < 0; k, _ = c.First() {
		seq := lastSeq(k)
		if m, err := t.message(seq); err == nil {
			if err := t.b(bucketStates).Delete(key([]byte(m.State), []byte(m.Connector), u64(seq))); err != nil {
				return n, err
			}
			if err := t.b(bucketMsgs).Delete(u64(seq)); err != nil {
				return n, err
			}
		}
		if err := c.Delete(); err != nil {
			return n, err
		}
		n++
	}
	return n, nil
}

// Meta reads a value the gateway keeps for itself (such as the admin
// token's hash); nil when absent.
func (t *Tx) Meta(name string) []byte { return bytes.Clone(t.b(bucketMeta).Get([]byte(name))) }

// PutMeta writes such a value.
func (t *Tx) PutMeta(name string, v []byte) error { return t.b(bucketMeta).Put([]byte(name), v) }
