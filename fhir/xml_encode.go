package fhir

import (
	"encoding/json"
	"math"
	"strconv"
	"strings"
	"unicode/utf8"
)

const (
	xmlNSFHIR      = "http://hl7.org/fhir"
	xmlNSXHTML     = "http://www.w3.org/1999/xhtml"
	xmlDeclaration = `<?xml version="1.0" encoding="UTF-8"?>`
)

// EncodeXML writes the resource as FHIR XML (hl7.org/fhir/R4/xml.html): an
// XML declaration, then the root element named by resourceType in the FHIR
// namespace, elements in definition order, primitive values in value
// attributes, Element.id and Extension.url as attributes, a primitive's id
// and extensions (its "_name") on the same element, contained resources
// inside their container element and the narrative div verbatim.
//
// XML cannot hold everything a Resource can: keys the model does not know,
// values of the wrong JSON kind, an id or extensions on what XML writes as
// an attribute, characters XML forbids, a narrative that is not one
// well-formed XHTML div. EncodeXML never drops such data; it fails with
// Issues (severity error) locating each one ("Patient.foo"). It is safe for
// concurrent use and does not modify r.
func EncodeXML(r Resource) ([]byte, error) { return encodeXML(r, "") }

// EncodeXMLIndent is EncodeXML with each element on its own line, indented
// by indent per level. The narrative div is still written verbatim: no
// whitespace is added inside it, since there it would be content.
func EncodeXMLIndent(r Resource, indent string) ([]byte, error) { return encodeXML(r, indent) }

func encodeXML(r Resource, indent string) ([]byte, error) {
	e := xmlEncoder{m: definitions(), indent: indent, buf: make([]byte, 0, 4096)}
	e.buf = append(e.buf, xmlDeclaration...)
	e.buf = append(e.buf, '\n')
	e.resource(map[string]any(r), true)
	if len(e.issues) > 0 {
		return nil, e.issues
	}
	if indent != "" {
		e.buf = append(e.buf, '\n')
	}
	return e.buf, nil
}

// xmlMaxIssues bounds how many issues one encode or decode collects.
const xmlMaxIssues = 100

type xmlEncoder struct {
	m      *model
	buf    []byte
	indent string
	depth  int
	path   xmlPath
	issues Issues
}

// xmlPath is the FHIRPath location of the element being written or read,
// kept as a stack and rendered only when an issue needs it.
type xmlPath []xmlStep

type xmlStep struct {
	name  string
	index int // -1 for a single element
}

func (p *xmlPath) push(name string, index int) { *p = append(*p, xmlStep{name, index}) }
func (p *xmlPath) pop()                        { *p = (*p)[:len(*p)-1] }

// String renders the location: "Bundle.entry[0].resource.name[1].given[0]".
func (p xmlPath) String() string {
	var b strings.Builder
	for i, s := range p {
		if i > 0 {
			b.WriteByte('.')
		}
		b.WriteString(s.name)
		if s.index >= 0 {
			b.WriteByte('[')
			b.WriteString(strconv.Itoa(s.index))
			b.WriteByte(']')
		}
	}
	return b.String()
}

// at returns the location of child name of the current path.
func (p xmlPath) at(name string) string {
	if len(p) == 0 {
		return name
	}
	return p.String() + "." + name
}

func (e *xmlEncoder) fail(code IssueType, where, msg string) {
	if len(e.issues) < xmlMaxIssues {
		e.issues = append(e.issues, Issue{Severity: SeverityError, Code: code, Diagnostics: msg, Expression: []string{where}})
	}
}

func (e *xmlEncoder) newline() {
	if e.indent == "" {
		return
	}
	e.buf = append(e.buf, '\n')
	for i := 0; i < e.depth; i++ {
		e.buf = append(e.buf, e.indent...)
	}
}

