package store

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"
)

func openTemp(t *testing.T) (*Store, string) {
	t.Helper()
	dir := t.TempDir()
	s, err := Open(dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s, dir
}

func update(t *testing.T, s *Store, fn func(*Tx) error) {
	t.Helper()
	if err := s.Update(context.Background(), fn); err != nil {
		t.Fatal(err)
	}
}

func enqueue(t *testing.T, s *Store, conn, typ, id, op string) *Message {
	t.Helper()
	m := &Message{Connector: conn, RecordType: typ, RecordID: id, Op: op, Body: `{"x":1}`, IdempotencyKey: fmt.Sprintf("%s-%s-%s", conn, id, op)}
	update(t, s, func(tx *Tx) error { return tx.Enqueue(m) })
	return m
}

func due(t *testing.T, s *Store, conn string, at time.Time) []*Message {
	t.Helper()
	var out []*Message
	if err := s.View(func(tx *Tx) error {
		var err error
		out, err = tx.Due(conn, at, 100, nil)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	return out
}

func finish(t *testing.T, s *Store, id string, st State, next time.Time) *Message {
	t.Helper()
	var m *Message
	update(t, s, func(tx *Tx) error {
		var err error
		m, err = tx.Finish(id, Attempt{At: tx.Now(), Status: 503, Error: "status 503"}, st, next)
		return err
	})
	return m
}

// Many concurrent Updates all commit, sharing transactions, and one
// failing function rolls back only its own writes.
func TestGroupCommit(t *testing.T) {
	s, _ := openTemp(t)
	var wg sync.WaitGroup
	errs := make([]error, 200)
	for i := range 200 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = s.Update(context.Background(), func(tx *Tx) error {
				if err := tx.PutRecord(&Record{Type: "Patient", ID: fmt.Sprint(i), Version: 1}); err != nil {
					return err
				}
				if i%10 == 0 {
					return errors.New("refused")
				}
				return nil
			})
		}()
	}
	wg.Wait()
	for i, err := range errs {
		if (i%10 == 0) != (err != nil) {
			t.Fatalf("update %d: %v", i, err)
		}
	}
	s.View(func(tx *Tx) error {
		for i := range 200 {
			_, err := tx.Record("Patient", fmt.Sprint(i))
			if (i%10 == 0) != errors.Is(err, ErrNotFound) {
				t.Errorf("record %d: %v", i, err)
			}
		}
		return nil
	})
}

// A panic in one update function is that caller's error, not a crash.
func TestUpdatePanicIsAnError(t *testing.T) {
	s, _ := openTemp(t)
	err := s.Update(context.Background(), func(tx *Tx) error { panic("boom") })
	if err == nil {
		t.Fatal("no error")
	}
	update(t, s, func(tx *Tx) error { return tx.PutMeta("k", []byte("v")) })
}

// Messages of one record are delivered one at a time, in order; other
// records' messages are due independently.
func TestLanesAreFIFO(t *testing.T) {
	s, _ := openTemp(t)
	book := enqueue(t, s, "c1", "Appointment", "A1", "upsert")
	cancel := enqueue(t, s, "c1", "Appointment", "A1", "upsert")
	other := enqueue(t, s, "c1", "Appointment", "A2", "upsert")
	elsewhere := enqueue(t, s, "c2", "Appointment", "A1", "upsert")
	now := time.Now().Add(time.Second)

	got := due(t, s, "c1", now)
	if len(got) != 2 || got[0].ID != book.ID || got[1].ID != other.ID {
		t.Fatalf("due = %v, want the booking and the other record", ids(got))
	}
	if got := due(t, s, "c2", now); len(got) != 1 || got[0].ID != elsewhere.ID {
		t.Fatalf("c2 due = %v", ids(got))
	}

	// The booking fails: the cancellation must wait behind it.
	finish(t, s, book.ID, Failed, now.Add(time.Minute))
	if got := due(t, s, "c1", now); len(got) != 1 || got[0].ID != other.ID {
		t.Fatalf("after a failure due = %v, want only the other record", ids(got))
	}
	if got := due(t, s, "c1", now.Add(2*time.Minute)); len(got) != 2 || got[0].ID != other.ID || got[1].ID != book.ID {
		t.Fatalf("after the retry time due = %v", ids(got))
	}
	finish(t, s, book.ID, Delivered, time.Time{})
	if got := due(t, s, "c1", now); len(got) != 2 || got[0].ID != cancel.ID {
		t.Fatalf("after delivery due = %v, want the cancellation", ids(got))
	}
	s.View(func(tx *Tx) error {
		c := tx.Counts("c1")
		if c[Queued] != 2 || c[Delivered] != 1 || c[Failed] != 0 {
			t.Errorf("counts = %v", c)
		}
		states, _ := tx.SyncStates("Appointment", "A1")
		if len(states) != 2 || states[0].MessageID != cancel.ID || states[0].State != Queued {
			t.Errorf("sync states = %+v", states)
		}
		return nil
	})
}

// A dead message leaves its lane (the next one goes on) and can be
// replayed; the attempts stay with it.
func TestDeadAndReplay(t *testing.T) {
	s, _ := openTemp(t)
	m1 := enqueue(t, s, "c1", "Patient", "P1", "upsert")
	m2 := enqueue(t, s, "c1", "Patient", "P1", "upsert")
	now := time.Now().Add(time.Second)
	finish(t, s, m1.ID, Dead, time.Time{})
	if got := due(t, s, "c1", now); len(got) != 1 || got[0].ID != m2.ID {
		t.Fatalf("due = %v", ids(got))
	}
	var replayed *Message
	update(t, s, func(tx *Tx) error {
		var err error
		replayed, err = tx.Replay(m1.ID)
		return err
	})
	if replayed.State != Queued || len(replayed.Attempts) != 1 {
		t.Errorf("replayed = %+v", replayed)
	}
	if got := due(t, s, "c1", now); len(got) != 1 || got[0].ID != m1.ID {
		t.Fatalf("after replay due = %v, want the replayed message first in its lane", ids(got))
	}
	err := s.Update(context.Background(), func(tx *Tx) error { _, err := tx.Replay(m2.ID); return err })
	if !errors.Is(err, ErrConflict) {
		t.Errorf("replay of a queued message: %v", err)
	}
}

// Everything survives a close and reopen; a second Open of the same
// directory fails with ErrLocked within the lock timeout.
func TestReopenAndLock(t *testing.T) {
	dir := t.TempDir()
	s, err := Open(dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	m := enqueue(t, s, "c1", "Patient", "P1", "upsert")
	start := time.Now()
	if _, err := Open(dir, Options{LockTimeout: 200 * time.Millisecond}); !errors.Is(err, ErrLocked) {
		t.Fatalf("second open: %v", err)
	}
	if time.Since(start) > 5*time.Second {
		t.Errorf("second open took %v", time.Since(start))
	}
	s.Close()
	if err := s.Update(context.Background(), func(*Tx) error { return nil }); !errors.Is(err, ErrClosed) {
		t.Errorf("update after close: %v", err)
	}
	s, err = Open(dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if got := due(t, s, "c1", time.Now().Add(time.Second)); len(got) != 1 || got[0].ID != m.ID || got[0].Body != `{"x":1}` {
		t.Fatalf("after reopen due = %v", ids(got))
	}
}

func TestListPurgeAndDeleteConnector(t *testing.T) {
	s, _ := openTemp(t)
	update(t, s, func(tx *Tx) error {
		return tx.PutConnector(&Connector{ID: "c1", Name: "EHR"})
	})
	if err := s.Update(context.Background(), func(tx *Tx) error {
		return tx.PutConnector(&Connector{ID: "c2", Name: "EHR"})
	}); !errors.Is(err, ErrConflict) {
		t.Errorf("a second connector of the same name: %v", err)
	}
	var ms []*Message
	for i := range 5 {
		ms = append(ms, enqueue(t, s, "c1", "Patient", fmt.Sprint(i), "upsert"))
	}
	finish(t, s, ms[0].ID, Delivered, time.Time{})
	finish(t, s, ms[1].ID, Dead, time.Time{})
	s.View(func(tx *Tx) error {
		all, _ := tx.Messages(Filter{Connector: "c1"})
		queued, _ := tx.Messages(Filter{Connector: "c1", State: Queued, Limit: 2})
		page2, _ := tx.Messages(Filter{Connector: "c1", State: Queued, Before: queued[1].ID})
		if len(all) != 5 || all[0].ID != ms[4].ID {
			t.Errorf("all = %v", ids(all))
		}
		if len(queued) != 2 || queued[0].ID != ms[4].ID || len(page2) != 1 || page2[0].ID != ms[2].ID {
			t.Errorf("queued = %v then %v", ids(queued), ids(page2))
		}
		if c, _ := tx.Connector("c1"); c.LastSyncAt.IsZero() {
			t.Error("lastSyncAt not set by a delivery")
		}
		return nil
	})
	update(t, s, func(tx *Tx) error {
		n, err := tx.PurgeDelivered(time.Now().Add(time.Hour), 100)
		if n != 1 {
			t.Errorf("purged %d", n)
		}
		return err
	})
	update(t, s, func(tx *Tx) error { return tx.DeleteConnector("c1") })
	if got := due(t, s, "c1", time.Now().Add(time.Hour)); len(got) != 0 {
		t.Errorf("due after delete = %v", ids(got))
	}
	s.View(func(tx *Tx) error {
		if _, err := tx.Message(ms[0].ID); !errors.Is(err, ErrNotFound) {
			t.Errorf("purged message: %v", err)
		}
		if _, err := tx.Message(ms[1].ID); err != nil {
			t.Errorf("dead message gone with its connector: %v", err)
		}
		return nil
	})
}

func ids(ms []*Message) []string {
	var out []string
	for _, m := range ms {
		out = append(out, m.ID+":"+m.RecordID)
	}
	return out
}

// Delivery ids are remembered until forgotten by age.
func TestSeen(t *testing.T) {
	s, _ := openTemp(t)
	update(t, s, func(tx *Tx) error { return tx.MarkSeen("c1", "msg_1") })
	s.View(func(tx *Tx) error {
		if _, ok := tx.Seen("c1", "msg_1"); !ok {
			t.Error("not seen")
		}
		if _, ok := tx.Seen("c2", "msg_1"); ok {
			t.Error("seen for another connector")
		}
		return nil
	})
	update(t, s, func(tx *Tx) error {
		n, err := tx.ForgetSeen(time.Now().Add(time.Hour), 10)
		if n != 1 {
			t.Errorf("forgot %d", n)
		}
		return err
	})
	s.View(func(tx *Tx) error {
		if _, ok := tx.Seen("c1", "msg_1"); ok {
			t.Error("still seen after forgetting")
		}
		return nil
	})
}
