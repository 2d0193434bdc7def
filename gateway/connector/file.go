package connector

import (
	"bytes"
	"cmp"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
)

// File is a connectors config file:
//
//	mappings: ./mappings        # folder of mapping files
//	store: { url: nats://nats-1:4222, replicas: 3 } # optional: see Store
//	delivery:                   # defaults for every connector
//	  maxAge: 72h
//	  concurrency: 4
//	connectors:
//	  - name: StateEHR
//	    type: FHIR
//	    endpoint: https://stateehr.gov/fhir/Patient
//	    auth: { scheme: OAuth2, clientId: ABC123, clientSecret: env:STATE_EHR_SECRET }
//	    sync: { mode: webhook, path: /api/webhooks/state-ehr/patient }
//	    mapping: { hmsPatientId: id, hmsName: name }
//	    delivery: { timeout: 10s }
//
// A connector entry has the fields of a registration body (see Parse),
// with the same case-insensitive type, scheme and mode and the same two
// forms of mapping.
type File struct {
	Connectors []Config
	// Mappings is the folder of mapping files. LoadFile and ParseFile make
	// a relative path relative to the config file's folder.
	Mappings string
	// Delivery holds defaults for every connector: a field a connector
	// leaves zero takes the file's value, then Config.WithDefaults's.
	Delivery Delivery
	// Store is where the gateway keeps its state; see Store.
	Store Store
}

// LoadFile reads and checks the config file at path; see ParseFile.
func LoadFile(path string) (File, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return File{}, fmt.Errorf("load connectors: %w", err)
	}
	return ParseFile(path, data)
}

// ParseFile decodes data, a config file named name, strictly: unknown and
// duplicate fields and values of the wrong type are errors. It fills each
// connector's zero delivery fields from the file's delivery, and checks
// each connector with Validate and the connectors together (unique names
// and webhook paths). It does not call WithDefaults.
//
// Every problem is a *FieldError with File, Line and Col set, so that its
// message reads "file:line:col: connectors[0].auth.scheme: message"
// (YAML syntax errors give no column: the YAML parser does not report
// it); several are joined with errors.Join. No message contains a
// secret's value.
func ParseFile(name string, data []byte) (File, error) {
	root, err := yamlDocument(name, data)
	if err != nil {
		return File{}, err
	}
	d := decoder{seen: make(map[string]*node)}
	var f File
	var entries []*node
	d.object("", root, fields{
		"connectors": func(p string, v *node) {
			d.visit(p, v)
			switch v.kind {
			case nullKind:
			case arrayKind:
				entries = v.vals
			default:
				d.fail(p, v, wantGot("a list of connectors", v))
			}
		},
		"mappings": func(p string, v *node) { f.Mappings = d.str(p, v) },
		"delivery": func(p string, v *node) { f.Delivery = d.delivery(p, v) },
		"store":    func(p string, v *node) { f.Store = d.store(p, v) },
	})
	for i, e := range entries {
		f.Connectors = append(f.Connectors, d.config(indexPath("connectors", i), e))
	}
	errs := d.errs

	var p problems
	p.delivery("delivery", f.Delivery)
	if !overlaps("store", errs) {
		p.store(f.Store)
	}
	inherit := len(p) == 0 // else every connector would repeat the file's problems
	names := make(map[string]int)
	paths := make(map[string]int)
	for i, c := range f.Connectors {
		prefix := indexPath("connectors", i)
		if inherit {
			c.Delivery = c.Delivery.Inherit(f.Delivery)
			f.Connectors[i] = c
		}
		if err := c.Validate(); err != nil {
			for _, e := range flatten(err) {
				var fe *FieldError
				if errors.As(e, &fe) && !overlaps(prefix+"."+fe.Field, errs) {
					p.add(prefix+"."+fe.Field, fe.Err)
				}
			}
		}
		if j, dup := names[c.Name]; dup && c.Name != "" {
			p.addf(prefix+".name", "%s is the name of connectors[%d] too", quote(c.Name), j)
		} else {
			names[c.Name] = i
		}
		if c.Sync.Mode == ModeWebhook && c.Sync.Path != "" {
			if j, dup := paths[c.Sync.Path]; dup {
				p.addf(prefix+".sync.path", "%s is the path of connectors[%d] too", quote(c.Sync.Path), j)
			} else {
				paths[c.Sync.Path] = i
			}
		}
	}
	for _, e := range p {
		fe := e.(*FieldError)
		if n := d.locate(fe.Field, root); n != nil {
			fe.Line, fe.Col = n.line, n.col
		}
		errs = append(errs, fe)
	}

	slices.SortStableFunc(errs, func(a, b error) int {
		fa, fb := a.(*FieldError), b.(*FieldError)
		return cmp.Or(cmp.Compare(fa.Line, fb.Line), cmp.Compare(fa.Col, fb.Col))
	})
	errs = capErrors(errs)
	for _, e := range errs {
		e.(*FieldError).File = name
	}
	if err := errors.Join(errs...); err != nil {
		return File{}, err
	}
	if f.Mappings != "" && !filepath.IsAbs(f.Mappings) {
		f.Mappings = filepath.Join(filepath.Dir(name), f.Mappings)
	}
	return f, nil
}