// resource writes a resource element: the root (with the FHIR namespace) or
// one inside a container, which inherits the namespace.
func (e *xmlEncoder) resource(obj map[string]any, root bool) {
	rt, _ := obj["resourceType"].(string)
	t := e.m.resourceType(rt)
	if t == nil {
		where := "resourceType"
		if len(e.path) > 0 {
			where = e.path.String()
		}
		if rt == "" {
			e.fail(IssueStructure, where, "resourceType missing: XML names the root element after it")
		} else {
			e.fail(IssueStructure, where, "unknown resource type "+strconv.Quote(rt))
		}
		return
	}
	if len(e.path) > maxDepth {
		e.fail(IssueStructure, e.path.String(), "nested too deeply")
		return
	}
	if root {
		e.path.push(rt, -1)
		defer e.path.pop()
	}
	e.buf = append(e.buf, '<')
	e.buf = append(e.buf, rt...)
	if root {
		e.buf = append(e.buf, ` xmlns="`+xmlNSFHIR+`"`...)
	}
	e.content(rt, obj, t, true)
}

// content writes the attributes, the children and the end of an element
// whose start tag "<name" is already written.
func (e *xmlEncoder) content(name string, obj map[string]any, t *typeInfo, isResource bool) {
	ms := orderMembers(obj, t, isResource)
	// Attributes first: Element.id, Extension.url (flagged xmlAttr).
	for _, mb := range ms {
		if !mb.ok || !mb.ref.el.xmlAttr {
			continue
		}
		if mb.rank%2 == 1 {
			e.fail(IssueStructure, e.path.at(mb.key[1:]), "XML writes "+mb.key[1:]+" as an attribute, which cannot carry the id or extensions in "+strconv.Quote(mb.key))
			continue
		}
		s, ok := obj[mb.key].(string)
		if !ok {
			e.fail(IssueStructure, e.path.at(mb.key), "expected a string")
			continue
		}
		e.buf = append(e.buf, ' ')
		e.buf = append(e.buf, mb.key...)
		e.buf = append(e.buf, '=', '"')
		e.attrValue(s, mb.key)
		e.buf = append(e.buf, '"')
	}
	open := false
	e.depth++
	for i, mb := range ms {
		if !mb.ok {
			e.fail(IssueStructure, e.path.at(mb.key), "unknown element: the model has no "+strconv.Quote(mb.key)+" here")
			continue
		}
		if mb.ref.el.xmlAttr {
			continue
		}
		// End the start tag before the first child, and take it back if
		// the member wrote nothing (an empty array): <name/> stays empty.
		if !open {
			e.buf = append(e.buf, '>')
		}
		mark := len(e.buf)
		e.member(obj, ms, i)
		if len(e.buf) > mark {
			open = true
		} else if !open {
			e.buf = e.buf[:mark-1]
		}
	}
	e.depth--
	if !open {
		e.buf = append(e.buf, '/', '>')
		return
	}
	e.newline()
	e.buf = append(e.buf, '<', '/')
	e.buf = append(e.buf, name...)
	e.buf = append(e.buf, '>')
}

// member writes ms[i], merging a primitive with its "_name" twin: the twin
// is written with its value, or alone when there is no value.
func (e *xmlEncoder) member(obj map[string]any, ms []member, i int) {
	mb := ms[i]
	if mb.rank%2 == 1 { // "_name"
		key := mb.key[1:]
		if !e.m.isPrimitive(mb.ref.typ) {
			e.fail(IssueStructure, e.path.at(key), "only primitive elements have a "+strconv.Quote(mb.key)+" twin")
			return
		}
		if _, has := obj[key]; !has {
			e.element(key, mb.ref, nil, false, obj[mb.key], true)
		}
		return
	}
	var ext any
	hasExt := false
	if e.m.isPrimitive(mb.ref.typ) {
		// "_name" sorts after name among the members of the same element.
		for j := i + 1; j < len(ms) && ms[j].rank <= mb.rank+1; j++ {
			if k := ms[j].key; len(k) == len(mb.key)+1 && k[0] == '_' && k[1:] == mb.key {
				ext, hasExt = obj[k], true
				break
			}
		}
	}
	e.element(mb.key, mb.ref, obj[mb.key], true, ext, hasExt)
}

