package transform

import (
	"encoding/json"
	"fmt"
	"reflect"
	"sort"
	"strconv"
	"time"

	"github.com/expr-lang/expr/vm"
)

// node is one compiled rule: it evaluates to an output value, or to nil
// when the rule produced nothing (the field is then left out).
type node interface {
	eval(r *run, out string) (any, error)
}

// pos is where a rule is written.
type pos struct {
	line, col int
	rule      string // the rule path, "rules.telecom.value"
}

// exprNode is one expr expression, compiled once.
type exprNode struct {
	pos
	src   string
	prog  *vm.Program
	reads [][]string // the variable chains it reads: {"input","phones"}, {"phone","number"}

	quick quickExpr // the expression in a form evaluated without the VM, or nil
}

func (n *exprNode) eval(r *run, out string) (any, error) {
	v, err := n.run(r)
	if err != nil {
		return nil, err
	}
	v = normalize(v)
	if r.explain && out != "" && !isEmpty(v) {
		r.record(out, n)
	}
	return v, nil
}

// run evaluates the expression as it is: the VM's result, unnormalised.
func (n *exprNode) run(r *run) (any, error) {
	if n.quick != nil {
		if v, ok := n.quick.eval(r.env); ok {
			return v, nil
		}
	}
	v, err := r.vm.Run(n.prog, r.env)
	if err != nil {
		return nil, r.fail(n, err)
	}
	return v, nil
}

// constNode is a literal YAML value: a number, a boolean, null.
type constNode struct {
	pos
	v any
}

func (n *constNode) eval(r *run, out string) (any, error) {
	if r.explain && out != "" && n.v != nil {
		r.traces = append(r.traces, Trace{Output: out, Rule: n.rule, Line: n.line})
	}
	return n.v, nil
}

// objectNode builds an object; fields whose value is empty are left out.
type objectNode struct {
	pos
	keys   []string
	values []node
}

func (n *objectNode) eval(r *run, out string) (any, error) {
	obj := make(map[string]any, len(n.keys))
	for i, k := range n.keys {
		sub := ""
		if r.explain {
			sub = joinPath(out, k)
		}
		v, err := n.values[i].eval(r, sub)
		if err != nil {
			return nil, err
		}
		if !isEmpty(v) {
			obj[k] = v
		}
	}
	if len(obj) == 0 {
		return nil, nil
	}
	return obj, nil
}

// arrayNode builds an array; empty items are left out and the results of a
// loop item are spliced in.
type arrayNode struct {
	pos
	items []node
}

func (n *arrayNode) eval(r *run, out string) (any, error) {
	arr := make([]any, 0, len(n.items))
	for _, item := range n.items {
		sub := ""
		if r.explain {
			sub = out + "[" + strconv.Itoa(len(arr)) + "]"
		}
		if each, ok := item.(*eachNode); ok {
			var err error
			if arr, err = each.appendTo(r, arr, out); err != nil {
				return nil, err
			}
			continue
		}
		v, err := item.eval(r, sub)
		if err != nil {
			return nil, err
		}
		if !isEmpty(v) {
			arr = append(arr, v)
		}
	}
	if len(arr) == 0 {
		return nil, nil
	}
	return arr, nil
}

// whenNode is a conditional: value when the condition holds, else nothing.
type whenNode struct {
	pos
	cond  *exprNode
	value node
}

func (n *whenNode) eval(r *run, out string) (any, error) {
	ok, err := r.truth(n.cond)
	if err != nil || !ok {
		return nil, err
	}
	return n.value.eval(r, out)
}

// eachNode is a loop: value once per item of an array, with the item and
// its index in scope, optionally filtered by a condition.
type eachNode struct {
	pos
	over      *exprNode
	as, index string
	when      *exprNode
	value     node
}

func (n *eachNode) eval(r *run, out string) (any, error) {
	arr, err := n.appendTo(r, nil, out)
	if err != nil || len(arr) == 0 {
		return nil, err
	}
	return arr, nil
}

