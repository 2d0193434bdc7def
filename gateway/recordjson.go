package gateway

import (
	"encoding/json"
	"slices"
	"strconv"

	"github.com/liaisonhq/liaison/fhir"
)

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
		if !fhir.IsJSONNumber(string(x)) {
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
