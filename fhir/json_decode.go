package fhir

import (
	"encoding/json"
	"strconv"
	"unicode/utf16"
	"unicode/utf8"
)

// maxDepth bounds nesting so hostile input cannot exhaust the stack.
const maxDepth = 512

// ParseJSON decodes one resource from FHIR JSON, keeping every element,
// every key order-independent value and the exact text of every number.
// It checks syntax only (well-formed JSON, UTF-8, no duplicate keys, an
// object at the top); Validate checks the resource against the model.
// Errors are *SyntaxError with the line and column.
func ParseJSON(data []byte) (Resource, error) {
	d := jsonDecoder{data: data, names: definitions().names}
	d.skipSpace()
	if d.pos >= len(d.data) || d.data[d.pos] != '{' {
		return nil, d.errorf("a resource must be a JSON object")
	}
	obj, err := d.object(0)
	if err != nil {
		return nil, err
	}
	d.skipSpace()
	if d.pos != len(d.data) {
		return nil, d.errorf("unexpected content after the resource")
	}
	return obj, nil
}

type jsonDecoder struct {
	data  []byte
	pos   int
	names map[string]string
	buf   []byte
}

func (d *jsonDecoder) errorf(msg string) error {
	line, col := lineCol(d.data, d.pos)
	return &SyntaxError{Format: "json", Line: line, Col: col, Msg: msg}
}

func (d *jsonDecoder) skipSpace() {
	for d.pos < len(d.data) {
		switch d.data[d.pos] {
		case ' ', '\t', '\n', '\r':
			d.pos++
		default:
			return
		}
	}
}

func (d *jsonDecoder) value(depth int) (any, error) {
	if depth > maxDepth {
		return nil, d.errorf("nested too deeply")
	}
	d.skipSpace()
	if d.pos >= len(d.data) {
		return nil, d.errorf("unexpected end of input")
	}
	switch c := d.data[d.pos]; {
	case c == '{':
		m, err := d.object(depth + 1)
		if m == nil {
			return nil, err
		}
		return m, err
	case c == '[':
		return d.array(depth + 1)
	case c == '"':
		return d.str(false)
	case c == '-' || (c >= '0' && c <= '9'):
		return d.number()
	case c == 't':
		return true, d.literal("true")
	case c == 'f':
		return false, d.literal("false")
	case c == 'n':
		return nil, d.literal("null")
	default:
		return nil, d.errorf("unexpected character " + strconv.QuoteRune(rune(c)))
	}
}

func (d *jsonDecoder) literal(word string) error {
	if len(d.data)-d.pos < len(word) || string(d.data[d.pos:d.pos+len(word)]) != word {
		return d.errorf("invalid literal, expected " + word)
	}
	d.pos += len(word)
	return nil
}

func (d *jsonDecoder) object(depth int) (map[string]any, error) {
	d.pos++ // '{'
	m := make(map[string]any)
	d.skipSpace()
	if d.pos < len(d.data) && d.data[d.pos] == '}' {
		d.pos++
		return m, nil
	}
	for {
		d.skipSpace()
		if d.pos >= len(d.data) || d.data[d.pos] != '"' {
			return nil, d.errorf("expected a quoted property name")
		}
		keyPos := d.pos
		key, err := d.str(true)
		if err != nil {
			return nil, err
		}
		if _, dup := m[key]; dup {
			d.pos = keyPos
			return nil, d.errorf("duplicate property " + strconv.Quote(key))
		}
		d.skipSpace()
		if d.pos >= len(d.data) || d.data[d.pos] != ':' {
			return nil, d.errorf("expected ':' after a property name")
		}
		d.pos++
		v, err := d.value(depth)
		if err != nil {
			return nil, err
		}
		m[key] = v
		d.skipSpace()
		if d.pos >= len(d.data) {
			return nil, d.errorf("unexpected end of input in an object")
		}
		switch d.data[d.pos] {
		case ',':
			d.pos++
		case '}':
			d.pos++
			return m, nil
		default:
			return nil, d.errorf("expected ',' or '}' in an object")
		}
	}
}

func (d *jsonDecoder) array(depth int) ([]any, error) {
	d.pos++ // '['
	a := make([]any, 0, 2)
	d.skipSpace()
	if d.pos < len(d.data) && d.data[d.pos] == ']' {
		d.pos++
		return a, nil
	}
	for {
		v, err := d.value(depth)
		if err != nil {
			return nil, err
		}
		a = append(a, v)
		d.skipSpace()
		if d.pos >= len(d.data) {
			return nil, d.errorf("unexpected end of input in an array")
		}
		switch d.data[d.pos] {
		case ',':
			d.pos++
		case ']':
			d.pos++
			return a, nil
		default:
			return nil, d.errorf("expected ',' or ']' in an array")
		}
	}
}

