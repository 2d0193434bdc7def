package fhir

import (
	"bytes"
	"encoding/json"
	"encoding/xml"
	"errors"
	"io"
	"strconv"
	"strings"
)

// ParseXML decodes one resource from FHIR XML (hl7.org/fhir/R4/xml.html)
// into its lossless JSON form (see Resource). The R4 model restores what
// XML leaves unsaid: which elements repeat (arrays), each primitive's JSON
// kind (boolean; integer and decimal types as json.Number with the exact
// text; strings for the rest), the "_name" twins that carry a primitive's id
// and extensions (aligned by index, with nil where a repetition has none),
// the resource inside each container element (contained, entry.resource,
// parameter.resource) and the narrative div, kept as the exact bytes of its
// element.
//
// Errors are a *SyntaxError with line and column when the bytes are not
// well-formed XML, hold a DTD or other declaration, or their root is not a
// concrete resource type in the namespace http://hl7.org/fhir; and Issues,
// each with the FHIRPath location, for what the model does not allow:
// unknown elements and attributes, text content, booleans other than
// true/false, malformed numbers, empty elements, elements out of their
// definition order or repeating where they may not. Comments, processing
// instructions and whitespace between elements are ignored; nesting deeper
// than 512 elements is refused. It is safe for concurrent use.
func ParseXML(data []byte) (Resource, error) {
	d := xmlDecoder{m: definitions(), data: data}
	if len(data) >= 3 && data[0] == 0xEF && data[1] == 0xBB && data[2] == 0xBF {
		d.base = 3 // a UTF-8 byte-order mark
	}
	d.dec = xml.NewDecoder(bytes.NewReader(data[d.base:]))
	d.dec.Strict = true

	var root xml.StartElement
	rootOff := 0
prolog:
	for {
		tok, off, err := d.next()
		if err == io.EOF {
			return nil, d.syntaxAt(off, "no root element")
		}
		if err != nil {
			return nil, err
		}
		switch tok := tok.(type) {
		case xml.StartElement:
			root, rootOff = tok, off
			break prolog
		case xml.CharData:
			if !xmlIsSpace(tok) {
				return nil, d.syntaxAt(off, "text before the root element")
			}
		case xml.Directive:
			return nil, d.syntaxAt(off, "DTDs and other declarations are not allowed")
		}
		// The XML declaration, other processing instructions and comments
		// are not content. A repeated XML declaration is not well-formed
		// (XML 1.0 §2.8) but encoding/xml accepts it, and so do we before
		// the root: some tools write one twice.
	}
	if root.Name.Space != xmlNSFHIR {
		return nil, d.syntaxAt(rootOff, "the root element must be in the namespace "+xmlNSFHIR)
	}
	t := d.m.resourceType(root.Name.Local)
	if t == nil {
		return nil, d.syntaxAt(rootOff, strconv.Quote(root.Name.Local)+" is not a FHIR R4 resource type")
	}
	obj := map[string]any{"resourceType": d.name(root.Name.Local)}
	d.path.push(root.Name.Local, -1)
	if err := d.object(obj, t, root, rootOff); err != nil {
		return nil, err
	}
	for {
		tok, off, err := d.next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, err
		}
		switch tok := tok.(type) {
		case xml.CharData:
			if !xmlIsSpace(tok) {
				return nil, d.syntaxAt(off, "content after the root element")
			}
		case xml.Comment:
		case xml.ProcInst:
			if strings.EqualFold(tok.Target, "xml") {
				return nil, d.syntaxAt(off, "an XML declaration after the root element")
			}
		default:
			return nil, d.syntaxAt(off, "content after the root element")
		}
	}
	if len(d.issues) > 0 {
		return nil, d.issues
	}
	return obj, nil
}

type xmlDecoder struct {
	m      *model
	data   []byte
	base   int // bytes before what dec reads (a byte-order mark)
	dec    *xml.Decoder
	path   xmlPath
	issues Issues
}

