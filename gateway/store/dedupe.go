package store

import (
	"bytes"
	"time"
)

// Inbound deliveries (webhooks, queue messages) are deduplicated by the
// id their sender gives them:
//
//	seen    connector · delivery id → time first seen
//	seenat  time · connector · delivery id → ∅     for forgetting old ids

// Seen tells whether the connector's delivery id was marked, and when.
func (t *Tx) Seen(conn, id string) (time.Time, bool) {
	v := t.b(bucketSeen).Get(key([]byte(conn), []byte(id)))
	if len(v) != 8 {
		return time.Time{}, false
	}
	return keyTime(v), true
}

// MarkSeen records a delivery id, in the transaction that applies it.
func (t *Tx) MarkSeen(conn, id string) error {
	k := key([]byte(conn), []byte(id))
	if t.b(bucketSeen).Get(k) != nil {
		return nil
	}
	at := timeKey(t.now)
	if err := t.b(bucketSeen).Put(k, at); err != nil {
		return err
	}
	return t.b(bucketSeenAt).Put(key(at, []byte(conn), []byte(id)), nil)
}

// ForgetSeen forgets at most limit delivery ids seen before the time.
func (t *Tx) ForgetSeen(before time.Time, limit int) (int, error) {
	c := t.b(bucketSeenAt).Cursor()
	until := timeKey(before)
	n := 0
	for k, _ := c.First(); k != nil && n < limit && bytes.Compare(k[:8], until) < 0; k, _ = c.First() {
		if err := t.b(bucketSeen).Delete(k[9:]); err != nil {
			return n, err
		}
		if err := c.Delete(); err != nil {
			return n, err
		}
		n++
	}
	return n, nil
}
