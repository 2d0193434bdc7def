package hl7v2

import (
	"slices"
	"strconv"
	"strings"
)

// MaxIndex is the largest number a Path accepts at any level, which bounds
// what Set may create.
const MaxIndex = 99999

// Path addresses a value: a segment, a field and optionally a repetition, a
// component and a subcomponent. Numbers are 1-based; 0 means "not given".
//
// Syntax, with "." or "-" between the parts, freely mixed:
//
//	SEG[occurrence].field[repetition].component.subcomponent
//
// e.g. "PID.5.1", "PID-5-1", "PID-5.1", "PID.3[2].1", "OBX[2].5",
// "MSH.9.2". The segment is a segment ID (three upper-case letters or
// digits); the field is required; the bracketed numbers and the trailing
// parts are optional. Numbers have no leading zeros and are at most
// MaxIndex.
type Path struct {
	Segment      string // segment ID, e.g. "PID"
	Occurrence   int    // which segment of that name, "OBX[2]"; 0: the first (all, for GetAll)
	Field        int    // field number, as in the standard: MSH-9 is 9; required
	Repetition   int    // which repetition, "PID.3[2]"; 0: the first (all, for GetAll)
	Component    int    // 0: the first
	Subcomponent int    // 0: the first
}

// ParsePath parses a path written as described at Path. Errors are
// *PathError. ParsePath(p.String()) gives p back for every p it returns.
func ParsePath(s string) (Path, error) {
	var p Path
	fail := func(off int, msg string) (Path, error) {
		return Path{}, &PathError{Path: s, Offset: off, Msg: msg}
	}
	if len(s) < 3 || !validSegmentName(s[:3]) {
		return fail(0, "expected a segment ID (three upper-case letters or digits)")
	}
	p.Segment = s[:3]
	i := 3
	var err string
	if i < len(s) && s[i] == '[' {
		if p.Occurrence, i, err = bracket(s, i); err != "" {
			return fail(i, err)
		}
	}
	nums := [3]*int{&p.Field, &p.Component, &p.Subcomponent}
	for level, dst := range nums {
		if i == len(s) {
			if level == 0 {
				return fail(i, "expected a field number")
			}
			break
		}
		if s[i] != '.' && s[i] != '-' {
			return fail(i, `expected "." or "-"`)
		}
		if *dst, i, err = number(s, i+1); err != "" {
			return fail(i, err)
		}
		if level == 0 && i < len(s) && s[i] == '[' {
			if p.Repetition, i, err = bracket(s, i); err != "" {
				return fail(i, err)
			}
		}
	}
	if i != len(s) {
		return fail(i, "unexpected text after the subcomponent")
	}
	return p, nil
}

// bracket parses "[n]" at s[i].
func bracket(s string, i int) (n, next int, err string) {
	n, i, err = number(s, i+1)
	if err != "" {
		return 0, i, err
	}
	if i == len(s) || s[i] != ']' {
		return 0, i, `expected "]"`
	}
	return n, i + 1, ""
}

// number parses a 1-based number at s[i].
func number(s string, i int) (n, next int, err string) {
	j := i
	for j < len(s) && '0' <= s[j] && s[j] <= '9' {
		j++
	}
	switch {
	case j == i:
		return 0, i, "expected a number"
	case s[i] == '0':
		return 0, i, "numbers start at 1 and have no leading zeros"
	case j-i > len(strconv.Itoa(MaxIndex)):
		return 0, i, "number larger than " + strconv.Itoa(MaxIndex)
	}
	n, _ = strconv.Atoi(s[i:j])
	if n > MaxIndex {
		return 0, i, "number larger than " + strconv.Itoa(MaxIndex)
	}
	return n, j, ""
}

// String writes the path in the dotted form, e.g. "OBX[2].5.1".
func (p Path) String() string {
	var b strings.Builder
	b.WriteString(p.Segment)
	if p.Occurrence > 0 {
		b.WriteString("[" + strconv.Itoa(p.Occurrence) + "]")
	}
	if p.Field == 0 {
		return b.String() // only a hand-built Path or an AckError location lacks a field
	}
	b.WriteString("." + strconv.Itoa(p.Field))
	if p.Repetition > 0 {
		b.WriteString("[" + strconv.Itoa(p.Repetition) + "]")
	}
	if p.Component > 0 || p.Subcomponent > 0 {
		b.WriteString("." + strconv.Itoa(max(p.Component, 1)))
	}
	if p.Subcomponent > 0 {
		b.WriteString("." + strconv.Itoa(p.Subcomponent))
	}
	return b.String()
}

// check validates a Path that may have been built by hand.
func (p Path) check() error {
	if !validSegmentName(p.Segment) {
		return &PathError{Path: p.String(), Msg: "segment is not a segment ID"}
	}
	if p.Field < 1 {
		return &PathError{Path: p.String(), Msg: "field number must be at least 1"}
	}
	for _, n := range []int{p.Occurrence, p.Field, p.Repetition, p.Component, p.Subcomponent} {
		if n < 0 || n > MaxIndex {
			return &PathError{Path: p.String(), Msg: "number out of range 1.." + strconv.Itoa(MaxIndex)}
		}
	}
	return nil
}

// Get returns the value at path, or "" when it is absent or path is
// malformed. A path that stops above a value means its first one: "PID.5"
// is "PID.5[1].1.1", the family name, as in HAPI's Terser. Use ParsePath
// and Value to tell a malformed or absent path from an empty value.
func (m *Message) Get(path string) string {
	p, err := ParsePath(path)
	if err != nil {
		return ""
	}
	v, _ := m.Value(p)
	return v
}