// element writes one element, every repetition of it for a repeating one,
// merging a primitive's values with its "_name" twin by index.
func (e *xmlEncoder) element(name string, ref elementRef, v any, hasV bool, ext any, hasExt bool) {
	if ref.el.max == 1 {
		e.path.push(name, -1)
		if _, isList := v.([]any); isList {
			e.fail(IssueStructure, e.path.String(), "an array for an element that does not repeat")
		} else if _, isList := ext.([]any); isList {
			e.fail(IssueStructure, e.path.String(), "an array in \"_"+name+"\" for an element that does not repeat")
		} else {
			e.single(name, ref.typ, v, ext)
		}
		e.path.pop()
		return
	}
	vs, ok := v.([]any)
	if hasV && !ok {
		e.fail(IssueStructure, e.path.at(name), "expected an array: the element repeats")
		return
	}
	xs, ok := ext.([]any)
	if hasExt && !ok {
		e.fail(IssueStructure, e.path.at(name), "expected an array in \"_"+name+"\": the element repeats")
		return
	}
	n := max(len(vs), len(xs))
	for i := 0; i < n; i++ {
		var item, x any
		if i < len(vs) {
			item = vs[i]
		}
		if i < len(xs) {
			x = xs[i]
		}
		e.path.push(name, i)
		e.single(name, ref.typ, item, x)
		e.path.pop()
	}
}

// single writes one occurrence of an element of type typ: v is its value
// (nil when absent) and ext its "_name" object (nil when absent).
func (e *xmlEncoder) single(name, typ string, v, ext any) {
	switch {
	case typ == "Resource":
		obj, ok := xmlObject(v)
		if !ok {
			e.fail(IssueStructure, e.path.String(), "expected a resource (a JSON object)")
			return
		}
		e.newline()
		e.buf = append(e.buf, '<')
		e.buf = append(e.buf, name...)
		e.buf = append(e.buf, '>')
		e.depth++
		e.newline()
		e.resource(obj, false)
		e.depth--
		e.newline()
		e.buf = append(e.buf, '<', '/')
		e.buf = append(e.buf, name...)
		e.buf = append(e.buf, '>')
	case typ == "xhtml":
		s, ok := v.(string)
		if !ok || ext != nil {
			e.fail(IssueStructure, e.path.String(), "expected the narrative XHTML as a string, without id or extensions")
			return
		}
		if err := checkXHTML(s); err != nil {
			e.fail(IssueValue, e.path.String(), "narrative is not one well-formed XHTML div: "+err.Error())
			return
		}
		e.newline()
		e.buf = append(e.buf, s...)
	case e.m.isPrimitive(typ):
		e.primitive(name, typ, v, ext)
	default:
		t := e.m.typeOf(typ)
		obj, ok := xmlObject(v)
		if t == nil || !ok {
			e.fail(IssueStructure, e.path.String(), "expected an object")
			return
		}
		if len(e.path) > maxDepth {
			e.fail(IssueStructure, e.path.String(), "nested too deeply")
			return
		}
		e.newline()
		e.buf = append(e.buf, '<')
		e.buf = append(e.buf, name...)
		e.content(name, obj, t, false)
	}
}

func xmlObject(v any) (map[string]any, bool) {
	switch v := v.(type) {
	case map[string]any:
		return v, true
	case Resource:
		return v, true
	}
	return nil, false
}

// primitive writes <name id=".." value=".."> with the extensions of its
// "_name" object as children.
func (e *xmlEncoder) primitive(name, typ string, v, ext any) {
	var x map[string]any
	if ext != nil {
		var ok bool
		if x, ok = xmlObject(ext); !ok {
			e.fail(IssueStructure, e.path.String(), "expected an object with id and extension in \"_"+name+"\"")
			return
		}
	}
	var id string
	var hasID bool
	var exts []any
	for k, xv := range x {
		switch k {
		case "id":
			if id, hasID = xv.(string); !hasID {
				e.fail(IssueStructure, e.path.at("id"), "expected a string")
			}
		case "extension":
			var ok bool
			if exts, ok = xv.([]any); !ok {
				e.fail(IssueStructure, e.path.at("extension"), "expected an array")
			}
		default:
			e.fail(IssueStructure, e.path.at(k), "unknown element in \"_"+name+"\": a primitive has only id and extension")
		}
	}
	if v == nil && !hasID && len(exts) == 0 {
		e.fail(IssueStructure, e.path.String(), "no value, id or extensions: XML has nothing to write (elements are never empty)")
		return
	}
	e.newline()
	e.buf = append(e.buf, '<')
	e.buf = append(e.buf, name...)
	if hasID {
		e.buf = append(e.buf, ` id="`...)
		e.attrValue(id, "id")
		e.buf = append(e.buf, '"')
	}
	if v != nil {
		e.buf = append(e.buf, ` value="`...)
		e.value(typ, v)
		e.buf = append(e.buf, '"')
	}
	if len(exts) == 0 {
		e.buf = append(e.buf, '/', '>')
		return
	}
	e.buf = append(e.buf, '>')
	e.depth++
	extType := e.m.typeOf("Extension")
	for i, item := range exts {
		e.path.push("extension", i)
		obj, ok := xmlObject(item)
		if !ok {
			e.fail(IssueStructure, e.path.String(), "expected an object")
		} else {
			e.newline()
			e.buf = append(e.buf, "<extension"...)
			e.content("extension", obj, extType, false)
		}
		e.path.pop()
	}
	e.depth--
	e.newline()
	e.buf = append(e.buf, '<', '/')
	e.buf = append(e.buf, name...)
	e.buf = append(e.buf, '>')
}

