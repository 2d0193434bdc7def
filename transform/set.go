package transform

import (
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"path"
	"sort"
	"strings"
	"sync/atomic"
)

// Set is the mappings a gateway or the CLI works with, found by name. It
// is loaded from one or more folders (the embedded mappings, a --mappings
// folder); a later folder's mapping replaces an earlier one of the same
// name. Reload swaps the whole set at once: readers see the old set or the
// new one, never a mix, and a set with any error is not swapped in. Safe
// for concurrent use.
type Set struct {
	cur atomic.Pointer[setData]
}

type setData struct {
	byName map[string]*Mapping
}

// NewSet loads the mapping files (*.yaml, *.yml) of the folders.
func NewSet(folders ...fs.FS) (*Set, error) {
	s := &Set{}
	if err := s.Reload(folders...); err != nil {
		return nil, err
	}
	return s, nil
}

// Reload loads the folders again and, when every file compiles and every
// sub-map it applies exists, replaces the set. Otherwise it keeps the old
// set and returns every error, each with file:line:col.
func (s *Set) Reload(folders ...fs.FS) error {
	byName := map[string]*Mapping{}
	var errs []error
	for _, fsys := range folders {
		files, err := mappingFiles(fsys)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		for _, name := range files {
			m, err := Compile(fsys, name)
			if err != nil {
				errs = append(errs, err)
				continue
			}
			byName[m.Name] = m
		}
	}
	data := &setData{byName: byName}
	for _, m := range byName {
		m.resolve = data.get
		for _, call := range m.calls {
			if byName[call.name] == nil {
				errs = append(errs, &Error{File: m.File, Line: call.at.line, Col: call.at.col, Rule: call.at.rule, Err: fmt.Errorf("apply: no mapping named %q", call.name)})
			}
		}
	}
	if len(errs) > 0 {
		return errors.Join(errs...)
	}
	s.cur.Store(data)
	return nil
}

func (d *setData) get(name string) *Mapping { return d.byName[name] }

// mappingFiles lists the YAML files of a folder, recursively, in name order.
func mappingFiles(fsys fs.FS) ([]string, error) {
	var out []string
	err := fs.WalkDir(fsys, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() && (path.Ext(p) == ".yaml" || path.Ext(p) == ".yml") {
			out = append(out, p)
		}
		return nil
	})
	sort.Strings(out)
	return out, err
}

// Get returns the mapping of that name, or ErrNotFound.
func (s *Set) Get(name string) (*Mapping, error) {
	d := s.cur.Load()
	if d == nil || d.byName[name] == nil {
		return nil, fmt.Errorf("%w: %q", ErrNotFound, name)
	}
	return d.byName[name], nil
}

// All returns the mappings, in name order.
func (s *Set) All() []*Mapping {
	d := s.cur.Load()
	if d == nil {
		return nil
	}
	names := sortedKeys(maps.Keys(d.byName))
	out := make([]*Mapping, len(names))
	for i, n := range names {
		out[i] = d.byName[n]
	}
	return out
}

// LoadFile compiles a single mapping file outside any set, resolving its
// sub-maps in the set given (which may be nil).
func LoadFile(fsys fs.FS, name string, set *Set) (*Mapping, error) {
	m, err := Compile(fsys, name)
	if err != nil {
		return nil, err
	}
	if set != nil {
		if d := set.cur.Load(); d != nil {
			m.resolve = func(n string) *Mapping {
				if n == m.Name {
					return m
				}
				return d.get(n)
			}
		}
	}
	return m, nil
}

// IsFile tells whether a name given on a command line is a file rather than a mapping name.
func IsFile(name string) bool {
	return strings.HasSuffix(name, ".yaml") || strings.HasSuffix(name, ".yml") || strings.ContainsRune(name, '/')
}
