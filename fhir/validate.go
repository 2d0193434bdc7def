package fhir

import (
	"sort"
	"strconv"
	"strings"
	"sync"
)

// Validate checks a resource against the R4 model and returns every issue
// it finds, not just the first, sorted by location. A resource without
// issues gives nil. Every issue has severity error, one of the codes
// structure, required, value, invariant or code-invalid, a diagnostic that
// says what is wrong and what is expected — never the value found, which
// may be patient data — and one FHIRPath-style location such as
// "Appointment.participant[1].status", "Bundle.entry[2].resource.status"
// or "Patient._birthDate.extension[0].url".
//
// It checks, for the resource and every resource inside it (contained,
// Bundle.entry.resource, Parameters.parameter.resource):
//
//   - resourceType: present, a string, a concrete R4 resource type; a
//     contained resource contains no resources itself (dom-2);
//   - structure: no unknown elements, "_name" only beside primitive
//     elements, the JSON type of every value, arrays exactly for repeating
//     elements, no empty strings, arrays or objects, null only inside a
//     repeating primitive's array whose "_name" partner holds an id or
//     extensions at that index, and "_name" arrays as long as their partner;
//   - cardinality: min (a primitive present only through "_name" counts)
//     and max;
//   - one value per choice element, and ele-1 and ext-1;
//   - the format of every primitive (the R4 regular expressions, checked by
//     hand, see primitives.go), real calendar days and 32-bit integers;
//   - codes of required bindings whose value set is enumerated, see
//     checkBinding;
//   - the narrative div: a string that starts with a <div> element.
//
// It does not modify r. r may be a Resource from ParseJSON or a map built
// by other code, whose numbers may also be float64 or int; any other Go
// type where JSON would have a value is reported as a wrong JSON type.
// Once warm, Validate allocates nothing for a valid resource: locations are
// built only for issues. It is safe for concurrent use.
func Validate(r Resource) Issues {
	v := validators.Get().(*validator)
	issues := v.run(r)
	validators.Put(v)
	return issues
}

// run validates r with v, leaving v ready for the next resource.
func (v *validator) run(r Resource) Issues {
	v.resource(map[string]any(r), true, false, 0)
	issues := v.issues
	v.issues, v.path = nil, v.path[:0]
	if len(issues) > 1 {
		sort.SliceStable(issues, func(i, j int) bool {
			a, b := issues[i], issues[j]
			if a.Expression[0] != b.Expression[0] {
				return a.Expression[0] < b.Expression[0]
			}
			if a.Code != b.Code {
				return a.Code < b.Code
			}
			return a.Diagnostics < b.Diagnostics
		})
	}
	return issues
}

// validator holds one validation's location and findings. Validators are
// pooled so that their path stack is reused.
type validator struct {
	m      *model
	c      *vcache
	path   []pathSeg
	issues Issues
}

var validators = sync.Pool{New: func() any { return newValidator() }}

func newValidator() *validator {
	return &validator{m: definitions(), c: validateCache(), path: make([]pathSeg, 0, 32)}
}

// vcache is what the validator looks up once rather than per value.
type vcache struct {
	element      *typeInfo // Element: the type of a "_name" object
	extension    *typeInfo
	extValue     int // index of Extension.value[x]
	extExtension int // index of Extension.extension
}

var validateCache = sync.OnceValue(func() *vcache {
	m := definitions()
	c := &vcache{element: m.typeOf("Element"), extension: m.typeOf("Extension"), extValue: -1, extExtension: -1}
	if c.extension != nil {
		if ref, ok := c.extension.element("valueString"); ok {
			c.extValue = ref.index
		}
		if ref, ok := c.extension.element("extension"); ok {
			c.extExtension = ref.index
		}
	}
	return c
})

// pathSeg is one step of the location being checked. The validator keeps
// them on a stack and builds the location string only to report an issue.
type pathSeg struct {
	name  string // an element's JSON name, or the resource type at the root
	index int    // the repetition, -1 for none
}

func (v *validator) push(name string) {
	v.path = append(v.path, pathSeg{name: name, index: -1})
}

func (v *validator) pop() { v.path = v.path[:len(v.path)-1] }

// at sets the repetition of the innermost step.
func (v *validator) at(index int) { v.path[len(v.path)-1].index = index }

