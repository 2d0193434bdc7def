package hl7v2

import (
	"fmt"
	"strconv"
	"time"
)

// AckCode is an acknowledgment code, MSA-1 (HL7 table 0008).
type AckCode string

// The acknowledgment codes: A for original mode (application level), C for
// enhanced mode (commit level).
const (
	AppAccept    AckCode = "AA" // application accept: processed
	AppError     AckCode = "AE" // application error: not processed, may be resent after a fix
	AppReject    AckCode = "AR" // application reject: not processed, do not resend as is
	CommitAccept AckCode = "CA" // commit accept: stored, will be processed
	CommitError  AckCode = "CE" // commit error
	CommitReject AckCode = "CR" // commit reject
)

// Valid reports whether c is one of the six codes of table 0008.
func (c AckCode) Valid() bool {
	switch c {
	case AppAccept, AppError, AppReject, CommitAccept, CommitError, CommitReject:
		return true
	}
	return false
}

// Accepted reports whether c is AA or CA. An AE with only warnings in its
// ERR segments is not counted as accepted; look at Ack.Errors for that.
func (c AckCode) Accepted() bool {
	return c == AppAccept || c == CommitAccept
}

// Ack is what an acknowledgment says: its MSA segment and ERR segments.
type Ack struct {
	Code      AckCode    // MSA-1
	ControlID string     // MSA-2: MSH-10 of the message acknowledged
	Text      string     // MSA-3, text message (kept for backward compatibility in v2.5+)
	Errors    []AckError // one per ERR segment, in order
}

// AckError is one ERR segment. Reading understands both the v2.5+ layout
// (ERR-2 location, ERR-3 code, ERR-4 severity …) and the older ERR-1 (ELD:
// segment^sequence^field^code); writing uses the v2.5+ layout, as the CDC
// immunization guide requires.
type AckError struct {
	Location    Path   // ERR-2 (or ERR-1.1–3): where; Field is 0 when only the segment is known
	Code        string // ERR-3.1, HL7 table 0357 ("101" required field missing), or ERR-1.4.1
	Text        string // ERR-3.2, or ERR-1.4.2
	Severity    string // ERR-4: "E" error, "W" warning, "I" information (v2.7 adds "F" fatal)
	AppCode     string // ERR-5.1, application error code
	AppText     string // ERR-5.2
	Diagnostic  string // ERR-7, diagnostic information
	UserMessage string // ERR-8, user message
}

// ReadAck reads the acknowledgment in m: MSA-1, MSA-2, MSA-3 and every ERR
// segment. It returns ErrNoMSA when m has no MSA. The code is returned as
// written even if it is not Valid.
func ReadAck(m *Message) (Ack, error) {
	if m.segment("MSA", 1) == nil {
		return Ack{}, ErrNoMSA
	}
	a := Ack{
		Code:      AckCode(m.Get("MSA.1")),
		ControlID: m.Get("MSA.2"),
		Text:      m.Get("MSA.3"),
	}
	for i := range m.Segments {
		s := &m.Segments[i]
		if s.Name != "ERR" {
			continue
		}
		v := func(field, comp int) string {
			f := s.Field(field)
			if len(f) == 0 {
				return ""
			}
			s, _ := lookup(f[0], Path{Component: comp})
			return s
		}
		e := AckError{
			Code:        v(3, 1),
			Text:        v(3, 2),
			Severity:    v(4, 1),
			AppCode:     v(5, 1),
			AppText:     v(5, 2),
			Diagnostic:  v(7, 1),
			UserMessage: v(8, 1),
		}
		if loc := s.Field(2); len(loc) > 0 {
			e.Location = location(loc[0], 6)
		} else if eld := s.Field(1); len(eld) > 0 {
			e.Location = location(eld[0], 3)
			if e.Code == "" && len(eld[0]) >= 4 {
				c := eld[0][3]
				if len(c) > 0 {
					e.Code = c[0]
				}
				if len(c) > 1 {
					e.Text = c[1]
				}
			}
		}
		a.Errors = append(a.Errors, e)
	}
	return a, nil
}

// location reads an ERL (segment^sequence^field^repetition^component^
// subcomponent), or the first three components of an ELD, as a Path. It
// returns the zero Path when the first component is not a segment ID;
// numbers that are not valid are left 0.
func location(r Repetition, parts int) Path {
	get := func(k int) string {
		if k >= len(r) || len(r[k]) == 0 {
			return ""
		}
		return r[k][0]
	}
	if !validSegmentName(get(0)) {
		return Path{}
	}
	p := Path{Segment: get(0)}
	nums := []*int{&p.Occurrence, &p.Field, &p.Repetition, &p.Component, &p.Subcomponent}
	for k := 1; k < parts && k <= len(nums); k++ {
		if n, err := strconv.Atoi(get(k)); err == nil && n >= 1 && n <= MaxIndex {
			*nums[k-1] = n
		}
	}
	return p
}

// AckOptions are the parts of an acknowledgment that NewAck cannot take from
// the message it answers.
type AckOptions struct {
	ControlID string     // MSH-10 of the acknowledgment; empty means "ACK" followed by the received MSH-10
	Time      time.Time  // MSH-7; the zero value means time.Now()
	Text      string     // MSA-3; optional
	Errors    []AckError // written as ERR segments after the MSA
}