// value writes a primitive's value, escaped for an attribute, after checking
// its JSON kind: a bool for boolean, a number for the numeric types (as
// their decoder reads them back), a string for the rest.
func (e *xmlEncoder) value(typ string, v any) {
	kind := jsonString
	if p := e.m.primitives[typ]; p != nil {
		kind = p.json
	}
	switch kind {
	case jsonBool:
		b, ok := v.(bool)
		if !ok {
			e.fail(IssueStructure, e.path.String(), "expected a boolean")
			return
		}
		e.buf = strconv.AppendBool(e.buf, b)
	case jsonNumber:
		start := len(e.buf)
		switch n := v.(type) {
		case json.Number:
			e.buf = append(e.buf, n...)
		case float64:
			if math.IsNaN(n) || math.IsInf(n, 0) {
				e.fail(IssueValue, e.path.String(), "not a finite number")
				return
			}
			e.buf = appendFloat(e.buf, n)
		case float32:
			if math.IsNaN(float64(n)) || math.IsInf(float64(n), 0) {
				e.fail(IssueValue, e.path.String(), "not a finite number")
				return
			}
			e.buf = appendFloat(e.buf, float64(n))
		case int:
			e.buf = strconv.AppendInt(e.buf, int64(n), 10)
		case int64:
			e.buf = strconv.AppendInt(e.buf, n, 10)
		case int32:
			e.buf = strconv.AppendInt(e.buf, int64(n), 10)
		case uint64:
			e.buf = strconv.AppendUint(e.buf, n, 10)
		case uint32:
			e.buf = strconv.AppendUint(e.buf, uint64(n), 10)
		default:
			e.fail(IssueStructure, e.path.String(), "expected a number")
			return
		}
		if msg := xmlNumberProblem(typ, string(e.buf[start:])); msg != "" {
			e.buf = e.buf[:start]
			e.fail(IssueValue, e.path.String(), msg)
		}
	default:
		s, ok := v.(string)
		if !ok {
			e.fail(IssueStructure, e.path.String(), "expected a string")
			return
		}
		e.attrValue(s, "value")
	}
}

// xmlNumberProblem tells what is wrong with the text of a numeric primitive, or
// "": decimals follow the JSON number grammar (which FHIR's decimal regex
// mirrors), the integer types take no fraction or exponent.
func xmlNumberProblem(typ, s string) string {
	if !validNumber(s) {
		return "not a valid " + typ
	}
	if typ != "decimal" && strings.ContainsAny(s, ".eE") {
		return "not a valid " + typ + ": fraction or exponent"
	}
	return ""
}