// next returns the next token and the offset in data where it starts. At
// the end of input it returns io.EOF; every other error is a *SyntaxError.
// A CharData token is only valid until the next call.
func (d *xmlDecoder) next() (xml.Token, int, error) {
	off := d.base + int(d.dec.InputOffset())
	tok, err := d.dec.Token()
	if err == io.EOF {
		return nil, off, io.EOF
	}
	if err != nil {
		msg := err.Error()
		var se *xml.SyntaxError
		if errors.As(err, &se) {
			msg = se.Msg
		}
		return nil, off, d.syntaxAt(d.base+int(d.dec.InputOffset()), msg)
	}
	return tok, off, nil
}

func (d *xmlDecoder) syntaxAt(off int, msg string) error {
	line, col := lineCol(d.data, off)
	return &SyntaxError{Format: "xml", Line: line, Col: col, Msg: msg}
}

// fail records an issue at where, with the position of the element or
// attribute that is wrong (never its value).
func (d *xmlDecoder) fail(code IssueType, where, msg string, off int) {
	if len(d.issues) >= xmlMaxIssues {
		return
	}
	line, col := lineCol(d.data, off)
	d.issues = append(d.issues, Issue{
		Severity:    SeverityError,
		Code:        code,
		Diagnostics: msg + " (line " + strconv.Itoa(line) + ", col " + strconv.Itoa(col) + ")",
		Expression:  []string{where},
	})
}

// skip discards the rest of an element whose start tag has been read.
func (d *xmlDecoder) skip() error {
	if err := d.dec.Skip(); err != nil {
		if err == io.EOF {
			err = io.ErrUnexpectedEOF
		}
		return d.syntaxAt(d.base+int(d.dec.InputOffset()), err.Error())
	}
	return nil
}

// checkAttrs rejects a start tag that repeats an attribute: XML 1.0 §3.1
// forbids it, but encoding/xml lets it through, and one of the values would
// be lost.
func (d *xmlDecoder) checkAttrs(start xml.StartElement, off int) error {
	attrs := start.Attr
	if len(attrs) <= 8 {
		for i := 1; i < len(attrs); i++ {
			for j := 0; j < i; j++ {
				if attrs[i].Name == attrs[j].Name {
					return d.syntaxAt(off, "duplicate attribute "+strconv.Quote(xmlAttrName(attrs[i])))
				}
			}
		}
		return nil
	}
	seen := make(map[xml.Name]struct{}, len(attrs))
	for _, a := range attrs {
		if _, dup := seen[a.Name]; dup {
			return d.syntaxAt(off, "duplicate attribute "+strconv.Quote(xmlAttrName(a)))
		}
		seen[a.Name] = struct{}{}
	}
	return nil
}

// name returns the model's interned copy of an element name when it has one.
func (d *xmlDecoder) name(s string) string {
	if v, ok := d.m.names[s]; ok {
		return v
	}
	return s
}

func (d *xmlDecoder) twin(name string) string { return d.name("_" + name) }

func xmlIsSpace(b []byte) bool {
	for _, c := range b {
		if !isXMLSpace(c) {
			return false
		}
	}
	return true
}

func xmlIsNSDecl(a xml.Attr) bool {
	return a.Name.Space == "xmlns" || (a.Name.Space == "" && a.Name.Local == "xmlns")
}

// xmlAttrName names an attribute in Clark notation: "{namespace}local".
func xmlAttrName(a xml.Attr) string {
	if a.Name.Space == "" {
		return a.Name.Local
	}
	return "{" + a.Name.Space + "}" + a.Name.Local
}

// unknownAttr records an attribute the model does not have, located as a
// child of its element when it is a plain name, else at the element.
func (d *xmlDecoder) unknownAttr(a xml.Attr, off int) {
	where := d.path.String()
	if a.Name.Space == "" {
		where = d.path.at(a.Name.Local)
	}
	d.fail(IssueStructure, where, "unknown attribute "+strconv.Quote(xmlAttrName(a)), off)
}

// xmlRepeats gathers the repetitions of a repeating primitive, values and
// "_name" objects aligned, until the element's run ends.
type xmlRepeats struct {
	name       string
	vals, exts []any
	anyV, anyX bool
}

func (r *xmlRepeats) flush(obj map[string]any, d *xmlDecoder) {
	if r.name == "" {
		return
	}
	if r.anyV {
		obj[r.name] = r.vals
	}
	if r.anyX {
		obj[d.twin(r.name)] = r.exts
	}
	*r = xmlRepeats{}
}

