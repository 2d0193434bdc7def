package hl7v2

import (
	"fmt"
	"strings"
)

// Limits on what Parse accepts, so that a hostile or broken sender cannot
// make it allocate without bound. A message at both limits costs at most a
// few hundred MiB; real messages are far below either.
const (
	// MaxMessageSize is the largest input Parse accepts, in bytes.
	MaxMessageSize = 32 << 20
	// MaxElements is the most separators (segment terminators, field,
	// repetition, component and subcomponent separators) Parse accepts in
	// one message; each one can start a new element of the tree.
	MaxElements = 1 << 20
)

// Parse decodes one ER7 (pipe-and-hat) message or batch file.
//
// Segments end with CR; LF and CRLF are accepted too, and blank lines and a
// missing or extra terminator are ignored. The first segment must be MSH,
// FHS or BHS, whose MSH-1 and MSH-2 set the delimiters (four encoding
// characters, or five with the v2.7 truncation character). Every later
// MSH, FHS or BHS must declare the same ones. Segment names must be three
// upper-case letters or digits, starting with a letter.
//
// Values are decoded as described at Unescape; MSH-2 is kept
// verbatim. The returned message shares no memory with data. Errors are
// *ParseError; Parse never panics.
func Parse(data []byte) (*Message, error) {
	if len(data) > MaxMessageSize {
		return nil, &ParseError{Offset: MaxMessageSize, Msg: fmt.Sprintf("message longer than %d bytes", MaxMessageSize)}
	}
	src := string(data)
	p := parser{src: src}

	start, end, next := nextLine(src, 0)
	if start == end {
		return nil, &ParseError{Msg: "empty message"}
	}
	d, err := headerDelims(src[start:end])
	if err != nil {
		err.Segment, err.Offset = 1, start+err.Offset
		return nil, err
	}
	p.d = d
	if err := p.countElements(); err != nil {
		return nil, err
	}

	m := &Message{Delims: d}
	for n := 1; start < end; n++ {
		seg, err := p.segment(start, end)
		if err != nil {
			err.Segment = n
			return nil, err
		}
		m.Segments = append(m.Segments, seg)
		start, end, next = nextLine(src, next)
	}
	return m, nil
}

// nextLine returns the bounds of the next non-blank line at or after pos
// and where the search continues; start == end at the end of input.
func nextLine(s string, pos int) (start, end, next int) {
	for pos < len(s) && (s[pos] == '\r' || s[pos] == '\n') {
		pos++
	}
	end = pos
	for end < len(s) && s[end] != '\r' && s[end] != '\n' {
		end++
	}
	return pos, end, end
}

// headerDelims reads the delimiters from the first segment. Offsets in the
// returned error are relative to line.
func headerDelims(line string) (Delimiters, *ParseError) {
	if len(line) < 3 || !isHeader(line[:3]) {
		return Delimiters{}, &ParseError{Msg: "first segment is not MSH, FHS or BHS"}
	}
	if len(line) < 4 {
		return Delimiters{}, &ParseError{Field: 1, Offset: 3, Msg: "header has no field separator"}
	}
	d := Delimiters{Field: line[3]}
	if !isDelimiterChar(d.Field) {
		return Delimiters{}, &ParseError{Field: 1, Offset: 3, Msg: "field separator is not a printable ASCII character other than a letter, digit or space"}
	}
	enc := line[4:]
	if k := strings.IndexByte(enc, d.Field); k >= 0 {
		enc = enc[:k]
	}
	if len(enc) != 4 && len(enc) != 5 {
		return Delimiters{}, &ParseError{Field: 2, Offset: 4, Msg: fmt.Sprintf("%d encoding characters, want 4 or 5", len(enc))}
	}
	d.Component, d.Repetition, d.Escape, d.Subcomponent = enc[0], enc[1], enc[2], enc[3]
	if len(enc) == 5 {
		d.Truncation = enc[4]
	}
	if err := d.Validate(); err != nil {
		return Delimiters{}, &ParseError{Field: 2, Offset: 4, Msg: strings.TrimPrefix(err.Error(), "hl7v2: ")}
	}
	return d, nil
}

