package store

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"time"

	bolt "go.etcd.io/bbolt"
)

// FileName is the store's file inside the data directory.
const FileName = "liaison.db"

// Options tune Open. The zero value is the production setting.
type Options struct {
	// LockTimeout is how long Open waits for another process to release the
	// data directory before it returns ErrLocked. Default 500ms, so a second gateway on the same directory says so within a second.
	LockTimeout time.Duration
	// NoSync skips fsync on commit: for benchmarks that measure everything
	// but the disk. Never in production.
	NoSync bool
	// MaxBatch bounds how many Update calls share one commit. Default 1000.
	MaxBatch int
	// LingerGap and LingerMax shape a commit of accepted changes under
	// load (the previous commit had more than one request): the committer
	// keeps gathering while requests arrive less than LingerGap apart, up
	// to LingerMax after the first. Fewer, larger commits cost less per
	// request. A lone request never waits, nor does a commit that starts
	// with another kind of write (a delivery's outcome: the outbox's
	// workers wait for it before their next send). Defaults 200µs and
	// 2ms; a negative LingerGap commits what has arrived at once.
	LingerGap, LingerMax time.Duration
	// ReleaseEvery is how often the pages of the file that the process
	// has touched leave its resident memory; they stay in the kernel's
	// page cache. bbolt maps the whole file, so without this every page
	// read or written since start stays resident, and the process's RSS
	// grows with the file. Default 100ms (at 250ms, delivering 6,000
	// messages a second touched 60 MiB in between); negative never.
	ReleaseEvery time.Duration
	// AuditMessage, when set, turns each audit entry into a message to
	// queue with it, in the same transaction (an AuditEvent for an audit
	// repository), or returns nil for none.
	AuditMessage func(e *AuditEntry) (*Message, error)
}

// Store is the gateway's state on disk. Safe for concurrent use.
type Store struct {
	db       *bolt.DB
	requests chan *request
	closing  chan struct{}
	stopped  chan struct{}
	released chan struct{} // closed when releaseLoop has returned
	close    sync.Once
	maxBatch int
	opts     Options

	// mu orders Update's hand-over against Close: once closed is set no
	// request enters the queue, so the committer's drain finds them all.
	mu     sync.RWMutex
	closed bool
}

// Open opens (creating when needed) the store in the data directory dir.
func Open(dir string, opts Options) (*Store, error) {
	if opts.LockTimeout == 0 {
		opts.LockTimeout = 500 * time.Millisecond
	}
	if opts.LingerGap == 0 {
		opts.LingerGap = 200 * time.Microsecond
	}
	if opts.LingerMax <= 0 {
		opts.LingerMax = 2 * time.Millisecond
	}
	if opts.MaxBatch <= 0 {
		opts.MaxBatch = 1000
	}
	if opts.ReleaseEvery == 0 {
		opts.ReleaseEvery = 100 * time.Millisecond
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("data directory: %w", err)
	}
	path := filepath.Join(dir, FileName)
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: opts.LockTimeout, NoSync: opts.NoSync, FreelistType: bolt.FreelistMapType})
	if errors.Is(err, bolt.ErrTimeout) {
		return nil, fmt.Errorf("%s: %w", dir, ErrLocked)
	}
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	err = db.Update(func(tx *bolt.Tx) error {
		for _, name := range allBuckets {
			if _, err := tx.CreateBucketIfNotExists(name); err != nil {
				return err
			}
		}
		if err := mergeBuckets(tx); err != nil {
			return err
		}
		return moveLanes(tx)
	})
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	s := &Store{
		db:       db,
		requests: make(chan *request, opts.MaxBatch),
		closing:  make(chan struct{}),
		stopped:  make(chan struct{}),
		released: make(chan struct{}),
		maxBatch: opts.MaxBatch,
		opts:     opts,
	}
	go s.commitLoop()
	go s.releaseLoop(opts.ReleaseEvery)
	return s, nil
}

// moveLanes moves the lanes of an older store (bucketLanes: the due
// time at key(conn, lane), the messages at key(conn, lane, seq)) to
// their laneKeys in the records bucket, and drops the old bucket.
func moveLanes(tx *bolt.Tx) error {
	lanes := tx.Bucket(bucketLanes)
	if lanes == nil {
		return nil
	}
	records := tx.Bucket(bucketRecords)
	err := lanes.ForEach(func(k, v []byte) error {
		conn, rest, ok := bytes.Cut(k, []byte{sep})
		if !ok {
			return fmt.Errorf("lanes: malformed key %x", k)
		}
		// A lane (type/id) holds no sep; a message's key ends in sep and
		// eight bytes of sequence number, which may hold some.
		lane, seq := rest, []byte(nil)
		if n := len(rest); n >= 9 && rest[n-9] == sep && bytes.IndexByte(rest[:n-9], sep) < 0 {
			lane, seq = rest[:n-9], rest[n-8:]
		}
		typ, id := splitLane(string(lane))
		nk := append(laneKey(id, typ, string(conn)), seq...)
		return records.Put(nk, bytes.Clone(v))
	})
	if err != nil {
		return err
	}
	return tx.DeleteBucket(bucketLanes)
}

// mergeBuckets moves the entries of an older store's mergedBuckets into
// the buckets that now hold them, and drops the old buckets.
func mergeBuckets(tx *bolt.Tx) error {
	for _, m := range mergedBuckets {
		from := tx.Bucket(m.from)
		if from == nil {
			continue
		}
		into := tx.Bucket(m.into)
		if err := from.ForEach(func(k, v []byte) error { return into.Put(bytes.Clone(k), bytes.Clone(v)) }); err != nil {
			return err
		}
		if err := tx.DeleteBucket(m.from); err != nil {
			return err
		}
	}
	return nil
}

