package fhirserver

import (
	"bytes"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/liaisonhq/liaison/fhir"
)

// typeStore holds the resources of one type. Guarded by Server.mu.
type typeStore struct {
	ids  []string // in order of creation
	byID map[string]*history
}

// history is every version of one resource; versions[i] has versionId i+1.
type history struct {
	versions []version
}

// version is one version of a resource. A stored resource is never
// changed: a change stores a new one, so stored resources may be encoded
// outside the lock.
type version struct {
	res     fhir.Resource // nil for a deletion
	updated time.Time
}

func (h *history) current() version { return h.versions[len(h.versions)-1] }
func (h *history) vid() int         { return len(h.versions) }
func (h *history) deleted() bool    { return h.current().res == nil }

// store returns the store of type typ, made on first use.
func (s *Server) store(typ string) *typeStore {
	ts := s.types[typ]
	if ts == nil {
		ts = &typeStore{byID: make(map[string]*history)}
		s.types[typ] = ts
	}
	return ts
}

// newID returns an id no resource of the type has, the way HAPI assigns
// them: a counter shared by all types.
func (s *Server) newID(typ string) string {
	ts := s.store(typ)
	for {
		s.nextID++
		id := strconv.Itoa(s.nextID)
		if ts.byID[id] == nil {
			return id
		}
	}
}

// put stores res as the next version of typ/id (the first when there is
// none), stamping its id and meta. res must be the caller's own copy.
func (s *Server) put(typ, id string, res fhir.Resource, now time.Time) *history {
	ts := s.store(typ)
	h := ts.byID[id]
	if h == nil {
		h = &history{}
		ts.byID[id] = h
		ts.ids = append(ts.ids, id)
	}
	if res != nil {
		stamp(res, id, h.vid()+1, now)
	}
	h.versions = append(h.versions, version{res: res, updated: now})
	return h
}

// lookup returns the history of typ/id, nil when there is none.
func (s *Server) lookup(typ, id string) *history {
	if ts := s.types[typ]; ts != nil {
		return ts.byID[id]
	}
	return nil
}

// stamp sets res's id, meta.versionId and meta.lastUpdated, keeping the
// rest of its meta (profiles, tags).
func stamp(res fhir.Resource, id string, vid int, now time.Time) {
	res["id"] = id
	meta := map[string]any{}
	if old, ok := res["meta"].(map[string]any); ok {
		for k, v := range old {
			meta[k] = v
		}
	}
	meta["versionId"] = strconv.Itoa(vid)
	meta["lastUpdated"] = instant(now)
	res["meta"] = meta
}

