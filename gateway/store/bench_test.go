package store

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
)

// benchBody is an Appointment as the shipped mapping writes it.
var benchBody = `{"resourceType":"Appointment","id":"A0000000","extension":[{"url":"http://hl7.org/fhir/StructureDefinition/tz-code","valueCode":"America/New_York"}],` +
	`"identifier":[{"system":"urn:hms:appointment","value":"A0000000"}],"status":"booked","start":"2024-06-15T13:30:00Z","end":"2024-06-15T13:45:00Z",` +
	`"minutesDuration":15,"participant":[{"actor":{"reference":"Patient/P9"},"status":"accepted"},{"actor":{"reference":"Location/LOC-1"},"status":"accepted"}]}`

var benchRecord = json.RawMessage(`{"appointmentId":"A0000000","datetime":"2024-06-15 09:30","durationMin":15,"locationId":"LOC-1","patientId":"P9","status":"booked","tz":"America/New_York"}`)

func openBench(b *testing.B) (*Store, string) {
	b.Helper()
	dir := b.TempDir()
	s, err := Open(dir, Options{NoSync: true})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { s.Close() })
	return s, filepath.Join(dir, FileName)
}

// enqueueBatch writes what accepting records first..first+n-1 writes: the
// record, read first, and one message for connector c1.
func enqueueBatch(tx *Tx, first, n int) error {
	for i := first; i < first+n; i++ {
		id := fmt.Sprintf("A%07d", i)
		if _, err := tx.Record("Appointment", id); err != ErrNotFound {
			return fmt.Errorf("record %s: %v", id, err)
		}
		if err := tx.PutRecord(&Record{Type: "Appointment", ID: id, Data: benchRecord, Hash: "h", Version: 1, Source: "hms", UpdatedAt: tx.Now()}); err != nil {
			return err
		}
		m := &Message{Connector: "c1", RecordType: "Appointment", RecordID: id, Op: "upsert", Body: benchBody,
			ContentType: "application/fhir+json", Mapping: "hms-appointment-to-fhir", MappingVersion: "0123456789abcdef", IdempotencyKey: "0123456789abcdef0123456789abcdef"}
		if err := tx.Enqueue(m); err != nil {
			return err
		}
	}
	return nil
}

// cost is where a benchmark starts counting: bbolt's statistics and the
// process's CPU time.
type cost struct {
	db  bolt.Stats
	cpu time.Duration
}

func startCost(s *Store) cost { return cost{db: s.db.Stats(), cpu: cpuTime()} }

// cpuTime is the CPU time of the process so far, user and system: unlike
// ns/op, it does not count waiting for a busy machine's CPU or disk.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// report adds the CPU time per op, the pages bbolt wrote per op, and the
// file's size per op.
func (c cost) report(b *testing.B, s *Store, file string) {
	b.ReportMetric(float64(cpuTime()-c.cpu)/float64(b.N), "cpu-ns/op")
	before := c.db
	after := s.db.Stats()
	d := after.TxStats.Sub(&before.TxStats)
	b.ReportMetric(float64(d.GetWrite())/float64(b.N), "pages/op")
	if fi, err := os.Stat(file); err == nil {
		b.ReportMetric(float64(fi.Size())/float64(b.N), "file-B/op")
	}
}

// BenchmarkEnqueue is the store's share of accepting a record: a
// transaction of 32 records with a message each, as group commit makes
// them under load, without fsync. An op is one record.
func BenchmarkEnqueue(b *testing.B) {
	s, file := openBench(b)
	ctx := context.Background()
	c := startCost(s)
	b.ResetTimer()
	for i := 0; i < b.N; i += 32 {
		if err := s.Update(ctx, func(tx *Tx) error { return enqueueBatch(tx, i, min(32, b.N-i)) }); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	c.report(b, s, file)
}

// BenchmarkFinish is the store's share of delivering a message: finding
// it due, then recording the attempt, 8 per transaction as the default
// delivery concurrency makes them, without fsync. An op is one message.
func BenchmarkFinish(b *testing.B) {
	s, file := openBench(b)
	ctx := context.Background()
	conn := &Connector{ID: "c1", Name: "EHR", Config: json.RawMessage(`{"name":"EHR","type":"fhir","endpoint":"http://127.0.0.1:1/fhir","resources":["Appointment"]}`)}
	if err := s.Update(ctx, func(tx *Tx) error { return tx.PutConnector(conn) }); err != nil {
		b.Fatal(err)
	}
	for i := 0; i < b.N; i += 1000 {
		if err := s.Update(ctx, func(tx *Tx) error { return enqueueBatch(tx, i, min(1000, b.N-i)) }); err != nil {
			b.Fatal(err)
		}
	}
	c := startCost(s)
	b.ResetTimer()
	for done := 0; done < b.N; {
		var due []*Message
		if err := s.View(func(tx *Tx) error {
			var err error
			due, err = tx.Due("c1", time.Now(), min(8, b.N-done), nil)
			return err
		}); err != nil {
			b.Fatal(err)
		}
		if err := s.Update(ctx, func(tx *Tx) error {
			for _, m := range due {
				if _, err := tx.Finish(m.ID, Attempt{At: tx.Now(), Duration: time.Millisecond, Status: 200}, Delivered, time.Time{}); err != nil {
					return err
				}
			}
			return nil
		}); err != nil {
			b.Fatal(err)
		}
		done += len(due)
	}
	b.StopTimer()
	c.report(b, s, file)
}

// BenchmarkAcceptBatch is the committer's whole share of accepting
// records, serial as the committer runs it: transactions of 100 new
// records through Accept's apply (the record, its message for connector
// c1 with its lane, indexes and counts, its audit entry), without fsync.
// An op is one record. This is the work that bounds the accept rate
// once the CPU is busy: everything else runs in parallel.
func BenchmarkAcceptBatch(b *testing.B) {
	s, file := openBench(b)
	ctx := context.Background()
	const batch = 100
	changes := make([]*Change, batch)
	out := make([]Accepted, batch)
	c := startCost(s)
	b.ResetTimer()
	for i := 0; i < b.N; i += batch {
		n := min(batch, b.N-i)
		for j := range n {
			id := fmt.Sprintf("A%07d", i+j)
			changes[j] = &Change{Type: "Appointment", ID: id, Data: benchRecord, Hash: "h" + id, Source: SourceHMS, RequestID: "R" + id, Address: "127.0.0.1",
				Messages: []*Message{{Connector: "c1", RecordType: "Appointment", RecordID: id, Op: "upsert", Body: benchBody,
					ContentType: "application/fhir+json", Mapping: "hms-appointment-to-fhir", MappingVersion: "0123456789abcdef"}}}
		}
		if err := s.Update(ctx, func(tx *Tx) error {
			for j := range n {
				if err := tx.apply(changes[j], &out[j]); err != nil {
					return err
				}
			}
			return nil
		}); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	c.report(b, s, file)
}