// Close waits for the commits under way and closes the file. Update
// returns ErrClosed afterwards.
func (s *Store) Close() error {
	var err error
	s.close.Do(func() {
		s.mu.Lock()
		s.closed = true
		s.mu.Unlock()
		close(s.closing)
		<-s.stopped
		<-s.released
		err = s.db.Close()
	})
	return err
}

// releaseLoop releases the mapped pages of the file every period, until
// Close; a negative period never.
func (s *Store) releaseLoop(every time.Duration) {
	defer close(s.released)
	if every < 0 {
		<-s.closing
		return
	}
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-s.closing:
			return
		case <-t.C:
			s.release()
		}
	}
}

// release takes the pages of the file out of the process's resident memory.
func (s *Store) release() error {
	return s.db.View(func(tx *bolt.Tx) error {
		// The read transaction keeps bbolt from remapping the file
		// meanwhile; the file's used part is mapped.
		return releaseMapped(s.db.Info().Data, uintptr(tx.Size()))
	})
}

// View runs fn in a read-only transaction: a consistent snapshot.
func (s *Store) View(fn func(*Tx) error) error {
	return s.db.View(func(btx *bolt.Tx) error {
		return fn(newTx(btx, s))
	})
}

// Update runs fn in a write transaction and returns once the transaction
// is committed to disk, or with fn's error, in which case none of fn's
// writes happened. fn shares its transaction with other callers' (group
// commit) and may run more than once when another caller's function
// fails: it must read and write only through the Tx, and do no I/O.
//
// Once the request is handed to the committer, Update waits for the
// commit even if ctx is cancelled, so that its answer is the truth.
func (s *Store) Update(ctx context.Context, fn func(*Tx) error) error {
	return s.update(ctx, fn, false)
}

// update is Update; linger says the committer may wait for more requests
// to join this one's commit (accepted changes).
func (s *Store) update(ctx context.Context, fn func(*Tx) error, linger bool) error {
	r := &request{fn: fn, done: make(chan error, 1), linger: linger}
	s.mu.RLock()
	if s.closed {
		s.mu.RUnlock()
		return ErrClosed
	}
	select {
	case s.requests <- r:
	case <-ctx.Done():
		s.mu.RUnlock()
		return ctx.Err()
	}
	s.mu.RUnlock()
	return <-r.done
}

// request is one Update waiting for a commit.
type request struct {
	fn     func(*Tx) error
	done   chan error
	linger bool // see update
}

// commitLoop gathers the requests that arrived while the previous commit
// was written and commits them together: under light load a request
// commits at once; under load batches grow by themselves, as many as
// arrive during one fsync, and the committer lingers for more while
// they keep coming (Options.LingerGap, LingerMax). Measured with
// scripts/bench-accept, interleaved (BENCHMARKS.md, "Stop 11"): 14–20%
// less CPU per accepted record and 4–8% more records a second at 64
// connections.
func (s *Store) commitLoop() {
	defer close(s.stopped)
	linger := time.NewTimer(time.Hour)
	linger.Stop()
	busy := false // the previous commit had more than one request
	for {
		var first *request
		select {
		case first = <-s.requests:
		case <-s.closing:
			s.drain()
			return
		}
		batch := []*request{first}
		until := time.Now().Add(s.opts.LingerMax)
	gather:
		for len(batch) < s.maxBatch {
			select {
			case r := <-s.requests:
				batch = append(batch, r)
				continue
			default:
			}
			wait := min(s.opts.LingerGap, time.Until(until))
			if !first.linger || !busy && len(batch) < 2 || wait <= 0 {
				break
			}
			linger.Reset(wait)
			select {
			case r := <-s.requests:
				batch = append(batch, r)
				linger.Stop() // Go 1.23 timers: no stale tick after Stop
			case <-linger.C:
				break gather
			case <-s.closing:
				linger.Stop()
				break gather
			}
		}
		busy = len(batch) > 1
		s.commit(batch)
	}
}

// drain commits what was handed over before Close.
func (s *Store) drain() {
	for {
		select {
		case r := <-s.requests:
			s.commit([]*request{r})
		default:
			return
		}
	}
}

// errRerun rolls a batch back when one of its functions failed.
var errRerun = errors.New("rerun the batch without the failed function")

// commit runs a batch in one transaction. A function that fails gets its
// error; the transaction is rolled back and the others run again without it.
func (s *Store) commit(batch []*request) {
	for len(batch) > 0 {
		failed, failure := -1, error(nil)
		err := s.db.Update(func(btx *bolt.Tx) error {
			tx := newTx(btx, s)
			for i, r := range batch {
				if err := run(r.fn, tx); err != nil {
					failed, failure = i, err
					return errRerun
				}
			}
			return tx.flushCounts()
		})
		if failed >= 0 {
			batch[failed].done <- failure
			batch = append(batch[:failed:failed], batch[failed+1:]...)
			continue
		}
		for _, r := range batch {
			r.done <- err
		}
		return
	}
}

// run calls fn, turning a panic into an error so one bad request cannot
// take the committer down.
func run(fn func(*Tx) error, tx *Tx) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("store: panic in update: %v", p)
		}
	}()
	return fn(tx)
}
