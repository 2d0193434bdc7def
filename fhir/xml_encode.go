package fhir

import "errors"

// EncodeXML writes the resource as FHIR XML (hl7.org/fhir/R4/xml.html).
func EncodeXML(r Resource) ([]byte, error) { return nil, errors.New("not yet") }