// attrValue appends s escaped for a double-quoted attribute: the markup
// characters as entities and tab, newline and carriage return as character
// references, so that attribute-value normalisation (XML 1.0 §3.3.3) keeps
// them. Characters XML 1.0 cannot carry at all are issues.
func (e *xmlEncoder) attrValue(s, what string) {
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c >= utf8.RuneSelf {
			r, size := utf8.DecodeRuneInString(s[i:])
			if (r == utf8.RuneError && size == 1) || r == 0xFFFE || r == 0xFFFF {
				e.fail(IssueValue, e.path.String(), what+" holds invalid UTF-8 or a character XML cannot carry")
				return
			}
			i += size
			continue
		}
		var esc string
		switch c {
		case '&':
			esc = "&amp;"
		case '<':
			esc = "&lt;"
		case '>':
			esc = "&gt;"
		case '"':
			esc = "&quot;"
		case '\n':
			esc = "&#10;"
		case '\r':
			esc = "&#13;"
		case '\t':
			esc = "&#9;"
		default:
			if c < 0x20 {
				e.fail(IssueValue, e.path.String(), what+" holds a control character XML 1.0 cannot carry (U+"+strconv.FormatUint(uint64(c)|0x10000, 16)[1:]+")")
				return
			}
			i++
			continue
		}
		e.buf = append(e.buf, s[start:i]...)
		e.buf = append(e.buf, esc...)
		i++
		start = i
	}
	e.buf = append(e.buf, s[start:]...)
}

// checkXHTML checks that s is exactly one well-formed XML element (XML 1.0
// §2.1, §3), a div declaring XHTML as its default namespace as FHIR JSON
// writes it (hl7.org/fhir/R4/json.html#xhtml), so that writing it verbatim
// keeps the document well-formed and self-contained. It is deliberately
// stricter than XML where FHIR narrative is too: only the five predefined
// entities (a named entity such as &nbsp; needs a DTD), no processing
// instructions or declarations, ASCII names, no duplicate attributes.
func checkXHTML(s string) error {
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c < 0x20 && c != '\t' && c != '\n' && c != '\r' {
				return xhtmlError(i, "a control character XML 1.0 cannot carry")
			}
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if (r == utf8.RuneError && size == 1) || r == 0xFFFE || r == 0xFFFF {
			return xhtmlError(i, "invalid UTF-8 or a character XML cannot carry")
		}
		i += size
	}
	x := xhtmlScanner{s: s}
	return x.run()
}

type xhtmlScanner struct {
	s       string
	pos     int
	stack   []openElement
	attrs   []string
	attrSet map[string]struct{} // attrs as a set, for tags with many
	ns      []string            // declared namespace prefixes, innermost last
}

// openElement is an element whose end tag is still to come, with the
// length of x.ns before its own declarations.
type openElement struct {
	name string
	ns   int
}

type xhtmlErr struct {
	off int
	msg string
}

func (e *xhtmlErr) Error() string { return e.msg + " at byte " + strconv.Itoa(e.off) }

func xhtmlError(off int, msg string) error { return &xhtmlErr{off, msg} }

func (x *xhtmlScanner) errorf(msg string) error { return xhtmlError(x.pos, msg) }

func (x *xhtmlScanner) run() error {
	s := x.s
	if !strings.HasPrefix(s, "<div") || len(s) < 5 || !(isXMLSpace(s[4]) || s[4] == '>' || s[4] == '/') {
		return x.errorf("must start with <div")
	}
	name, empty, xmlns, err := x.startTag()
	if err != nil {
		return err
	}
	if xmlns != xmlNSXHTML {
		return xhtmlError(0, `the div must declare xmlns="`+xmlNSXHTML+`"`)
	}
	if empty {
		return x.end()
	}
	x.stack = append(x.stack, openElement{name, 0})
	for x.pos < len(s) {
		switch c := s[x.pos]; {
		case c == '&':
			if err := x.reference(); err != nil {
				return err
			}
		case c == ']' && strings.HasPrefix(s[x.pos:], "]]>"):
			return x.errorf("]]> outside a CDATA section")
		case c != '<':
			x.pos++
		case strings.HasPrefix(s[x.pos:], "</"):
			x.pos += 2
			name := x.name()
			if name == "" {
				return x.errorf("expected a name in an end tag")
			}
			x.space()
			if x.pos >= len(s) || s[x.pos] != '>' {
				return x.errorf("expected > to end an end tag")
			}
			x.pos++
			top := x.stack[len(x.stack)-1]
			if top.name != name {
				return x.errorf("<" + top.name + "> closed by </" + name + ">")
			}
			x.ns = x.ns[:top.ns]
			x.stack = x.stack[:len(x.stack)-1]
			if len(x.stack) == 0 {
				return x.end()
			}
		case strings.HasPrefix(s[x.pos:], "<!--"):
			end := strings.Index(s[x.pos+4:], "-->")
			if end < 0 {
				return x.errorf("unterminated comment")
			}
			body := s[x.pos+4 : x.pos+4+end]
			if strings.Contains(body, "--") || strings.HasSuffix(body, "-") {
				return x.errorf("-- inside a comment")
			}
			x.pos += 4 + end + 3
		case strings.HasPrefix(s[x.pos:], "<![CDATA["):
			end := strings.Index(s[x.pos+9:], "]]>")
			if end < 0 {
				return x.errorf("unterminated CDATA section")
			}
			x.pos += 9 + end + 3
		case strings.HasPrefix(s[x.pos:], "<!"), strings.HasPrefix(s[x.pos:], "<?"):
			return x.errorf("declarations and processing instructions are not allowed in narrative")
		default:
			mark := len(x.ns)
			name, empty, _, err := x.startTag()
			if err != nil {
				return err
			}
			if empty {
				x.ns = x.ns[:mark]
				continue
			}
			if len(x.stack) >= maxDepth {
				return x.errorf("nested too deeply")
			}
			x.stack = append(x.stack, openElement{name, mark})
		}
	}
	return x.errorf("unclosed <" + x.stack[len(x.stack)-1].name + ">")
}

