package transform

import (
	"encoding/json"

	"github.com/expr-lang/expr/ast"
	"github.com/expr-lang/expr/types"
	"github.com/expr-lang/expr/vm"
)

// Most expressions in a mapping are a constant ('"final"'), a chain of
// names (input.vaccine.code), text joined to one ('"Patient/" +
// input.patientId') or a test for a missing value (input.vaccine !=
// nil). quickForm compiles those into a quickExpr that eval answers
// without the VM, with the VM's answer; on anything unusual on the way (a
// chain through a list, text joined to a number) it declines, and the VM
// evaluates the expression and says what is wrong.

// quickExpr is an expression evaluated without the VM: ok false means
// "ask the VM".
type quickExpr interface {
	eval(env map[string]any) (v any, ok bool)
}

// quickForm is prog's quick form, or nil when it has none. expr has
// folded constant parts ('"Patient/" + "x"', 2 * 21) into one node.
func quickForm(prog *vm.Program, env types.Map) quickExpr { return quickOf(prog.Node(), env) }

func quickOf(n ast.Node, env types.Map) quickExpr {
	switch x := n.(type) {
	case *ast.StringNode:
		return quickConst{x.Value}
	case *ast.IntegerNode:
		return quickConst{x.Value}
	case *ast.FloatNode:
		return quickConst{x.Value}
	case *ast.BoolNode:
		return quickConst{x.Value}
	case *ast.NilNode:
		return quickConst{nil}
	case *ast.ConstantNode:
		if isScalar(x.Value) {
			return quickConst{x.Value}
		}
	case *ast.BinaryNode:
		l, r := quickOf(x.Left, env), quickOf(x.Right, env)
		if l == nil || r == nil {
			return nil
		}
		switch x.Operator {
		case "+":
			return quickConcat{l, r}
		case "==", "!=":
			if c, ok := r.(quickConst); ok && c.v == nil {
				return quickIsNil{l, x.Operator == "!="}
			}
			if c, ok := l.(quickConst); ok && c.v == nil {
				return quickIsNil{r, x.Operator == "!="}
			}
		}
	default:
		if path := namePath(n); path != nil {
			if _, ok := env[path[0]]; ok && path[0] != "__run" {
				return quickPath(path)
			}
		}
	}
	return nil
}

// namePath is the names of a chain of members written with names
// (a.b.c, a["b"]), or nil for any other expression.
func namePath(n ast.Node) []string {
	switch x := n.(type) {
	case *ast.IdentifierNode:
		return []string{x.Value}
	case *ast.ChainNode:
		return namePath(x.Node)
	case *ast.MemberNode:
		p, ok := x.Property.(*ast.StringNode)
		if !ok || x.Method {
			return nil
		}
		if base := namePath(x.Node); base != nil {
			return append(base, p.Value)
		}
	}
	return nil
}

func isScalar(v any) bool {
	switch v.(type) {
	case string, int, float64, bool, nil:
		return true
	}
	return false
}

// quickConst is a constant.
type quickConst struct{ v any }

func (q quickConst) eval(map[string]any) (any, bool) { return q.v, true }

// quickPath is a chain of names from a variable: nil when a member is
// missing or a nil is on the way, as the mappings' nil-safe member access
// gives; it declines a chain through anything but an object.
type quickPath []string

func (q quickPath) eval(env map[string]any) (any, bool) {
	v := env[q[0]]
	for _, name := range q[1:] {
		switch obj := v.(type) {
		case map[string]any:
			v = obj[name]
		case nil:
			return nil, true
		default:
			return nil, false
		}
	}
	return v, true
}

// quickConcat joins two texts; it declines anything else (numbers add,
// and the VM says what cannot be added).
type quickConcat struct{ l, r quickExpr }

func (q quickConcat) eval(env map[string]any) (any, bool) {
	l, ok := quickText(q.l, env)
	if !ok {
		return nil, false
	}
	r, ok := quickText(q.r, env)
	if !ok {
		return nil, false
	}
	return l + r, true
}

// quickText is q's value when it is a text.
func quickText(q quickExpr, env map[string]any) (string, bool) {
	v, ok := q.eval(env)
	s, text := v.(string)
	return s, ok && text
}

// quickIsNil compares a value with nil (x == nil, x != nil); it declines
// values whose comparison the VM decides by their type (a nil map or
// list inside an interface).
type quickIsNil struct {
	x      quickExpr
	negate bool
}

func (q quickIsNil) eval(env map[string]any) (any, bool) {
	v, ok := q.x.eval(env)
	if !ok {
		return nil, false
	}
	switch x := v.(type) {
	case nil:
		return !q.negate, true
	case string, bool, int, float64, json.Number:
		return q.negate, true
	case map[string]any:
		if x != nil {
			return q.negate, true
		}
	case []any:
		if x != nil {
			return q.negate, true
		}
	}
	return nil, false
}
