package transform

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"slices"
	"strconv"
	"strings"

	"github.com/expr-lang/expr"
	"github.com/expr-lang/expr/ast"
	"github.com/expr-lang/expr/file"
	"github.com/expr-lang/expr/types"
	"go.yaml.in/yaml/v3"
)

// Format names an input or output format of a mapping.
type Format string

const (
	FormatJSON    Format = "json"
	FormatXML     Format = "xml"
	FormatCSV     Format = "csv"
	FormatHL7v2   Format = "hl7v2"
	FormatFHIR    Format = "fhir"     // FHIR JSON (as input: JSON or XML)
	FormatFHIRXML Format = "fhir+xml" // output only
)

var (
	inputFormats  = map[Format]bool{FormatJSON: true, FormatXML: true, FormatCSV: true, FormatHL7v2: true, FormatFHIR: true}
	outputFormats = map[Format]bool{FormatJSON: true, FormatXML: true, FormatHL7v2: true, FormatFHIR: true, FormatFHIRXML: true}
)

// compiler turns one mapping file into a Mapping, collecting every error
// with its position rather than stopping at the first.
type compiler struct {
	file   string
	fsys   fs.FS
	m      *Mapping
	errs   []error
	scope  []string // variable names in scope, innermost last
	funcs  []expr.Option
	calls  []subMapCall
	lookup map[string]bool
	// indexVars counts the loops in scope whose index has this name.
	indexVars map[string]int
	// aliases are the YAML anchors being expanded, innermost last, and
	// expanded counts the nodes compiled through aliases: an anchor that
	// contains its own alias, or an alias bomb, is an error, not a hang.
	aliases  []*yaml.Node
	expanded int
}

// maxAliasNodes bounds the nodes one file may compile through YAML aliases.
const maxAliasNodes = 10_000

// subMapCall is an apply("name", …) found in an expression, checked once
// the whole set is loaded.
type subMapCall struct {
	name string
	at   pos
}

func (c *compiler) errorf(n *yaml.Node, rule string, format string, args ...any) {
	e := &Error{File: c.file, Rule: rule, Err: fmt.Errorf(format, args...)}
	if n != nil {
		e.Line, e.Col = n.Line, n.Column
	}
	c.errs = append(c.errs, e)
}

// Compile compiles one mapping file. name is the file's path inside fsys,
// used in errors and to find the CSV tables and ConceptMaps it refers to.
// Every error is an *Error with file:line:col; several are joined.
func Compile(fsys fs.FS, name string) (*Mapping, error) {
	data, err := fs.ReadFile(fsys, name)
	if err != nil {
		return nil, &Error{File: name, Err: err}
	}
	return compileBytes(fsys, name, data)
}

func compileBytes(fsys fs.FS, name string, data []byte) (*Mapping, error) {
	sum := sha256.Sum256(data)
	m := &Mapping{File: name, Version: hex.EncodeToString(sum[:6]), lookups: map[string]*lookupTable{}, letReads: map[string][]string{}}
	c := &compiler{file: name, fsys: fsys, m: m, lookup: map[string]bool{}, indexVars: map[string]int{}}
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return nil, yamlError(name, err)
	}
	if len(doc.Content) == 0 || doc.Content[0].Kind != yaml.MappingNode {
		return nil, &Error{File: name, Line: 1, Col: 1, Err: errors.New("a mapping file is a YAML mapping with name, input, output and rules")}
	}
	top := doc.Content[0]
	fields := map[string]*yaml.Node{}
	for i := 0; i+1 < len(top.Content); i += 2 {
		k, v := top.Content[i], top.Content[i+1]
		switch k.Value {
		case "name", "description", "input", "output", "resource", "let", "rules", "lookups", "tests", "csv", "xml":
			if fields[k.Value] != nil {
				c.errorf(k, k.Value, "duplicate key %s", k.Value)
			}
			fields[k.Value] = v
		default:
			c.errorf(k, k.Value, "unknown key %q (expected name, description, input, output, resource, let, rules, lookups, tests, csv, xml)", k.Value)
		}
	}
	m.Name = c.scalar(fields["name"], "name")
	if m.Name == "" {
		m.Name = strings.TrimSuffix(path.Base(name), path.Ext(name))
	}
	m.Description = c.scalar(fields["description"], "description")
	m.Input = Format(c.scalar(fields["input"], "input"))
	m.Output = Format(c.scalar(fields["output"], "output"))
	m.Resource = c.scalar(fields["resource"], "resource")
	if !inputFormats[m.Input] {
		c.errorf(orTop(fields["input"], top), "input", "input must be one of json, xml, csv, hl7v2, fhir")
	}
	if !outputFormats[m.Output] {
		c.errorf(orTop(fields["output"], top), "output", "output must be one of fhir, fhir+xml, json, xml, hl7v2")
	}
	if m.Resource != "" && !isResourceType(m.Resource) {
		c.errorf(fields["resource"], "resource", "%q is not a FHIR R4 resource type", m.Resource)
	}
	if (m.Output == FormatFHIR || m.Output == FormatFHIRXML) && m.Resource == "" {
		c.errorf(orTop(fields["output"], top), "resource", "a mapping with FHIR output names its resource")
	}
	c.options(fields["csv"], fields["xml"])
	c.lookups(fields["lookups"])
	c.funcs = c.functions()
	c.scope = []string{"input"}
	c.lets(fields["let"])
	if fields["rules"] == nil {
		c.errorf(top, "rules", "rules are missing")
	} else {
		m.root = c.node(fields["rules"], "rules")
	}
	m.calls = c.calls
	m.Tests = c.tests(fields["tests"])
	if len(c.errs) > 0 {
		return nil, errors.Join(c.errs...)
	}
	return m, nil
}

