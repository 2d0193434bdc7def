package fhir

import (
	"cmp"
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"
)

// EncodeJSON writes the resource as compact FHIR JSON: resourceType first,
// then elements in definition order, each primitive's "_name" right after
// it, keys the model does not know last in name order. Numbers keep their
// text. It fails only on values no JSON can hold (a NaN, a channel).
func EncodeJSON(r Resource) ([]byte, error) {
	e := jsonEncoder{m: definitions()}
	if err := e.resource(map[string]any(r)); err != nil {
		return nil, err
	}
	return e.buf, nil
}

// EncodeJSONIndent is EncodeJSON with each element on its own line, indented.
func EncodeJSONIndent(r Resource, indent string) ([]byte, error) {
	e := jsonEncoder{m: definitions(), indent: indent}
	if err := e.resource(map[string]any(r)); err != nil {
		return nil, err
	}
	e.buf = append(e.buf, '\n')
	return e.buf, nil
}

type jsonEncoder struct {
	m      *model
	buf    []byte
	indent string
	depth  int
}

// member is one key of an object placed in encoding order.
type member struct {
	key  string
	rank int // element index*2, +1 for "_name"; unknown keys after all
	ref  elementRef
	ok   bool
}

const unknownRank = math.MaxInt32

// orderMembers puts an object's keys in FHIR order for type t (nil: by name).
func orderMembers(obj map[string]any, t *typeInfo, skipResourceType bool) []member {
	ms := make([]member, 0, len(obj))
	for k := range obj {
		if skipResourceType && k == "resourceType" {
			continue
		}
		m := member{key: k, rank: unknownRank}
		if t != nil {
			name, under := k, 0
			if len(k) > 1 && k[0] == '_' {
				name, under = k[1:], 1
			}
			if ref, ok := t.element(name); ok {
				m.ref, m.ok, m.rank = ref, true, ref.index*2+under
			}
		}
		ms = append(ms, m)
	}
	slices.SortFunc(ms, func(a, b member) int {
		if a.rank != b.rank {
			return cmp.Compare(a.rank, b.rank)
		}
		return strings.Compare(a.key, b.key)
	})
	return ms
}

func (e *jsonEncoder) newline() {
	if e.indent == "" {
		return
	}
	e.buf = append(e.buf, '\n')
	for i := 0; i < e.depth; i++ {
		e.buf = append(e.buf, e.indent...)
	}
}

func (e *jsonEncoder) resource(obj map[string]any) error {
	rt, _ := obj["resourceType"].(string)
	var t *typeInfo
	if rt != "" {
		t = e.m.typeOf(rt)
	}
	e.buf = append(e.buf, '{')
	e.depth++
	n := 0
	if v, ok := obj["resourceType"]; ok {
		e.newline()
		e.buf = append(e.buf, `"resourceType":`...)
		if e.indent != "" {
			e.buf = append(e.buf, ' ')
		}
		if err := e.any(v); err != nil {
			return err
		}
		n++
	}
	if err := e.members(obj, t, true, n); err != nil {
		return err
	}
	e.depth--
	e.newline()
	e.buf = append(e.buf, '}')
	return nil
}

func (e *jsonEncoder) object(obj map[string]any, t *typeInfo) error {
	e.buf = append(e.buf, '{')
	e.depth++
	if err := e.members(obj, t, false, 0); err != nil {
		return err
	}
	e.depth--
	if len(obj) > 0 {
		e.newline()
	}
	e.buf = append(e.buf, '}')
	return nil
}

func (e *jsonEncoder) members(obj map[string]any, t *typeInfo, skipRT bool, n int) error {
	for _, m := range orderMembers(obj, t, skipRT) {
		if n > 0 {
			e.buf = append(e.buf, ',')
		}
		n++
		e.newline()
		e.str(m.key)
		e.buf = append(e.buf, ':')
		if e.indent != "" {
			e.buf = append(e.buf, ' ')
		}
		v := obj[m.key]
		var err error
		switch {
		case !m.ok:
			err = e.any(v)
		case m.rank%2 == 1: // "_name": the primitive's id and extensions
			err = e.typed(v, e.m.typeOf(m.ref.typ))
		default:
			err = e.typed(v, e.elementType(m.ref))
		}
		if err != nil {
			return fmt.Errorf("%s: %w", m.key, err)
		}
	}
	return nil
}

// elementType is the type to encode an element's objects with: nil for
// primitives and unknown types, resourceMarker for contained resources.
func (e *jsonEncoder) elementType(ref elementRef) *typeInfo {
	if ref.typ == "Resource" {
		return resourceMarker
	}
	return e.m.typeOf(ref.typ)
}

// resourceMarker stands for "any resource: read its resourceType".
var resourceMarker = &typeInfo{typeDef: &typeDef{name: "Resource"}}