// object reads the attributes and children of a resource or complex
// element of type t, whose start tag has been read, into obj, up to and
// including its end tag. Only syntax errors are returned; model problems
// are recorded as issues and the offending element is skipped.
func (d *xmlDecoder) object(obj map[string]any, t *typeInfo, start xml.StartElement, here int) error {
	if err := d.checkAttrs(start, here); err != nil {
		return err
	}
	for _, a := range start.Attr {
		if xmlIsNSDecl(a) {
			continue
		}
		if a.Name.Space == "" {
			if ref, ok := t.element(a.Name.Local); ok && ref.el.xmlAttr {
				if v, ok := d.value(ref.typ, a.Value, here); ok {
					obj[d.name(a.Name.Local)] = v
				}
				continue
			}
		}
		d.unknownAttr(a, here)
	}
	last, lastName := -1, ""
	var run xmlRepeats
	textSeen := false
	for {
		tok, off, err := d.next()
		if err == io.EOF {
			return d.syntaxAt(off, "unexpected end of input")
		}
		if err != nil {
			return err
		}
		switch tok := tok.(type) {
		case xml.EndElement:
			run.flush(obj, d)
			return nil
		case xml.CharData:
			if !textSeen && !xmlIsSpace(tok) {
				textSeen = true
				d.fail(IssueStructure, d.path.String(), "text is not allowed here: FHIR values go in value attributes", off)
			}
		case xml.Comment:
		case xml.ProcInst:
			if strings.EqualFold(tok.Target, "xml") {
				return d.syntaxAt(off, "an XML declaration inside an element")
			}
		case xml.Directive:
			return d.syntaxAt(off, "DTDs and other declarations are not allowed")
		case xml.StartElement:
			name := tok.Name.Local
			ref, ok := t.element(name)
			switch {
			case !ok || ref.el.xmlAttr || ref.typ == "":
				d.fail(IssueStructure, d.path.at(name), "unknown element "+strconv.Quote(name), off)
			case ref.typ == "xhtml" && (tok.Name.Space != xmlNSXHTML || name != "div"):
				d.fail(IssueStructure, d.path.at(name), "the narrative must be a div in the namespace "+xmlNSXHTML, off)
			case ref.typ != "xhtml" && tok.Name.Space != xmlNSFHIR:
				d.fail(IssueStructure, d.path.at(name), "element "+strconv.Quote(name)+" is not in the namespace "+xmlNSFHIR, off)
			case ref.index < last:
				d.fail(IssueStructure, d.path.at(name), "element out of order: "+strconv.Quote(name)+" must come before "+strconv.Quote(lastName)+" (hl7.org/fhir/R4/xml.html: elements appear in the order documented)", off)
			case ref.index == last && name != lastName:
				d.fail(IssueStructure, d.path.at(name), "a choice element has two types: "+strconv.Quote(lastName)+" and "+strconv.Quote(name), off)
			case ref.index == last && ref.el.max == 1:
				d.fail(IssueStructure, d.path.at(name), "element "+strconv.Quote(name)+" repeats but allows one", off)
			default:
				if ref.index != last {
					run.flush(obj, d)
				}
				last, lastName = ref.index, name
				if err := d.child(obj, ref, tok, off, &run); err != nil {
					return err
				}
				continue
			}
			if err := d.skip(); err != nil {
				return err
			}
		}
	}
}

