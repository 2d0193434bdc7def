package fhirserver

import (
	"encoding/json"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/liaisonhq/liaison/fhir"
)

// idPattern is the R4 id datatype.
var idPattern = regexp.MustCompile(`^[A-Za-z0-9\-.]{1,64}$`)

// route carries out one request.
func (s *Server) route(r *http.Request) answer {
	rest, ok := strings.CutPrefix(r.URL.Path, BasePath)
	if !ok || (rest != "" && rest[0] != '/') {
		return outcome(http.StatusNotFound, fhir.IssueNotFound, "not a FHIR endpoint: the FHIR base is "+BasePath)
	}
	rest = strings.Trim(rest, "/")
	method := r.Method
	if method == http.MethodHead {
		method = http.MethodGet
	}
	if rest == "" {
		return outcome(http.StatusNotImplemented, fhir.IssueNotSupported, "transactions and batches are not supported by this server")
	}
	parts := strings.Split(rest, "/")
	if parts[0] == "metadata" && len(parts) == 1 {
		if method != http.MethodGet {
			return notAllowed(r.Method, "metadata")
		}
		return answer{status: http.StatusOK, body: capabilities()}
	}
	typ := parts[0]
	if !fhir.IsResourceType(typ) {
		return outcome(http.StatusNotFound, fhir.IssueNotSupported, "unknown resource type "+strconv.Quote(typ))
	}
	var id string
	if len(parts) > 1 {
		id = parts[1]
		if !idPattern.MatchString(id) {
			return outcome(http.StatusBadRequest, fhir.IssueValue, "invalid resource id: expected 1 to 64 of A-Z a-z 0-9 - .")
		}
	}
	base := baseURL(r)
	switch {
	case len(parts) == 1:
		switch method {
		case http.MethodGet:
			return s.searchType(r, base, typ)
		case http.MethodPost:
			return s.create(r, base, typ)
		case http.MethodPut:
			return s.conditionalUpdate(r, base, typ)
		case http.MethodDelete:
			return s.conditionalDelete(r, typ)
		}
	case len(parts) == 2:
		switch method {
		case http.MethodGet:
			return s.read(typ, id, 0)
		case http.MethodPut:
			return s.update(r, base, typ, id)
		case http.MethodDelete:
			return s.delete(r, typ, id)
		}
	case len(parts) == 3 && parts[2] == "_history":
		if method == http.MethodGet {
			return s.history(base, typ, id)
		}
	case len(parts) == 4 && parts[2] == "_history":
		vid, err := strconv.Atoi(parts[3])
		if err != nil || vid < 1 {
			return outcome(http.StatusBadRequest, fhir.IssueValue, "invalid version id: expected a positive integer")
		}
		if method == http.MethodGet {
			return s.read(typ, id, vid)
		}
	default:
		return outcome(http.StatusNotFound, fhir.IssueNotFound, "unknown path below the FHIR base")
	}
	return notAllowed(r.Method, typ)
}

func notAllowed(method, what string) answer {
	return outcome(http.StatusMethodNotAllowed, fhir.IssueNotSupported, method+" is not supported on "+what)
}

// baseURL is the FHIR base as the client reached it.
func baseURL(r *http.Request) string {
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	return scheme + "://" + r.Host + BasePath
}

// body reads, parses and checks a request's resource against the URL's
// type. A failure is returned as the answer to give.
func body(r *http.Request, typ string) (fhir.Resource, *answer) {
	fail := func(a answer) (fhir.Resource, *answer) { return nil, &a }
	mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || (mt != mimeFHIRJSON && mt != "application/json" && mt != "application/json+fhir") {
		return fail(outcome(http.StatusUnsupportedMediaType, fhir.IssueNotSupported, "unsupported Content-Type: expected application/fhir+json"))
	}
	data, err := io.ReadAll(io.LimitReader(r.Body, maxBody+1))
	if err != nil {
		return fail(outcome(http.StatusBadRequest, fhir.IssueStructure, "cannot read the request body"))
	}
	if len(data) > maxBody {
		return fail(outcome(http.StatusRequestEntityTooLarge, fhir.IssueTooCostly, fmt.Sprintf("request body larger than %d bytes", maxBody)))
	}
	res, err := fhir.ParseJSON(data)
	if err != nil {
		return fail(issues(http.StatusBadRequest, fhir.ErrorIssues(err)))
	}
	switch got := res.Type(); {
	case got == "":
		return fail(outcome(http.StatusBadRequest, fhir.IssueRequired, "resourceType is missing: expected "+typ))
	case got != typ:
		return fail(outcome(http.StatusBadRequest, fhir.IssueInvalid, fmt.Sprintf("resourceType %q does not match the URL's %q", got, typ)))
	}
	if is := fhir.Validate(res); is.HasErrors() {
		return fail(issues(http.StatusUnprocessableEntity, is))
	}
	return res, nil
}