// location renders the path: "Patient.name[0].given[1]".
func (v *validator) location() string {
	var b strings.Builder
	for i, p := range v.path {
		if i > 0 {
			b.WriteByte('.')
		}
		b.WriteString(p.name)
		if p.index >= 0 {
			b.WriteByte('[')
			b.WriteString(strconv.Itoa(p.index))
			b.WriteByte(']')
		}
	}
	return b.String()
}

// report adds an issue at the current location.
func (v *validator) report(code IssueType, diag string) {
	v.issues = append(v.issues, Issue{
		Severity:    SeverityError,
		Code:        code,
		Diagnostics: diag,
		Expression:  []string{v.location()},
	})
}

// reportChild adds an issue at the element name of the current object.
func (v *validator) reportChild(code IssueType, name string, diag string) {
	v.push(name)
	v.report(code, diag)
	v.pop()
}

// elemBits is a set of element indexes; every R4 type has fewer than 256
// elements (TestValidateBitsFit), larger indexes are ignored.
type elemBits [4]uint64

func (b *elemBits) set(i int) {
	if i >= 0 && i < 256 {
		b[i>>6] |= 1 << (i & 63)
	}
}

func (b *elemBits) has(i int) bool {
	return i >= 0 && i < 256 && b[i>>6]&(1<<(i&63)) != 0
}

// valObject returns the JSON object a value holds: a map[string]any or a Resource.
func valObject(val any) (map[string]any, bool) {
	switch o := val.(type) {
	case map[string]any:
		return o, true
	case Resource:
		return o, true
	}
	return nil, false
}

// underscorePartner looks up the "_name" partner of a primitive element without
// building the key on the heap.
func underscorePartner(obj map[string]any, name string) (any, bool) {
	var buf [64]byte
	b := append(buf[:0], '_')
	b = append(b, name...)
	val, ok := obj[string(b)]
	return val, ok
}

// resource checks a resource found at the current location; with root,
// it is the resource being validated and starts the location.
func (v *validator) resource(obj map[string]any, root, contained bool, depth int) {
	if root {
		name, _ := obj["resourceType"].(string)
		if t := v.m.resourceType(name); t != nil {
			v.push(t.name)
		} else {
			v.push("Resource")
		}
		defer v.pop()
	}
	rt, has := obj["resourceType"]
	if !has {
		v.report(IssueRequired, "resourceType is missing: expected the name of a resource type")
		return
	}
	name, ok := rt.(string)
	if !ok {
		v.report(IssueStructure, "resourceType must be a JSON string naming a resource type")
		return
	}
	t := v.m.resourceType(name)
	if t == nil {
		v.report(IssueStructure, "unknown resourceType: expected a concrete R4 resource type")
		return
	}
	if contained {
		if _, has := obj["contained"]; has {
			v.reportChild(IssueInvariant, "contained", "dom-2: a contained resource cannot contain resources")
		}
	}
	v.object(obj, t, valObjResource, depth)
}

// valObjKind tells object what kind of JSON object it checks.
type valObjKind uint8

const (
	valObjElement   valObjKind = iota // a complex or backbone element
	valObjResource                    // a resource: resourceType is not an element
	valObjPrimitive                   // the "_name" object of a primitive: Element
)

// object checks the elements of one JSON object of type t.
func (v *validator) object(obj map[string]any, t *typeInfo, kind valObjKind, depth int) {
	isResource := kind == valObjResource
	if depth > maxDepth {
		v.report(IssueStructure, "nested too deeply")
		return
	}
	var seen, typed, dup elemBits
	for k, val := range obj {
		if isResource && k == "resourceType" {
			continue
		}
		name, under := k, false
		if len(k) > 1 && k[0] == '_' {
			name, under = k[1:], true
		}
		ref, ok := t.byName[name]
		if !ok {
			v.reportChild(IssueStructure, k, "unknown element: "+t.name+" defines no element of that name")
			continue
		}
		v.push(k)
		if under {
			v.primitiveExtension(obj, name, val, ref, isResource, depth)
		} else {
			v.element(obj, name, val, ref, depth)
		}
		v.pop()
		seen.set(ref.index)
		if ref.el.choice {
			// A choice counts one type per name; "_valueString" beside
			// "valueString" is the same value.
			counts := !under
			if under {
				_, withValue := obj[name]
				counts = !withValue
			}
			if counts {
				if typed.has(ref.index) {
					dup.set(ref.index)
				}
				typed.set(ref.index)
			}
		}
	}
	for i := range t.elements {
		el := &t.elements[i]
		if el.min > 0 && !seen.has(i) {
			what := el.name
			if el.choice {
				what += "[x]"
			}
			v.reportChild(IssueRequired, el.name, "missing required element "+what+" (minimum cardinality "+strconv.Itoa(el.min)+")")
		}
		if dup.has(i) {
			v.reportChild(IssueInvariant, el.name, "choice element "+el.name+"[x] has more than one value ("+strings.Join(choiceValueNames(obj, t, i), ", ")+"): only one type is allowed")
		}
	}
	if kind != valObjElement {
		return
	}
	// ele-1: every element has a value or children other than its id.
	if _, hasID := obj["id"]; hasID && len(obj) == 1 {
		v.report(IssueInvariant, "ele-1: an element needs a value or child elements besides id")
	}
	// ext-1: an extension has either a value or nested extensions, not both.
	if t == v.c.extension {
		hasValue, hasExt := seen.has(v.c.extValue), seen.has(v.c.extExtension)
		switch {
		case hasValue && hasExt:
			v.report(IssueInvariant, "ext-1: an extension has either a value[x] or nested extensions, not both")
		case !hasValue && !hasExt:
			v.report(IssueInvariant, "ext-1: an extension needs a value[x] or nested extensions")
		}
	}
}

