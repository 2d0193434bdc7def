package fhir

//go:generate go run ./internal/gendefs -definitions ../../shared/fhir-r4/definitions -out definitions_gen.go

type typeKind uint8

const (
	kindComplex typeKind = iota
	kindResource
	kindPrimitive
	kindBackbone
)

type jsonKind uint8

const (
	jsonString jsonKind = iota
	jsonNumber
	jsonBool
)

// typeDef is one type of the R4 model as generated: a resource, a datatype
// or a backbone element (named by its path, "Patient.contact").
type typeDef struct {
	name     string
	kind     typeKind
	abstract bool
	elements []elementDef
}

// elementDef is one element of a type, in definition order.
type elementDef struct {
	name    string   // JSON name; for a choice, the name without [x]
	min     int      // minimum cardinality
	max     int      // maximum cardinality, -1 for *
	types   []string // type codes; backbone types by path; "Resource" for any resource
	choice  bool     // value[x]: the JSON name carries the type
	xmlAttr bool     // an XML attribute, not an element
	xhtml   bool     // Narrative.div: XHTML passed through
	binding string   // the required value set URL, when it can be enumerated
}

type primitiveDef struct {
	name  string
	json  jsonKind
	regex string // the R4 regular expression of the value, when there is one
}

type valueSetDef struct {
	url   string
	codes []string // "system|code"
}
