package transform

import (
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/liaisonhq/liaison/transform/hl7v2"
)

// decodeHL7 parses an HL7 v2 (ER7) message; rules read it with
// input.Get("PID.5.1"), input.GetAll("PID.3.1") and input.Map().
func decodeHL7(data []byte) (any, error) {
	m, err := hl7v2.Parse(data)
	if err != nil {
		return nil, fmt.Errorf("hl7v2: %w", err)
	}
	return m, nil
}

// encodeHL7 builds an HL7 v2 message from a mapped value: an object of
// segments, in rule order, each an object of field paths to values
// ("3": …, "9.1": "VXU", "5[2].1": …) or a list of such objects for a
// repeated segment. A list value fills the field's repetitions.
func (m *Mapping) encodeHL7(v any) ([]byte, error) {
	obj, ok := v.(map[string]any)
	if !ok {
		return nil, fmt.Errorf("hl7v2 output: the rules produced %s, not segments", typeName(v))
	}
	msg := &hl7v2.Message{Delims: hl7v2.DefaultDelimiters()}
	for _, name := range m.segmentOrder(obj) {
		occurrences, _ := asList(obj[name])
		for i, occ := range occurrences {
			fields, ok := occ.(map[string]any)
			if !ok {
				return nil, fmt.Errorf("hl7v2 output: segment %s is %s, not an object of fields", name, typeName(occ))
			}
			if err := setSegment(msg, name, i+1, fields); err != nil {
				return nil, err
			}
		}
	}
	return hl7v2.Encode(msg), nil
}

// segmentOrder lists an output's segments in the order the rules write them.
func (m *Mapping) segmentOrder(obj map[string]any) []string {
	var out []string
	if root, ok := m.root.(*objectNode); ok {
		for _, k := range root.keys {
			if _, ok := obj[k]; ok {
				out = append(out, k)
			}
		}
	}
	if len(out) != len(obj) { // not from the root rules: name order
		out = out[:0]
		for k := range obj {
			out = append(out, k)
		}
		sort.Strings(out)
	}
	return out
}

func setSegment(msg *hl7v2.Message, name string, occurrence int, fields map[string]any) error {
	paths := make([]string, 0, len(fields))
	for p := range fields {
		paths = append(paths, p)
	}
	sort.Slice(paths, func(i, j int) bool { return lessFieldPath(paths[i], paths[j]) })
	seg := name
	if occurrence > 1 {
		seg = name + "[" + strconv.Itoa(occurrence) + "]"
	}
	for _, p := range paths {
		values, _ := asList(fields[p])
		for r, v := range values {
			path := seg + "." + p
			if len(values) > 1 {
				head, rest, _ := strings.Cut(p, ".")
				path = seg + "." + head + "[" + strconv.Itoa(r+1) + "]"
				if rest != "" {
					path += "." + rest
				}
			}
			if err := msg.Set(path, scalarText(v)); err != nil {
				return fmt.Errorf("hl7v2 output: %s: %w", path, err)
			}
		}
	}
	return nil
}

// lessFieldPath orders "3" < "9.1" < "9.2" < "10" by their numbers.
func lessFieldPath(a, b string) bool {
	pa, pb := strings.FieldsFunc(a, isPathSep), strings.FieldsFunc(b, isPathSep)
	for i := 0; i < len(pa) && i < len(pb); i++ {
		na, ea := strconv.Atoi(pa[i])
		nb, eb := strconv.Atoi(pb[i])
		if ea == nil && eb == nil && na != nb {
			return na < nb
		}
		if pa[i] != pb[i] {
			return pa[i] < pb[i]
		}
	}
	return len(pa) < len(pb)
}

func isPathSep(r rune) bool { return r == '.' || r == '[' || r == ']' || r == '-' }

// hl7Arg reads an HL7 v2 TS/DTM argument and an optional IANA zone for
// values without an offset (UTC when none is given).
func hl7Arg(fn string, p []any) (*time.Time, hl7v2.Precision, error) {
	if len(p) < 1 || len(p) > 2 {
		return nil, 0, fmt.Errorf("%s(ts[, zone]) takes 1 or 2 arguments", fn)
	}
	s, _ := p[0].(string)
	if s == "" {
		return nil, 0, nil
	}
	loc := time.UTC
	if len(p) == 2 {
		zone, _ := p[1].(string)
		l, err := loadZone(zone)
		if err != nil {
			return nil, 0, fmt.Errorf("%s: unknown time zone", fn)
		}
		loc = l
	}
	// A TS may carry its degree of precision as a second component.
	if i := strings.IndexByte(s, '^'); i >= 0 {
		s = s[:i]
	}
	t, prec, err := hl7v2.ParseTime(s, loc)
	if err != nil {
		return nil, 0, fmt.Errorf("%s: %w", fn, err)
	}
	return &t, prec, nil
}

// fhirText writes a time as FHIR date or dateTime text keeping what the
// HL7 value gave: a year, a month, a day, or a time (FHIR needs seconds and
// an offset with a time, so hours and minutes gain ":00").
func fhirText(t time.Time, prec hl7v2.Precision) string {
	switch {
	case prec <= hl7v2.PrecisionYear:
		return t.Format("2006")
	case prec == hl7v2.PrecisionMonth:
		return t.Format("2006-01")
	case prec == hl7v2.PrecisionDay:
		return t.Format("2006-01-02")
	case prec <= hl7v2.PrecisionSecond:
		return t.Format("2006-01-02T15:04:05Z07:00")
	}
	return t.Format("2006-01-02T15:04:05.9999Z07:00")
}