// GetAll returns the value at path in every repetition of the field and,
// unless the path names an occurrence ("OBX[2].5"), in every segment of that
// name: GetAll("PID.3.1") lists all patient identifiers, GetAll("OBX.5") the
// value of every OBX. Each repetition gives one value, "" where it lacks the
// component; an empty field gives none. It returns nil for a malformed path.
func (m *Message) GetAll(path string) []string {
	p, err := ParsePath(path)
	if err != nil {
		return nil
	}
	return m.Values(p)
}

// Set stores value at path, creating what is missing: segments (appended
// at the end of the message, except a first MSH, which goes first or after
// a batch's FHS and BHS), fields,
// repetitions, components and subcomponents, all empty. Only the addressed
// value changes, so Set("PID.5", "Doe") sets the family name and keeps the
// given name. value is plain text; Encode escapes it. MSH-1 and MSH-2 (and
// those of FHS and BHS) cannot be set: change Message.Delims instead.
// Errors are *PathError.
func (m *Message) Set(path, value string) error {
	p, err := ParsePath(path)
	if err != nil {
		return err
	}
	return m.SetValue(p, value)
}

// Value returns the value at p and whether it is present; see Get. Like
// every read, it treats a nil *Message as an empty one.
func (m *Message) Value(p Path) (string, bool) {
	if p.check() != nil {
		return "", false
	}
	seg := m.segment(p.Segment, max(p.Occurrence, 1))
	if seg == nil {
		return "", false
	}
	f := m.field(seg, p.Field)
	r := max(p.Repetition, 1)
	if r > len(f) {
		return "", false
	}
	return lookup(f[r-1], p)
}

// Values returns the values at p as GetAll does.
func (m *Message) Values(p Path) []string {
	if m == nil || p.check() != nil {
		return nil
	}
	var out []string
	n := 0
	for i := range m.Segments {
		seg := &m.Segments[i]
		if seg.Name != p.Segment {
			continue
		}
		if n++; p.Occurrence > 0 && n != p.Occurrence {
			continue
		}
		f := m.field(seg, p.Field)
		for r := range f {
			if p.Repetition > 0 && r+1 != p.Repetition {
				continue
			}
			v, _ := lookup(f[r], p)
			out = append(out, v)
		}
	}
	return out
}

// SetValue stores value at p as Set does.
func (m *Message) SetValue(p Path, value string) error {
	if err := p.check(); err != nil {
		return err
	}
	if isHeader(p.Segment) && p.Field <= 2 {
		return &PathError{Path: p.String(), Msg: p.Segment + "-1 and " + p.Segment + "-2 hold the delimiters; set Message.Delims"}
	}
	seg := m.makeSegment(p.Segment, max(p.Occurrence, 1))
	for len(seg.Fields) < p.Field {
		seg.Fields = append(seg.Fields, nil)
	}
	f := &seg.Fields[p.Field-1]
	for len(*f) < max(p.Repetition, 1) {
		*f = append(*f, nil)
	}
	r := &(*f)[max(p.Repetition, 1)-1]
	for len(*r) < max(p.Component, 1) {
		*r = append(*r, nil)
	}
	c := &(*r)[max(p.Component, 1)-1]
	for len(*c) < max(p.Subcomponent, 1) {
		*c = append(*c, "")
	}
	(*c)[max(p.Subcomponent, 1)-1] = value
	return nil
}

// lookup returns the component and subcomponent p names in one repetition.
func lookup(r Repetition, p Path) (string, bool) {
	c := max(p.Component, 1)
	if c > len(r) {
		return "", false
	}
	s := max(p.Subcomponent, 1)
	if s > len(r[c-1]) {
		return "", false
	}
	return r[c-1][s-1], true
}

// segment returns the n-th (1-based) segment named name, or nil.
func (m *Message) segment(name string, n int) *Segment {
	if m == nil {
		return nil
	}
	for i := range m.Segments {
		if m.Segments[i].Name == name {
			if n--; n == 0 {
				return &m.Segments[i]
			}
		}
	}
	return nil
}

// field returns field n of seg, taking MSH-1 and MSH-2 from the delimiters.
func (m *Message) field(seg *Segment, n int) Field {
	if isHeader(seg.Name) && n <= 2 {
		return headerField(m.delims(), n)
	}
	return seg.Field(n)
}

// makeSegment returns the n-th segment named name, creating it and any
// before it.
func (m *Message) makeSegment(name string, n int) *Segment {
	have := 0
	for i := range m.Segments {
		if m.Segments[i].Name == name {
			if have++; have == n {
				return &m.Segments[i]
			}
		}
	}
	var fields []Field
	if isHeader(name) {
		d := m.delims()
		fields = []Field{headerField(d, 1), headerField(d, 2)}
	}
	if name == "MSH" && have == 0 {
		at := 0 // after a batch's FHS and BHS
		for at < len(m.Segments) && (m.Segments[at].Name == "FHS" || m.Segments[at].Name == "BHS") {
			at++
		}
		m.Segments = slices.Insert(m.Segments, at, Segment{Name: name, Fields: fields})
		have++
		if n == 1 {
			return &m.Segments[at]
		}
	}
	for ; have < n; have++ {
		s := Segment{Name: name}
		if fields != nil {
			s.Fields = []Field{headerField(m.delims(), 1), headerField(m.delims(), 2)}
		}
		m.Segments = append(m.Segments, s)
	}
	return &m.Segments[len(m.Segments)-1]
}
