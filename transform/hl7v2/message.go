package hl7v2

import "fmt"

// Delimiters are a message's separator and encoding characters, declared by
// MSH-1 (the field separator) and MSH-2 (the encoding characters, in the
// order component, repetition, escape, subcomponent and, from v2.7 on, an
// optional truncation character). The segment terminator is always CR and is
// not configurable.
//
// The zero value stands for DefaultDelimiters wherever a Message uses it.
type Delimiters struct {
	Field        byte // MSH-1, usually '|'
	Component    byte // MSH-2 position 1, usually '^'
	Repetition   byte // MSH-2 position 2, usually '~'
	Escape       byte // MSH-2 position 3, usually '\\'
	Subcomponent byte // MSH-2 position 4, usually '&'
	Truncation   byte // MSH-2 position 5 (v2.7+), usually '#'; 0 when none is declared
}

// DefaultDelimiters returns |^~\& without a truncation character, the set
// used by almost every v2.x message and required by the CDC immunization
// guide.
func DefaultDelimiters() Delimiters {
	return Delimiters{Field: '|', Component: '^', Repetition: '~', Escape: '\\', Subcomponent: '&'}
}

// EncodingCharacters returns the value of MSH-2: "^~\&", or "^~\&#" when a
// truncation character is declared.
func (d Delimiters) EncodingCharacters() string {
	if d.Truncation != 0 {
		return string([]byte{d.Component, d.Repetition, d.Escape, d.Subcomponent, d.Truncation})
	}
	return string([]byte{d.Component, d.Repetition, d.Escape, d.Subcomponent})
}

// Validate reports whether the delimiters can encode a message: each one a
// printable ASCII character that is neither a letter, a digit nor a space,
// and all of them distinct. Parse only accepts messages whose header passes
// Validate; Encode does not check.
func (d Delimiters) Validate() error {
	chars := []struct {
		name string
		c    byte
	}{
		{"field separator", d.Field},
		{"component separator", d.Component},
		{"repetition separator", d.Repetition},
		{"escape character", d.Escape},
		{"subcomponent separator", d.Subcomponent},
		{"truncation character", d.Truncation},
	}
	if d.Truncation == 0 {
		chars = chars[:5] // none declared
	}
	for i, a := range chars {
		if !isDelimiterChar(a.c) {
			return fmt.Errorf("hl7v2: %s must be a printable ASCII character other than a letter, digit or space", a.name)
		}
		for _, b := range chars[:i] {
			if a.c == b.c {
				return fmt.Errorf("hl7v2: %s is the same character as the %s", a.name, b.name)
			}
		}
	}
	return nil
}

func isDelimiterChar(c byte) bool {
	return c > ' ' && c < 0x7f &&
		!('0' <= c && c <= '9') && !('A' <= c && c <= 'Z') && !('a' <= c && c <= 'z')
}

// Message is one HL7 v2 message, or a batch file (FHS, BHS, several MSH)
// kept as one sequence of segments.
//
// Values in the tree are decoded: escape sequences are resolved (see
// Unescape) and Encode escapes them again. A Message is not safe
// for concurrent use when one goroutine calls Set; reads (Get, GetAll, Map,
// Encode) may run concurrently.
type Message struct {
	Delims   Delimiters // the zero value means DefaultDelimiters
	Segments []Segment
}

// Segment is one segment: a three-character name and its fields.
//
// Fields[n-1] is field n of the standard. For the header segments MSH, FHS
// and BHS this includes the delimiters: Fields[0] is MSH-1 (the field
// separator), Fields[1] is MSH-2 (the encoding characters, kept verbatim)
// and Fields[2] is MSH-3. Encode, Get and Map take those two fields from
// Message.Delims, not from the tree.
//
// Empty parts are nil: an empty field is a nil Field, not a Field holding
// one empty repetition. Parse produces only that form, which keeps
// Parse → Encode → Parse an identity; trailing empty fields, repetitions,
// components and subcomponents present in the input are kept.
type Segment struct {
	Name   string
	Fields []Field
}

// Field is a field's repetitions, separated by the repetition separator.
type Field []Repetition

// Repetition is one occurrence of a field: its components.
type Repetition []Component

// Component is one component: its subcomponents, the decoded leaf values.
type Component []string

// Field returns field n (1-based), or nil when the segment has fewer fields.
func (s *Segment) Field(n int) Field {
	if n < 1 || n > len(s.Fields) {
		return nil
	}
	return s.Fields[n-1]
}

// isHeader reports whether a segment with this name declares the delimiters
// in its first two fields.
func isHeader(name string) bool {
	return name == "MSH" || name == "FHS" || name == "BHS"
}

// validSegmentName reports whether name is a segment ID: an upper-case
// letter followed by two upper-case letters or digits.
func validSegmentName(name string) bool {
	if len(name) != 3 || name[0] < 'A' || name[0] > 'Z' {
		return false
	}
	for i := 1; i < 3; i++ {
		c := name[i]
		if !('A' <= c && c <= 'Z') && !('0' <= c && c <= '9') {
			return false
		}
	}
	return true
}

// delims returns the message's delimiters, defaulted.
func (m *Message) delims() Delimiters {
	if m == nil || m.Delims == (Delimiters{}) {
		return DefaultDelimiters()
	}
	return m.Delims
}

// leaf builds a field holding one value.
func leaf(v string) Field {
	return Field{Repetition{Component{v}}}
}

// headerField returns MSH-1 or MSH-2 (n is 1 or 2) as taken from d.
func headerField(d Delimiters, n int) Field {
	if n == 1 {
		return leaf(string([]byte{d.Field}))
	}
	return leaf(d.EncodingCharacters())
}

// Map returns the message as a tree of plain values for a mapping
// expression; see the package documentation for its shape. The tree is a
// fresh copy: changing it does not change the message.
func (m *Message) Map() map[string]any {
	out := make(map[string]any)
	if m == nil {
		return out
	}
	d := m.delims()
	for i := range m.Segments {
		s := &m.Segments[i]
		seg := make([]any, 1, len(s.Fields)+1)
		seg[0] = s.Name
		for n := 1; n <= len(s.Fields); n++ {
			f := s.Fields[n-1]
			if isHeader(s.Name) && n <= 2 {
				f = headerField(d, n)
			}
			seg = append(seg, fieldTree(f))
		}
		list, _ := out[s.Name].([]any)
		out[s.Name] = append(list, seg)
	}
	return out
}

func fieldTree(f Field) []any {
	reps := make([]any, len(f))
	for i, r := range f {
		comps := make([]any, len(r))
		for j, c := range r {
			subs := make([]any, len(c))
			for k, s := range c {
				subs[k] = s
			}
			comps[j] = subs
		}
		reps[i] = comps
	}
	return reps
}
