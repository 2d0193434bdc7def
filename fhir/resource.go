package fhir

import "encoding/json"

// Resource is one FHIR R4 resource held losslessly as its JSON object, the
// way hl7.org/fhir/R4/json.html writes it. Values inside are:
//
//	map[string]any  a complex element or a contained resource
//	[]any           a repeating element
//	string          string-like primitives and the narrative XHTML, as written
//	json.Number     integer and decimal primitives, with their exact text ("1.50")
//	bool            boolean primitives
//	nil             only inside "_name" arrays, for repetitions without id or extensions
//
// Primitive ids and extensions live beside their element under "_name", as in
// JSON. Keys are kept even when the model does not know them, so nothing is
// lost between decode and encode; Validate reports them.
//
// A map[string]any built by other code (a mapping's output) can be passed
// wherever a Resource is expected; numbers may then also be float64 or int.
type Resource map[string]any

// Type returns the resource's resourceType, or "" when it has none.
func (r Resource) Type() string {
	s, _ := r["resourceType"].(string)
	return s
}

// ID returns the resource's logical id, or "".
func (r Resource) ID() string {
	s, _ := r["id"].(string)
	return s
}

// MarshalJSON encodes the resource with EncodeJSON, so a Resource inside any
// other value encodes in FHIR element order with its numbers' exact text.
func (r Resource) MarshalJSON() ([]byte, error) { return EncodeJSON(r) }

var _ json.Marshaler = Resource(nil)