// flatten returns the errors that err joins, or err alone.
func flatten(err error) []error {
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		return j.Unwrap()
	}
	return []error{err}
}

// overlaps reports whether one of errs, the decoding errors, is about
// path, a field inside it or a field that holds it: then a problem that
// Validate finds at path follows from it and is left out.
func overlaps(path string, errs []error) bool {
	within := func(inner, outer string) bool {
		return inner == outer || outer == "" ||
			strings.HasPrefix(inner, outer+".") || strings.HasPrefix(inner, outer+"[")
	}
	for _, e := range errs {
		if f := e.(*FieldError).Field; within(path, f) || within(f, path) {
			return true
		}
	}
	return false
}

// locate returns the node read at path, or at the nearest enclosing path
// read, or root.
func (d *decoder) locate(path string, root *node) *node {
	for p := path; p != ""; p = parentPath(p) {
		if n, ok := d.seen[p]; ok {
			return n
		}
	}
	return root
}

// yamlLine finds the line in the YAML parser's messages.
var yamlLine = regexp.MustCompile(`^yaml: line (\d+): `)

// yamlDocument parses data, one YAML document, into nodes. An empty
// document is null.
//
// The strictness that yaml's Decoder.KnownFields(true) gives a struct is
// had here on the yaml.Node tree instead, by the decoder that also reads
// registration bodies: KnownFields errors carry a line but no column or
// field path, and a struct cannot take the two forms of mapping.
func yamlDocument(name string, data []byte) (*node, error) {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil {
		if err == io.EOF {
			return &node{kind: nullKind, line: 1, col: 1}, nil
		}
		return nil, yamlSyntax(name, err)
	}
	var next yaml.Node
	switch err := dec.Decode(&next); {
	case err == io.EOF:
	case err != nil:
		return nil, yamlSyntax(name, err)
	default:
		return nil, &FieldError{File: name, Line: next.Line, Col: next.Column, Err: errors.New("a second YAML document; want one")}
	}
	conv := yamlConverter{budget: maxYAMLNodes}
	root, err := conv.value(&doc, "", 0)
	if err != nil {
		err.File = name
		return nil, err
	}
	return root, nil
}

// yamlSyntax turns a YAML parser error into a *FieldError.
func yamlSyntax(name string, err error) *FieldError {
	msg := err.Error()
	fe := &FieldError{File: name}
	if m := yamlLine.FindStringSubmatch(msg); m != nil {
		fe.Line, _ = strconv.Atoi(m[1])
		msg = msg[len(m[0]):]
	} else {
		msg = strings.TrimPrefix(msg, "yaml: ")
	}
	fe.Err = errors.New("invalid YAML: " + msg)
	return fe
}