// searchOf reads the search of a conditional interaction from a query.
// A conditional interaction without any criterion is refused.
func searchOf(q url.Values) ([]criterion, *answer) {
	crit, err := criteria(q)
	if err != nil {
		a := outcome(http.StatusBadRequest, fhir.IssueNotSupported, err.Error())
		return nil, &a
	}
	if len(crit) == 0 {
		a := outcome(http.StatusBadRequest, fhir.IssueInvalid, "a conditional interaction needs search criteria")
		return nil, &a
	}
	return crit, nil
}

// tooMany is the 412 of a conditional interaction that matched several.
func tooMany(n int, typ string) answer {
	return outcome(http.StatusPreconditionFailed, fhir.IssueConflict,
		fmt.Sprintf("%d %s resources match the criteria: expected at most one", n, typ))
}

// create is POST [type], with If-None-Exist.
func (s *Server) create(r *http.Request, base, typ string) answer {
	res, fail := body(r, typ)
	if fail != nil {
		return *fail
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if cond := r.Header.Get("If-None-Exist"); cond != "" {
		q, err := url.ParseQuery(strings.TrimPrefix(cond, "?"))
		if err != nil {
			return outcome(http.StatusBadRequest, fhir.IssueInvalid, "If-None-Exist is not a search query")
		}
		crit, fail := searchOf(q)
		if fail != nil {
			return *fail
		}
		switch found := s.search(typ, crit); len(found) {
		case 0:
		case 1:
			return written(r, base, typ, found[0].id, found[0].h, http.StatusOK)
		default:
			return tooMany(len(found), typ)
		}
	}
	id := s.newID(typ)
	h := s.put(typ, id, res, time.Now())
	return written(r, base, typ, id, h, http.StatusCreated)
}

// update is PUT [type]/[id]: update, or create with the client's id.
func (s *Server) update(r *http.Request, base, typ, id string) answer {
	res, fail := body(r, typ)
	if fail != nil {
		return *fail
	}
	switch got := res.ID(); {
	case got == "":
		return outcome(http.StatusBadRequest, fhir.IssueRequired, "the resource has no id: an update needs the id of the URL")
	case got != id:
		return outcome(http.StatusBadRequest, fhir.IssueInvalid, "the resource's id does not match the URL's id")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.save(r, base, typ, id, res)
}

// conditionalUpdate is PUT [type]?[search].
func (s *Server) conditionalUpdate(r *http.Request, base, typ string) answer {
	crit, fail := searchOf(r.URL.Query())
	if fail != nil {
		return *fail
	}
	res, fail := body(r, typ)
	if fail != nil {
		return *fail
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	switch found := s.search(typ, crit); len(found) {
	case 0:
		id := res.ID()
		if id == "" {
			if r.Header.Get("If-Match") != "" {
				return outcome(http.StatusPreconditionFailed, fhir.IssueConflict, "If-Match: no resource matches the criteria")
			}
			id = s.newID(typ)
			h := s.put(typ, id, res, time.Now())
			return written(r, base, typ, id, h, http.StatusCreated)
		}
		return s.save(r, base, typ, id, res) // update as create, with the client's id
	case 1:
		id := found[0].id
		if got := res.ID(); got != "" && got != id {
			return outcome(http.StatusBadRequest, fhir.IssueInvalid, "the resource's id does not match the id of the resource the criteria found")
		}
		return s.save(r, base, typ, id, res)
	default:
		return tooMany(len(found), typ)
	}
}

// save stores res as typ/id, creating it or making a new version, after
// If-Match. The caller holds s.mu.
func (s *Server) save(r *http.Request, base, typ, id string, res fhir.Resource) answer {
	h := s.lookup(typ, id)
	if want := r.Header.Get("If-Match"); want != "" {
		vid, ok := parseETag(want)
		if !ok {
			return outcome(http.StatusBadRequest, fhir.IssueInvalid, `If-Match: expected W/"versionId"`)
		}
		if h == nil || h.deleted() || h.vid() != vid {
			return outcome(http.StatusPreconditionFailed, fhir.IssueConflict, "If-Match: the version given is not the current version")
		}
	}
	switch {
	case h == nil || h.deleted():
		h = s.put(typ, id, res, time.Now())
		return written(r, base, typ, id, h, http.StatusCreated)
	case sameContent(h.current().res, withID(res, id)):
		return written(r, base, typ, id, h, http.StatusOK)
	default:
		h = s.put(typ, id, res, time.Now())
		return written(r, base, typ, id, h, http.StatusOK)
	}
}

// withID is a shallow copy of res with its id set.
func withID(res fhir.Resource, id string) fhir.Resource {
	out := make(fhir.Resource, len(res)+1)
	for k, v := range res {
		out[k] = v
	}
	out["id"] = id
	return out
}

// parseETag reads W/"n" (or "n") as a version id.
func parseETag(s string) (int, bool) {
	s = strings.TrimPrefix(strings.TrimSpace(s), "W/")
	if len(s) < 2 || s[0] != '"' || s[len(s)-1] != '"' {
		return 0, false
	}
	n, err := strconv.Atoi(s[1 : len(s)-1])
	return n, err == nil && n > 0
}

// written answers a create or update of typ/id: its headers, and the body
// Prefer asks for.
func written(r *http.Request, base, typ, id string, h *history, status int) answer {
	cur := h.current()
	a := answer{status: status, header: versionHeaders(cur, h.vid())}
	a.header.Set("Location", fmt.Sprintf("%s/%s/%s/_history/%d", base, typ, id, h.vid()))
	switch preferReturn(r) {
	case "minimal":
	case "OperationOutcome":
		verb := "updated"
		if status == http.StatusCreated {
			verb = "created"
		}
		a.body = outcome(status, issueInformational, fmt.Sprintf("%s/%s %s, version %d", typ, id, verb, h.vid())).body
	default:
		a.body = cur.res
	}
	return a
}

// versionHeaders are ETag and Last-Modified of one version.
func versionHeaders(v version, vid int) http.Header {
	return http.Header{
		"Etag":          {fmt.Sprintf(`W/"%d"`, vid)},
		"Last-Modified": {v.updated.UTC().Format(http.TimeFormat)},
	}
}

// preferReturn is the return preference of the Prefer header, "" for none.
func preferReturn(r *http.Request) string {
	for _, h := range r.Header.Values("Prefer") {
		for _, p := range strings.Split(h, ",") {
			if v, ok := strings.CutPrefix(strings.TrimSpace(p), "return="); ok {
				return strings.Trim(v, `"`)
			}
		}
	}
	return ""
}

// delete is DELETE [type]/[id]. Deleting what is missing or deleted
// already succeeds without a new version, as in HAPI.
func (s *Server) delete(r *http.Request, typ, id string) answer {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.delete1(r, typ, id, s.lookup(typ, id))
}

// conditionalDelete is DELETE [type]?[search]: no match succeeds, one is
// deleted, several are a 412.
func (s *Server) conditionalDelete(r *http.Request, typ string) answer {
	crit, fail := searchOf(r.URL.Query())
	if fail != nil {
		return *fail
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	switch found := s.search(typ, crit); len(found) {
	case 0:
		return s.delete1(r, typ, "", nil)
	case 1:
		return s.delete1(r, typ, found[0].id, found[0].h)
	default:
		return tooMany(len(found), typ)
	}
}

// delete1 deletes typ/id whose history is h (nil for none). The caller
// holds s.mu.
func (s *Server) delete1(r *http.Request, typ, id string, h *history) answer {
	var a answer
	if h == nil || h.deleted() {
		a = outcome(http.StatusOK, fhir.IssueNotFound, "nothing to delete: no such "+typ)
	} else {
		h = s.put(typ, id, nil, time.Now())
		a = outcome(http.StatusOK, issueInformational, fmt.Sprintf("deleted %s/%s", typ, id))
		a.header = versionHeaders(h.current(), h.vid())
	}
	if preferReturn(r) == "minimal" {
		a.status, a.body = http.StatusNoContent, nil
	}
	return a
}

// read is GET [type]/[id] (vid 0) and GET [type]/[id]/_history/[vid].
func (s *Server) read(typ, id string, vid int) answer {
	s.mu.Lock()
	defer s.mu.Unlock()
	h := s.lookup(typ, id)
	if h == nil || vid > h.vid() {
		return outcome(http.StatusNotFound, fhir.IssueNotFound, fmt.Sprintf("%s/%s is not known", typ, id))
	}
	if vid == 0 {
		vid = h.vid()
	}
	v := h.versions[vid-1]
	if v.res == nil {
		a := outcome(http.StatusGone, issueDeleted, fmt.Sprintf("%s/%s has been deleted", typ, id))
		a.header = versionHeaders(v, vid)
		return a
	}
	return answer{status: http.StatusOK, header: versionHeaders(v, vid), body: v.res}
}

// history is GET [type]/[id]/_history: a history Bundle, newest first.
func (s *Server) history(base, typ, id string) answer {
	s.mu.Lock()
	defer s.mu.Unlock()
	h := s.lookup(typ, id)
	if h == nil {
		return outcome(http.StatusNotFound, fhir.IssueNotFound, fmt.Sprintf("%s/%s is not known", typ, id))
	}
	entries := make([]any, 0, len(h.versions))
	for i := len(h.versions) - 1; i >= 0; i-- {
		v := h.versions[i]
		e := map[string]any{"fullUrl": base + "/" + typ + "/" + id}
		method, status := http.MethodPut, "200 OK"
		switch {
		case v.res == nil:
			method, status = http.MethodDelete, "204 No Content"
		case i == 0 || h.versions[i-1].res == nil:
			status = "201 Created"
		}
		if v.res != nil {
			e["resource"] = map[string]any(v.res)
		}
		e["request"] = map[string]any{"method": method, "url": typ + "/" + id}
		e["response"] = map[string]any{
			"status":       status,
			"etag":         fmt.Sprintf(`W/"%d"`, i+1),
			"lastModified": instant(v.updated),
		}
		entries = append(entries, e)
	}
	return answer{status: http.StatusOK, body: fhir.Resource{
		"resourceType": "Bundle",
		"type":         "history",
		"total":        number(len(entries)),
		"entry":        entries,
	}}
}

// searchType is GET [type]?[search]: a searchset Bundle with total.
func (s *Server) searchType(r *http.Request, base, typ string) answer {
	q := r.URL.Query()
	crit, err := criteria(q)
	if err != nil {
		return outcome(http.StatusBadRequest, fhir.IssueNotSupported, err.Error())
	}
	count, offset := 0, 0
	if c := q.Get("_count"); c != "" {
		if count, err = strconv.Atoi(c); err != nil || count < 1 {
			return outcome(http.StatusBadRequest, fhir.IssueInvalid, "_count: want a positive number")
		}
	}
	if o := q.Get("_offset"); o != "" {
		if offset, err = strconv.Atoi(o); err != nil || offset < 0 {
			return outcome(http.StatusBadRequest, fhir.IssueInvalid, "_offset: want a number")
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	found := s.search(typ, crit)
	if q.Get("_sort") == "_lastUpdated" {
		sort.SliceStable(found, func(i, j int) bool {
			return lastUpdated(found[i].h.current().res).Before(lastUpdated(found[j].h.current().res))
		})
	}
	total := len(found)
	links := []any{map[string]any{"relation": "self", "url": base + "/" + typ + queryOf(r)}}
	if offset > len(found) {
		offset = len(found)
	}
	found = found[offset:]
	if count > 0 && len(found) > count {
		found = found[:count]
		next := url.Values{}
		for k, v := range q {
			next[k] = v
		}
		next.Set("_offset", strconv.Itoa(offset+count))
		links = append(links, map[string]any{"relation": "next", "url": base + "/" + typ + "?" + next.Encode()})
	}
	b := fhir.Resource{
		"resourceType": "Bundle",
		"type":         "searchset",
		"total":        number(total),
		"link":         links,
	}
	if len(found) > 0 {
		entries := make([]any, len(found))
		for i, m := range found {
			entries[i] = map[string]any{
				"fullUrl":  base + "/" + typ + "/" + m.id,
				"resource": map[string]any(m.h.current().res),
				"search":   map[string]any{"mode": "match"},
			}
		}
		b["entry"] = entries
	}
	return answer{status: http.StatusOK, body: b}
}

// lastUpdated is a resource's meta.lastUpdated.
func lastUpdated(r fhir.Resource) time.Time {
	meta, _ := r["meta"].(map[string]any)
	s, _ := meta["lastUpdated"].(string)
	t, _ := time.Parse(time.RFC3339Nano, s)
	return t
}

func queryOf(r *http.Request) string {
	if r.URL.RawQuery == "" {
		return ""
	}
	return "?" + r.URL.RawQuery
}

// capabilities is the answer to GET metadata.
func capabilities() fhir.Resource {
	return fhir.Resource{
		"resourceType": "CapabilityStatement",
		"status":       "active",
		"date":         "2024-01-01",
		"kind":         "instance",
		"software":     map[string]any{"name": "Liaison fhirserver (tests)"},
		"fhirVersion":  "4.0.1",
		"format":       []any{"json"},
		"rest":         []any{map[string]any{"mode": "server"}},
	}
}

// number is n as a FHIR JSON number.
func number(n int) json.Number { return json.Number(strconv.Itoa(n)) }

// Issue codes fhir does not name.
const (
	issueInformational fhir.IssueType = "informational"
	issueDeleted       fhir.IssueType = "deleted"
)