func orTop(n, top *yaml.Node) *yaml.Node {
	if n != nil {
		return n
	}
	return top
}

// yamlError turns a YAML syntax error ("yaml: line 4: …") into an *Error.
func yamlError(file string, err error) error {
	msg := strings.TrimPrefix(err.Error(), "yaml: ")
	e := &Error{File: file, Err: errors.New(msg)}
	if rest, ok := strings.CutPrefix(msg, "line "); ok {
		if i := strings.IndexByte(rest, ':'); i > 0 {
			if n, err := strconv.Atoi(rest[:i]); err == nil {
				e.Line, e.Col, e.Err = n, 1, errors.New(strings.TrimSpace(rest[i+1:]))
			}
		}
	}
	return e
}

func (c *compiler) scalar(n *yaml.Node, rule string) string {
	if n == nil {
		return ""
	}
	if n.Kind != yaml.ScalarNode {
		c.errorf(n, rule, "%s must be a single value", rule)
		return ""
	}
	return n.Value
}

func (c *compiler) options(csvNode, xmlNode *yaml.Node) {
	if csvNode != nil {
		if err := csvNode.Decode(&c.m.csv); err != nil {
			c.errorf(csvNode, "csv", "csv options: %v", err)
		}
	}
	if xmlNode != nil {
		if err := xmlNode.Decode(&c.m.xml); err != nil {
			c.errorf(xmlNode, "xml", "xml options: %v", err)
		}
	}
}

func (c *compiler) lets(n *yaml.Node) {
	if n == nil {
		return
	}
	if n.Kind != yaml.MappingNode {
		c.errorf(n, "let", "let is a mapping of variable names to expressions")
		return
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		rule := "let." + k.Value
		if !validName(k.Value) {
			c.errorf(k, rule, "variable name %q: use letters, digits and _", k.Value)
			continue
		}
		if k.Value == "input" || c.inScope(k.Value) {
			c.errorf(k, rule, "variable %s is already defined", k.Value)
			continue
		}
		body := c.node(v, rule)
		c.m.lets = append(c.m.lets, letDef{name: k.Value, value: body})
		c.m.letReads[k.Value] = c.staticReads(body)
		c.scope = append(c.scope, k.Value)
	}
}

// staticReads lists the input paths a variable's rules read, resolving
// earlier variables, for explain and error messages.
func (c *compiler) staticReads(n node) []string {
	var out []string
	walkExprs(n, func(e *exprNode) {
		for _, chain := range e.reads {
			if chain[0] == "input" {
				out = append(out, strings.Join(chain, "."))
			} else {
				out = append(out, c.m.letReads[chain[0]]...)
			}
		}
	})
	return out
}

