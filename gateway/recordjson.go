package gateway

import (
	"encoding/json"
	"slices"
	"strconv"
	"unicode/utf16"
	"unicode/utf8"

	"github.com/liaisonhq/liaison/fhir"
)

// A record's JSON: decodeRecord reads it, canonicalJSON writes its
// canonical form, both without reflection.

// The decoder of HMS records: a JSON object into maps, lists, text,
// json.Number (numbers as written), booleans and nil — the values
// encoding/json's Decoder gives with UseNumber, for every input (the last
// of duplicate keys wins, invalid UTF-8 and lone surrogates become U+FFFD,
// what follows the object is not read), without its reflection. The
// fuzz test FuzzDecodeRecord holds it to that.

// maxRecordDepth is encoding/json's nesting limit.
const maxRecordDepth = 10000

type recordDecoder struct {
	data []byte
	pos  int
	buf  []byte // a string's text while it is unescaped
}

// parseRecord decodes the JSON object at the start of data; false when
// data does not start with one.
func parseRecord(data []byte) (map[string]any, bool) {
	d := recordDecoder{data: data}
	d.space()
	if d.pos >= len(d.data) || d.data[d.pos] != '{' {
		return nil, false
	}
	v, ok := d.value(0)
	if !ok {
		return nil, false
	}
	return v.(map[string]any), true
}

func (d *recordDecoder) space() {
	for d.pos < len(d.data) {
		switch d.data[d.pos] {
		case ' ', '\t', '\n', '\r':
			d.pos++
		default:
			return
		}
	}
}

// value decodes the value at d.pos (no space before it).
func (d *recordDecoder) value(depth int) (any, bool) {
	if d.pos >= len(d.data) {
		return nil, false
	}
	switch c := d.data[d.pos]; {
	case c == '{':
		return d.object(depth + 1)
	case c == '[':
		return d.array(depth + 1)
	case c == '"':
		s, ok := d.str()
		return s, ok
	case c == '-' || c >= '0' && c <= '9':
		return d.number()
	}
	for _, lit := range [...]struct {
		text string
		v    any
	}{{"true", true}, {"false", false}, {"null", nil}} {
		if len(d.data)-d.pos >= len(lit.text) && string(d.data[d.pos:d.pos+len(lit.text)]) == lit.text {
			d.pos += len(lit.text)
			return lit.v, true
		}
	}
	return nil, false
}

func (d *recordDecoder) object(depth int) (any, bool) {
	if depth > maxRecordDepth {
		return nil, false
	}
	d.pos++ // {
	obj := make(map[string]any)
	d.space()
	if d.pos < len(d.data) && d.data[d.pos] == '}' {
		d.pos++
		return obj, true
	}
	for {
		if d.pos >= len(d.data) || d.data[d.pos] != '"' {
			return nil, false
		}
		k, ok := d.str()
		if !ok {
			return nil, false
		}
		d.space()
		if d.pos >= len(d.data) || d.data[d.pos] != ':' {
			return nil, false
		}
		d.pos++
		d.space()
		v, ok := d.value(depth)
		if !ok {
			return nil, false
		}
		obj[k] = v
		d.space()
		if d.pos >= len(d.data) {
			return nil, false
		}
		switch d.data[d.pos] {
		case ',':
			d.pos++
			d.space()
		case '}':
			d.pos++
			return obj, true
		default:
			return nil, false
		}
	}
}

func (d *recordDecoder) array(depth int) (any, bool) {
	if depth > maxRecordDepth {
		return nil, false
	}
	d.pos++ // [
	arr := []any{}
	d.space()
	if d.pos < len(d.data) && d.data[d.pos] == ']' {
		d.pos++
		return arr, true
	}
	for {
		v, ok := d.value(depth)
		if !ok {
			return nil, false
		}
		arr = append(arr, v)
		d.space()
		if d.pos >= len(d.data) {
			return nil, false
		}
		switch d.data[d.pos] {
		case ',':
			d.pos++
			d.space()
		case ']':
			d.pos++
			return arr, true
		default:
			return nil, false
		}
	}
}

// number takes a number's text as it is written, checking its grammar.
func (d *recordDecoder) number() (any, bool) {
	start := d.pos
	digits := func() bool {
		n := d.pos
		for d.pos < len(d.data) && d.data[d.pos] >= '0' && d.data[d.pos] <= '9' {
			d.pos++
		}
		return d.pos > n
	}
	if d.data[d.pos] == '-' {
		d.pos++
	}
	if d.pos < len(d.data) && d.data[d.pos] == '0' {
		d.pos++
	} else if !digits() {
		return nil, false
	}
	if d.pos < len(d.data) && d.data[d.pos] == '.' {
		d.pos++
		if !digits() {
			return nil, false
		}
	}
	if d.pos < len(d.data) && (d.data[d.pos] == 'e' || d.data[d.pos] == 'E') {
		d.pos++
		if d.pos < len(d.data) && (d.data[d.pos] == '+' || d.data[d.pos] == '-') {
			d.pos++
		}
		if !digits() {
			return nil, false
		}
	}
	return json.Number(d.data[start:d.pos]), true
}