// choiceValueNames lists, sorted, the names in obj that give the choice element
// at index i a value: for a diagnostic, so it may allocate.
func choiceValueNames(obj map[string]any, t *typeInfo, i int) []string {
	var names []string
	for k := range obj {
		if ref, ok := t.byName[strings.TrimPrefix(k, "_")]; ok && ref.index == i {
			names = append(names, k)
		}
	}
	sort.Strings(names)
	return names
}

// element checks the value of one element name (no leading "_") found at at.
func (v *validator) element(obj map[string]any, name string, val any, ref elementRef, depth int) {
	el := ref.el
	if el.max == 0 {
		v.report(IssueStructure, "element not allowed here (maximum cardinality 0)")
		return
	}
	if el.max == 1 {
		switch val.(type) {
		case []any:
			v.report(IssueStructure, "expected a single value, not an array: "+name+" does not repeat")
			return
		case nil:
			v.report(IssueStructure, "null is not allowed: leave the element out")
			return
		}
		v.value(val, ref, depth)
		return
	}
	arr, ok := val.([]any)
	if !ok {
		if val == nil {
			v.report(IssueStructure, "null is not allowed: leave the element out")
		} else {
			v.report(IssueStructure, "expected an array: "+name+" repeats, so JSON holds it in an array")
		}
		return
	}
	if len(arr) == 0 {
		v.report(IssueStructure, "empty array: leave the element out")
		return
	}
	if el.max > 1 && len(arr) > el.max {
		v.report(IssueStructure, "too many repetitions: at most "+strconv.Itoa(el.max)+" allowed")
	}
	var partner []any
	looked := false
	for i, item := range arr {
		v.at(i)
		if item == nil {
			if !looked {
				looked = true
				if primKindOf(ref.typ) != primNone {
					p, _ := underscorePartner(obj, name)
					partner, _ = p.([]any)
				}
			}
			if i >= len(partner) || partner[i] == nil {
				v.report(IssueStructure, "null is only allowed where the _"+name+" array holds an id or extensions at the same index")
			}
			continue
		}
		v.value(item, ref, depth)
	}
	v.at(-1)
}

// primitiveExtension checks "_name": the id and extensions of primitive
// element name, one object or an array aligned with name's array.
func (v *validator) primitiveExtension(obj map[string]any, name string, val any, ref elementRef, isResource bool, depth int) {
	el := ref.el
	k := primKindOf(ref.typ)
	// Element.id, Extension.url (XML attributes), the resource id and the
	// narrative div are JSON strings without extensions.
	if k == primNone || k == primXHTML || el.xmlAttr || (isResource && name == "id") {
		v.report(IssueStructure, "_"+name+" is only allowed beside a primitive element that can have extensions")
		return
	}
	if el.max == 0 {
		v.report(IssueStructure, "element not allowed here (maximum cardinality 0)")
		return
	}
	partner, hasValue := obj[name]
	if el.max == 1 {
		switch val.(type) {
		case []any:
			v.report(IssueStructure, "expected a single object, not an array: "+name+" does not repeat")
			return
		case nil:
			v.report(IssueStructure, "null is not allowed: leave the element out")
			return
		}
		v.elementExtension(val, hasValue && partner != nil, depth)
		return
	}
	arr, ok := val.([]any)
	if !ok {
		if val == nil {
			v.report(IssueStructure, "null is not allowed: leave the element out")
		} else {
			v.report(IssueStructure, "expected an array: "+name+" repeats, so _"+name+" is an array aligned with it")
		}
		return
	}
	if len(arr) == 0 {
		v.report(IssueStructure, "empty array: leave the element out")
		return
	}
	values, _ := partner.([]any)
	if hasValue {
		if _, isArr := partner.([]any); isArr && len(values) != len(arr) {
			v.report(IssueStructure, "_"+name+" must have as many entries as "+name+" ("+strconv.Itoa(len(values))+"), using null where there is nothing to add")
		}
	} else if el.max > 1 && len(arr) > el.max {
		v.report(IssueStructure, "too many repetitions: at most "+strconv.Itoa(el.max)+" allowed")
	}
	for i, item := range arr {
		v.at(i)
		withValue := i < len(values) && values[i] != nil
		if item == nil {
			if !withValue {
				v.report(IssueStructure, "null where "+name+" has no value either: each repetition needs a value, an id or extensions")
			}
			continue
		}
		v.elementExtension(item, withValue, depth)
	}
	v.at(-1)
}