// end checks that the root element ended the string.
func (x *xhtmlScanner) end() error {
	if x.pos != len(x.s) {
		return x.errorf("content after the div")
	}
	return nil
}

// startTag reads "<name attr='v' ...>" or "/>", at '<'. It returns the
// name, whether the element is empty and the value of its xmlns attribute.
// The namespace prefixes the tag declares are pushed on x.ns; the caller
// pops them when the element ends.
func (x *xhtmlScanner) startTag() (name string, empty bool, xmlns string, err error) {
	s := x.s
	x.pos++
	if name = x.name(); name == "" {
		return "", false, "", x.errorf("expected an element name after <")
	}
	x.attrs = x.attrs[:0]
	for {
		sp := x.space()
		if x.pos >= len(s) {
			return "", false, "", x.errorf("unterminated start tag")
		}
		switch s[x.pos] {
		case '>', '/':
			if s[x.pos] == '/' {
				if x.pos+1 >= len(s) || s[x.pos+1] != '>' {
					return "", false, "", x.errorf("expected /> to end an empty element")
				}
				x.pos++
				empty = true
			}
			x.pos++
			// Every prefix used must be declared inside the div: the string
			// has to stand on its own wherever it is written.
			if !x.declared(name) {
				return "", false, "", x.errorf("undeclared namespace prefix in <" + name + ">")
			}
			for _, a := range x.attrs {
				if a != "xmlns" && !strings.HasPrefix(a, "xmlns:") && !x.declared(a) {
					return "", false, "", x.errorf("undeclared namespace prefix in attribute " + a)
				}
			}
			return name, empty, xmlns, nil
		}
		if !sp {
			return "", false, "", x.errorf("expected a space before an attribute")
		}
		attr := x.name()
		if attr == "" {
			return "", false, "", x.errorf("expected an attribute name")
		}
		if x.hasAttr(attr) {
			return "", false, "", x.errorf("duplicate attribute " + attr)
		}
		x.attrs = append(x.attrs, attr)
		x.space()
		if x.pos >= len(s) || s[x.pos] != '=' {
			return "", false, "", x.errorf("expected = after an attribute name")
		}
		x.pos++
		x.space()
		if x.pos >= len(s) || (s[x.pos] != '"' && s[x.pos] != '\'') {
			return "", false, "", x.errorf("expected a quoted attribute value")
		}
		quote := s[x.pos]
		x.pos++
		start := x.pos
		for {
			if x.pos >= len(s) {
				return "", false, "", x.errorf("unterminated attribute value")
			}
			c := s[x.pos]
			if c == quote {
				break
			}
			switch {
			case c == '<':
				return "", false, "", x.errorf("< in an attribute value")
			case c == '&':
				if err := x.reference(); err != nil {
					return "", false, "", err
				}
			case c == ']' && strings.HasPrefix(s[x.pos:], "]]>"):
				return "", false, "", x.errorf("]]> in an attribute value")
			default:
				x.pos++
			}
		}
		value := s[start:x.pos]
		x.pos++
		switch {
		case attr == "xmlns":
			xmlns = value
		case strings.HasPrefix(attr, "xmlns:"):
			if value == "" {
				return "", false, "", x.errorf("a namespace prefix cannot be undeclared")
			}
			x.ns = append(x.ns, attr[len("xmlns:"):])
		}
	}
}

