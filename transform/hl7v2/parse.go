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
	m, _, err := parse(data)
	return m, err
}

// parse is Parse, also returning the parser for tests to inspect.
func parse(data []byte) (*Message, *parser, error) {
	if len(data) > MaxMessageSize {
		return nil, nil, &ParseError{Offset: MaxMessageSize, Msg: fmt.Sprintf("message longer than %d bytes", MaxMessageSize)}
	}
	src := string(data)
	p := parser{src: src}

	start, end, next := nextLine(src, 0)
	if start == end {
		return nil, nil, &ParseError{Msg: "empty message"}
	}
	d, err := headerDelims(src[start:end])
	if err != nil {
		err.Segment, err.Offset = 1, start+err.Offset
		return nil, nil, err
	}
	p.d = d
	lines, err := p.countElements()
	if err != nil {
		return nil, nil, err
	}

	m := &Message{Delims: d, Segments: make([]Segment, 0, lines)}
	for n := 1; start < end; n++ {
		seg, err := p.segment(start, end)
		if err != nil {
			err.Segment = n
			return nil, nil, err
		}
		m.Segments = append(m.Segments, seg)
		start, end, next = nextLine(src, next)
	}
	return m, &p, nil
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

// parser carves every slice of the tree from four arrays sized once from
// the separator counts, so that a message costs a handful of allocations
// rather than one per element. Each carved slice has its capacity capped,
// so appending to one (as Set does) reallocates instead of overwriting a
// neighbour.
type parser struct {
	src    string
	d      Delimiters
	fields []Field
	reps   []Repetition
	comps  []Component
	strs   []string

	overflow int // slab misses; always 0, checked by FuzzParse
}

// take carves n elements from slab, or allocates if it ran out, which the
// counts of countElements rule out; overflow counts those misses for tests.
func take[T any](slab *[]T, n int, overflow *int) []T {
	if n > len(*slab) {
		*overflow++
		return make([]T, n)
	}
	s := (*slab)[:n:n]
	*slab = (*slab)[n:]
	return s
}

// countElements enforces MaxElements before anything is allocated, and
// sizes the slabs and the segment list. It returns the number of lines.
//
// A non-empty field with k repetition separators has k+1 repetitions, and
// likewise one level down, so the slabs need (non-empty fields + repetition
// separators) repetitions, (non-empty repetitions + component separators)
// components and (non-empty components + subcomponent separators) values.
// One pass counts all of them; the header's encoding characters and
// segment names make the counts slightly high, never low.
func (p *parser) countElements() (int, *ParseError) {
	const (
		data = iota
		line
		field
		rep
		comp
		sub
	)
	var kind [256]uint8
	kind['\r'], kind['\n'] = line, line
	kind[p.d.Field], kind[p.d.Repetition], kind[p.d.Component], kind[p.d.Subcomponent] = field, rep, comp, sub
	var seps [sub + 1]int
	var fullFields, fullReps, fullComps int
	var inField, inRep, inComp bool // the current one is known to be non-empty
	for i := 0; i < len(p.src); i++ {
		k := kind[p.src[i]]
		if k != data {
			if seps[k]++; seps[line]+seps[field]+seps[rep]+seps[comp]+seps[sub] > MaxElements {
				return 0, &ParseError{Offset: i, Msg: fmt.Sprintf("more than %d separators", MaxElements)}
			}
		}
		switch k {
		case line, field:
			inField, inRep, inComp = false, false, false
			continue
		case rep:
			inRep, inComp = false, false
		case comp:
			inComp = false
		case data, sub:
			if !inComp {
				inComp = true
				fullComps++
			}
		}
		if !inRep && k != rep {
			inRep = true
			fullReps++
		}
		if !inField {
			inField = true
			fullFields++
		}
	}
	lines := seps[line] + 1
	p.fields = make([]Field, seps[field]+lines)
	p.reps = make([]Repetition, fullFields+seps[rep])
	p.comps = make([]Component, fullReps+seps[comp])
	p.strs = make([]string, fullComps+seps[sub])
	return lines, nil
}

// leaf is the package's leaf, carved from the slabs.
func (p *parser) leaf(v string) Field {
	c := take(&p.strs, 1, &p.overflow)
	c[0] = v
	r := take(&p.comps, 1, &p.overflow)
	r[0] = c
	f := take(&p.reps, 1, &p.overflow)
	f[0] = r
	return f
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
	n := strings.Count(rest, string(d.Field))
	if isHeader(name) {
		enc := rest[1:]
		if j := strings.IndexByte(enc, d.Field); j >= 0 {
			enc = enc[:j]
		}
		if enc != d.EncodingCharacters() {
			return Segment{}, &ParseError{Field: 2, Offset: start + 4, Msg: "encoding characters differ from the first header's"}
		}
		seg.Fields = take(&p.fields, n+1, &p.overflow)[:0]
		seg.Fields = append(seg.Fields, p.leaf(rest[:1]), p.leaf(enc))
		rest = rest[1+len(enc):]
	} else if n > 0 {
		seg.Fields = take(&p.fields, n, &p.overflow)[:0]
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
	f := take(&p.reps, strings.Count(s, string(p.d.Repetition))+1, &p.overflow)
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
	r := take(&p.comps, strings.Count(s, string(p.d.Component))+1, &p.overflow)
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
	c := take(&p.strs, strings.Count(s, string(p.d.Subcomponent))+1, &p.overflow)
	for i := range c {
		part := s
		if j := strings.IndexByte(s, p.d.Subcomponent); j >= 0 {
			part, s = s[:j], s[j+1:]
		}
		c[i] = Unescape(part, p.d)
	}
	return c
}