// elementExtension checks one object of a "_name" entry: an Element with id
// and extensions. withValue tells whether the primitive has a value too.
func (v *validator) elementExtension(val any, withValue bool, depth int) {
	obj, ok := valObject(val)
	if !ok {
		v.report(IssueStructure, "expected an object holding the id and extensions of a primitive value")
		return
	}
	if len(obj) == 0 {
		v.report(IssueStructure, "empty object: leave it out or use null in an array")
		return
	}
	if v.c.element == nil {
		return
	}
	v.object(obj, v.c.element, valObjPrimitive, depth+1)
	if _, hasID := obj["id"]; hasID && len(obj) == 1 && !withValue {
		v.report(IssueInvariant, "ele-1: an element needs a value or child elements besides id")
	}
}

// value checks one value (not an array) of the element ref.
func (v *validator) value(val any, ref elementRef, depth int) {
	typ := ref.typ
	if typ == "Resource" {
		obj, ok := valObject(val)
		if !ok {
			v.report(IssueStructure, "expected a resource: a JSON object with a resourceType")
			return
		}
		if depth+1 > maxDepth {
			v.report(IssueStructure, "nested too deeply")
			return
		}
		v.resource(obj, false, ref.el.name == "contained", depth+1)
		return
	}
	if k := primKindOf(typ); k != primNone {
		if v.primitive(val, k) && ref.el.binding != "" && k == primCode {
			v.checkBinding(val, typ, ref.el.binding)
		}
		return
	}
	obj, ok := valObject(val)
	if !ok {
		v.report(IssueStructure, "wrong JSON type: expected an object ("+valTypeLabel(typ)+")")
		return
	}
	if len(obj) == 0 {
		v.report(IssueStructure, "empty object: leave the element out")
		return
	}
	t := v.m.typeOf(typ)
	if t == nil {
		return
	}
	v.object(obj, t, valObjElement, depth+1)
	if ref.el.binding != "" {
		v.checkBinding(obj, typ, ref.el.binding)
	}
}

// valTypeLabel names a type for a diagnostic: backbone elements by "BackboneElement".
func valTypeLabel(typ string) string {
	if strings.IndexByte(typ, '.') >= 0 {
		return "BackboneElement"
	}
	return typ
}

// primitive checks the JSON type and the format of a primitive value. It
// tells whether the value is well-formed.
func (v *validator) primitive(val any, k primKind) bool {
	switch k.jsonKind() {
	case jsonBool:
		if _, ok := val.(bool); !ok {
			v.report(IssueStructure, "wrong JSON type: expected true or false (boolean)")
			return false
		}
		return true
	case jsonNumber:
		code, diag, ok := primCheckNumber(k, val)
		if !ok {
			v.report(IssueStructure, "wrong JSON type: expected a JSON number ("+k.name()+")")
			return false
		}
		if code != "" {
			v.report(code, diag)
			return false
		}
		return true
	}
	s, ok := val.(string)
	if !ok {
		v.report(IssueStructure, "wrong JSON type: expected a JSON string ("+k.name()+")")
		return false
	}
	if s == "" {
		v.report(IssueStructure, "empty string: leave the element out")
		return false
	}
	if k == primXHTML {
		if !isNarrativeDiv(s) {
			v.report(IssueValue, "the narrative must be an XHTML <div> element")
			return false
		}
		return true
	}
	if !matchesFormat(k, s) {
		v.report(IssueValue, "invalid "+k.name()+": expected "+k.formatHint())
		return false
	}
	if d := primitiveRange(k, s); d != "" {
		v.report(IssueValue, "invalid "+k.name()+": "+d)
		return false
	}
	return true
}

