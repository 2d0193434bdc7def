package store

import (
	"bytes"
	"path/filepath"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
)

// A store written before lane due times, lanes and sync states moved
// next to what they index opens with them in their new places, the old
// buckets gone, and reads as before.
func TestOpenMergesOldBuckets(t *testing.T) {
	dir := t.TempDir()
	s, err := Open(dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	m := &Message{Connector: "c1", RecordType: "Patient", RecordID: "P1", Op: "upsert", Body: "{}", IdempotencyKey: "k"}
	update(t, s, func(tx *Tx) error { return tx.Enqueue(m) })
	s.Close()

	// Move the new entries back into the buckets of the earlier layout.
	db, err := bolt.Open(filepath.Join(dir, FileName), 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	oldLane := key([]byte("c1"), []byte(m.Lane()))
	lk := laneKey(m.RecordID, m.RecordType, "c1")
	sk := syncKey(m)
	if err := db.Update(func(tx *bolt.Tx) error {
		// The lane: its due time in lanedue (below), its message in lanes.
		lanes, err := tx.CreateBucket(bucketLanes)
		if err != nil {
			return err
		}
		records := tx.Bucket(bucketRecords)
		if records.Get(laneEntry(lk, m.Seq)) == nil {
			t.Fatalf("no lane entry at %q", laneEntry(lk, m.Seq))
		}
		if err := lanes.Put(key([]byte("c1"), []byte(m.Lane()), u64(m.Seq)), nil); err != nil {
			return err
		}
		if err := records.Delete(laneEntry(lk, m.Seq)); err != nil {
			return err
		}
		if err := lanes.Put(oldLane, bytes.Clone(records.Get(lk))); err != nil {
			return err
		}
		if err := records.Delete(lk); err != nil {
			return err
		}
		for _, old := range []struct {
			bucket, into, k []byte
		}{{[]byte("lanedue"), bucketLanes, oldLane}, {[]byte("sync"), bucketRecords, sk}} {
			b, err := tx.CreateBucket(old.bucket)
			if err != nil {
				return err
			}
			v := tx.Bucket(old.into).Get(old.k)
			if v == nil {
				t.Fatalf("no entry at %q in %s", old.k, old.into)
			}
			if err := b.Put(old.k, append([]byte(nil), v...)); err != nil {
				return err
			}
			if err := tx.Bucket(old.into).Delete(old.k); err != nil {
				return err
			}
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	db.Close()

	s, err = Open(dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	s.View(func(tx *Tx) error {
		if tx.tx.Bucket([]byte("lanedue")) != nil || tx.tx.Bucket([]byte("sync")) != nil || tx.tx.Bucket(bucketLanes) != nil {
			t.Error("the old buckets are still there")
		}
		states, err := tx.SyncStates("Patient", "P1")
		if err != nil || len(states) != 1 || states[0].MessageID != m.ID || states[0].State != Queued {
			t.Errorf("sync states: %+v %v", states, err)
		}
		return nil
	})
	if got := due(t, s, "c1", time.Now().Add(time.Second)); len(got) != 1 || got[0].ID != m.ID {
		t.Errorf("due after the merge: %+v", got)
	}
	// The lane's due time moves on as before: delivered, the lane is empty.
	update(t, s, func(tx *Tx) error {
		_, err := tx.Finish(m.ID, Attempt{At: tx.Now(), Status: 200}, Delivered, time.Time{})
		return err
	})
	if got := due(t, s, "c1", time.Now().Add(time.Hour)); len(got) != 0 {
		t.Errorf("due after delivery: %+v", got)
	}
}
