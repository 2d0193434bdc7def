package main

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"sort"

	"github.com/liaisonhq/liaison/fhir"
	"github.com/liaisonhq/liaison/mappings"
	"github.com/liaisonhq/liaison/transform"
)

// The "liaison map" commands share how they find mappings: the embedded set
// (mappings.FS), then the --mappings folder, then the files and folders named
// on the command line, all loaded into one transform.Set so that sub-maps
// resolve across them and a later mapping replaces an earlier one of the same
// name. This file holds that loading and the error reporting the commands
// share; each command is its own map_*.go file.

const mappingsFlagUsage = "a `folder` of mapping files loaded after the embedded ones; a mapping there replaces an embedded one of the same name"

// source is one folder of mapping files in a load, and how messages name its
// files.
type source struct {
	fsys fs.FS
	dir  string // the folder on disk; "" for the embedded mappings
	only string // for a single file named on the command line: its name in fsys
}

// has tells whether the source holds the file (a path inside fsys).
func (src source) has(name string) bool {
	if src.only != "" {
		return name == src.only
	}
	_, err := fs.Stat(src.fsys, name)
	return err == nil
}

// display is how messages name one of the source's files: the path on disk,
// or the bare name for an embedded mapping.
func (src source) display(name string) string {
	if src.dir == "" {
		return name
	}
	return filepath.Join(src.dir, filepath.FromSlash(name))
}

// files lists the source's mapping files, in the order transform.Set reads them.
func (src source) files() ([]string, error) {
	if src.only != "" {
		return []string{src.only}, nil
	}
	var out []string
	err := fs.WalkDir(src.fsys, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() && isMappingFile(p) {
			out = append(out, p)
		}
		return nil
	})
	sort.Strings(out)
	return out, err
}

func isMappingFile(name string) bool {
	ext := path.Ext(name)
	return ext == ".yaml" || ext == ".yml"
}

// folderSource is the --mappings folder.
func folderSource(dir string) (source, error) {
	fi, err := os.Stat(dir)
	if err != nil {
		return source{}, fmt.Errorf("--mappings: %w", err)
	}
	if !fi.IsDir() {
		return source{}, fmt.Errorf("--mappings %s: not a folder", dir)
	}
	return source{fsys: os.DirFS(dir), dir: dir}, nil
}

// pathSource is a file or folder named on the command line.
func pathSource(p string) (source, error) {
	fi, err := os.Stat(p)
	if err != nil {
		return source{}, err
	}
	if fi.IsDir() {
		return source{fsys: os.DirFS(p), dir: p}, nil
	}
	if !isMappingFile(p) {
		return source{}, fmt.Errorf("%s: a mapping file's name ends in .yaml or .yml", p)
	}
	dir, base := filepath.Dir(p), filepath.Base(p)
	return source{fsys: singleFile{FS: os.DirFS(dir), name: base}, dir: dir, only: base}, nil
}

// singleFile is a folder in which a transform.Set sees one mapping file
// only; the other files (the CSV tables and ConceptMaps it reads) can
// still be opened.
type singleFile struct {
	fs.FS
	name string
}

func (f singleFile) ReadDir(name string) ([]fs.DirEntry, error) {
	if name != "." {
		return nil, &fs.PathError{Op: "readdir", Path: name, Err: fs.ErrNotExist}
	}
	info, err := fs.Stat(f.FS, f.name)
	if err != nil {
		return nil, err
	}
	return []fs.DirEntry{fs.FileInfoToDirEntry(info)}, nil
}

// loaded is one load of mappings: the set and the sources it came from.
type loaded struct {
	set     *transform.Set
	sources []source
}

// target is one mapping a command works on, with the path messages give
// for its file.
type target struct {
	m    *transform.Mapping
	file string
}

// loadMappings loads the embedded mappings, the --mappings folder (when dir
// is not "") and the extra sources into one set. A load error is the joined
// errors of transform.Set.Reload, each *transform.Error naming its file as
// the user knows it.
func loadMappings(dir string, extra ...source) (*loaded, error) {
	l := &loaded{sources: []source{{fsys: mappings.FS}}}
	if dir != "" {
		src, err := folderSource(dir)
		if err != nil {
			return nil, err
		}
		l.sources = append(l.sources, src)
	}
	l.sources = append(l.sources, extra...)
	folders := make([]fs.FS, len(l.sources))
	for i, src := range l.sources {
		folders[i] = src.fsys
	}
	set, err := transform.NewSet(folders...)
	if err != nil {
		for _, e := range splitErrors(err) {
			l.relocate(e, nil)
		}
		return nil, err
	}
	l.set = set
	return l, nil
}

// where is how messages name a mapping file of the set: as found in the
// last source holding a file of that name (the one a same-named mapping
// would come from).
func (l *loaded) where(file string) string {
	for i := len(l.sources) - 1; i >= 0; i-- {
		if l.sources[i].has(file) {
			return l.sources[i].display(file)
		}
	}
	return file
}

// relocate rewrites the file of a *transform.Error to the path the user
// knows: through src when given, else through where.
func (l *loaded) relocate(err error, src *source) {
	var te *transform.Error
	if !errors.As(err, &te) || te.File == "" {
		return
	}
	if src != nil {
		te.File = src.display(te.File)
	} else {
		te.File = l.where(te.File)
	}
}

