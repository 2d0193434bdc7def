package transform

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"sort"

	"github.com/expr-lang/expr"
	"github.com/expr-lang/expr/types"
)

// RenameMapping builds the degenerate mapping of a connector registration's
// inline "mapping" object: each input field is copied to a new name
// ({"hmsPatientId": "id"}); fields not named are left out. Input and output
// are JSON.
func RenameMapping(name string, fields map[string]string) (*Mapping, error) {
	m := &Mapping{Name: name, File: name, Input: FormatJSON, Output: FormatJSON, lookups: map[string]*lookupTable{}, letReads: map[string][]string{}}
	obj := &objectNode{pos: pos{rule: "mapping"}}
	from := make([]string, 0, len(fields))
	for k := range fields {
		from = append(from, k)
	}
	sort.Strings(from)
	env := types.Map{"input": types.Any}
	for _, src := range from {
		dst := fields[src]
		if src == "" || dst == "" {
			return nil, &Error{File: name, Rule: "mapping", Err: errors.New("field names must not be empty")}
		}
		code := fmt.Sprintf("input[%q]", src)
		prog, err := expr.Compile(code, expr.Env(env))
		if err != nil {
			return nil, &Error{File: name, Rule: "mapping." + src, Err: err}
		}
		obj.keys = append(obj.keys, dst)
		obj.values = append(obj.values, &exprNode{pos: pos{rule: "mapping." + src}, src: code, prog: prog, reads: [][]string{{"input", src}}})
	}
	m.root = obj
	// The version is a hash of the field pairs, in a fixed order, so the
	// same rename object always has the same version.
	h := sha256.New()
	for _, src := range from {
		fmt.Fprintf(h, "%q:%q\n", src, fields[src])
	}
	m.Version = hex.EncodeToString(h.Sum(nil))[:12]
	return m, nil
}
