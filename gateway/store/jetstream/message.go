package jetstream

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	natsjs "github.com/nats-io/nats.go/jetstream"

	"github.com/liaisonhq/liaison/gateway/store"
)

// Headers of an outbox message; the body is the message's Body.
const (
	HeaderMessageID      = "Liaison-Message-Id"
	HeaderConnector      = "Liaison-Connector"
	HeaderRecordType     = "Liaison-Record-Type"
	HeaderRecordID       = "Liaison-Record-Id"
	HeaderOp             = "Liaison-Op"
	HeaderIdempotencyKey = "Liaison-Idempotency-Key"
	HeaderContentType    = "Content-Type"
	HeaderMapping        = "Liaison-Mapping"
	HeaderMappingVersion = "Liaison-Mapping-Version"
	HeaderCreatedAt      = "Liaison-Created-At"
	// HeaderReplayedAt is set on a message replayed from the dead letters;
	// its age for Policy.MaxAge counts from then.
	HeaderReplayedAt = "Liaison-Replayed-At"
)

// Headers a dead letter has besides the message's own.
const (
	HeaderError      = "Liaison-Error"      // the last attempt's error, without payload
	HeaderStatus     = "Liaison-Status"     // its HTTP status, absent when none came
	HeaderDeliveries = "Liaison-Deliveries" // how often the outbox handed it to a gateway
	HeaderDeadAt     = "Liaison-Dead-At"
	HeaderOutboxSeq  = "Liaison-Outbox-Seq" // its sequence in the outbox stream
	// HeaderResponse is the answer's body (an OperationOutcome), base64,
	// at most outbox.MaxResponse bytes before encoding.
	HeaderResponse = "Liaison-Response"
)

// encode turns m into a NATS message for its partition's subject, with
// the Nats-Msg-Id msgID. now stands in for a zero CreatedAt.
func (c Config) encode(m *store.Message, msgID string, now time.Time) (*nats.Msg, error) {
	if m.ID == "" {
		return nil, fmt.Errorf("message without an id: %w", ErrBadMessage)
	}
	if err := checkConnector(m.Connector); err != nil {
		return nil, fmt.Errorf("message %s: %w: %w", m.ID, ErrBadMessage, err)
	}
	created := m.CreatedAt
	if created.IsZero() {
		created = now
	}
	h := nats.Header{}
	set := func(k, v string) {
		if v != "" {
			h.Set(k, v)
		}
	}
	set(natsjs.MsgIDHeader, msgID)
	set(HeaderMessageID, m.ID)
	set(HeaderConnector, m.Connector)
	set(HeaderRecordType, m.RecordType)
	set(HeaderRecordID, m.RecordID)
	set(HeaderOp, m.Op)
	set(HeaderIdempotencyKey, m.IdempotencyKey)
	set(HeaderContentType, m.ContentType)
	set(HeaderMapping, m.Mapping)
	set(HeaderMappingVersion, m.MappingVersion)
	set(HeaderCreatedAt, created.UTC().Format(time.RFC3339Nano))
	for k, vs := range h {
		for _, v := range vs {
			if strings.ContainsAny(v, "\r\n") {
				return nil, fmt.Errorf("message %s: header %s has a line break: %w", m.ID, k, ErrBadMessage)
			}
		}
	}
	p := Partition(m.RecordType, m.RecordID, c.Partitions)
	return &nats.Msg{Subject: c.subject(m.Connector, p), Header: h, Data: []byte(m.Body)}, nil
}

// decoded is an outbox message as a gateway reads it back.
type decoded struct {
	msg        store.Message
	replayedAt time.Time // zero unless replayed
}

// decode reads an outbox message (or a dead letter) back. stored is the
// time the stream stored it, for a message without a creation time.
func decode(h nats.Header, data []byte, stored time.Time) (decoded, error) {
	d := decoded{msg: store.Message{
		ID:             h.Get(HeaderMessageID),
		Connector:      h.Get(HeaderConnector),
		RecordType:     h.Get(HeaderRecordType),
		RecordID:       h.Get(HeaderRecordID),
		Op:             h.Get(HeaderOp),
		Body:           string(data),
		ContentType:    h.Get(HeaderContentType),
		Mapping:        h.Get(HeaderMapping),
		MappingVersion: h.Get(HeaderMappingVersion),
		IdempotencyKey: h.Get(HeaderIdempotencyKey),
		CreatedAt:      stored,
	}}
	if d.msg.ID == "" {
		return d, errors.New("no " + HeaderMessageID + " header")
	}
	if v := h.Get(HeaderCreatedAt); v != "" {
		t, err := time.Parse(time.RFC3339Nano, v)
		if err != nil {
			return d, errors.New("bad " + HeaderCreatedAt + " header")
		}
		d.msg.CreatedAt = t
	}
	if v := h.Get(HeaderReplayedAt); v != "" {
		t, err := time.Parse(time.RFC3339Nano, v)
		if err != nil {
			return d, errors.New("bad " + HeaderReplayedAt + " header")
		}
		d.replayedAt = t
	}
	return d, nil
}

// ageFrom is when a message's age for Policy.MaxAge starts.
func (d decoded) ageFrom() time.Time {
	if d.replayedAt.After(d.msg.CreatedAt) {
		return d.replayedAt
	}
	return d.msg.CreatedAt
}

// oneLine makes s fit a header value.
func oneLine(s string) string {
	return strings.NewReplacer("\r\n", " ", "\r", " ", "\n", " ").Replace(s)
}