func walkExprs(n node, fn func(*exprNode)) {
	switch n := n.(type) {
	case *exprNode:
		fn(n)
	case *objectNode:
		for _, v := range n.values {
			walkExprs(v, fn)
		}
	case *arrayNode:
		for _, v := range n.items {
			walkExprs(v, fn)
		}
	case *whenNode:
		fn(n.cond)
		walkExprs(n.value, fn)
	case *eachNode:
		fn(n.over)
		if n.when != nil {
			fn(n.when)
		}
		walkExprs(n.value, fn)
	}
}

func (c *compiler) inScope(name string) bool {
	for _, s := range c.scope {
		if s == name {
			return true
		}
	}
	return false
}

func validName(s string) bool {
	if s == "" {
		return false
	}
	for i, r := range s {
		if !(r == '_' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || i > 0 && r >= '0' && r <= '9') {
			return false
		}
	}
	return true
}

// directiveKeys are the keys of a conditional or a loop. A mapping node is
// one when it has "value" with "when" or "each" and no other keys; the
// "$when", "$each", "$as", "$index", "$value" spellings are always directives.
var directiveKeys = map[string]bool{"when": true, "each": true, "as": true, "index": true, "value": true}

func directive(n *yaml.Node) map[string]*yaml.Node {
	keys := map[string]*yaml.Node{}
	dollar := false
	for i := 0; i+1 < len(n.Content); i += 2 {
		k := n.Content[i].Value
		if strings.HasPrefix(k, "$") {
			dollar = true
			k = k[1:]
		}
		if !directiveKeys[k] {
			if dollar {
				return nil
			}
			return nil
		}
		keys[k] = n.Content[i+1]
		keys["@"+k] = n.Content[i]
	}
	if dollar || keys["value"] != nil && (keys["when"] != nil || keys["each"] != nil) {
		return keys
	}
	return nil
}

// alias compiles the node an alias refers to, within bounds.
func (c *compiler) alias(n *yaml.Node, rule string) node {
	p := pos{line: n.Line, col: n.Column, rule: rule}
	if slices.Contains(c.aliases, n.Alias) {
		c.errorf(n, rule, "alias *%s refers to a node that contains it", n.Value)
		return &constNode{pos: p}
	}
	if c.expanded += countNodes(n.Alias, maxAliasNodes+1); c.expanded > maxAliasNodes {
		c.errorf(n, rule, "aliases expand to more than %d nodes", maxAliasNodes)
		return &constNode{pos: p}
	}
	c.aliases = append(c.aliases, n.Alias)
	defer func() { c.aliases = c.aliases[:len(c.aliases)-1] }()
	return c.node(n.Alias, rule)
}

// countNodes counts the nodes under n, aliases not followed, up to limit.
func countNodes(n *yaml.Node, limit int) int {
	count := 1
	for _, child := range n.Content {
		if count >= limit {
			break
		}
		count += countNodes(child, limit-count)
	}
	return count
}

// node compiles one rule: a scalar is an expression (or a literal number,
// boolean or null), a mapping an object, a sequence an array, and a mapping
// with when/each/value a conditional or a loop.
func (c *compiler) node(n *yaml.Node, rule string) node {
	p := pos{line: n.Line, col: n.Column, rule: rule}
	switch n.Kind {
	case yaml.AliasNode:
		return c.alias(n, rule)
	case yaml.ScalarNode:
		switch n.Tag {
		case "!!int":
			if v, err := strconv.Atoi(n.Value); err == nil {
				return &constNode{pos: p, v: v}
			}
		case "!!float":
			if v, err := strconv.ParseFloat(n.Value, 64); err == nil {
				return &constNode{pos: p, v: v}
			}
		case "!!bool":
			return &constNode{pos: p, v: n.Value == "true"}
		case "!!null":
			return &constNode{pos: p}
		}
		return c.expr(n, rule)
	case yaml.SequenceNode:
		arr := &arrayNode{pos: p}
		for i, item := range n.Content {
			arr.items = append(arr.items, c.node(item, rule+"["+strconv.Itoa(i)+"]"))
		}
		return arr
	case yaml.MappingNode:
		if d := directive(n); d != nil {
			return c.directive(n, d, rule)
		}
		obj := &objectNode{pos: p}
		seen := map[string]bool{}
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := n.Content[i], n.Content[i+1]
			if seen[k.Value] {
				c.errorf(k, rule, "duplicate key %s", k.Value)
				continue
			}
			seen[k.Value] = true
			obj.keys = append(obj.keys, k.Value)
			obj.values = append(obj.values, c.node(v, joinPath(rule, k.Value)))
		}
		return obj
	}
	c.errorf(n, rule, "unsupported YAML node")
	return &constNode{pos: p}
}

