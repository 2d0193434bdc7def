package transform

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"math"
	"sort"
	"strings"

	"github.com/liaisonhq/liaison/fhir"
)

// Decode reads input in the mapping's input format into records, the
// values rules see as input:
//
//	json   the JSON value; integral numbers as int, others as float64
//	fhir   a FHIR resource (JSON or XML) in its lossless form: decimals as json.Number
//	xml    the root element as an object: child elements by name (repeated
//	       ones as lists), attributes as "@name", text as "#text" (or the
//	       element's value when it has neither attributes nor children)
//	csv    one record per row, keyed by the header row (or the csv.columns option)
//	hl7v2  the parsed message (see hl7v2.Message: input.Get("PID.5.1"))
//
// Errors wrap ErrInput and say where the input is malformed.
func (m *Mapping) Decode(data []byte) ([]any, error) {
	var rec any
	var err error
	switch m.Input {
	case FormatJSON:
		rec, err = decodeJSON(data)
	case FormatFHIR:
		var res fhir.Resource
		res, _, err = fhir.Parse(data)
		rec = map[string]any(res)
	case FormatXML:
		rec, err = decodeXML(data)
	case FormatCSV:
		return m.decodeCSV(data)
	case FormatHL7v2:
		rec, err = decodeHL7(data)
	default:
		err = fmt.Errorf("unknown input format %q", m.Input)
	}
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInput, err)
	}
	return []any{rec}, nil
}

// Encode validates (for FHIR output) and writes one mapped value in the
// mapping's output format.
func (m *Mapping) Encode(v any) ([]byte, error) {
	if err := m.Check(v); err != nil {
		return nil, err
	}
	switch m.Output {
	case FormatFHIR:
		return fhir.EncodeJSON(v.(map[string]any))
	case FormatFHIRXML:
		return fhir.EncodeXML(v.(map[string]any))
	case FormatJSON:
		return json.Marshal(v)
	case FormatXML:
		root := m.xml.Root
		if root == "" {
			root = "record"
		}
		return encodeXML(root, v)
	case FormatHL7v2:
		return m.encodeHL7(v)
	}
	return nil, fmt.Errorf("unknown output format %q", m.Output)
}

func decodeJSON(data []byte) (any, error) {
	d := json.NewDecoder(bytes.NewReader(data))
	d.UseNumber()
	var v any
	if err := d.Decode(&v); err != nil {
		return nil, jsonPosError(data, d, err)
	}
	if _, err := d.Token(); err != io.EOF {
		return nil, errors.New("json: unexpected content after the first value")
	}
	return plainNumbers(v), nil
}

func jsonPosError(data []byte, d *json.Decoder, err error) error {
	var se *json.SyntaxError
	if errors.As(err, &se) {
		line, col := 1, 1
		for _, c := range data[:min(int(se.Offset), len(data))] {
			if c == '\n' {
				line, col = line+1, 1
			} else {
				col++
			}
		}
		return fmt.Errorf("json: line %d, col %d: %s", line, col, se.Error())
	}
	return fmt.Errorf("json: %w", err)
}

// plainNumbers turns json.Number into int (when integral and in range) or float64.
func plainNumbers(v any) any {
	switch x := v.(type) {
	case map[string]any:
		for k, e := range x {
			x[k] = plainNumbers(e)
		}
	case []any:
		for i := range x {
			x[i] = plainNumbers(x[i])
		}
	case json.Number:
		if i, err := x.Int64(); err == nil && i >= math.MinInt && i <= math.MaxInt {
			return int(i)
		}
		f, _ := x.Float64()
		return f
	}
	return v
}

func (m *Mapping) decodeCSV(data []byte) ([]any, error) {
	r := csv.NewReader(bytes.NewReader(data))
	if d := m.csv.Delimiter; d != "" {
		r.Comma = []rune(d)[0]
	}
	r.FieldsPerRecord = -1
	r.ReuseRecord = false
	rows, err := r.ReadAll()
	if err != nil {
		return nil, fmt.Errorf("%w: csv: %w", ErrInput, err)
	}
	cols := m.csv.Columns
	if m.csv.Header == nil || *m.csv.Header {
		if len(rows) == 0 {
			return nil, fmt.Errorf("%w: csv: no header row", ErrInput)
		}
		if cols == nil {
			cols = rows[0]
		}
		rows = rows[1:]
	}
	out := make([]any, 0, len(rows))
	for i, row := range rows {
		if len(row) != len(cols) {
			return nil, fmt.Errorf("%w: csv: row %d has %d fields, the header %d", ErrInput, i+1, len(row), len(cols))
		}
		rec := make(map[string]any, len(cols))
		for j, c := range cols {
			rec[strings.TrimSpace(c)] = row[j]
		}
		out = append(out, rec)
	}
	return out, nil
}