// isNarrativeDiv is the cheap check of the narrative XHTML: it starts with a <div>
// start tag and ends with a tag.
func isNarrativeDiv(s string) bool {
	if len(s) < 5 || s[:4] != "<div" {
		return false
	}
	switch s[4] {
	case ' ', '\t', '\n', '\r', '>', '/':
	default:
		return false
	}
	end := len(s)
	for end > 0 && reSpace(s[end-1]) {
		end--
	}
	return s[end-1] == '>'
}

// checkBinding checks a value of an element with a required binding
// against the value set, when the value set is enumerated in the model
// (bindings to SNOMED CT, UCUM and the like are not, and are skipped).
//
// The rule is hl7.org/fhir/R4/terminologies.html#required: "To be
// conformant, the concept in this element SHALL be from the specified
// value set." Only the extensible strength lets alternate codings "or,
// data type allowing, text" stand in for a code from the value set. So:
//
//   - code: the code is one of the value set's codes;
//   - Coding: system|code is in the value set (the code alone when the
//     Coding has no system); a Coding without a code carries no concept
//     and is not checked;
//   - CodeableConcept: its codings are alternative encodings of one
//     concept (translations), so at least one coding with a code must be in
//     the value set, the others may be from anywhere. A CodeableConcept
//     with text but no coded coding does not satisfy a required binding.
//     One with neither (only an id or extensions, such as a
//     data-absent-reason) states no concept and is left to cardinality.
func (v *validator) checkBinding(val any, typ, url string) {
	vs := v.m.valueSets[url]
	if vs == nil {
		return
	}
	switch typ {
	case "code":
		if s, ok := val.(string); ok && !valueSetHas(vs, "", s) {
			v.report(IssueCodeInvalid, "code not in the required value set "+url+": expected "+valueSetCodesHint(vs))
		}
	case "Coding":
		obj, _ := valObject(val)
		if coded, in := codingInValueSet(vs, obj); coded && !in {
			v.reportChild(IssueCodeInvalid, "code", "coding not in the required value set "+url+": expected "+valueSetCodesHint(vs))
		}
	case "CodeableConcept":
		obj, _ := valObject(val)
		codings, _ := obj["coding"].([]any)
		anyCoded := false
		for _, c := range codings {
			cobj, _ := valObject(c)
			coded, in := codingInValueSet(vs, cobj)
			if in {
				return
			}
			anyCoded = anyCoded || coded
		}
		if anyCoded {
			v.report(IssueCodeInvalid, "none of the codings is in the required value set "+url+": expected "+valueSetCodesHint(vs))
			return
		}
		if text, ok := obj["text"].(string); ok && text != "" {
			v.report(IssueCodeInvalid, "text alone does not satisfy the required binding to "+url+": add a coding with one of "+valueSetCodesHint(vs))
		}
	}
}

// codingInValueSet tells whether a Coding has a code and whether system|code (the
// code alone without a system) is in the value set.
func codingInValueSet(vs *valueSet, c map[string]any) (coded, in bool) {
	code, ok := c["code"].(string)
	if !ok || code == "" {
		return false, false
	}
	system, _ := c["system"].(string)
	return true, valueSetHas(vs, system, code)
}

// valueSetHas looks up system|code (code alone when system is "") without
// building the key on the heap.
func valueSetHas(vs *valueSet, system, code string) bool {
	if system == "" {
		_, ok := vs.codes[code]
		return ok
	}
	var buf [128]byte
	b := append(buf[:0], system...)
	b = append(b, '|')
	b = append(b, code...)
	_, ok := vs.systems[string(b)]
	return ok
}

// valueSetCodesHint lists a value set's codes for a diagnostic: all of them
// when there are few, else how many and where.
func valueSetCodesHint(vs *valueSet) string {
	const most = 12
	if len(vs.codes) > most {
		return "one of the " + strconv.Itoa(len(vs.codes)) + " codes of " + vs.url
	}
	codes := make([]string, 0, len(vs.codes))
	for c := range vs.codes {
		codes = append(codes, c)
	}
	sort.Strings(codes)
	return strings.Join(codes, ", ")
}
