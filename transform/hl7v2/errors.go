package hl7v2

import (
	"errors"
	"fmt"
)

// ParseError is returned by Parse for bytes that are not an HL7 v2 message.
// It says where, never what: message content is patient data, so neither
// Msg nor Error quotes it. The caller rejects the message (an AR
// acknowledgment, or a 400 with the position).
type ParseError struct {
	Segment int    // 1-based segment number, blank lines not counted; 0 for the whole message
	Field   int    // 1-based field number in the standard's numbering (MSH-2 is 2); 0 for the whole segment
	Offset  int    // byte offset into the input where the problem starts
	Msg     string // what is wrong, without content
}

func (e *ParseError) Error() string {
	switch {
	case e.Segment == 0:
		return fmt.Sprintf("hl7v2: offset %d: %s", e.Offset, e.Msg)
	case e.Field == 0:
		return fmt.Sprintf("hl7v2: segment %d (offset %d): %s", e.Segment, e.Offset, e.Msg)
	default:
		return fmt.Sprintf("hl7v2: segment %d, field %d (offset %d): %s", e.Segment, e.Field, e.Offset, e.Msg)
	}
}

// PathError is returned for a malformed or unusable path such as "PID.x" or
// "MSH.1" given to Set. Paths come from mapping files, not from messages, so
// the text quotes the path. The caller reports it at load time with the
// mapping's position.
type PathError struct {
	Path   string
	Offset int // byte offset into Path where the problem starts
	Msg    string
}

func (e *PathError) Error() string {
	return fmt.Sprintf("hl7v2: path %q, offset %d: %s", e.Path, e.Offset, e.Msg)
}

// ErrNoMSA is returned by ReadAck for a message without an MSA segment, which
// is therefore not an acknowledgment. The caller treats the reply as a
// protocol error, not as a rejection of what it sent.
var ErrNoMSA = errors.New("hl7v2: no MSA segment: not an acknowledgment")

// ErrNoMSH is returned by NewAck when the received message has no MSH
// segment to answer. The caller cannot acknowledge it and closes or resets
// the exchange instead.
var ErrNoMSH = errors.New("hl7v2: no MSH segment")

// ErrInvalidTime is wrapped by ParseTime for a value that is not a DTM
// (see ParseTime for the grammar); the wrapping text says
// which part is wrong but never quotes the value, which may be a birth date.
// The caller reports the field's path.
var ErrInvalidTime = errors.New("hl7v2: invalid DTM value")