func (e *jsonEncoder) typed(v any, t *typeInfo) error {
	switch v := v.(type) {
	case map[string]any:
		if t == resourceMarker {
			return e.resource(v)
		}
		return e.object(v, t)
	case Resource:
		return e.resource(v)
	case []any:
		e.buf = append(e.buf, '[')
		e.depth++
		for i, item := range v {
			if i > 0 {
				e.buf = append(e.buf, ',')
			}
			e.newline()
			if err := e.typed(item, t); err != nil {
				return err
			}
		}
		e.depth--
		if len(v) > 0 {
			e.newline()
		}
		e.buf = append(e.buf, ']')
		return nil
	default:
		return e.any(v)
	}
}

func (e *jsonEncoder) any(v any) error {
	switch v := v.(type) {
	case nil:
		e.buf = append(e.buf, "null"...)
	case string:
		e.str(v)
	case bool:
		e.buf = strconv.AppendBool(e.buf, v)
	case json.Number:
		if !validNumber(string(v)) {
			return fmt.Errorf("invalid number %q", string(v))
		}
		e.buf = append(e.buf, v...)
	case float64:
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return fmt.Errorf("number %v has no JSON form", v)
		}
		e.buf = appendFloat(e.buf, v)
	case float32:
		return e.any(float64(v))
	case int:
		e.buf = strconv.AppendInt(e.buf, int64(v), 10)
	case int64:
		e.buf = strconv.AppendInt(e.buf, v, 10)
	case int32:
		e.buf = strconv.AppendInt(e.buf, int64(v), 10)
	case uint64:
		e.buf = strconv.AppendUint(e.buf, v, 10)
	case uint32:
		e.buf = strconv.AppendUint(e.buf, uint64(v), 10)
	case map[string]any, []any, Resource:
		return e.typed(v, nil)
	default:
		b, err := json.Marshal(v)
		if err != nil {
			return err
		}
		e.buf = append(e.buf, b...)
	}
	return nil
}

// appendFloat writes a float the shortest way that reads back the same,
// without an exponent in the usual range.
func appendFloat(b []byte, f float64) []byte {
	if abs := math.Abs(f); abs != 0 && (abs < 1e-6 || abs >= 1e21) {
		return strconv.AppendFloat(b, f, 'e', -1, 64)
	}
	return strconv.AppendFloat(b, f, 'f', -1, 64)
}

// IsJSONNumber reports whether s is a JSON number (RFC 8259 grammar), as
// a json.Number must be for encoding/json to write it.
func IsJSONNumber(s string) bool { return validNumber(s) }

// validNumber reports whether s is a JSON number.
func validNumber(s string) bool {
	d := jsonDecoder{data: []byte(s)}
	if s == "" || !(s[0] == '-' || (s[0] >= '0' && s[0] <= '9')) {
		return false
	}
	_, err := d.number()
	return err == nil && d.pos == len(s)
}

const hexDigits = "0123456789abcdef"

// str writes a JSON string, escaping only what JSON requires (and U+2028,
// U+2029); invalid UTF-8 becomes U+FFFD.
func (e *jsonEncoder) str(s string) {
	e.buf = appendJSONString(e.buf, s)
}

// AppendJSONString appends s to b as a JSON string, escaped as the
// encoders of this package escape strings: only what JSON requires, and
// U+2028 and U+2029; invalid UTF-8 becomes U+FFFD.
func AppendJSONString(b []byte, s string) []byte { return appendString(b, s, false) }

// AppendMarshalString appends s to b as encoding/json's Marshal writes a
// string: as AppendJSONString, and besides <, > and & as \u003c, \u003e
// and \u0026, backspace and form feed as \b and \f.
func AppendMarshalString(b []byte, s string) []byte { return appendString(b, s, true) }

func appendJSONString(b []byte, s string) []byte { return appendString(b, s, false) }

// jsonSafe and marshalSafe tell which ASCII characters appendString
// writes as they are, in each of its two modes.
var jsonSafe, marshalSafe = func() (j, m [utf8.RuneSelf]bool) {
	for c := byte(0x20); c < utf8.RuneSelf; c++ {
		j[c] = c != '"' && c != '\\'
		m[c] = j[c] && c != '<' && c != '>' && c != '&'
	}
	return j, m
}()

func appendString(b []byte, s string, marshal bool) []byte {
	safe := &jsonSafe
	if marshal {
		safe = &marshalSafe
	}
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if safe[c] {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch {
			case c == '"' || c == '\\':
				b = append(b, '\\', c)
			case c == '\n':
				b = append(b, '\\', 'n')
			case c == '\r':
				b = append(b, '\\', 'r')
			case c == '\t':
				b = append(b, '\\', 't')
			case marshal && c == '\b':
				b = append(b, '\\', 'b')
			case marshal && c == '\f':
				b = append(b, '\\', 'f')
			default:
				b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
			i += size
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			b = append(b, s[start:i]...)
			b = append(b, '\\', 'u', '2', '0', '2', hexDigits[r&0xf])
			i += size
			start = i
			continue
		}
		i += size
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}