// instant formats t as a FHIR instant, in UTC with milliseconds.
func instant(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05.000Z07:00") }

// sameContent tells whether a and b differ only in meta.versionId and
// meta.lastUpdated, so that an update from a to b changes nothing.
func sameContent(a, b fhir.Resource) bool {
	ea, errA := fhir.EncodeJSON(unstamped(a))
	eb, errB := fhir.EncodeJSON(unstamped(b))
	return errA == nil && errB == nil && bytes.Equal(ea, eb)
}

// unstamped is a shallow copy of r without meta.versionId and
// meta.lastUpdated (and without meta when nothing else is in it).
func unstamped(r fhir.Resource) fhir.Resource {
	out := make(fhir.Resource, len(r))
	for k, v := range r {
		out[k] = v
	}
	if meta, ok := r["meta"].(map[string]any); ok {
		m := make(map[string]any, len(meta))
		for k, v := range meta {
			if k != "versionId" && k != "lastUpdated" {
				m[k] = v
			}
		}
		if len(m) == 0 {
			delete(out, "meta")
		} else {
			out["meta"] = m
		}
	}
	return out
}

// clone returns a deep copy of a stored resource, nil for nil.
func clone(r fhir.Resource) fhir.Resource {
	if r == nil {
		return nil
	}
	b, err := fhir.EncodeJSON(r)
	if err != nil {
		return nil // never for a stored resource: it was parsed from JSON
	}
	out, err := fhir.ParseJSON(b)
	if err != nil {
		return nil
	}
	return out
}

// Resources returns the current version of every resource of type typ
// that is not deleted, in order of creation. The caller owns the result.
func (s *Server) Resources(typ string) []fhir.Resource {
	s.mu.Lock()
	defer s.mu.Unlock()
	ts := s.types[typ]
	if ts == nil {
		return nil
	}
	var out []fhir.Resource
	for _, id := range ts.ids {
		if h := ts.byID[id]; !h.deleted() {
			out = append(out, clone(h.current().res))
		}
	}
	return out
}

// History returns every version of typ/id, oldest first: History(t,
// id)[i] is version i+1, nil where that version is a deletion. It is nil
// for a resource the server never had. The caller owns the result.
func (s *Server) History(typ, id string) []fhir.Resource {
	s.mu.Lock()
	defer s.mu.Unlock()
	h := s.lookup(typ, id)
	if h == nil {
		return nil
	}
	out := make([]fhir.Resource, len(h.versions))
	for i, v := range h.versions {
		out[i] = clone(v.res)
	}
	return out
}

// match is one resource a search found.
type match struct {
	id string
	h  *history
}

// search returns the current, not deleted resources of typ that meet
// every criterion, in order of creation.
func (s *Server) search(typ string, crit []criterion) []match {
	ts := s.types[typ]
	if ts == nil {
		return nil
	}
	var out []match
	for _, id := range ts.ids {
		h := ts.byID[id]
		if h.deleted() {
			continue
		}
		ok := true
		for _, c := range crit {
			if !c(id, h.current().res) {
				ok = false
				break
			}
		}
		if ok {
			out = append(out, match{id, h})
		}
	}
	return out
}

// criterion is one search parameter: does the resource with this id meet it?
type criterion func(id string, r fhir.Resource) bool

// searchError is a search the server does not understand; answered 400.
type searchError struct{ msg string }

func (e *searchError) Error() string { return e.msg }

// criteria reads the search parameters of q: identifier and _id; other
// parameters starting with "_" (_format, _count, …) are ignored. Each
// parameter must hold, and each comma-separated value of one is an "or".
func criteria(q url.Values) ([]criterion, error) {
	var out []criterion
	for name, values := range q {
		for _, v := range values {
			alts := splitEscaped(v, ',')
			switch {
			case name == "identifier":
				toks := make([]token, len(alts))
				for i, a := range alts {
					toks[i] = parseToken(a)
				}
				out = append(out, func(_ string, r fhir.Resource) bool {
					for _, t := range toks {
						if t.matchesIdentifier(r["identifier"]) {
							return true
						}
					}
					return false
				})
			case name == "_id":
				ids := make([]string, len(alts))
				for i, a := range alts {
					ids[i] = unescape(a)
				}
				out = append(out, func(id string, _ fhir.Resource) bool {
					for _, want := range ids {
						if id == want {
							return true
						}
					}
					return false
				})
			case name == "_lastUpdated":
				cmp, at, err := parseDateSearch(v)
				if err != nil {
					return nil, err
				}
				out = append(out, func(_ string, r fhir.Resource) bool {
					meta, _ := r["meta"].(map[string]any)
					s, _ := meta["lastUpdated"].(string)
					t, err := time.Parse(time.RFC3339Nano, s)
					return err == nil && cmp(t.Compare(at))
				})
			case strings.HasPrefix(name, "_"):
				// a result parameter: nothing to match
			default:
				return nil, &searchError{"unknown search parameter " + strconv.Quote(name) + ": this server knows identifier and _id"}
			}
		}
	}
	return out, nil
}

// parseDateSearch reads a date search value with its prefix (gt, ge, lt,
// le, eq; eq when none) and an instant.
func parseDateSearch(v string) (func(c int) bool, time.Time, error) {
	prefix := "eq"
	if len(v) > 2 && v[0] >= 'a' && v[0] <= 'z' {
		prefix, v = v[:2], v[2:]
	}
	at, err := time.Parse(time.RFC3339Nano, v)
	if err != nil {
		return nil, at, &searchError{"_lastUpdated: want an instant with a prefix gt, ge, lt, le or eq"}
	}
	cmp := map[string]func(int) bool{
		"gt": func(c int) bool { return c > 0 }, "ge": func(c int) bool { return c >= 0 },
		"lt": func(c int) bool { return c < 0 }, "le": func(c int) bool { return c <= 0 },
		"eq": func(c int) bool { return c == 0 },
	}[prefix]
	if cmp == nil {
		return nil, at, &searchError{"_lastUpdated: unknown prefix " + strconv.Quote(prefix)}
	}
	return cmp, at, nil
}

// token is a parsed token search value: system|code, |code, system| or code.
type token struct {
	system, value string
	hasSystem     bool // a "|" was given: system must equal system ("" = none)
	anyValue      bool // "system|": any value
}

func parseToken(s string) token {
	parts := splitEscaped(s, '|')
	if len(parts) == 1 {
		return token{value: unescape(parts[0])}
	}
	sys, val := unescape(parts[0]), unescape(strings.Join(parts[1:], "|"))
	return token{system: sys, value: val, hasSystem: true, anyValue: val == ""}
}

// matchesIdentifier tells whether an identifier element (a list, or one
// for types where it does not repeat) holds an identifier matching t.
func (t token) matchesIdentifier(elem any) bool {
	var list []any
	switch e := elem.(type) {
	case []any:
		list = e
	case map[string]any:
		list = []any{e}
	}
	for _, item := range list {
		id, _ := item.(map[string]any)
		sys, _ := id["system"].(string)
		val, _ := id["value"].(string)
		if t.hasSystem && sys != t.system {
			continue
		}
		if t.anyValue || val == t.value {
			return true
		}
	}
	return false
}

// splitEscaped splits s at each sep not escaped by a backslash, keeping the
// escapes for unescape.
func splitEscaped(s string, sep byte) []string {
	var out []string
	start := 0
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '\\':
			i++
		case sep:
			out = append(out, s[start:i])
			start = i + 1
		}
	}
	return append(out, s[start:])
}

// unescape removes FHIR search escapes: \, \| \$ \\.
func unescape(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+1 < len(s) {
			i++
		}
		b.WriteByte(s[i])
	}
	return b.String()
}
