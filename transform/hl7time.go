package transform

import (
	"errors"
	"time"
)

// hl7Arg reads an HL7 v2 TS/DTM argument and an optional zone for values
// without an offset. Filled in with the hl7v2 package.
func hl7Arg(fn string, p []any) (*time.Time, string, error) {
	return nil, "", errors.New(fn + ": not available")
}

// fhirText writes a time as FHIR date or dateTime text at a precision.
func fhirText(t time.Time, precision string) string {
	return t.Format(time.RFC3339)
}

func decodeHL7(data []byte) (any, error) { return nil, errors.New("hl7v2: not available") }
func encodeHL7(v any) ([]byte, error)    { return nil, errors.New("hl7v2: not available") }
