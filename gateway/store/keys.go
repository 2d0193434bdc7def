package store

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"strconv"
	"strings"
	"time"
)

var (
	bucketMsgs    = []byte("msgs")
	bucketDue     = []byte("due")
	bucketStates  = []byte("states")
	bucketDone    = []byte("done")
	bucketRecords = []byte("records")
	bucketConns   = []byte("conns")
	bucketCounts  = []byte("counts")
	bucketMeta    = []byte("meta")
	bucketSeen    = []byte("seen")
	bucketSeenAt  = []byte("seenat")
	bucketAudit   = []byte("audit")

	// appendedBuckets are those whose keys mostly grow: new keys go at
	// the end (of a connector's or a state's range).
	appendedBuckets = [][]byte{bucketMsgs, bucketDue, bucketStates, bucketDone, bucketAudit}

	allBuckets = [][]byte{bucketMsgs, bucketDue, bucketStates, bucketDone, bucketRecords, bucketConns, bucketCounts, bucketMeta, bucketSeen, bucketSeenAt, bucketAudit}

	// mergedBuckets are buckets of earlier versions whose entries now live,
	// under the same keys, in another bucket, next to the entries they go
	// with: a lane's due time beside its messages, a record's sync states
	// beside the record. A commit then writes one leaf page where it wrote
	// two. Open moves what an older store holds.
	mergedBuckets = []struct{ from, into []byte }{
		{[]byte("lanedue"), bucketLanes},
		{[]byte("sync"), bucketRecords},
	}

	// bucketLanes held the lanes of earlier versions, under
	// key(conn, lane) and key(conn, lane, seq); they now live in the
	// records bucket (see laneKey), and Open moves them there.
	bucketLanes = []byte("lanes")
)

// A lane — one record's messages for one connector, oldest first — lives
// in the records bucket right after the record (key(type, id)) and its
// sync states (key(type, id, conn)): the lane's due time at laneKey =
// key(type, id, conn) + sep, and each message at laneKey + seq. Accepting
// a change then writes one leaf page of the records bucket for the
// record, its sync state and its lane, where separate buckets wrote one
// page each (the keys of a busy store are scattered: a page per record).
// Connector ids hold no sep, so the three kinds of key do not mix.
func laneKey(id, typ, conn string) []byte { return prefix([]byte(typ), []byte(id), []byte(conn)) }

// laneEntry is the key of message seq in the lane at lk.
func laneEntry(lk []byte, seq uint64) []byte {
	k := make([]byte, len(lk), len(lk)+8)
	copy(k, lk)
	return binary.BigEndian.AppendUint64(k, seq)
}

// splitLane is the reverse of Message.Lane: record types hold no '/'.
func splitLane(lane string) (typ, id string) {
	typ, id, _ = strings.Cut(lane, "/")
	return typ, id
}

// sep separates the parts of a key. Names that go into keys (connector
// ids, record types and ids) never hold it: the HTTP layer refuses them.
const sep = 0

// key joins parts with sep.
func key(parts ...[]byte) []byte {
	n := len(parts) - 1
	for _, p := range parts {
		n += len(p)
	}
	k := make([]byte, 0, n)
	for i, p := range parts {
		if i > 0 {
			k = append(k, sep)
		}
		k = append(k, p...)
	}
	return k
}

// prefix is key(parts...) followed by sep: every key that starts with these parts.
func prefix(parts ...[]byte) []byte { return append(key(parts...), sep) }

func u64(n uint64) []byte {
	b := make([]byte, 8)
	binary.BigEndian.PutUint64(b, n)
	return b
}

// timeKey orders times; times before 1970 sort as 1970.
func timeKey(t time.Time) []byte {
	n := t.UnixNano()
	if n < 0 {
		n = 0
	}
	return u64(uint64(n))
}

func keyTime(b []byte) time.Time { return time.Unix(0, int64(binary.BigEndian.Uint64(b))) }

// lastSeq is the sequence number at the end of a key.
func lastSeq(k []byte) uint64 { return binary.BigEndian.Uint64(k[len(k)-8:]) }

// MessageID is how messages are named outside the store.
func MessageID(seq uint64) string { return fmt.Sprintf("%016x", seq) }

// ParseMessageID is the reverse of MessageID; ok is false for a malformed id.
func ParseMessageID(id string) (seq uint64, ok bool) {
	if len(id) != 16 {
		return 0, false
	}
	n, err := strconv.ParseUint(id, 16, 64)
	return n, err == nil
}

func hasPrefix(k, p []byte) bool { return k != nil && bytes.HasPrefix(k, p) }