func (n *eachNode) appendTo(r *run, arr []any, out string) ([]any, error) {
	src, err := n.over.run(r)
	if err != nil {
		return nil, err
	}
	items, ok := asList(src)
	if !ok {
		return nil, r.fail(n.over, fmt.Errorf("each: expected a list, got %s", typeName(src)))
	}
	prevItem, hadItem := r.env[n.as]
	prevIndex, hadIndex := r.env[n.index]
	r.loops = append(r.loops, loopFrame{as: n.as, over: n.over})
	frame := len(r.loops) - 1
	defer func() {
		restore(r.env, n.as, prevItem, hadItem)
		restore(r.env, n.index, prevIndex, hadIndex)
		r.loops = r.loops[:frame]
	}()
	for i, item := range items {
		r.env[n.as] = item
		r.env[n.index] = i
		r.loops[frame].index = i
		if n.when != nil {
			ok, err := r.truth(n.when)
			if err != nil {
				return nil, err
			}
			if !ok {
				continue
			}
		}
		sub := ""
		if r.explain {
			sub = out + "[" + strconv.Itoa(len(arr)) + "]"
		}
		v, err := n.value.eval(r, sub)
		if err != nil {
			return nil, err
		}
		if !isEmpty(v) {
			arr = append(arr, v)
		}
	}
	return arr, nil
}

func restore(env map[string]any, name string, v any, had bool) {
	if had {
		env[name] = v
	} else {
		delete(env, name)
	}
}

func joinPath(base, key string) string {
	if base == "" {
		return key
	}
	return base + "." + key
}

// isEmpty tells whether a value is left out of the output: FHIR forbids
// empty strings, arrays and objects.
func isEmpty(v any) bool {
	switch v := v.(type) {
	case nil:
		return true
	case string:
		return v == ""
	case []any:
		return len(v) == 0
	case map[string]any:
		return len(v) == 0
	}
	return false
}

// asList turns a loop source into items: a list as is, nil as no items, a
// single value as one item.
func asList(v any) ([]any, bool) {
	switch v := v.(type) {
	case nil:
		return nil, true
	case []any:
		return v, true
	case map[string]any:
		return []any{v}, true
	}
	rv := reflect.ValueOf(v)
	if rv.Kind() == reflect.Slice || rv.Kind() == reflect.Array {
		out := make([]any, rv.Len())
		for i := range out {
			out[i] = rv.Index(i).Interface()
		}
		return out, true
	}
	return []any{v}, true
}

// normalize turns what expressions return into output values: times as
// RFC 3339 text, typed slices and maps as []any and map[string]any.
func normalize(v any) any {
	switch x := v.(type) {
	case nil, string, bool, int, float64, map[string]any, json.Number:
		return v
	case []any:
		for i := range x {
			x[i] = normalize(x[i])
		}
		return x
	case time.Time:
		return x.Format(time.RFC3339Nano)
	case time.Duration:
		return x.String()
	case []string:
		out := make([]any, len(x))
		for i, s := range x {
			out[i] = s
		}
		return out
	case fmt.Stringer:
		return x.String()
	}
	rv := reflect.ValueOf(v)
	switch rv.Kind() {
	case reflect.Slice, reflect.Array:
		out := make([]any, rv.Len())
		for i := range out {
			out[i] = normalize(rv.Index(i).Interface())
		}
		return out
	case reflect.Map:
		if rv.Type().Key().Kind() != reflect.String {
			return v
		}
		out := make(map[string]any, rv.Len())
		keys := rv.MapKeys()
		sort.Slice(keys, func(i, j int) bool { return keys[i].String() < keys[j].String() })
		for _, k := range keys {
			out[k.String()] = normalize(rv.MapIndex(k).Interface())
		}
		return out
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return int(rv.Int())
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return int(rv.Uint())
	case reflect.Float32:
		return rv.Float()
	}
	return v
}

func typeName(v any) string {
	switch v.(type) {
	case nil:
		return "nothing"
	case string:
		return "text"
	case map[string]any:
		return "an object"
	case []any:
		return "a list"
	case bool:
		return "a boolean"
	case int, float64:
		return "a number"
	}
	return fmt.Sprintf("%T", v)
}
