package hl7v2

import "strings"

// Unescape decodes the escape sequences of one raw value (a subcomponent as
// it appears on the wire) written with delimiters d. Parse calls it for every value.
//
//   - \F\ \S\ \T\ \R\ \E\ become the field, component, subcomponent and
//     repetition separators and the escape character; \P\ becomes the
//     truncation character when d declares one.
//   - \Xhh…\ (one or more pairs of hex digits, either case) becomes those
//     bytes, uninterpreted: they are not converted from MSH-18's character
//     set.
//   - \.br\ becomes a line feed "\n".
//   - The other formatting commands (\.sp\ \.fi\ \.nf\ \.in\ \.ti\ \.sk\
//     \.ce\, with an optional signed number), highlighting (\H\ \N\),
//     character set switches (\Cxxyy\ \Mxxyy\ \Mxxyyzz\) and locally defined
//     sequences (\Z…\) are kept in the value as written, escape characters
//     included; Escape writes them back unchanged.
//   - An escape character that starts none of these — unterminated, empty
//     (\\), or an unknown code such as \Q\ — is taken as a literal character,
//     as many senders write file paths unescaped.
//
// Truncation characters that are not escaped stay in the value.
func Unescape(s string, d Delimiters) string {
	e := d.Escape
	i := strings.IndexByte(s, e)
	if i < 0 {
		return s
	}
	var b strings.Builder
	b.Grow(len(s))
	b.WriteString(s[:i])
	for i < len(s) {
		c := s[i]
		if c != e {
			b.WriteByte(c)
			i++
			continue
		}
		j := strings.IndexByte(s[i+1:], e)
		if j < 0 {
			b.WriteString(s[i:])
			break
		}
		seq := s[i+1 : i+1+j]
		if r, ok := d.decodeSequence(seq); ok {
			b.WriteString(r)
			i += j + 2
			continue
		}
		if d.kept(seq) {
			b.WriteString(s[i : i+j+2])
			i += j + 2
			continue
		}
		b.WriteByte(e) // not a sequence: a literal escape character
		i++
	}
	return b.String()
}

// decodeSequence returns the text that the sequence between two escape
// characters stands for, if it is one this package resolves.
func (d Delimiters) decodeSequence(seq string) (string, bool) {
	switch len(seq) {
	case 0:
		return "", false
	case 1:
		switch seq[0] {
		case 'F':
			return string([]byte{d.Field}), true
		case 'S':
			return string([]byte{d.Component}), true
		case 'T':
			return string([]byte{d.Subcomponent}), true
		case 'R':
			return string([]byte{d.Repetition}), true
		case 'E':
			return string([]byte{d.Escape}), true
		case 'P':
			if d.Truncation != 0 {
				return string([]byte{d.Truncation}), true
			}
		}
		return "", false
	}
	if seq == ".br" {
		return "\n", true
	}
	if seq[0] == 'X' && len(seq)%2 == 1 && isHex(seq[1:]) {
		out := make([]byte, (len(seq)-1)/2)
		for k := range out {
			out[k] = unhex(seq[1+2*k])<<4 | unhex(seq[2+2*k])
		}
		return string(out), true
	}
	return "", false
}

// kept reports whether the sequence between two escape characters is one
// that Unescape keeps verbatim and Escape passes through: formatting other
// than .br, highlighting, character set switches and local sequences. None
// of its bytes may be a delimiter, so the sequence can be written raw.
func (d Delimiters) kept(seq string) bool {
	if len(seq) == 0 || len(seq) > 64 {
		return false
	}
	for k := 0; k < len(seq); k++ {
		c := seq[k]
		if c < ' ' || c >= 0x7f || d.isDelimiter(c) {
			return false
		}
	}
	switch seq[0] {
	case 'H', 'N':
		return len(seq) == 1
	case 'C':
		return len(seq) == 5 && isHex(seq[1:])
	case 'M':
		return (len(seq) == 5 || len(seq) == 7) && isHex(seq[1:])
	case 'Z':
		return len(seq) > 1
	case '.':
		if len(seq) < 3 {
			return false
		}
		switch seq[1:3] {
		case "sp", "fi", "nf", "in", "ti", "sk", "ce":
		default:
			return false
		}
		num := seq[3:]
		if num != "" && (num[0] == '+' || num[0] == '-') {
			num = num[1:]
			if num == "" {
				return false
			}
		}
		return len(num) <= 4 && isDigits(num)
	}
	return false
}

// Escape encodes a decoded value for writing with delimiters d, the inverse of
// Unescape: the four separators and the escape character become \F\ \S\
// \T\ \R\ \E\, a line feed becomes \.br\ (\X0A\ if "." is a delimiter) and
// a carriage return \X0D\. The
// sequences that Unescape keeps verbatim are written unchanged. The
// truncation character is not escaped: whether it must be depends on the
// field's length, which a codec without a schema does not know.
func Escape(s string, d Delimiters) string {
	if !d.needsEscape(s) {
		return s
	}
	return string(d.appendEscaped(make([]byte, 0, len(s)+8), s))
}

func (d Delimiters) needsEscape(s string) bool {
	for k := 0; k < len(s); k++ {
		switch s[k] {
		case d.Field, d.Component, d.Repetition, d.Escape, d.Subcomponent, '\r', '\n':
			return true
		}
	}
	return false
}

func (d Delimiters) appendEscaped(b []byte, s string) []byte {
	if !d.needsEscape(s) {
		return append(b, s...)
	}
	e := d.Escape
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch c {
		case d.Field:
			b = append(b, e, 'F', e)
		case d.Component:
			b = append(b, e, 'S', e)
		case d.Subcomponent:
			b = append(b, e, 'T', e)
		case d.Repetition:
			b = append(b, e, 'R', e)
		case e:
			if j := strings.IndexByte(s[i+1:], e); j >= 0 && d.kept(s[i+1:i+1+j]) {
				b = append(b, s[i:i+j+2]...)
				i += j + 1
				continue
			}
			b = append(b, e, 'E', e)
		case '\n':
			if d.isDelimiter('.') { // \.br\ cannot be written; fall back to hex
				b = append(b, e, 'X', '0', 'A', e)
			} else {
				b = append(b, e, '.', 'b', 'r', e)
			}
		case '\r':
			b = append(b, e, 'X', '0', 'D', e)
		default:
			b = append(b, c)
		}
	}
	return b
}

// isDelimiter reports whether c separates or escapes anything under d.
func (d Delimiters) isDelimiter(c byte) bool {
	return c == d.Field || c == d.Component || c == d.Repetition || c == d.Escape || c == d.Subcomponent
}

func isHex(s string) bool {
	for k := 0; k < len(s); k++ {
		c := s[k]
		if !('0' <= c && c <= '9') && !('A' <= c && c <= 'F') && !('a' <= c && c <= 'f') {
			return false
		}
	}
	return true
}

func isDigits(s string) bool {
	for k := 0; k < len(s); k++ {
		if s[k] < '0' || s[k] > '9' {
			return false
		}
	}
	return true
}

func unhex(c byte) byte {
	switch {
	case c <= '9':
		return c - '0'
	case c <= 'F':
		return c - 'A' + 10
	default:
		return c - 'a' + 10
	}
}