type parser struct {
	src string
	d   Delimiters
}

// countElements enforces MaxElements before anything is allocated.
func (p *parser) countElements() *ParseError {
	var special [256]bool
	for _, c := range []byte{'\r', '\n', p.d.Field, p.d.Component, p.d.Repetition, p.d.Subcomponent} {
		special[c] = true
	}
	n := 0
	for i := 0; i < len(p.src); i++ {
		if special[p.src[i]] {
			n++
			if n > MaxElements {
				return &ParseError{Offset: i, Msg: fmt.Sprintf("more than %d separators", MaxElements)}
			}
		}
	}
	return nil
}

// segment parses the line src[start:end].
func (p *parser) segment(start, end int) (Segment, *ParseError) {
	line := p.src[start:end]
	d := p.d
	if len(line) >= 3 && isHeader(line[:3]) && (len(line) == 3 || line[3] != d.Field) {
		return Segment{}, &ParseError{Field: 1, Offset: start + 3, Msg: "field separator differs from the first header's"}
	}
	k := strings.IndexByte(line, d.Field)
	if k < 0 {
		k = len(line)
	}
	name := line[:k]
	if !validSegmentName(name) {
		return Segment{}, &ParseError{Offset: start, Msg: "segment name is not three upper-case letters or digits"}
	}
	seg := Segment{Name: name}
	rest := line[k:] // empty, or starts with the field separator
	if isHeader(name) {
		enc := rest[1:]
		if j := strings.IndexByte(enc, d.Field); j >= 0 {
			enc = enc[:j]
		}
		if enc != d.EncodingCharacters() {
			return Segment{}, &ParseError{Field: 2, Offset: start + 4, Msg: "encoding characters differ from the first header's"}
		}
		seg.Fields = append(make([]Field, 0, strings.Count(rest, string(d.Field))+1), leaf(rest[:1]), leaf(enc))
		rest = rest[1+len(enc):]
	} else if rest != "" {
		seg.Fields = make([]Field, 0, strings.Count(rest, string(d.Field)))
	}
	for rest != "" {
		rest = rest[1:] // the separator
		f := rest
		if j := strings.IndexByte(rest, d.Field); j >= 0 {
			f, rest = rest[:j], rest[j:]
		} else {
			rest = ""
		}
		seg.Fields = append(seg.Fields, p.field(f))
	}
	return seg, nil
}

// field splits one raw field. Empty parts are nil, which is what Encode's
// output parses back to.
func (p *parser) field(s string) Field {
	if s == "" {
		return nil
	}
	n := strings.Count(s, string(p.d.Repetition)) + 1
	f := make(Field, n)
	for i := range f {
		part := s
		if j := strings.IndexByte(s, p.d.Repetition); j >= 0 {
			part, s = s[:j], s[j+1:]
		}
		f[i] = p.repetition(part)
	}
	return f
}

func (p *parser) repetition(s string) Repetition {
	if s == "" {
		return nil
	}
	n := strings.Count(s, string(p.d.Component)) + 1
	r := make(Repetition, n)
	for i := range r {
		part := s
		if j := strings.IndexByte(s, p.d.Component); j >= 0 {
			part, s = s[:j], s[j+1:]
		}
		r[i] = p.component(part)
	}
	return r
}

func (p *parser) component(s string) Component {
	if s == "" {
		return nil
	}
	n := strings.Count(s, string(p.d.Subcomponent)) + 1
	c := make(Component, n)
	for i := range c {
		part := s
		if j := strings.IndexByte(s, p.d.Subcomponent); j >= 0 {
			part, s = s[:j], s[j+1:]
		}
		c[i] = Unescape(part, p.d)
	}
	return c
}