func (c *compiler) directive(n *yaml.Node, d map[string]*yaml.Node, rule string) node {
	p := pos{line: n.Line, col: n.Column, rule: rule}
	if d["value"] == nil {
		c.errorf(n, rule, "a conditional or loop needs a value")
		return &constNode{pos: p}
	}
	if d["each"] == nil {
		for _, k := range []string{"as", "index"} {
			if d[k] != nil {
				c.errorf(d["@"+k], rule, "%s belongs to a loop (each)", k)
			}
		}
		if d["when"] == nil {
			c.errorf(n, rule, "value without when or each")
			return &constNode{pos: p}
		}
		return &whenNode{pos: p, cond: c.expr(d["when"], rule+".when"), value: c.node(d["value"], rule)}
	}
	loop := &eachNode{pos: p, as: "item", index: "index"}
	loop.over = c.expr(d["each"], rule+".each")
	for _, k := range []string{"as", "index"} {
		if v := d[k]; v != nil {
			if v.Kind != yaml.ScalarNode || !validName(v.Value) || v.Value == "input" {
				c.errorf(v, rule+"."+k, "%s names a variable: letters, digits and _", k)
				continue
			}
			if k == "as" {
				loop.as = v.Value
			} else {
				loop.index = v.Value
			}
		}
	}
	c.scope = append(c.scope, loop.as)
	c.indexVars[loop.index]++
	defer func() {
		c.scope = c.scope[:len(c.scope)-1]
		c.indexVars[loop.index]--
	}()
	if d["when"] != nil {
		loop.when = c.expr(d["when"], rule+".when")
	}
	loop.value = c.node(d["value"], rule)
	return loop
}

// expr compiles one expression with the variables in scope as its
// environment, so an unknown name is a load error, not a run error.
func (c *compiler) expr(n *yaml.Node, rule string) *exprNode {
	e := &exprNode{pos: pos{line: n.Line, col: n.Column, rule: rule}, src: n.Value}
	if n.Kind != yaml.ScalarNode {
		c.errorf(n, rule, "expected an expression")
		return e
	}
	env := make(types.Map, len(c.scope)+1)
	for _, name := range c.scope {
		env[name] = types.Any
	}
	for name, n := range c.indexVars {
		if n > 0 {
			env[name] = types.Int
		}
	}
	env["__run"] = runType
	reads := &readCollector{scope: env}
	opts := append([]expr.Option{expr.Env(env), expr.Patch(nilSafe{}), expr.Patch(reads), expr.MaxNodes(2000)}, c.funcs...)
	prog, err := expr.Compile(n.Value, opts...)
	if err != nil {
		c.exprError(n, rule, err)
		return e
	}
	e.prog = prog
	e.reads = reads.chains
	e.quick = quickForm(prog, env)
	for _, call := range reads.applies {
		c.calls = append(c.calls, subMapCall{name: call, at: e.pos})
	}
	if reads.failValue {
		c.errorf(n, rule, "fail takes a text constant: its message ends up in logs and must not hold input values")
	}
	for _, t := range reads.lookups {
		if !c.lookup[t] {
			c.errorf(n, rule, "lookup table %q is not defined under lookups", t)
		}
	}
	return e
}

// exprError places an expr compile error inside the YAML file: the
// expression's own line and column added to where the scalar starts.
func (c *compiler) exprError(n *yaml.Node, rule string, err error) {
	line, col := n.Line, n.Column
	msg := err.Error()
	var fe *file.Error
	if errors.As(err, &fe) {
		msg = fe.Message
		if fe.Line <= 1 {
			col += fe.Column
			if n.Style == yaml.SingleQuotedStyle || n.Style == yaml.DoubleQuotedStyle {
				col++
			}
		} else {
			line += fe.Line - 1
			col = fe.Column + 1
		}
	}
	c.errs = append(c.errs, &Error{File: c.file, Line: line, Col: col, Rule: rule, Err: fmt.Errorf("expression: %s", msg)})
}