// all is every mapping of the set, in name order.
func (l *loaded) all() []target {
	ms := l.set.All()
	out := make([]target, len(ms))
	for i, m := range ms {
		out[i] = target{m: m, file: l.where(m.File)}
	}
	return out
}

// from compiles the mapping files of one source (one of l.sources), their
// sub-maps resolved in the set.
func (l *loaded) from(src source) ([]target, []error) {
	names, err := src.files()
	if err != nil {
		return nil, []error{err}
	}
	var out []target
	var errs []error
	for _, name := range names {
		m, err := transform.LoadFile(src.fsys, name, l.set)
		if err != nil {
			for _, e := range splitErrors(err) {
				l.relocate(e, &src)
				errs = append(errs, e)
			}
			continue
		}
		out = append(out, target{m: m, file: src.display(name)})
	}
	return out, errs
}

// findMapping loads the set and returns the mapping nameOrFile names: a
// mapping of the set by name, or a file (transform.IsFile) compiled with
// its sub-maps resolved in the set.
func findMapping(dir, nameOrFile string) (target, error) {
	if !transform.IsFile(nameOrFile) {
		l, err := loadMappings(dir)
		if err != nil {
			return target{}, err
		}
		m, err := l.set.Get(nameOrFile)
		if err != nil {
			return target{}, fmt.Errorf("%w ('liaison map list' shows them)", err)
		}
		return target{m: m, file: l.where(m.File)}, nil
	}
	src, err := pathSource(nameOrFile)
	if err != nil {
		return target{}, err
	}
	if src.only == "" {
		return target{}, fmt.Errorf("%s is a folder: name one mapping file", nameOrFile)
	}
	l, err := loadMappings(dir, src)
	if err != nil {
		return target{}, err
	}
	ts, errs := l.from(src)
	if len(errs) > 0 {
		return target{}, errors.Join(errs...)
	}
	return ts[0], nil
}

// relocate rewrites the file of a run error raised by the target's own
// rules to the path the user knows.
func (t target) relocate(err error) error {
	var te *transform.Error
	if errors.As(err, &te) && te.File == t.m.File {
		te.File = t.file
	}
	return err
}

// splitErrors undoes errors.Join, recursively: a load gives one error per
// problem, joined. Only load errors are split: a run error is one error.
func splitErrors(err error) []error {
	if err == nil {
		return nil
	}
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		var out []error
		for _, e := range j.Unwrap() {
			out = append(out, splitErrors(e)...)
		}
		return out
	}
	return []error{err}
}

// reportErrors prints errors and returns exitFail: with asJSON as one
// OperationOutcome on standard output, else one a line on standard error —
// a *transform.Error as "file:line:col: rule: message (input paths)", a
// FHIR validation failure as its issues (one a line, after a line saying
// so), anything else after the command's name.
func reportErrors(s *stdio, cmd string, asJSON bool, errs ...error) int {
	if asJSON {
		return writeOutcome(s, mapIssues(errs))
	}
	for _, err := range errs {
		var te *transform.Error
		var issues fhir.Issues
		switch {
		case errors.As(err, &issues):
			fmt.Fprintf(s.err, "liaison %s: %v\n", cmd, transform.ErrInvalidOutput)
			for _, is := range issues {
				fmt.Fprintln(s.err, is)
			}
		case errors.As(err, &te):
			fmt.Fprintln(s.err, err)
		default:
			fmt.Fprintf(s.err, "liaison %s: %v\n", cmd, err)
		}
	}
	return exitFail
}

// mapIssues turns errors into OperationOutcome issues: FHIR validation
// failures as their own issues, a mapping error as one issue whose
// expression is the rule path.
func mapIssues(errs []error) fhir.Issues {
	var out fhir.Issues
	for _, err := range errs {
		var te *transform.Error
		var issues fhir.Issues
		switch {
		case errors.As(err, &issues):
			out = append(out, fhir.ErrorIssues(issues)...)
		case errors.As(err, &te):
			is := fhir.Issue{Severity: fhir.SeverityError, Code: fhir.IssueProcessing, Diagnostics: err.Error()}
			if te.Rule != "" {
				is.Expression = []string{te.Rule}
			}
			out = append(out, is)
		case errors.Is(err, transform.ErrInput):
			out = append(out, fhir.Issue{Severity: fhir.SeverityError, Code: fhir.IssueInvalid, Diagnostics: err.Error()})
		case errors.Is(err, transform.ErrNotFound):
			out = append(out, fhir.Issue{Severity: fhir.SeverityError, Code: fhir.IssueNotFound, Diagnostics: err.Error()})
		default:
			out = append(out, fhir.ErrorIssues(err)...)
		}
	}
	return out
}

// mappingInput checks the arguments NAME|FILE [INPUT] of map run and map
// explain and returns INPUT, stdinName when it is absent.
func mappingInput(f *flags, s *stdio, pos []string) (input string, code int, ok bool) {
	switch {
	case len(pos) == 0:
		return "", f.usageError(s, "a mapping NAME or FILE is required"), false
	case len(pos) > 2:
		return "", f.usageError(s, "one INPUT at most, got %d", len(pos)-1), false
	}
	if len(pos) == 2 {
		return pos[1], 0, true
	}
	return stdinName, 0, true
}
