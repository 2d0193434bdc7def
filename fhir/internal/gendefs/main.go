// Command gendefs turns the FHIR R4 base definitions (StructureDefinitions and
// ValueSets) into the Go tables that package fhir decodes, validates and
// converts with: element order, types, cardinality, choice types, XML
// representation and the codes of every required binding.
//
//	go run ./internal/gendefs -definitions ../../shared/fhir-r4/definitions -out definitions_gen.go
package main

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"go/format"
	"log"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

func main() {
	dir := flag.String("definitions", "", "folder holding profiles-types.json, profiles-resources.json and valuesets.json")
	out := flag.String("out", "definitions_gen.go", "Go file to write")
	flag.Parse()
	if *dir == "" {
		log.Fatal("gendefs: -definitions is required")
	}
	src, err := generate(*dir)
	if err != nil {
		log.Fatalf("gendefs: %v", err)
	}
	if err := os.WriteFile(*out, src, 0o644); err != nil {
		log.Fatalf("gendefs: %v", err)
	}
}

type bundle struct {
	Entry []struct {
		Resource json.RawMessage `json:"resource"`
	} `json:"entry"`
}

type structureDefinition struct {
	ResourceType string `json:"resourceType"`
	ID           string `json:"id"`
	URL          string `json:"url"`
	Kind         string `json:"kind"`
	Abstract     bool   `json:"abstract"`
	Derivation   string `json:"derivation"`
	Type         string `json:"type"`
	Snapshot     struct {
		Element []element `json:"element"`
	} `json:"snapshot"`
}

type extension struct {
	URL         string `json:"url"`
	ValueURL    string `json:"valueUrl"`
	ValueString string `json:"valueString"`
}

type element struct {
	ID               string   `json:"id"`
	Path             string   `json:"path"`
	Min              int      `json:"min"`
	Max              string   `json:"max"`
	ContentReference string   `json:"contentReference"`
	Representation   []string `json:"representation"`
	Type             []struct {
		Code      string      `json:"code"`
		Extension []extension `json:"extension"`
	} `json:"type"`
	Binding *struct {
		Strength string `json:"strength"`
		ValueSet string `json:"valueSet"`
	} `json:"binding"`
}

const (
	extFHIRType = "http://hl7.org/fhir/StructureDefinition/structuredefinition-fhir-type"
	extRegex    = "http://hl7.org/fhir/StructureDefinition/regex"
)

// typeOut is one generated type: a resource, a datatype or a backbone element.
type typeOut struct {
	Name     string
	Kind     string
	Abstract bool
	Base     string
	Elements []elementOut
}

type elementOut struct {
	Name    string
	Min     int
	Max     int
	Types   []string
	Choice  bool
	XMLAttr bool
	XHTML   bool
	Binding string
}

type primitiveOut struct {
	Name  string
	JSON  string
	Regex string
}

func readBundle(path string) ([]json.RawMessage, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var b bundle
	if err := json.Unmarshal(data, &b); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	out := make([]json.RawMessage, len(b.Entry))
	for i, e := range b.Entry {
		out[i] = e.Resource
	}
	return out, nil
}

// primitiveJSON is the JSON representation of each primitive, from
// hl7.org/fhir/R4/json.html#primitive: booleans are JSON true/false,
// integer, unsignedInt, positiveInt and decimal are JSON numbers, all else strings.
var primitiveJSON = map[string]string{
	"boolean":     "jsonBool",
	"integer":     "jsonNumber",
	"unsignedInt": "jsonNumber",
	"positiveInt": "jsonNumber",
	"decimal":     "jsonNumber",
}

