package fhir

import (
	"strings"
	"sync"
)

// model is the R4 model loaded from the generated tables: every type with
// its elements by JSON name, the primitives and the required value sets.
// It is built once, on first use, and read-only afterwards.
type model struct {
	types      map[string]*typeInfo
	primitives map[string]*primitiveDef
	valueSets  map[string]*valueSet
	names      map[string]string // every element name, interned
}

// typeInfo is a type with its elements indexed by JSON name, choice
// elements under each of their names ("valueString", "valueQuantity").
type typeInfo struct {
	*typeDef
	byName map[string]elementRef
}

// elementRef is an element found by its JSON name: the element, its index in
// definition order and, for a choice, the type its name selects.
type elementRef struct {
	el    *elementDef
	index int
	typ   string // the element's type when it has exactly one, or the chosen type of a choice
}

type valueSet struct {
	url     string
	codes   map[string]struct{} // code alone
	systems map[string]struct{} // "system|code"
}

var definitions = sync.OnceValue(loadModel)

func loadModel() *model {
	m := &model{
		types:      make(map[string]*typeInfo, len(typeTable)),
		primitives: make(map[string]*primitiveDef, len(primitiveTable)),
		valueSets:  make(map[string]*valueSet, len(valueSetTable)),
		names:      make(map[string]string, 4096),
	}
	m.intern("resourceType")
	for i := range primitiveTable {
		m.primitives[primitiveTable[i].name] = &primitiveTable[i]
	}
	for i := range typeTable {
		t := &typeTable[i]
		ti := &typeInfo{typeDef: t, byName: make(map[string]elementRef, len(t.elements))}
		for j := range t.elements {
			el := &t.elements[j]
			if !el.choice {
				ref := elementRef{el: el, index: j}
				if len(el.types) == 1 {
					ref.typ = el.types[0]
				}
				ti.byName[m.intern(el.name)] = ref
				m.intern("_" + el.name)
				continue
			}
			for _, typ := range el.types {
				name := m.intern(el.name + upperFirst(typ))
				m.intern("_" + name)
				ti.byName[name] = elementRef{el: el, index: j, typ: typ}
			}
		}
		m.types[t.name] = ti
	}
	for i := range valueSetTable {
		d := &valueSetTable[i]
		vs := &valueSet{url: d.url, codes: make(map[string]struct{}, len(d.codes)), systems: make(map[string]struct{}, len(d.codes))}
		for _, sc := range d.codes {
			vs.systems[sc] = struct{}{}
			vs.codes[sc[strings.IndexByte(sc, '|')+1:]] = struct{}{}
		}
		m.valueSets[d.url] = vs
	}
	return m
}

func (m *model) intern(s string) string {
	if v, ok := m.names[s]; ok {
		return v
	}
	m.names[s] = s
	return s
}

func upperFirst(s string) string {
	if s == "" || s[0] < 'a' || s[0] > 'z' {
		return s
	}
	return string(s[0]-'a'+'A') + s[1:]
}

// typeOf returns the type of that name: a resource, a datatype or a backbone path.
func (m *model) typeOf(name string) *typeInfo { return m.types[name] }

// resourceType returns the type of a concrete (non-abstract) resource, or nil.
func (m *model) resourceType(name string) *typeInfo {
	t := m.types[name]
	if t == nil || t.kind != kindResource || t.abstract {
		return nil
	}
	return t
}

// isPrimitive tells whether a type code names a primitive type ("string", "xhtml").
func (m *model) isPrimitive(typ string) bool {
	_, ok := m.primitives[typ]
	return ok
}

// element finds a type's element by its JSON name (without a leading "_").
func (t *typeInfo) element(name string) (elementRef, bool) {
	ref, ok := t.byName[name]
	return ref, ok
}

// ResourceTypes lists the names of every concrete R4 resource type, sorted.
func ResourceTypes() []string {
	var out []string
	for i := range typeTable {
		t := &typeTable[i]
		if t.kind == kindResource && !t.abstract {
			out = append(out, t.name)
		}
	}
	return out
}

// IsResourceType tells whether name is a concrete R4 resource type.
func IsResourceType(name string) bool { return definitions().resourceType(name) != nil }