// maxYAMLNodes bounds the nodes a config file expands to, aliases
// included, so that a small file cannot make a huge tree.
const maxYAMLNodes = 100_000

// yamlConverter turns yaml.Nodes into nodes.
type yamlConverter struct {
	budget int
}

// value converts n, found at path, and what it holds.
func (y *yamlConverter) value(n *yaml.Node, path string, depth int) (*node, *FieldError) {
	fail := func(format string, args ...any) *FieldError {
		return &FieldError{Field: path, Line: n.Line, Col: n.Column, Err: fmt.Errorf(format, args...)}
	}
	if y.budget--; y.budget < 0 {
		return nil, fail("more than %d values, aliases expanded", maxYAMLNodes)
	}
	if depth > maxDepth {
		return nil, fail("%v", errDepth)
	}
	out := &node{line: n.Line, col: n.Column}
	switch n.Kind {
	case yaml.DocumentNode:
		if len(n.Content) == 0 {
			out.kind = nullKind
			return out, nil
		}
		return y.value(n.Content[0], path, depth)
	case yaml.AliasNode:
		v, err := y.value(n.Alias, path, depth+1)
		if err != nil {
			return nil, err
		}
		v.line, v.col = n.Line, n.Column // where it is used
		return v, nil
	case yaml.SequenceNode:
		out.kind = arrayKind
		for i, c := range n.Content {
			v, err := y.value(c, indexPath(path, i), depth+1)
			if err != nil {
				return nil, err
			}
			out.vals = append(out.vals, v)
		}
		return out, nil
	case yaml.MappingNode:
		out.kind = objectKind
		for i := 0; i+1 < len(n.Content); i += 2 {
			k := n.Content[i]
			if k.Kind == yaml.AliasNode {
				k = k.Alias
			}
			if k.Kind != yaml.ScalarNode {
				return nil, &FieldError{Field: path, Line: n.Content[i].Line, Col: n.Content[i].Column, Err: errors.New("a key must be a scalar")}
			}
			v, err := y.value(n.Content[i+1], fieldPath(path, k.Value), depth+1)
			if err != nil {
				return nil, err
			}
			out.keys = append(out.keys, &node{kind: stringKind, text: k.Value, line: n.Content[i].Line, col: n.Content[i].Column})
			out.vals = append(out.vals, v)
		}
		return out, nil
	case yaml.ScalarNode:
		out.loose, out.raw = true, n.Value
		switch tag := n.ShortTag(); tag {
		case "!!null":
			out.kind = nullKind
		case "!!bool":
			var b bool
			if err := n.Decode(&b); err != nil {
				return nil, fail("not a boolean")
			}
			out.kind, out.text = boolKind, strconv.FormatBool(b)
		case "!!int", "!!float":
			text, err := yamlNumber(n)
			if err != nil {
				return nil, fail("%v", err)
			}
			out.kind, out.text = numberKind, text
		case "!!str", "!!timestamp":
			out.kind, out.text = stringKind, n.Value
		default:
			return nil, fail("values tagged %s are not supported", tag)
		}
		return out, nil
	}
	return nil, fail("unsupported YAML node")
}

// yamlNumber returns the number n as decimal text.
func yamlNumber(n *yaml.Node) (string, error) {
	var v any
	if err := n.Decode(&v); err != nil {
		return "", errors.New("not a number")
	}
	switch v := v.(type) {
	case int:
		return strconv.Itoa(v), nil
	case int64:
		return strconv.FormatInt(v, 10), nil
	case uint64:
		return strconv.FormatUint(v, 10), nil
	case float64:
		if math.IsInf(v, 0) || math.IsNaN(v) {
			return "", errors.New("not a finite number")
		}
		return strconv.FormatFloat(v, 'g', -1, 64), nil
	}
	return "", errors.New("not a number")
}