func generate(dir string) ([]byte, error) {
	var sds []structureDefinition
	for _, name := range []string{"profiles-types.json", "profiles-resources.json"} {
		raws, err := readBundle(filepath.Join(dir, name))
		if err != nil {
			return nil, err
		}
		for _, raw := range raws {
			var head struct{ ResourceType string }
			if err := json.Unmarshal(raw, &head); err != nil || head.ResourceType != "StructureDefinition" {
				continue
			}
			var sd structureDefinition
			if err := json.Unmarshal(raw, &sd); err != nil {
				return nil, err
			}
			if sd.ResourceType != "StructureDefinition" || sd.Derivation == "constraint" || sd.Kind == "logical" {
				continue
			}
			sds = append(sds, sd)
		}
	}
	var types []typeOut
	var prims []primitiveOut
	required := map[string]bool{}
	for _, sd := range sds {
		if sd.Kind == "primitive-type" {
			p := primitiveOut{Name: sd.ID, JSON: "jsonString"}
			if k, ok := primitiveJSON[sd.ID]; ok {
				p.JSON = k
			}
			for _, el := range sd.Snapshot.Element {
				if el.Path == sd.ID+".value" && len(el.Type) > 0 {
					for _, x := range el.Type[0].Extension {
						if x.URL == extRegex {
							p.Regex = x.ValueString
						}
					}
				}
			}
			prims = append(prims, p)
		}
		kind := map[string]string{"resource": "kindResource", "complex-type": "kindComplex", "primitive-type": "kindPrimitive"}[sd.Kind]
		// Group elements by their parent path: the root and each backbone element are types.
		byPath := map[string]*typeOut{}
		var order []string
		root := sd.Snapshot.Element[0].Path
		byPath[root] = &typeOut{Name: sd.ID, Kind: kind, Abstract: sd.Abstract}
		order = append(order, root)
		for _, el := range sd.Snapshot.Element[1:] {
			parent := el.Path[:strings.LastIndexByte(el.Path, '.')]
			t, ok := byPath[parent]
			if !ok {
				return nil, fmt.Errorf("%s: element %s has no parent", sd.ID, el.Path)
			}
			eo, err := elementOf(sd, el)
			if err != nil {
				return nil, err
			}
			if eo.Binding != "" {
				required[eo.Binding] = true
			}
			// A child with its own children is a backbone type named by its path.
			if len(el.Type) == 1 && (el.Type[0].Code == "BackboneElement" || el.Type[0].Code == "Element") && el.ContentReference == "" {
				eo.Types = []string{el.Path}
				byPath[el.Path] = &typeOut{Name: el.Path, Kind: "kindBackbone", Base: el.Type[0].Code}
				order = append(order, el.Path)
			}
			t.Elements = append(t.Elements, eo)
		}
		for _, p := range order {
			types = append(types, *byPath[p])
		}
	}
	sort.Slice(types, func(i, j int) bool { return types[i].Name < types[j].Name })
	sort.Slice(prims, func(i, j int) bool { return prims[i].Name < prims[j].Name })

	sets, err := expandValueSets(dir, required)
	if err != nil {
		return nil, err
	}

	var b bytes.Buffer
	b.WriteString("// Code generated by gendefs from the FHIR R4 (4.0.1) definitions; DO NOT EDIT.\n\npackage fhir\n\n")
	b.WriteString("var typeTable = [...]typeDef{\n")
	for _, t := range types {
		fmt.Fprintf(&b, "{name: %q, kind: %s, abstract: %v, elements: []elementDef{\n", t.Name, orDefault(t.Kind, "kindComplex"), t.Abstract)
		for _, e := range t.Elements {
			fmt.Fprintf(&b, "{name: %q, min: %d, max: %d, types: %#v", e.Name, e.Min, e.Max, e.Types)
			if e.Choice {
				b.WriteString(", choice: true")
			}
			if e.XMLAttr {
				b.WriteString(", xmlAttr: true")
			}
			if e.XHTML {
				b.WriteString(", xhtml: true")
			}
			if e.Binding != "" {
				fmt.Fprintf(&b, ", binding: %q", e.Binding)
			}
			b.WriteString("},\n")
		}
		b.WriteString("}},\n")
	}
	b.WriteString("}\n\nvar primitiveTable = [...]primitiveDef{\n")
	for _, p := range prims {
		fmt.Fprintf(&b, "{name: %q, json: %s, regex: %q},\n", p.Name, p.JSON, p.Regex)
	}
	b.WriteString("}\n\nvar valueSetTable = [...]valueSetDef{\n")
	urls := make([]string, 0, len(sets))
	for u := range sets {
		urls = append(urls, u)
	}
	sort.Strings(urls)
	for _, u := range urls {
		fmt.Fprintf(&b, "{url: %q, codes: %#v},\n", u, sets[u])
	}
	b.WriteString("}\n")
	return format.Source(b.Bytes())
}

func orDefault(s, d string) string {
	if s == "" {
		return d
	}
	return s
}

func elementOf(sd structureDefinition, el element) (elementOut, error) {
	name := el.Path[strings.LastIndexByte(el.Path, '.')+1:]
	eo := elementOut{Name: name, Min: el.Min, Max: -1}
	if el.Max != "*" {
		if _, err := fmt.Sscan(el.Max, &eo.Max); err != nil {
			return eo, fmt.Errorf("%s: max %q", el.Path, el.Max)
		}
	}
	if strings.HasSuffix(name, "[x]") {
		eo.Name = strings.TrimSuffix(name, "[x]")
		eo.Choice = true
	}
	for _, r := range el.Representation {
		switch r {
		case "xmlAttr":
			eo.XMLAttr = true
		case "xhtml":
			eo.XHTML = true
		}
	}
	if el.ContentReference != "" {
		eo.Types = []string{strings.TrimPrefix(el.ContentReference, "#")}
	}
	for _, t := range el.Type {
		code := t.Code
		if strings.HasPrefix(code, "http://hl7.org/fhirpath/System.") {
			code = "string"
			for _, x := range t.Extension {
				if x.URL == extFHIRType {
					code = x.ValueURL
				}
			}
		}
		eo.Types = append(eo.Types, code)
	}
	// Resource.id is of type id (hl7.org/fhir/R4/resource.html#id); the
	// snapshot's System.String annotation says string, the spec's table says id.
	if name == "id" && strings.Count(el.Path, ".") == 1 && sd.Kind == "resource" {
		eo.Types = []string{"id"}
	}
	if eo.XHTML {
		eo.Types = []string{"xhtml"}
	}
	if el.Binding != nil && el.Binding.Strength == "required" && el.Binding.ValueSet != "" {
		eo.Binding = strings.SplitN(el.Binding.ValueSet, "|", 2)[0]
	}
	return eo, nil
}