var runType = types.TypeOf((*run)(nil))

// nilSafe makes member access tolerant of missing values, the way FHIRPath
// treats a missing element as empty: input.vaccine.code is nil when the
// input has no vaccine, rather than an error.
type nilSafe struct{}

func (nilSafe) Visit(n *ast.Node) {
	switch x := (*n).(type) {
	case *ast.MemberNode:
		if _, named := x.Property.(*ast.StringNode); !named && !x.Method {
			// a[i]: out of range is nil too, as in FHIRPath.
			ast.Patch(n, &ast.CallNode{Callee: &ast.IdentifierNode{Value: "__index"}, Arguments: []ast.Node{x.Node, x.Property}})
			return
		}
		if !x.Optional {
			x.Optional = true
			ast.Patch(n, &ast.ChainNode{Node: x})
		}
	case *ast.CallNode:
		if ch, ok := x.Callee.(*ast.ChainNode); ok {
			if m, ok := ch.Node.(*ast.MemberNode); ok {
				m.Optional = false
				x.Callee = m
			}
		}
	}
}

// readCollector records the variable chains an expression reads, and the
// sub-maps and lookup tables it names, for explain, errors and load checks.
type readCollector struct {
	scope   types.Map
	chains  [][]string
	applies []string
	lookups []string
	// failValue is set when fail() is called with anything but a text
	// constant: its message could then carry input values.
	failValue bool
}

func (rc *readCollector) Visit(n *ast.Node) {
	switch x := (*n).(type) {
	case *ast.IdentifierNode:
		if _, ok := rc.scope[x.Value]; ok {
			rc.add([]string{x.Value})
		}
	case *ast.MemberNode:
		if chain := memberChain(x); chain != nil {
			if _, ok := rc.scope[chain[0]]; ok {
				rc.add(chain)
			}
		}
	case *ast.CallNode:
		rc.segmentRead(x)
		id, ok := x.Callee.(*ast.IdentifierNode)
		if !ok || len(x.Arguments) == 0 {
			return
		}
		s, ok := x.Arguments[0].(*ast.StringNode)
		if !ok {
			rc.failValue = rc.failValue || id.Value == "fail"
			return
		}
		switch id.Value {
		case "apply":
			rc.applies = append(rc.applies, s.Value)
		case "lookup":
			rc.lookups = append(rc.lookups, s.Value)
		}
	}
}

// segmentRead records input.Get("PID.5.1") and input.GetAll("PID.3.1") of
// an HL7 v2 input as the input paths PID.5.1 and PID.3.1, in place of the
// method itself, when the path is a constant.
func (rc *readCollector) segmentRead(call *ast.CallNode) {
	callee, ok := call.Callee.(*ast.MemberNode)
	if !ok || len(call.Arguments) == 0 {
		return
	}
	chain := memberChain(callee)
	s, ok := call.Arguments[0].(*ast.StringNode)
	if !ok || len(chain) != 2 || chain[0] != "input" || (chain[1] != "Get" && chain[1] != "GetAll") {
		return
	}
	rc.chains = slices.DeleteFunc(rc.chains, func(c []string) bool { return slices.Equal(c, chain) })
	rc.add([]string{"input", s.Value})
}

// add keeps the longest chains: input.a.b replaces input.a and input.
func (rc *readCollector) add(chain []string) {
	for i, c := range rc.chains {
		if isPrefix(c, chain) {
			rc.chains[i] = chain
			return
		}
		if isPrefix(chain, c) {
			return
		}
	}
	rc.chains = append(rc.chains, chain)
}

func isPrefix(a, b []string) bool {
	if len(a) > len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// memberChain flattens input.a.b[0] to {"input","a","b[0]"}; nil when the
// chain holds a computed part.
func memberChain(n ast.Node) []string {
	switch x := n.(type) {
	case *ast.IdentifierNode:
		return []string{x.Value}
	case *ast.ChainNode:
		return memberChain(x.Node)
	case *ast.MemberNode:
		base := memberChain(x.Node)
		if base == nil {
			return nil
		}
		switch p := x.Property.(type) {
		case *ast.StringNode:
			return append(base, p.Value)
		case *ast.IntegerNode:
			base[len(base)-1] += "[" + strconv.Itoa(p.Value) + "]"
			return base
		}
		return base
	}
	return nil
}
