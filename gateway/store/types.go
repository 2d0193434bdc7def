package store

import (
	"encoding/json"
	"time"
)

// State is where a message stands.
type State string

const (
	Queued    State = "queued"    // waiting for its first attempt, or its turn in its lane
	Failed    State = "failed"    // an attempt failed; it will be retried
	Delivered State = "delivered" // the connector accepted it
	Dead      State = "dead"      // given up: a permanent failure or too old; replayable
)

// States lists every state, in the order status tables show them.
var States = []State{Queued, Failed, Delivered, Dead}

// Message is one delivery of one record change to one connector.
type Message struct {
	ID             string    `json:"id"`
	Seq            uint64    `json:"-"`
	Connector      string    `json:"connector"`
	RecordType     string    `json:"recordType"`
	RecordID       string    `json:"recordId"`
	Op             string    `json:"op"` // upsert or delete
	Body           string    `json:"body,omitempty"`
	ContentType    string    `json:"contentType,omitempty"`
	Mapping        string    `json:"mapping,omitempty"`        // the mapping that produced Body
	MappingVersion string    `json:"mappingVersion,omitempty"` // its content hash
	IdempotencyKey string    `json:"idempotencyKey"`
	State          State     `json:"state"`
	CreatedAt      time.Time `json:"createdAt"`
	NextAttemptAt  time.Time `json:"nextAttemptAt,omitzero"`
	DeliveredAt    time.Time `json:"deliveredAt,omitzero"`
	LastError      string    `json:"lastError,omitempty"`
	Attempts       []Attempt `json:"attempts,omitempty"`
}

// Lane is the message's ordering key: its record.
func (m *Message) Lane() string { return m.RecordType + "/" + m.RecordID }

// MaxAttemptsKept bounds the attempts history of one message: the first
// ones and the latest ones are kept.
const MaxAttemptsKept = 50

// Attempt is one try at delivering a message.
type Attempt struct {
	At       time.Time       `json:"at"`
	Duration time.Duration   `json:"durationNs"`
	Status   int             `json:"status,omitempty"` // the HTTP status; 0 when none came
	Error    string          `json:"error,omitempty"`
	Outcome  json.RawMessage `json:"outcome,omitempty"`  // the response body when it was JSON (an OperationOutcome)
	Response string          `json:"response,omitempty"` // the response body otherwise
}

// Record is the HMS side's current view of one resource.
type Record struct {
	Type      string          `json:"type"`
	ID        string          `json:"id"`
	Data      json.RawMessage `json:"data,omitempty"`
	Hash      string          `json:"hash"`    // of Data, canonical
	Version   int64           `json:"version"` // 1 for the first write, one more per change
	Source    string          `json:"source"`  // "hms", or the id of the connector the change came from
	Deleted   bool            `json:"deleted,omitempty"`
	UpdatedAt time.Time       `json:"updatedAt"`
}

// SyncState is where one record stands at one connector: its latest message.
type SyncState struct {
	Connector string    `json:"connector"`
	MessageID string    `json:"messageId"`
	State     State     `json:"state"`
	UpdatedAt time.Time `json:"updatedAt"`
	LastError string    `json:"lastError,omitempty"`
}

// Connector is a registered connector: its configuration, as the
// connector package encodes it, and the state the gateway keeps for it.
type Connector struct {
	ID         string          `json:"id"`
	Name       string          `json:"name"`
	Config     json.RawMessage `json:"config"`
	Paused     bool            `json:"paused,omitempty"`
	Disabled   bool            `json:"disabled,omitempty"` // after a 410 Gone; resume enables it again
	LastError  string          `json:"lastError,omitempty"`
	LastSyncAt time.Time       `json:"lastSyncAt,omitzero"`
	CreatedAt  time.Time       `json:"createdAt"`
	UpdatedAt  time.Time       `json:"updatedAt"`
}

// Counts is the number of messages of a connector in each state.
type Counts map[State]uint64
