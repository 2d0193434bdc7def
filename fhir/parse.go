package fhir

// Format is a FHIR wire format.
type Format string

const (
	FormatJSON Format = "json"
	FormatXML  Format = "xml"
)

// Parse decodes a resource in whichever format its first non-space byte
// announces: '{' for JSON, '<' for XML (a byte-order mark is skipped).
func Parse(data []byte) (Resource, Format, error) {
	i := 0
	if len(data) >= 3 && data[0] == 0xEF && data[1] == 0xBB && data[2] == 0xBF {
		i = 3
	}
	for i < len(data) && (data[i] == ' ' || data[i] == '\t' || data[i] == '\n' || data[i] == '\r') {
		i++
	}
	if i == len(data) {
		return nil, "", ErrUnknownFormat
	}
	switch data[i] {
	case '{':
		r, err := ParseJSON(data[i:])
		return r, FormatJSON, err
	case '<':
		r, err := ParseXML(data[i:])
		return r, FormatXML, err
	}
	return nil, "", ErrUnknownFormat
}
