package transform

import (
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/expr-lang/expr/vm"
)

// run is the state of one mapping of one input: the expression
// environment (input, variables, loop items), a VM reused across its
// expressions, and, when explaining, the traces and where each loop item
// came from. A run is used by one goroutine.
type run struct {
	m       *Mapping
	vm      vm.VM
	env     map[string]any
	depth   int // sub-map nesting, bounded
	explain bool
	traces  []Trace
	loops   []loopFrame // the loops being run, innermost last
}

// Trace says which rule produced one output field, and from which input.
type Trace struct {
	Output string   `json:"output"`          // the output path, "telecom[0].value"
	Rule   string   `json:"rule"`            // the rule path, "rules.telecom.value"
	File   string   `json:"file,omitempty"`  // the mapping file
	Line   int      `json:"line"`            // the rule's line in it
	Input  []string `json:"input,omitempty"` // the input paths read, "input.phones[0].number"
}

func (r *run) fail(n *exprNode, err error) error {
	var sub *Error
	if errors.As(err, &sub) { // a sub-map's error: already safe, and placed in its own file
		err = sub
	} else {
		err = errors.New(safeMessage(err))
	}
	return &Error{File: r.m.File, Line: n.line, Col: n.col, Rule: n.rule, Input: r.inputPaths(n), Err: err}
}

func (r *run) truth(n *exprNode) (bool, error) {
	v, err := n.run(r)
	if err != nil {
		return false, err
	}
	switch v := v.(type) {
	case bool:
		return v, nil
	case nil:
		return false, nil
	}
	return false, r.fail(n, fmt.Errorf("condition is %s, not a boolean", typeName(v)))
}

func (r *run) record(out string, n *exprNode) {
	r.traces = append(r.traces, Trace{Output: out, Rule: n.rule, File: r.m.File, Line: n.line, Input: r.inputPaths(n)})
}

// inputPaths resolves the variable chains an expression reads to input
// paths: loop items to the element they stand for, variables to what they
// read in turn.
func (r *run) inputPaths(n *exprNode) []string {
	var out []string
	seen := map[string]bool{}
	add := func(p string) {
		if !seen[p] {
			seen[p] = true
			out = append(out, p)
		}
	}
	for _, chain := range n.reads {
		root, rest := chain[0], chain[1:]
		switch {
		case root == "input":
			add(strings.Join(chain, "."))
		case r.loopPath(root) != "":
			add(strings.Join(append([]string{r.loopPath(root)}, rest...), "."))
		case r.m.letReads[root] != nil:
			for _, p := range r.m.letReads[root] {
				add(p)
			}
		}
	}
	return out
}

// loopFrame is one loop being run: its item variable and where it is.
type loopFrame struct {
	as    string
	over  *exprNode
	index int
}

// loopPath is the input path a loop item variable stands for
// ("phone" → "input.phones[1]"), or "" when it is not a loop item.
func (r *run) loopPath(name string) string {
	for i := len(r.loops) - 1; i >= 0; i-- {
		f := r.loops[i]
		if f.as != name {
			continue
		}
		saved := r.loops
		r.loops = r.loops[:i] // the source is read outside this loop
		paths := r.inputPaths(f.over)
		r.loops = saved
		if len(paths) != 1 {
			return ""
		}
		return paths[0] + "[" + strconv.Itoa(f.index) + "]"
	}
	return ""
}
