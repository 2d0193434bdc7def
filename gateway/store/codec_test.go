package store

import (
	"encoding/json"
	"reflect"
	"testing"
	"time"
)

func sampleMessage() *Message {
	at := time.Date(2026, 11, 29, 5, 0, 0, 123456789, time.UTC)
	return &Message{
		ID: MessageID(42), Connector: "c-ehr", RecordType: "Appointment", RecordID: "A-1", Op: "upsert",
		Body: `{"resourceType":"Appointment","status":"booked","note":[{"text":"é \"quoted\" \u0000"}]}`, ContentType: "application/fhir+json",
		Mapping: "hms-appointment-to-fhir", MappingVersion: "sha256:abc", IdempotencyKey: "k-1", State: Failed,
		CreatedAt: at, NextAttemptAt: at.Add(time.Minute), LastError: "503 Service Unavailable",
		Attempts: []Attempt{
			{At: at, Duration: 1500 * time.Millisecond, Status: 503, Error: "503", Outcome: json.RawMessage(`{"resourceType":"OperationOutcome"}`)},
			{At: at.Add(time.Second), Error: "connection refused", Response: "<html>down</html>"},
		},
	}
}

// A message, a record and a sync state come back from their stored form
// field for field, times as the same instant.
func TestCodecRoundTrip(t *testing.T) {
	m := sampleMessage()
	var gotM Message
	if err := decodeMessage(encodeMessage(m), &gotM); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(&gotM, m) {
		t.Errorf("message:\n got %+v\nwant %+v", gotM, *m)
	}

	r := &Record{Type: "Patient", ID: "MRN:1", Data: json.RawMessage(`{"mrn":"MRN:1","n":1.50}`), Hash: "h", Version: 7,
		Source: "hms", Deleted: true, UpdatedAt: time.Date(2026, 1, 2, 3, 4, 5, 6, time.UTC)}
	var gotR Record
	if err := decodeRecord(encodeRecord(r), &gotR); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(&gotR, r) {
		t.Errorf("record:\n got %+v\nwant %+v", gotR, *r)
	}

	s := &SyncState{Connector: "c", MessageID: MessageID(9), State: Delivered, UpdatedAt: time.Unix(1700000000, 0).UTC()}
	var gotS SyncState
	if err := decodeSyncState(encodeSyncState(s), &gotS); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(&gotS, s) {
		t.Errorf("sync state:\n got %+v\nwant %+v", gotS, *s)
	}
}

// A store written by an earlier version holds JSON values: they still read.
func TestCodecReadsJSON(t *testing.T) {
	m := sampleMessage()
	data, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	var got Message
	if err := decodeMessage(data, &got); err != nil {
		t.Fatal(err)
	}
	if got.Body != m.Body || got.State != m.State || len(got.Attempts) != 2 || !got.CreatedAt.Equal(m.CreatedAt) {
		t.Errorf("got %+v", got)
	}
}

// Every truncation of an encoded message is an error, never a panic or a
// half-filled message taken for whole.
func TestCodecTruncated(t *testing.T) {
	data := encodeMessage(sampleMessage())
	for n := 0; n < len(data); n++ {
		var m Message
		if err := decodeMessage(data[:n], &m); err == nil {
			t.Fatalf("%d of %d bytes decoded without an error", n, len(data))
		}
	}
	var m Message
	if err := decodeMessage(append(data, 0), &m); err == nil {
		t.Fatal("a trailing byte decoded without an error")
	}
}

func FuzzDecodeMessage(f *testing.F) {
	f.Add(encodeMessage(sampleMessage()))
	f.Add(encodeMessage(&Message{}))
	f.Add([]byte(`{"id":"m1"}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		var m Message
		if decodeMessage(data, &m) != nil || len(data) == 0 || data[0] != formatBinary {
			return
		}
		// What decodes survives encoding and decoding again.
		var again Message
		if err := decodeMessage(encodeMessage(&m), &again); err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(again, m) {
			t.Fatalf("changed on the way through:\n got %+v\nwant %+v", again, m)
		}
	})
}