// number scans a JSON number (RFC 8259 grammar) and keeps its text.
func (d *jsonDecoder) number() (json.Number, error) {
	start := d.pos
	p := d.pos
	if p < len(d.data) && d.data[p] == '-' {
		p++
	}
	digits := func() int {
		n := 0
		for p < len(d.data) && d.data[p] >= '0' && d.data[p] <= '9' {
			p++
			n++
		}
		return n
	}
	if p < len(d.data) && d.data[p] == '0' {
		p++
	} else if digits() == 0 {
		d.pos = p
		return "", d.errorf("invalid number")
	}
	if p < len(d.data) && d.data[p] == '.' {
		p++
		if digits() == 0 {
			d.pos = p
			return "", d.errorf("invalid number: digits expected after '.'")
		}
	}
	if p < len(d.data) && (d.data[p] == 'e' || d.data[p] == 'E') {
		p++
		if p < len(d.data) && (d.data[p] == '+' || d.data[p] == '-') {
			p++
		}
		if digits() == 0 {
			d.pos = p
			return "", d.errorf("invalid number: digits expected in the exponent")
		}
	}
	d.pos = p
	return json.Number(d.data[start:p]), nil
}

// str scans a JSON string. Keys are interned through the model's element
// names, so the common case allocates nothing for them.
func (d *jsonDecoder) str(key bool) (string, error) {
	d.pos++ // opening quote
	start := d.pos
	for p := start; p < len(d.data); p++ {
		c := d.data[p]
		if c == '"' {
			raw := d.data[start:p]
			d.pos = p + 1
			if key {
				if s, ok := d.names[string(raw)]; ok {
					return s, nil
				}
			}
			if !utf8.Valid(raw) {
				d.pos = start
				return "", d.errorf("invalid UTF-8 in a string")
			}
			return string(raw), nil
		}
		if c == '\\' || c < 0x20 {
			d.pos = p
			return d.strSlow(start)
		}
	}
	d.pos = len(d.data)
	return "", d.errorf("unterminated string")
}

// strSlow finishes a string holding escapes, from its first escape at d.pos.
func (d *jsonDecoder) strSlow(start int) (string, error) {
	b := append(d.buf[:0], d.data[start:d.pos]...)
	for d.pos < len(d.data) {
		c := d.data[d.pos]
		switch {
		case c == '"':
			d.pos++
			d.buf = b
			if !utf8.Valid(b) {
				return "", d.errorf("invalid UTF-8 in a string")
			}
			return string(b), nil
		case c < 0x20:
			return "", d.errorf("control character in a string: escape it")
		case c != '\\':
			b = append(b, c)
			d.pos++
			continue
		}
		if d.pos+1 >= len(d.data) {
			break
		}
		e := d.data[d.pos+1]
		d.pos += 2
		switch e {
		case '"', '\\', '/':
			b = append(b, e)
		case 'b':
			b = append(b, '\b')
		case 'f':
			b = append(b, '\f')
		case 'n':
			b = append(b, '\n')
		case 'r':
			b = append(b, '\r')
		case 't':
			b = append(b, '\t')
		case 'u':
			r, ok := d.hex4()
			if !ok {
				return "", d.errorf("invalid \\u escape")
			}
			if utf16.IsSurrogate(r) {
				r2 := rune(-1)
				if d.pos+1 < len(d.data) && d.data[d.pos] == '\\' && d.data[d.pos+1] == 'u' {
					d.pos += 2
					if r2, ok = d.hex4(); !ok {
						return "", d.errorf("invalid \\u escape")
					}
				}
				if r = utf16.DecodeRune(r, r2); r == utf8.RuneError {
					return "", d.errorf("unpaired UTF-16 surrogate in a \\u escape")
				}
			}
			b = utf8.AppendRune(b, r)
		default:
			d.pos -= 2
			return "", d.errorf("invalid escape in a string")
		}
	}
	d.pos = len(d.data)
	return "", d.errorf("unterminated string")
}

func (d *jsonDecoder) hex4() (rune, bool) {
	if len(d.data)-d.pos < 4 {
		return 0, false
	}
	var r rune
	for _, c := range d.data[d.pos : d.pos+4] {
		r <<= 4
		switch {
		case c >= '0' && c <= '9':
			r |= rune(c - '0')
		case c >= 'a' && c <= 'f':
			r |= rune(c - 'a' + 10)
		case c >= 'A' && c <= 'F':
			r |= rune(c - 'A' + 10)
		default:
			return 0, false
		}
	}
	d.pos += 4
	return r, true
}