// maxXMLDepth bounds nesting of generic XML input.
const maxXMLDepth = 256

func decodeXML(data []byte) (any, error) {
	d := xml.NewDecoder(bytes.NewReader(data))
	for {
		tok, err := d.Token()
		if err != nil {
			return nil, xmlPosError(data, d, err)
		}
		switch t := tok.(type) {
		case xml.StartElement:
			return xmlElement(d, data, t, 0)
		case xml.Directive:
			return nil, errors.New("xml: DTDs are not accepted")
		}
	}
}

func xmlPosError(data []byte, d *xml.Decoder, err error) error {
	if err == io.EOF {
		return errors.New("xml: no root element")
	}
	line, _ := d.InputPos()
	return fmt.Errorf("xml: line %d: %s", line, strings.TrimPrefix(err.Error(), "XML syntax error on line "))
}

func xmlElement(d *xml.Decoder, data []byte, start xml.StartElement, depth int) (any, error) {
	if depth > maxXMLDepth {
		return nil, errors.New("xml: nested too deeply")
	}
	obj := map[string]any{}
	for _, a := range start.Attr {
		if a.Name.Space == "xmlns" || a.Name.Local == "xmlns" {
			continue
		}
		obj["@"+a.Name.Local] = a.Value
	}
	var text strings.Builder
	children := false
	for {
		tok, err := d.Token()
		if err != nil {
			return nil, xmlPosError(data, d, err)
		}
		switch t := tok.(type) {
		case xml.StartElement:
			children = true
			v, err := xmlElement(d, data, t, depth+1)
			if err != nil {
				return nil, err
			}
			name := t.Name.Local
			switch prev := obj[name].(type) {
			case nil:
				obj[name] = v
			case []any:
				obj[name] = append(prev, v)
			default:
				obj[name] = []any{prev, v}
			}
		case xml.CharData:
			text.Write(t)
		case xml.EndElement:
			s := strings.TrimSpace(text.String())
			if !children && len(obj) == 0 {
				return s, nil
			}
			if s != "" {
				obj["#text"] = s
			}
			return obj, nil
		}
	}
}

// encodeXML writes an object as XML under a root element, the reverse of
// decodeXML: "@name" keys as attributes, "#text" as text, lists as
// repeated elements; keys in name order.
func encodeXML(root string, v any) ([]byte, error) {
	var b bytes.Buffer
	b.WriteString(xml.Header)
	if err := xmlWrite(&b, root, v); err != nil {
		return nil, err
	}
	b.WriteByte('\n')
	return b.Bytes(), nil
}

func xmlWrite(b *bytes.Buffer, name string, v any) error {
	if !validXMLName(name) {
		return fmt.Errorf("xml output: %q is not an element name", name)
	}
	switch x := v.(type) {
	case []any:
		for _, item := range x {
			if err := xmlWrite(b, name, item); err != nil {
				return err
			}
		}
		return nil
	case map[string]any:
		keys := make([]string, 0, len(x))
		for k := range x {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		b.WriteByte('<')
		b.WriteString(name)
		for _, k := range keys {
			if strings.HasPrefix(k, "@") {
				b.WriteByte(' ')
				b.WriteString(k[1:])
				b.WriteString(`="`)
				xml.EscapeText(b, []byte(scalarText(x[k])))
				b.WriteByte('"')
			}
		}
		b.WriteByte('>')
		for _, k := range keys {
			switch {
			case k == "#text":
				xml.EscapeText(b, []byte(scalarText(x[k])))
			case !strings.HasPrefix(k, "@"):
				if err := xmlWrite(b, k, x[k]); err != nil {
					return err
				}
			}
		}
		b.WriteString("</" + name + ">")
		return nil
	}
	b.WriteString("<" + name + ">")
	xml.EscapeText(b, []byte(scalarText(v)))
	b.WriteString("</" + name + ">")
	return nil
}

func scalarText(v any) string {
	switch x := v.(type) {
	case nil:
		return ""
	case string:
		return x
	case float64:
		return fmt.Sprint(x)
	}
	return fmt.Sprint(v)
}

func validXMLName(s string) bool {
	if s == "" {
		return false
	}
	for i, r := range s {
		ok := r == '_' || r == ':' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r > 0x7f ||
			i > 0 && (r == '-' || r == '.' || r >= '0' && r <= '9')
		if !ok {
			return false
		}
	}
	return true
}
