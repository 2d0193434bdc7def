// Package fhir is Liaison's FHIR R4 core: lossless resources, validation
// against the R4 model, and conversion between FHIR JSON and FHIR XML.
//
// A Resource is the resource's JSON object kept whole (see Resource):
// primitive extensions ("_birthDate"), contained resources, extensions and
// modifier extensions everywhere, the narrative XHTML byte for byte, and
// decimals with their exact text. Decoding never drops anything; encoding
// writes elements in definition order.
//
//	res, format, err := fhir.Parse(body)      // JSON or XML, sniffed
//	if issues := fhir.Validate(res); issues.HasErrors() {
//		return fhir.Outcome(issues...)         // OperationOutcome with locations
//	}
//	xml, err := fhir.EncodeXML(res)
//
// The R4 model — element order, types, cardinality, choice types, XML
// representation and the codes of required bindings — is generated from the
// official StructureDefinitions and ValueSets into definitions_gen.go by
// internal/gendefs (go generate ./fhir/...), and built into lookup tables
// once, on first use. Everything in this package is safe for concurrent use
// except the Transaction builder.
//
// For typed access, DecodeModel gives a read-only copy as one of the structs
// of github.com/samply/golang-fhir-models.
package fhir
