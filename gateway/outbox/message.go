package outbox

import (
	"context"
	"strconv"
	"time"
)

// Op is what a message does to the record at the connector.
type Op string

const (
	Upsert Op = "upsert" // create or update the record
	Delete Op = "delete" // delete the record
)

// Message is one delivery of one record change to one connector, as a
// Sender sees it.
type Message struct {
	ID        string // the outbox's id for the message, unique in the store
	Connector string // the connector's id
	// RecordType and RecordID are the HMS record the change is about
	// ("Appointment", "A1").
	RecordType string
	RecordID   string
	Op         Op
	// Body is the record mapped by the connector's outbound mapping, encoded
	// in the mapping's output format. For a Delete it is the record as it
	// was last known, mapped, so that a Sender can find its identifiers.
	Body        []byte
	ContentType string // of Body: "application/fhir+json", "application/json", …
	// IdempotencyKey is the same for every attempt of this message and
	// differs between messages: source, record key and content hash.
	IdempotencyKey string
	Attempt        int // 1 for the first attempt
}

// Sender delivers messages to one connector. Send returns nil when the
// connector accepted the message (a 2xx), and otherwise an error the
// outbox classifies: a *SendError for anything the connector answered or
// failed to answer, so that the outbox can retry, dead-letter or disable.
// A Sender is used by several goroutines at once, for different records.
type Sender interface {
	Send(ctx context.Context, m Message) error
}

// SendError is a failed delivery, as the outbox classifies it:
//
//   - Status 0 (no response: connection refused, reset, timeout), 408, 429
//     and 5xx are retried with backoff, at the earliest after RetryAfter;
//   - 410 Gone disables the connector;
//   - any other status is dead-lettered at once, as is Permanent.
type SendError struct {
	Status     int           // the HTTP status, 0 when no response came
	RetryAfter time.Duration // the server's Retry-After, 0 when absent
	// Response is the body of the answer (an OperationOutcome from a FHIR
	// server), at most MaxResponse bytes, kept on the attempt for operators.
	Response []byte
	// Permanent dead-letters the message whatever the status: an adapter's
	// own verdict, such as an HL7 v2 ACK with MSA-1 AR.
	Permanent bool
	Err       error // what went wrong, without patient data
}

// MaxResponse bounds SendError.Response.
const MaxResponse = 64 << 10

func (e *SendError) Error() string {
	switch {
	case e.Err != nil && e.Status != 0:
		return "status " + strconv.Itoa(e.Status) + ": " + e.Err.Error()
	case e.Err != nil:
		return e.Err.Error()
	default:
		return "status " + strconv.Itoa(e.Status)
	}
}

func (e *SendError) Unwrap() error { return e.Err }