// hasAttr tells whether the tag being read already has attribute a.
func (x *xhtmlScanner) hasAttr(a string) bool {
	if len(x.attrs) <= 8 {
		for _, b := range x.attrs {
			if a == b {
				return true
			}
		}
		return false
	}
	if len(x.attrs) == 9 || x.attrSet == nil {
		x.attrSet = make(map[string]struct{}, 16)
		for _, b := range x.attrs {
			x.attrSet[b] = struct{}{}
		}
	}
	_, ok := x.attrSet[a]
	if !ok {
		x.attrSet[a] = struct{}{}
	}
	return ok
}

// declared tells whether the prefix of a qualified name, if any, is
// declared by the div or its descendants in scope, or is "xml".
func (x *xhtmlScanner) declared(qname string) bool {
	i := strings.IndexByte(qname, ':')
	if i < 0 {
		return true
	}
	prefix := qname[:i]
	if prefix == "xml" {
		return true
	}
	for j := len(x.ns) - 1; j >= 0; j-- {
		if x.ns[j] == prefix {
			return true
		}
	}
	return false
}

// reference checks an entity or character reference, at '&'.
func (x *xhtmlScanner) reference() error {
	s := x.s
	end := strings.IndexByte(s[x.pos:], ';')
	if end < 0 {
		return x.errorf("& not part of a reference: write &amp;")
	}
	ref := s[x.pos+1 : x.pos+end]
	switch ref {
	case "lt", "gt", "amp", "apos", "quot":
		x.pos += end + 1
		return nil
	}
	if len(ref) < 2 || ref[0] != '#' {
		return x.errorf("undefined entity &" + ref + "; (only the five XML entities; use a character reference)")
	}
	digits, base := ref[1:], 10
	if digits[0] == 'x' {
		digits, base = digits[1:], 16
	}
	if digits == "" || len(digits) > 8 {
		return x.errorf("invalid character reference")
	}
	var r uint64
	for i := 0; i < len(digits); i++ {
		c := digits[i]
		var d uint64
		switch {
		case c >= '0' && c <= '9':
			d = uint64(c - '0')
		case base == 16 && c >= 'a' && c <= 'f':
			d = uint64(c-'a') + 10
		case base == 16 && c >= 'A' && c <= 'F':
			d = uint64(c-'A') + 10
		default:
			return x.errorf("invalid character reference")
		}
		r = r*uint64(base) + d
	}
	if r > xmlMaxRune || !isXMLChar(rune(r)) {
		return x.errorf("character reference to a character XML cannot carry")
	}
	x.pos += end + 1
	return nil
}

const xmlMaxRune = 0x10FFFF

// isXMLChar is XML 1.0's Char production (§2.2).
func isXMLChar(r rune) bool {
	return r == 0x09 || r == 0x0A || r == 0x0D ||
		r >= 0x20 && r <= 0xD7FF ||
		r >= 0xE000 && r <= 0xFFFD ||
		r >= 0x10000 && r <= 0x10FFFF
}

// name reads an ASCII XML name ("td", "xml:lang") and returns "" if none.
func (x *xhtmlScanner) name() string {
	s := x.s
	start := x.pos
	for x.pos < len(s) {
		c := s[x.pos]
		if c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c == '_' || c == ':' ||
			x.pos > start && (c >= '0' && c <= '9' || c == '-' || c == '.') {
			x.pos++
			continue
		}
		break
	}
	name := s[start:x.pos]
	if i := strings.IndexByte(name, ':'); i >= 0 && (i == 0 || i == len(name)-1 || strings.IndexByte(name[i+1:], ':') >= 0) {
		return "" // not a qualified name (Namespaces in XML 1.0 §4)
	}
	return name
}

func (x *xhtmlScanner) space() bool {
	start := x.pos
	for x.pos < len(x.s) && isXMLSpace(x.s[x.pos]) {
		x.pos++
	}
	return x.pos > start
}

func isXMLSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' }
