package main

import (
	"encoding/json"
	"fmt"
	"path/filepath"
	"sort"
	"strings"
)

type valueSet struct {
	URL     string `json:"url"`
	Compose *struct {
		Include []include `json:"include"`
		Exclude []include `json:"exclude"`
	} `json:"compose"`
}

type include struct {
	System   string                  `json:"system"`
	Concept  []struct{ Code string } `json:"concept"`
	Filter   []json.RawMessage       `json:"filter"`
	ValueSet []string                `json:"valueSet"`
}

type concept struct {
	Code    string    `json:"code"`
	Concept []concept `json:"concept"`
}

type codeSystem struct {
	URL     string    `json:"url"`
	Content string    `json:"content"`
	Concept []concept `json:"concept"`
}

// knownSets supplies required value sets that the R4 definitions bind to but
// do not include. Codes from terminology.hl7.org (v3 Confidentiality).
var knownSets = map[string][]string{
	"http://terminology.hl7.org/ValueSet/v3-ConfidentialityClassification": {
		"http://terminology.hl7.org/CodeSystem/v3-Confidentiality|U",
		"http://terminology.hl7.org/CodeSystem/v3-Confidentiality|L",
		"http://terminology.hl7.org/CodeSystem/v3-Confidentiality|M",
		"http://terminology.hl7.org/CodeSystem/v3-Confidentiality|N",
		"http://terminology.hl7.org/CodeSystem/v3-Confidentiality|R",
		"http://terminology.hl7.org/CodeSystem/v3-Confidentiality|V",
	},
}

// expandValueSets returns, for each required value set that can be
// enumerated from the definitions, its codes as "system|code". Value sets
// drawing on external code systems (BCP 13 mime types, ISO 4217, UCUM) or
// filters are left out: their bindings are not checked.
func expandValueSets(dir string, required map[string]bool) (map[string][]string, error) {
	raws, err := readBundle(filepath.Join(dir, "valuesets.json"))
	if err != nil {
		return nil, err
	}
	sets := map[string]valueSet{}
	systems := map[string]codeSystem{}
	for _, raw := range raws {
		var head struct{ ResourceType string }
		if err := json.Unmarshal(raw, &head); err != nil {
			return nil, err
		}
		switch head.ResourceType {
		case "ValueSet":
			var vs valueSet
			if err := json.Unmarshal(raw, &vs); err != nil {
				return nil, err
			}
			sets[vs.URL] = vs
		case "CodeSystem":
			var cs codeSystem
			if err := json.Unmarshal(raw, &cs); err != nil {
				return nil, err
			}
			systems[cs.URL] = cs
		}
	}
	var expand func(url string, depth int) ([]string, error)
	expand = func(url string, depth int) ([]string, error) {
		if codes, ok := knownSets[url]; ok {
			return codes, nil
		}
		vs, ok := sets[url]
		if !ok || vs.Compose == nil || depth > 8 {
			return nil, fmt.Errorf("value set %s not enumerable", url)
		}
		seen := map[string]bool{}
		var out []string
		add := func(c string) {
			if !seen[c] {
				seen[c] = true
				out = append(out, c)
			}
		}
		for _, inc := range vs.Compose.Include {
			if len(inc.Filter) > 0 {
				return nil, fmt.Errorf("value set %s uses filters", url)
			}
			for _, imp := range inc.ValueSet {
				codes, err := expand(strings.SplitN(imp, "|", 2)[0], depth+1)
				if err != nil {
					return nil, err
				}
				for _, c := range codes {
					add(c)
				}
			}
			if inc.System == "" {
				continue
			}
			if len(inc.Concept) > 0 {
				for _, c := range inc.Concept {
					add(inc.System + "|" + c.Code)
				}
				continue
			}
			cs, ok := systems[inc.System]
			if !ok || cs.Content != "complete" {
				return nil, fmt.Errorf("value set %s includes external system %s", url, inc.System)
			}
			var walk func([]concept)
			walk = func(cs []concept) {
				for _, c := range cs {
					add(inc.System + "|" + c.Code)
					walk(c.Concept)
				}
			}
			walk(cs.Concept)
		}
		if len(vs.Compose.Exclude) > 0 {
			return nil, fmt.Errorf("value set %s uses exclusions", url)
		}
		return out, nil
	}
	out := map[string][]string{}
	for url := range required {
		codes, err := expand(url, 0)
		if err != nil || len(codes) == 0 {
			continue
		}
		sort.Strings(codes)
		out[url] = codes
	}
	return out, nil
}