// child reads one child element of a known element ref into obj.
func (d *xmlDecoder) child(obj map[string]any, ref elementRef, tok xml.StartElement, off int, run *xmlRepeats) error {
	name := d.name(tok.Name.Local)
	many := ref.el.max != 1
	index := -1
	primitive := ref.typ != "Resource" && d.m.isPrimitive(ref.typ)
	if many {
		if primitive {
			if run.name == "" {
				run.name = name
			}
			index = len(run.vals)
		} else {
			list, _ := obj[name].([]any)
			index = len(list)
		}
	}
	d.path.push(name, index)
	defer d.path.pop()
	if len(d.path) > maxDepth {
		return d.syntaxAt(off, "nested too deeply")
	}
	var v any
	switch {
	case ref.typ == "Resource":
		res, err := d.container(tok, off)
		if err != nil || res == nil {
			return err
		}
		v = res
	case ref.typ == "xhtml":
		s, err := d.div(tok, off)
		if err != nil {
			return err
		}
		v = s
	case primitive:
		val, ext, err := d.primitive(ref.typ, tok, off)
		if err != nil {
			return err
		}
		if many {
			run.vals = append(run.vals, val)
			run.exts = append(run.exts, ext)
			run.anyV = run.anyV || val != nil
			run.anyX = run.anyX || ext != nil
			return nil
		}
		if val != nil {
			obj[name] = val
		}
		if ext != nil {
			obj[d.twin(name)] = ext
		}
		return nil
	default:
		t := d.m.typeOf(ref.typ)
		if t == nil {
			d.fail(IssueStructure, d.path.String(), "the model has no type "+strconv.Quote(ref.typ), off)
			return d.skip()
		}
		m := make(map[string]any)
		if err := d.object(m, t, tok, off); err != nil {
			return err
		}
		v = m
	}
	if many {
		list, _ := obj[name].([]any)
		obj[name] = append(list, v)
	} else {
		obj[name] = v
	}
	return nil
}

// primitive reads a primitive element: its value attribute as the JSON kind
// of typ, and its id and extensions as the "_name" object (nil if neither).
func (d *xmlDecoder) primitive(typ string, start xml.StartElement, off int) (val, ext any, err error) {
	if err := d.checkAttrs(start, off); err != nil {
		return nil, nil, err
	}
	var x map[string]any
	for _, a := range start.Attr {
		switch {
		case xmlIsNSDecl(a):
		case a.Name.Space == "" && a.Name.Local == "value":
			if v, ok := d.value(typ, a.Value, off); ok {
				val = v
			}
		case a.Name.Space == "" && a.Name.Local == "id":
			if x == nil {
				x = make(map[string]any, 2)
			}
			x["id"] = a.Value
		default:
			d.unknownAttr(a, off)
		}
	}
	var exts []any
	extType := d.m.typeOf("Extension")
	textSeen := false
loop:
	for {
		tok, toff, err := d.next()
		if err == io.EOF {
			return nil, nil, d.syntaxAt(toff, "unexpected end of input")
		}
		if err != nil {
			return nil, nil, err
		}
		switch tok := tok.(type) {
		case xml.EndElement:
			break loop
		case xml.CharData:
			if !textSeen && !xmlIsSpace(tok) {
				textSeen = true
				d.fail(IssueStructure, d.path.String(), "text is not allowed here: FHIR values go in value attributes", toff)
			}
		case xml.Comment:
		case xml.ProcInst:
			if strings.EqualFold(tok.Target, "xml") {
				return nil, nil, d.syntaxAt(toff, "an XML declaration inside an element")
			}
		case xml.Directive:
			return nil, nil, d.syntaxAt(toff, "DTDs and other declarations are not allowed")
		case xml.StartElement:
			if tok.Name.Space != xmlNSFHIR || tok.Name.Local != "extension" {
				d.fail(IssueStructure, d.path.at(tok.Name.Local), "unknown element "+strconv.Quote(tok.Name.Local)+": a primitive holds only extensions", toff)
				if err := d.skip(); err != nil {
					return nil, nil, err
				}
				continue
			}
			d.path.push("extension", len(exts))
			if len(d.path) > maxDepth {
				return nil, nil, d.syntaxAt(toff, "nested too deeply")
			}
			m := make(map[string]any)
			err := d.object(m, extType, tok, toff)
			d.path.pop()
			if err != nil {
				return nil, nil, err
			}
			exts = append(exts, m)
		}
	}
	if len(exts) > 0 {
		if x == nil {
			x = make(map[string]any, 1)
		}
		x["extension"] = exts
	}
	if val == nil && x == nil {
		d.fail(IssueStructure, d.path.String(), "empty element: it needs a value attribute, an id or extensions (hl7.org/fhir/R4/xml.html: FHIR elements are never empty)", off)
		return nil, nil, nil
	}
	if x == nil {
		return val, nil, nil
	}
	return val, x, nil
}

