package transform

import (
	"encoding/json"
	"reflect"
	"testing"
)

// Constants, chains of names, texts joined and tests for nil are answered
// without the VM (quick); the answer must be the VM's: the same value, nil
// for a missing member or a nil on the way, and where the quick form
// declines (a chain through a list, text joined to a number) the VM's own
// error.
func TestQuickEvaluationMatchesVM(t *testing.T) {
	m, err := compileText(t, `name: m
input: json
output: json
rules:
  text: '"final"'
  folded: '"Patient/" + "x"'
  number: 2 * 21
  top: input.a
  nested: input.a.b
  deep: input.a.b.c
  quoted: input["odd key"]
  call: upper(input.s)
  joined: '"Patient/" + input.s'
  joined3: 'input.s + "-" + input.a.b'
  present: input.a != nil
  absent: nil == input.a.b
  compared: input.a == 1
  items:
    each: input.list
    as: item
    value: item.code
`)
	if err != nil {
		t.Fatal(err)
	}
	quick := map[string]bool{}
	walkExprs(m.root, func(e *exprNode) { quick[e.src] = e.quick != nil })
	for src, want := range map[string]bool{`"final"`: true, `"Patient/" + "x"`: true, "2 * 21": true, "input.a": true, "input.a.b": true,
		`input["odd key"]`: true, "item.code": true, "upper(input.s)": false, `"Patient/" + input.s`: true, `input.s + "-" + input.a.b`: true,
		"input.a != nil": true, "nil == input.a.b": true, "input.a == 1": false} {
		if quick[src] != want {
			t.Errorf("%s: answered without the VM = %v, want %v", src, quick[src], want)
		}
	}

	inputs := []string{
		`{}`,
		`{"a": null}`,
		`{"a": {"b": {"c": 1.5}}, "odd key": "x", "s": "up"}`,
		`{"a": {"b": "B"}, "s": "S"}`,
		`{"a": {"b": 5}, "s": "S"}`,
		`{"a": 1, "s": 2}`,
		`{"a": {"b": null}, "s": null}`,
		`{"a": {"b": "text"}}`,
		`{"a": {"b": [1, 2]}}`,
		`{"a": "text"}`,
		`{"a": 7}`,
		`{"a": [{"b": 1}]}`,
		`{"a": {"b": {"c": {"d": true}}}}`,
		`{"list": [{"code": "c1"}, {"code": null}, {}, "text"]}`,
	}
	for _, in := range inputs {
		var input any
		if err := json.Unmarshal([]byte(in), &input); err != nil {
			t.Fatal(err)
		}
		r := m.newRun(input, false)
		walkExprs(m.root, func(e *exprNode) {
			if e.src == "item.code" {
				return // a loop item: compared through the whole mapping below
			}
			got, gotErr := e.run(r)
			want, wantErr := r.vm.Run(e.prog, r.env)
			if (gotErr == nil) != (wantErr == nil) || !reflect.DeepEqual(got, want) {
				t.Errorf("%s on %s: got %#v, %v; the VM gives %#v, %v", e.src, in, got, gotErr, want, wantErr)
			}
		})
		out, err := m.Map(input)
		saved := map[*exprNode]exprNode{}
		walkExprs(m.root, func(e *exprNode) { saved[e] = *e; e.quick = nil })
		vmOut, vmErr := m.Map(input)
		for e, s := range saved {
			*e = s
		}
		if (err == nil) != (vmErr == nil) || !reflect.DeepEqual(out, vmOut) || err != nil && err.Error() != vmErr.Error() {
			t.Errorf("mapping %s: got %#v, %v; with the VM only %#v, %v", in, out, err, vmOut, vmErr)
		}
	}
}