// NewAck builds the original-mode acknowledgment of received, with the
// received message's delimiters:
//
//	MSH|^~\&|<MSH-5>|<MSH-6>|<MSH-3>|<MSH-4>|<now>||ACK^<MSH-9.2>^ACK|<id>|<MSH-11>|<MSH-12>
//	MSA|<code>|<received MSH-10>|<text>
//	ERR||<location>|<code>^<text>^HL70357|<severity>|<app code>^<app text>||<diagnostic>|<user message>
//
// Sending and receiving application and facility are swapped; processing
// ID, version and character sets (MSH-18) are copied. The message
// structure ACK is added to MSH-9 when the received MSH-9 has one. An
// AckError without a severity is written as "E". Callers add further fields
// (such as MSH-21, the CDC's Z23^CDCPHINVS profile) with Set. NewAck returns
// ErrNoMSH when received has no MSH, and an error for an invalid code.
func NewAck(received *Message, code AckCode, opts AckOptions) (*Message, error) {
	if !code.Valid() {
		return nil, fmt.Errorf("hl7v2: %q is not an acknowledgment code", string(code))
	}
	msh := received.segment("MSH", 1)
	if msh == nil {
		return nil, ErrNoMSH
	}
	ack := &Message{Delims: received.delims()}
	d := ack.Delims
	fields := make([]Field, 12, 18)
	fields[0], fields[1] = headerField(d, 1), headerField(d, 2)
	fields[2], fields[3] = cloneField(msh.Field(5)), cloneField(msh.Field(6))
	fields[4], fields[5] = cloneField(msh.Field(3)), cloneField(msh.Field(4))
	now := opts.Time
	if now.IsZero() {
		now = time.Now()
	}
	fields[6] = leaf(FormatTime(now, PrecisionSecond))
	typ := Repetition{Component{"ACK"}}
	if trigger := received.Get("MSH.9.2"); trigger != "" {
		typ = append(typ, Component{trigger})
	}
	if received.Get("MSH.9.3") != "" {
		for len(typ) < 2 {
			typ = append(typ, nil)
		}
		typ = append(typ, Component{"ACK"})
	}
	fields[8] = Field{typ}
	id := opts.ControlID
	if id == "" {
		id = "ACK" + received.Get("MSH.10")
	}
	fields[9] = leaf(id)
	fields[10], fields[11] = cloneField(msh.Field(11)), cloneField(msh.Field(12))
	if charset := msh.Field(18); charset != nil {
		fields = append(fields, make([]Field, 6)...)
		fields[17] = cloneField(charset)
	}
	for len(fields) > 2 && fields[len(fields)-1] == nil {
		fields = fields[:len(fields)-1]
	}
	ack.Segments = append(ack.Segments, Segment{Name: "MSH", Fields: fields})

	msa := Segment{Name: "MSA", Fields: []Field{leaf(string(code)), valueField(received.Get("MSH.10"))}}
	if opts.Text != "" {
		msa.Fields = append(msa.Fields, leaf(opts.Text))
	}
	ack.Segments = append(ack.Segments, msa)

	for _, e := range opts.Errors {
		ack.Segments = append(ack.Segments, errSegment(e))
	}
	return ack, nil
}

// errSegment writes one AckError in the v2.5+ layout.
func errSegment(e AckError) Segment {
	f := make([]Field, 8)
	if e.Location.Segment != "" {
		loc := Repetition{Component{e.Location.Segment}}
		for _, n := range []int{e.Location.Occurrence, e.Location.Field, e.Location.Repetition,
			e.Location.Component, e.Location.Subcomponent} {
			if n > 0 {
				loc = append(loc, Component{strconv.Itoa(n)})
			} else {
				loc = append(loc, nil)
			}
		}
		for len(loc) > 0 && loc[len(loc)-1] == nil {
			loc = loc[:len(loc)-1]
		}
		f[1] = Field{loc}
	}
	if e.Code != "" || e.Text != "" {
		f[2] = Field{trimRep(Repetition{valueComponent(e.Code), valueComponent(e.Text), Component{"HL70357"}})}
	}
	sev := e.Severity
	if sev == "" {
		sev = "E"
	}
	f[3] = leaf(sev)
	if e.AppCode != "" || e.AppText != "" {
		f[4] = Field{trimRep(Repetition{valueComponent(e.AppCode), valueComponent(e.AppText)})}
	}
	f[6] = valueField(e.Diagnostic)
	f[7] = valueField(e.UserMessage)
	for len(f) > 0 && f[len(f)-1] == nil {
		f = f[:len(f)-1]
	}
	return Segment{Name: "ERR", Fields: f}
}

// valueField is leaf(v), or nil for "", the form Parse gives an empty field.
func valueField(v string) Field {
	if v == "" {
		return nil
	}
	return leaf(v)
}

func valueComponent(v string) Component {
	if v == "" {
		return nil
	}
	return Component{v}
}

func trimRep(r Repetition) Repetition {
	for len(r) > 0 && r[len(r)-1] == nil {
		r = r[:len(r)-1]
	}
	return r
}

func cloneField(f Field) Field {
	if f == nil {
		return nil
	}
	out := make(Field, len(f))
	for i, r := range f {
		if r == nil {
			continue
		}
		out[i] = make(Repetition, len(r))
		for j, c := range r {
			if c != nil {
				out[i][j] = append(Component(nil), c...)
			}
		}
	}
	return out
}