// value converts an attribute's text to the JSON kind of primitive typ,
// recording an issue and returning false when it is not a valid one.
func (d *xmlDecoder) value(typ, s string, off int) (any, bool) {
	kind := jsonString
	if p := d.m.primitives[typ]; p != nil {
		kind = p.json
	}
	switch kind {
	case jsonBool:
		switch s {
		case "true":
			return true, true
		case "false":
			return false, true
		}
		d.fail(IssueValue, d.path.String(), "not a boolean: expected true or false", off)
		return nil, false
	case jsonNumber:
		if msg := xmlNumberProblem(typ, s); msg != "" {
			d.fail(IssueValue, d.path.String(), msg, off)
			return nil, false
		}
		return json.Number(s), true
	}
	return s, true
}

// container reads a container element (contained, entry.resource): exactly
// one resource in the FHIR namespace. It returns nil after an issue.
func (d *xmlDecoder) container(start xml.StartElement, off int) (map[string]any, error) {
	if err := d.checkAttrs(start, off); err != nil {
		return nil, err
	}
	for _, a := range start.Attr {
		if !xmlIsNSDecl(a) {
			d.unknownAttr(a, off)
		}
	}
	var res map[string]any
	bad, textSeen := false, false
	for {
		tok, toff, err := d.next()
		if err == io.EOF {
			return nil, d.syntaxAt(toff, "unexpected end of input")
		}
		if err != nil {
			return nil, err
		}
		switch tok := tok.(type) {
		case xml.EndElement:
			if res == nil && !bad {
				d.fail(IssueStructure, d.path.String(), "empty container: it holds one resource", off)
			}
			if bad {
				return nil, nil
			}
			return res, nil
		case xml.CharData:
			if !textSeen && !xmlIsSpace(tok) {
				textSeen, bad = true, true
				d.fail(IssueStructure, d.path.String(), "text is not allowed here: a container holds one resource", toff)
			}
		case xml.Comment:
		case xml.ProcInst:
			if strings.EqualFold(tok.Target, "xml") {
				return nil, d.syntaxAt(toff, "an XML declaration inside an element")
			}
		case xml.Directive:
			return nil, d.syntaxAt(toff, "DTDs and other declarations are not allowed")
		case xml.StartElement:
			var t *typeInfo
			if tok.Name.Space == xmlNSFHIR {
				t = d.m.resourceType(tok.Name.Local)
			}
			switch {
			case res != nil || bad:
				d.fail(IssueStructure, d.path.String(), "a container holds one resource only", toff)
			case t == nil:
				d.fail(IssueStructure, d.path.String(), strconv.Quote(tok.Name.Local)+" is not a FHIR R4 resource type", toff)
			default:
				m := map[string]any{"resourceType": d.name(tok.Name.Local)}
				if err := d.object(m, t, tok, toff); err != nil {
					return nil, err
				}
				res = m
				continue
			}
			bad = true
			if err := d.skip(); err != nil {
				return nil, err
			}
		}
	}
}

// div reads the narrative div, whose start tag began at off, and returns
// the exact bytes of the element. It must be one self-contained XHTML div
// that EncodeXML can write back verbatim (see checkXHTML).
func (d *xmlDecoder) div(start xml.StartElement, off int) (string, error) {
	depth := 1
	for depth > 0 {
		tok, toff, err := d.next()
		if err == io.EOF {
			return "", d.syntaxAt(toff, "unexpected end of input")
		}
		if err != nil {
			return "", err
		}
		switch tok.(type) {
		case xml.StartElement:
			depth++
			if len(d.path)+depth > maxDepth {
				return "", d.syntaxAt(toff, "nested too deeply")
			}
		case xml.EndElement:
			depth--
		case xml.Directive:
			return "", d.syntaxAt(toff, "DTDs and other declarations are not allowed")
		}
	}
	raw := string(d.data[off : d.base+int(d.dec.InputOffset())])
	if err := checkXHTML(raw); err != nil {
		d.fail(IssueValue, d.path.String(), "narrative is not one self-contained XHTML div: "+err.Error(), off)
	}
	return raw, nil
}
