package transform

import (
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io/fs"
	"iter"
	"path"
	"slices"
	"strconv"

	"go.yaml.in/yaml/v3"
)

// lookupTable is a code table: inline, from a CSV file or from a FHIR
// ConceptMap. Keys are compared as text.
type lookupTable struct {
	values   map[string]any
	fallback any // returned for a missing key when the call gives no default
}

func (t *lookupTable) get(key any) (any, bool) {
	var k string
	switch v := key.(type) {
	case nil:
		return nil, false
	case string:
		k = v
	case json.Number:
		k = string(v)
	case int:
		k = strconv.Itoa(v)
	default:
		k = fmt.Sprint(v)
	}
	v, ok := t.values[k]
	return v, ok
}

// lookups compiles the lookups section. A table is either inline, a mapping
// of keys to values:
//
//	gender: { F: female, M: male }
//
// or a mapping with one of values, csv or conceptmap and an optional default:
//
//	gender: { values: { F: female }, default: unknown }
//	cvx:    { csv: cvx.csv, key: code, value: display }   # columns; default the first two
//	status: { conceptmap: status.json }                 # group.element.code → target.code
func (c *compiler) lookups(n *yaml.Node) {
	if n == nil {
		return
	}
	if n.Kind != yaml.MappingNode {
		c.errorf(n, "lookups", "lookups is a mapping of table names to tables")
		return
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		rule := "lookups." + k.Value
		c.lookup[k.Value] = true
		if v.Kind != yaml.MappingNode {
			c.errorf(v, rule, "a lookup table is a mapping")
			continue
		}
		t := &lookupTable{values: map[string]any{}}
		var spec struct {
			Values     map[string]any `yaml:"values"`
			Default    any            `yaml:"default"`
			CSV        string         `yaml:"csv"`
			Key        string         `yaml:"key"`
			Value      string         `yaml:"value"`
			ConceptMap string         `yaml:"conceptmap"`
		}
		structured := false
		for j := 0; j < len(v.Content); j += 2 {
			switch v.Content[j].Value {
			case "values", "csv", "conceptmap":
				structured = true
			}
		}
		if !structured {
			var inline map[string]any
			if err := v.Decode(&inline); err != nil {
				c.errorf(v, rule, "inline table: %v", err)
				continue
			}
			t.values = inline
			c.m.lookups[k.Value] = t
			continue
		}
		dec := v
		if err := decodeStrict(dec, &spec); err != nil {
			c.errorf(v, rule, "%v", err)
			continue
		}
		t.fallback = spec.Default
		switch {
		case spec.Values != nil:
			t.values = spec.Values
		case spec.CSV != "":
			if err := c.loadCSV(t, spec.CSV, spec.Key, spec.Value); err != nil {
				c.errorf(v, rule, "%v", err)
				continue
			}
		case spec.ConceptMap != "":
			if err := c.loadConceptMap(t, spec.ConceptMap); err != nil {
				c.errorf(v, rule, "%v", err)
				continue
			}
		}
		c.m.lookups[k.Value] = t
	}
}

// decodeStrict decodes a node, rejecting keys the target does not have.
func decodeStrict(n *yaml.Node, v any) error {
	out, err := yaml.Marshal(n)
	if err != nil {
		return err
	}
	dec := yaml.NewDecoder(bytesReader(out))
	dec.KnownFields(true)
	return dec.Decode(v)
}

func (c *compiler) open(name string) ([]byte, error) {
	if c.fsys == nil {
		return nil, fmt.Errorf("%s: no folder to read it from", name)
	}
	p := path.Join(path.Dir(c.file), name)
	return fs.ReadFile(c.fsys, p)
}

func (c *compiler) loadCSV(t *lookupTable, name, keyCol, valueCol string) error {
	data, err := c.open(name)
	if err != nil {
		return fmt.Errorf("csv table: %w", err)
	}
	rows, err := csv.NewReader(bytesReader(data)).ReadAll()
	if err != nil {
		return fmt.Errorf("csv table %s: %w", name, err)
	}
	if len(rows) == 0 {
		return fmt.Errorf("csv table %s is empty", name)
	}
	ki, vi := 0, 1
	if keyCol != "" {
		if ki = slices.Index(rows[0], keyCol); ki < 0 {
			return fmt.Errorf("csv table %s has no column %q", name, keyCol)
		}
	}
	if valueCol != "" {
		if vi = slices.Index(rows[0], valueCol); vi < 0 {
			return fmt.Errorf("csv table %s has no column %q", name, valueCol)
		}
	}
	for _, row := range rows[1:] {
		if ki < len(row) && vi < len(row) {
			t.values[row[ki]] = row[vi]
		}
	}
	return nil
}

// loadConceptMap reads a FHIR R4 ConceptMap: each group.element.code maps
// to its first target whose equivalence is not unmatched or disjoint.
func (c *compiler) loadConceptMap(t *lookupTable, name string) error {
	data, err := c.open(name)
	if err != nil {
		return fmt.Errorf("conceptmap: %w", err)
	}
	var cm struct {
		ResourceType string `json:"resourceType"`
		Group        []struct {
			Element []struct {
				Code   string `json:"code"`
				Target []struct {
					Code        string `json:"code"`
					Equivalence string `json:"equivalence"`
				} `json:"target"`
			} `json:"element"`
		} `json:"group"`
	}
	if err := json.Unmarshal(data, &cm); err != nil {
		return fmt.Errorf("conceptmap %s: %w", name, err)
	}
	if cm.ResourceType != "ConceptMap" {
		return fmt.Errorf("conceptmap %s: resourceType is %q, not ConceptMap", name, cm.ResourceType)
	}
	for _, g := range cm.Group {
		for _, e := range g.Element {
			for _, tg := range e.Target {
				if tg.Code != "" && tg.Equivalence != "unmatched" && tg.Equivalence != "disjoint" {
					if _, dup := t.values[e.Code]; !dup {
						t.values[e.Code] = tg.Code
					}
				}
			}
		}
	}
	return nil
}

func sortedKeys(keys iter.Seq[string]) []string { return slices.Sorted(keys) }