// str decodes the string at d.pos, its quotes included.
func (d *recordDecoder) str() (string, bool) {
	d.pos++ // "
	start := d.pos
	// The common case: no escapes, valid UTF-8.
	for d.pos < len(d.data) {
		c := d.data[d.pos]
		if c == '"' {
			s := string(d.data[start:d.pos])
			d.pos++
			return s, true
		}
		if c == '\\' || c < 0x20 || c >= utf8.RuneSelf {
			break
		}
		d.pos++
	}
	d.buf = append(d.buf[:0], d.data[start:d.pos]...)
	for d.pos < len(d.data) {
		c := d.data[d.pos]
		switch {
		case c == '"':
			d.pos++
			return string(d.buf), true
		case c < 0x20:
			return "", false
		case c == '\\':
			if !d.escape() {
				return "", false
			}
		case c < utf8.RuneSelf:
			d.buf = append(d.buf, c)
			d.pos++
		default:
			r, size := utf8.DecodeRune(d.data[d.pos:])
			if r == utf8.RuneError && size == 1 {
				d.buf = utf8.AppendRune(d.buf, utf8.RuneError)
			} else {
				d.buf = append(d.buf, d.data[d.pos:d.pos+size]...)
			}
			d.pos += size
		}
	}
	return "", false
}

// escape decodes the escape at d.pos into d.buf.
func (d *recordDecoder) escape() bool {
	if d.pos+1 >= len(d.data) {
		return false
	}
	c := d.data[d.pos+1]
	switch c {
	case '"', '\\', '/':
		d.buf = append(d.buf, c)
	case 'b':
		d.buf = append(d.buf, '\b')
	case 'f':
		d.buf = append(d.buf, '\f')
	case 'n':
		d.buf = append(d.buf, '\n')
	case 'r':
		d.buf = append(d.buf, '\r')
	case 't':
		d.buf = append(d.buf, '\t')
	case 'u':
		r, ok := d.hex4(d.pos + 2)
		if !ok {
			return false
		}
		d.pos += 6
		if utf16.IsSurrogate(r) {
			// A pair is one character; a lone surrogate is U+FFFD.
			if r2, ok := d.hex4(d.pos + 2); ok && d.pos+1 < len(d.data) && d.data[d.pos] == '\\' && d.data[d.pos+1] == 'u' {
				if dec := utf16.DecodeRune(r, r2); dec != utf8.RuneError {
					d.buf = utf8.AppendRune(d.buf, dec)
					d.pos += 6
					return true
				}
			}
			r = utf8.RuneError
		}
		d.buf = utf8.AppendRune(d.buf, r)
		return true
	default:
		return false
	}
	d.pos += 2
	return true
}

// hex4 reads four hex digits at i.
func (d *recordDecoder) hex4(i int) (rune, bool) {
	if i+4 > len(d.data) {
		return 0, false
	}
	var r rune
	for _, c := range d.data[i : i+4] {
		switch {
		case c >= '0' && c <= '9':
			c -= '0'
		case c >= 'a' && c <= 'f':
			c -= 'a' - 10
		case c >= 'A' && c <= 'F':
			c -= 'A' - 10
		default:
			return 0, false
		}
		r = r<<4 | rune(c)
	}
	return r, true
}

// canonicalJSON is a record's canonical form, the bytes its content hash
// is taken from: exactly what encoding/json's Marshal writes for it (keys
// sorted, numbers as written, <, > and & escaped), so hashes stay those
// of records stored before. A decoded record (maps, lists, text, numbers,
// booleans, null) is written without reflection; anything else goes to
// Marshal.
func canonicalJSON(rec map[string]any) ([]byte, error) {
	b, ok := appendCanonical(make([]byte, 0, 256), rec)
	if !ok {
		return json.Marshal(rec)
	}
	return b, nil
}

// appendCanonical appends v as Marshal writes it; false for a value it
// does not know, which Marshal then writes.
func appendCanonical(b []byte, v any) ([]byte, bool) {
	switch x := v.(type) {
	case nil:
		return append(b, "null"...), true
	case bool:
		return strconv.AppendBool(b, x), true
	case string:
		return fhir.AppendMarshalString(b, x), true
	case json.Number:
		if x == "" || !validNumber(string(x)) {
			return b, false
		}
		return append(b, x...), true
	case []any:
		b = append(b, '[')
		for i, e := range x {
			if i > 0 {
				b = append(b, ',')
			}
			var ok bool
			if b, ok = appendCanonical(b, e); !ok {
				return b, false
			}
		}
		return append(b, ']'), true
	case map[string]any:
		if x == nil {
			return append(b, "null"...), true
		}
		keys := make([]string, 0, len(x))
		for k := range x {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		b = append(b, '{')
		for i, k := range keys {
			if i > 0 {
				b = append(b, ',')
			}
			b = fhir.AppendMarshalString(b, k)
			b = append(b, ':')
			var ok bool
			if b, ok = appendCanonical(b, x[k]); !ok {
				return b, false
			}
		}
		return append(b, '}'), true
	}
	return b, false
}

// validNumber reports whether s is a JSON number, as Marshal checks a
// json.Number before writing it.
func validNumber(s string) bool {
	i := 0
	if i < len(s) && s[i] == '-' {
		i++
	}
	switch {
	case i == len(s):
		return false
	case s[i] == '0':
		i++
	case s[i] >= '1' && s[i] <= '9':
		for i < len(s) && s[i] >= '0' && s[i] <= '9' {
			i++
		}
	default:
		return false
	}
	if i < len(s) && s[i] == '.' {
		i++
		if i == len(s) || s[i] < '0' || s[i] > '9' {
			return false
		}
		for i < len(s) && s[i] >= '0' && s[i] <= '9' {
			i++
		}
	}
	if i < len(s) && (s[i] == 'e' || s[i] == 'E') {
		i++
		if i < len(s) && (s[i] == '+' || s[i] == '-') {
			i++
		}
		if i == len(s) || s[i] < '0' || s[i] > '9' {
			return false
		}
		for i < len(s) && s[i] >= '0' && s[i] <= '9' {
			i++
		}
	}
	return i == len(s)
}
