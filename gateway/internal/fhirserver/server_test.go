package fhirserver

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/liaisonhq/liaison/fhir"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// client is an HTTP client whose idle connections are closed with the test.
func client(t *testing.T) *http.Client {
	t.Helper()
	tr := &http.Transport{}
	t.Cleanup(tr.CloseIdleConnections)
	return &http.Client{Transport: tr, Timeout: 10 * time.Second}
}

// reply is what do got back.
type reply struct {
	status int
	header http.Header
	res    fhir.Resource // the parsed body, nil when empty
}

// issue returns the first issue of an OperationOutcome reply.
func (r reply) issue(t *testing.T) map[string]any {
	t.Helper()
	if r.res.Type() != "OperationOutcome" {
		t.Fatalf("body is a %q, want an OperationOutcome", r.res.Type())
	}
	list, _ := r.res["issue"].([]any)
	if len(list) == 0 {
		t.Fatal("OperationOutcome without issues")
	}
	return list[0].(map[string]any)
}

// do sends one request with a FHIR JSON body (when body is not "") and
// headers given as name, value pairs.
func do(t *testing.T, c *http.Client, method, url, body string, hdr ...string) reply {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, url, rd)
	if err != nil {
		t.Fatal(err)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/fhir+json")
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	r := reply{status: resp.StatusCode, header: resp.Header}
	if len(data) > 0 {
		if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/fhir+json") {
			t.Errorf("%s %s: Content-Type %q, want application/fhir+json", method, url, ct)
		}
		r.res, err = fhir.ParseJSON(data)
		if err != nil {
			t.Fatalf("%s %s: body is not FHIR JSON: %v", method, url, err)
		}
	}
	return r
}

func versionID(r fhir.Resource) string {
	meta, _ := r["meta"].(map[string]any)
	v, _ := meta["versionId"].(string)
	return v
}

const (
	patient1  = `{"resourceType":"Patient","identifier":[{"system":"urn:mrn","value":"1"}],"active":true}`
	patient1b = `{"resourceType":"Patient","identifier":[{"system":"urn:mrn","value":"1"}],"active":false}`
)

func TestCreate(t *testing.T) {
	srv, c := Start(t), client(t)
	r := do(t, c, "POST", srv.URL()+"/Patient", `{"resourceType":"Patient","id":"ignored","active":true}`)
	if r.status != http.StatusCreated {
		t.Fatalf("status %d, want 201", r.status)
	}
	id := r.res.ID()
	if id == "" || id == "ignored" {
		t.Errorf("id %q: want one the server assigned", id)
	}
	if got, want := r.header.Get("Location"), srv.URL()+"/Patient/"+id+"/_history/1"; got != want {
		t.Errorf("Location %q, want %q", got, want)
	}
	if got := r.header.Get("ETag"); got != `W/"1"` {
		t.Errorf(`ETag %q, want W/"1"`, got)
	}
	if _, err := http.ParseTime(r.header.Get("Last-Modified")); err != nil {
		t.Errorf("Last-Modified: %v", err)
	}
	if v := versionID(r.res); v != "1" {
		t.Errorf("meta.versionId %q, want 1", v)
	}
	if meta := r.res["meta"].(map[string]any); meta["lastUpdated"] == nil {
		t.Error("meta.lastUpdated missing")
	}
	if got := do(t, c, "GET", srv.URL()+"/Patient/"+id, ""); got.status != http.StatusOK || got.res.ID() != id {
		t.Errorf("read back: status %d, id %q", got.status, got.res.ID())
	}
}

func TestCreateIfNoneExist(t *testing.T) {
	srv, c := Start(t), client(t)
	first := do(t, c, "POST", srv.URL()+"/Patient", patient1, "If-None-Exist", "identifier=urn:mrn|1")
	if first.status != http.StatusCreated {
		t.Fatalf("first: status %d, want 201", first.status)
	}
	again := do(t, c, "POST", srv.URL()+"/Patient", patient1, "If-None-Exist", "identifier=urn:mrn|1")
	if again.status != http.StatusOK || again.res.ID() != first.res.ID() {
		t.Errorf("again: status %d id %q, want 200 with %q", again.status, again.res.ID(), first.res.ID())
	}
	if n := len(srv.Resources("Patient")); n != 1 {
		t.Fatalf("%d patients, want 1", n)
	}
	do(t, c, "POST", srv.URL()+"/Patient", patient1) // a second one, unconditionally
	r := do(t, c, "POST", srv.URL()+"/Patient", patient1, "If-None-Exist", "identifier=urn:mrn|1")
	if r.status != http.StatusPreconditionFailed || r.issue(t)["code"] != "conflict" {
		t.Errorf("several matches: status %d, want 412 conflict", r.status)
	}
}

func TestUpdate(t *testing.T) {
	srv, c := Start(t), client(t)
	url := srv.URL() + "/Patient/p1"
	tests := []struct {
		name    string
		url     string
		body    string
		hdr     []string
		status  int
		version string // of Patient/p1 afterwards
	}{
		{"create with the client's id", url, `{"resourceType":"Patient","id":"p1","active":true}`, nil, 201, "1"},
		{"update", url, `{"resourceType":"Patient","id":"p1","active":false}`, nil, 200, "2"},
		{"no change makes no version", url, `{"resourceType":"Patient","id":"p1","active":false}`, nil, 200, "2"},
		{"If-Match current", url, `{"resourceType":"Patient","id":"p1","active":true}`, []string{"If-Match", `W/"2"`}, 200, "3"},
		{"If-Match stale", url, `{"resourceType":"Patient","id":"p1"}`, []string{"If-Match", `W/"2"`}, 412, "3"},
		{"If-Match malformed", url, `{"resourceType":"Patient","id":"p1"}`, []string{"If-Match", `2`}, 400, "3"},
		{"body id differs", url, `{"resourceType":"Patient","id":"p2"}`, nil, 400, "3"},
		{"body without id", url, `{"resourceType":"Patient"}`, nil, 400, "3"},
		{"wrong type", url, `{"resourceType":"Appointment","id":"p1"}`, nil, 400, "3"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := do(t, c, "PUT", tt.url, tt.body, tt.hdr...)
			if r.status != tt.status {
				t.Fatalf("status %d, want %d", r.status, tt.status)
			}
			if r.status >= 400 {
				r.issue(t)
			} else {
				if got, want := r.header.Get("ETag"), `W/"`+tt.version+`"`; got != want {
					t.Errorf("ETag %q, want %q", got, want)
				}
				if got, want := r.header.Get("Location"), url+"/_history/"+tt.version; got != want {
					t.Errorf("Location %q, want %q", got, want)
				}
			}
			if h := srv.History("Patient", "p1"); len(h) != mustAtoi(t, tt.version) {
				t.Errorf("%d versions, want %s", len(h), tt.version)
			}
		})
	}
}

func mustAtoi(t *testing.T, s string) int {
	t.Helper()
	n, err := strconv.Atoi(s)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func TestConditionalUpdate(t *testing.T) {
	srv, c := Start(t), client(t)
	url := srv.URL() + "/Patient?identifier=urn%3Amrn%7C1"

	r := do(t, c, "PUT", url, patient1, "Prefer", "return=minimal")
	if r.status != http.StatusCreated || r.res != nil {
		t.Fatalf("no match: status %d (body %v), want 201 without a body", r.status, r.res)
	}
	id := strings.Split(strings.TrimPrefix(r.header.Get("Location"), srv.URL()+"/Patient/"), "/")[0]

	r = do(t, c, "PUT", url, patient1b)
	if r.status != http.StatusOK || r.res.ID() != id || versionID(r.res) != "2" {
		t.Fatalf("one match: status %d id %q version %q, want 200 %q 2", r.status, r.res.ID(), versionID(r.res), id)
	}
	if got := srv.Resources("Patient"); len(got) != 1 || got[0]["active"] != false {
		t.Fatalf("resources %v, want one inactive patient", got)
	}

	r = do(t, c, "PUT", url, `{"resourceType":"Patient","id":"other","active":true}`)
	if r.status != http.StatusBadRequest {
		t.Errorf("match with another id: status %d, want 400", r.status)
	}

	r = do(t, c, "PUT", srv.URL()+"/Patient?identifier=urn%3Amrn%7C9", `{"resourceType":"Patient","id":"p9"}`)
	if r.status != http.StatusCreated || r.res.ID() != "p9" {
		t.Errorf("no match, with id: status %d id %q, want 201 p9", r.status, r.res.ID())
	}

	do(t, c, "POST", srv.URL()+"/Patient", patient1)
	r = do(t, c, "PUT", url, patient1)
	if r.status != http.StatusPreconditionFailed || r.issue(t)["code"] != "conflict" {
		t.Errorf("two matches: status %d, want 412 conflict", r.status)
	}

	r = do(t, c, "PUT", srv.URL()+"/Patient", patient1)
	if r.status != http.StatusBadRequest {
		t.Errorf("no criteria: status %d, want 400", r.status)
	}
	r = do(t, c, "PUT", srv.URL()+"/Patient?name=x", patient1)
	if r.status != http.StatusBadRequest {
		t.Errorf("unknown parameter: status %d, want 400", r.status)
	}
}

func TestDelete(t *testing.T) {
	srv, c := Start(t), client(t)
	do(t, c, "PUT", srv.URL()+"/Patient/p1", `{"resourceType":"Patient","id":"p1"}`)

	r := do(t, c, "DELETE", srv.URL()+"/Patient/p1", "")
	if r.status != http.StatusOK || r.issue(t)["severity"] != "information" {
		t.Fatalf("delete: status %d, want 200 with an information OperationOutcome", r.status)
	}
	if got := r.header.Get("ETag"); got != `W/"2"` {
		t.Errorf(`ETag %q, want W/"2"`, got)
	}
	r = do(t, c, "GET", srv.URL()+"/Patient/p1", "")
	if r.status != http.StatusGone || r.issue(t)["code"] != "deleted" {
		t.Errorf("read deleted: status %d, want 410 deleted", r.status)
	}
	if r = do(t, c, "DELETE", srv.URL()+"/Patient/p1", ""); r.status != http.StatusOK {
		t.Errorf("delete again: status %d, want 200", r.status)
	}
	if r = do(t, c, "DELETE", srv.URL()+"/Patient/nope", "", "Prefer", "return=minimal"); r.status != http.StatusNoContent || r.res != nil {
		t.Errorf("delete missing, minimal: status %d, want 204 without a body", r.status)
	}
	if h := srv.History("Patient", "p1"); len(h) != 2 || h[0] == nil || h[1] != nil {
		t.Errorf("history %v, want a version and a deletion", h)
	}
	if r = do(t, c, "GET", srv.URL()+"/Patient/p1/_history/1", ""); r.status != http.StatusOK || versionID(r.res) != "1" {
		t.Errorf("vread 1: status %d", r.status)
	}
	if r = do(t, c, "GET", srv.URL()+"/Patient/p1/_history/2", ""); r.status != http.StatusGone {
		t.Errorf("vread the deletion: status %d, want 410", r.status)
	}
	if r = do(t, c, "GET", srv.URL()+"/Patient/p1/_history/3", ""); r.status != http.StatusNotFound {
		t.Errorf("vread beyond: status %d, want 404", r.status)
	}
	if r = do(t, c, "PUT", srv.URL()+"/Patient/p1", `{"resourceType":"Patient","id":"p1"}`); r.status != http.StatusCreated || versionID(r.res) != "3" {
		t.Errorf("recreate: status %d version %q, want 201 3", r.status, versionID(r.res))
	}
	r = do(t, c, "GET", srv.URL()+"/Patient/p1/_history", "")
	if r.status != http.StatusOK || r.res["type"] != "history" || len(r.res["entry"].([]any)) != 3 {
		t.Errorf("history: status %d, %v", r.status, r.res)
	}
}

func TestConditionalDelete(t *testing.T) {
	srv, c := Start(t), client(t)
	url := srv.URL() + "/Patient?identifier=urn%3Amrn%7C1"
	if r := do(t, c, "DELETE", url, ""); r.status != http.StatusOK {
		t.Errorf("no match: status %d, want 200", r.status)
	}
	do(t, c, "POST", srv.URL()+"/Patient", patient1)
	do(t, c, "POST", srv.URL()+"/Patient", patient1)
	if r := do(t, c, "DELETE", url, ""); r.status != http.StatusPreconditionFailed {
		t.Errorf("two matches: status %d, want 412", r.status)
	}
	first := srv.Resources("Patient")[0].ID()
	do(t, c, "DELETE", srv.URL()+"/Patient/"+first, "")
	if r := do(t, c, "DELETE", url, "", "Prefer", "return=minimal"); r.status != http.StatusNoContent {
		t.Errorf("one match: status %d, want 204", r.status)
	}
	if n := len(srv.Resources("Patient")); n != 0 {
		t.Errorf("%d patients left, want 0", n)
	}
}

func TestSearch(t *testing.T) {
	srv, c := Start(t), client(t)
	do(t, c, "POST", srv.URL()+"/Patient", patient1)
	do(t, c, "POST", srv.URL()+"/Patient", `{"resourceType":"Patient","identifier":[{"system":"urn:other","value":"1"}]}`)
	do(t, c, "POST", srv.URL()+"/Patient", `{"resourceType":"Patient","identifier":[{"system":"urn:x","value":"a|b"}]}`)
	tests := []struct {
		query string
		total int
	}{
		{"identifier=urn:mrn|1", 1},
		{"identifier=1", 2},
		{"identifier=urn:other|", 1},
		{"identifier=|1", 0},
		{"identifier=urn:mrn|1,urn:other|1", 2},
		{`identifier=urn:x|a\|b`, 1},
		{"identifier=urn:mrn|2", 0},
		{"_count=10", 3},
		{"_id=1", 1},
	}
	for _, tt := range tests {
		t.Run(tt.query, func(t *testing.T) {
			r := do(t, c, "GET", srv.URL()+"/Patient?"+strings.ReplaceAll(strings.ReplaceAll(tt.query, "|", "%7C"), `\`, "%5C"), "")
			if r.status != http.StatusOK || r.res["type"] != "searchset" {
				t.Fatalf("status %d type %v", r.status, r.res["type"])
			}
			if got := r.res["total"]; got != number(tt.total) {
				t.Errorf("total %v, want %d", got, tt.total)
			}
			entries, _ := r.res["entry"].([]any)
			if len(entries) != tt.total {
				t.Errorf("%d entries, want %d", len(entries), tt.total)
			}
		})
	}
	if r := do(t, c, "GET", srv.URL()+"/Patient?family=x", ""); r.status != http.StatusBadRequest {
		t.Errorf("unknown parameter: status %d, want 400", r.status)
	}
}

func TestInvalid(t *testing.T) {
	srv, c := Start(t), client(t)
	tests := []struct {
		name        string
		method, url string
		body        string
		contentType string
		status      int
		code        string
		expression  string
	}{
		{"malformed JSON", "POST", "/fhir/Patient", `{"resourceType":"Patient",`, "", 400, "structure", "line 1, col 27"},
		{"no resourceType", "POST", "/fhir/Patient", `{"active":true}`, "", 400, "required", ""},
		{"unknown element", "POST", "/fhir/Patient", `{"resourceType":"Patient","colour":"blue"}`, "", 422, "structure", "Patient.colour"},
		{"code outside the value set", "PUT", "/fhir/Patient/p1", `{"resourceType":"Patient","id":"p1","gender":"robot"}`, "", 422, "code-invalid", "Patient.gender"},
		{"unknown type", "GET", "/fhir/Patients/1", "", "", 404, "not-supported", ""},
		{"not FHIR", "POST", "/fhir/Patient", `<Patient/>`, "application/xml", 415, "not-supported", ""},
		{"bad id", "GET", "/fhir/Patient/a_b", "", "", 400, "value", ""},
		{"outside the base", "GET", "/other", "", "", 404, "not-found", ""},
		{"method", "PATCH", "/fhir/Patient/p1", "", "", 405, "not-supported", ""},
		{"read unknown", "GET", "/fhir/Patient/nobody", "", "", 404, "not-found", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req, err := http.NewRequest(tt.method, strings.TrimSuffix(srv.URL(), BasePath)+tt.url, strings.NewReader(tt.body))
			if err != nil {
				t.Fatal(err)
			}
			ct := tt.contentType
			if ct == "" {
				ct = "application/fhir+json"
			}
			req.Header.Set("Content-Type", ct)
			resp, err := c.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			data, _ := io.ReadAll(resp.Body)
			if resp.StatusCode != tt.status {
				t.Fatalf("status %d, want %d: %s", resp.StatusCode, tt.status, data)
			}
			r := reply{status: resp.StatusCode}
			if r.res, err = fhir.ParseJSON(data); err != nil {
				t.Fatalf("body: %v", err)
			}
			is := r.issue(t)
			if is["severity"] != "error" || is["code"] != tt.code {
				t.Errorf("issue %v, want error %s", is, tt.code)
			}
			if tt.expression != "" {
				if ex, _ := is["expression"].([]any); len(ex) == 0 || ex[0] != tt.expression {
					t.Errorf("expression %v, want %s", is["expression"], tt.expression)
				}
			}
		})
	}
	if n := len(srv.Resources("Patient")); n != 0 {
		t.Errorf("%d patients stored from invalid requests", n)
	}
}

func TestFailNext(t *testing.T) {
	srv, c := Start(t), client(t)
	srv.FailNext(2, http.StatusServiceUnavailable, "7")
	for i := range 2 {
		r := do(t, c, "PUT", srv.URL()+"/Patient/p1", `{"resourceType":"Patient","id":"p1"}`)
		if r.status != http.StatusServiceUnavailable || r.header.Get("Retry-After") != "7" || r.issue(t)["code"] != "transient" {
			t.Fatalf("request %d: status %d Retry-After %q, want 503 7 transient", i, r.status, r.header.Get("Retry-After"))
		}
	}
	if r := do(t, c, "PUT", srv.URL()+"/Patient/p1", `{"resourceType":"Patient","id":"p1"}`); r.status != http.StatusCreated {
		t.Errorf("third: status %d, want 201", r.status)
	}
	srv.FailNext(1, http.StatusTooManyRequests, "")
	if r := do(t, c, "GET", srv.URL()+"/Patient/p1", ""); r.status != http.StatusTooManyRequests || r.header.Get("Retry-After") != "" {
		t.Errorf("429: status %d Retry-After %q", r.status, r.header.Get("Retry-After"))
	}

	reqs := srv.Requests()
	if len(reqs) != 4 {
		t.Fatalf("%d requests recorded, want 4", len(reqs))
	}
	want := []int{503, 503, 201, 429}
	for i, r := range reqs {
		if r.Status != want[i] {
			t.Errorf("request %d: status %d, want %d", i, r.Status, want[i])
		}
	}
	if reqs[0].Method != "PUT" || reqs[0].Path != "/fhir/Patient/p1" || reqs[0].Header.Get("Content-Type") != "application/fhir+json" {
		t.Errorf("request 0 = %+v", reqs[0])
	}
	if got := srv.Count("PUT"); got != 3 {
		t.Errorf("Count(PUT) = %d, want 3", got)
	}
	if got := srv.Count(""); got != 4 {
		t.Errorf("Count() = %d, want 4", got)
	}
}

func TestGone(t *testing.T) {
	srv, c := Start(t), client(t)
	srv.Gone(true)
	if r := do(t, c, "GET", srv.URL()+"/metadata", ""); r.status != http.StatusGone || r.issue(t)["code"] != "not-found" {
		t.Errorf("gone: status %d, want 410", r.status)
	}
	srv.Gone(false)
	if r := do(t, c, "GET", srv.URL()+"/metadata", ""); r.status != http.StatusOK || r.res.Type() != "CapabilityStatement" {
		t.Errorf("back: status %d, %s", r.status, r.res.Type())
	}
}

func TestSetDown(t *testing.T) {
	srv, c := Start(t), client(t)
	srv.SetDown(true)
	resp, err := c.Get(srv.URL() + "/metadata")
	if err == nil {
		resp.Body.Close()
		t.Fatalf("down: got status %d, want a connection error", resp.StatusCode)
	}
	srv.SetDown(false)
	if r := do(t, c, "GET", srv.URL()+"/metadata", ""); r.status != http.StatusOK {
		t.Errorf("up again: status %d", r.status)
	}
	if reqs := srv.Requests(); reqs[0].Status != 0 {
		t.Errorf("down request recorded with status %d, want 0", reqs[0].Status)
	}
}

func TestSetDelay(t *testing.T) {
	srv, c := Start(t), client(t)
	srv.SetDelay(10 * time.Second)
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "GET", srv.URL()+"/metadata", nil)
	start := time.Now()
	resp, err := c.Do(req)
	if err == nil {
		resp.Body.Close()
		t.Fatal("want a timeout")
	}
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("error %v, want a deadline", err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("took %v", d)
	}
	srv.SetDelay(50 * time.Millisecond)
	start = time.Now()
	if r := do(t, c, "GET", srv.URL()+"/metadata", ""); r.status != http.StatusOK || time.Since(start) < 50*time.Millisecond {
		t.Errorf("short delay: status %d after %v", r.status, time.Since(start))
	}
}

// TestCloseEndsDelay: a request held by SetDelay does not hold up the
// test's cleanup.
func TestCloseEndsDelay(t *testing.T) {
	done := make(chan struct{})
	t.Cleanup(func() { <-done }) // runs after the server is closed
	srv, c := Start(t), client(t)
	srv.SetDelay(time.Hour)
	go func() {
		defer close(done)
		if resp, err := c.Get(srv.URL() + "/metadata"); err == nil {
			resp.Body.Close()
		}
	}()
	time.Sleep(100 * time.Millisecond) // the request is waiting, most likely
}

func TestConcurrent(t *testing.T) {
	srv, c := Start(t), client(t)
	var wg sync.WaitGroup
	for i := range 20 {
		wg.Go(func() {
			body := `{"resourceType":"Patient","identifier":[{"system":"urn:mrn","value":"` + string(rune('a'+i)) + `"}]}`
			req, _ := http.NewRequest("PUT", srv.URL()+"/Patient?identifier=urn%3Amrn%7C"+string(rune('a'+i)), strings.NewReader(body))
			req.Header.Set("Content-Type", "application/fhir+json")
			resp, err := c.Do(req)
			if err != nil {
				t.Error(err)
				return
			}
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			srv.Resources("Patient")
			srv.Requests()
		})
	}
	wg.Wait()
	if n := len(srv.Resources("Patient")); n != 20 {
		t.Errorf("%d patients, want 20", n)
	}
}

func TestResourcesAreCopies(t *testing.T) {
	srv, c := Start(t), client(t)
	do(t, c, "PUT", srv.URL()+"/Patient/p1", `{"resourceType":"Patient","id":"p1","active":true}`)
	srv.Resources("Patient")[0]["active"] = false
	srv.History("Patient", "p1")[0]["active"] = false
	if got := srv.Resources("Patient")[0]["active"]; got != true {
		t.Errorf("stored resource changed through a copy: active %v", got)
	}
}

// TestServeHTTP uses the server without a listener of its own.
func TestServeHTTP(t *testing.T) {
	srv := New()
	if srv.URL() != "" {
		t.Errorf("URL() = %q before serving", srv.URL())
	}
	w := httptest.NewRecorder()
	req := httptest.NewRequest("PUT", "http://example.test/fhir/Patient/p1", bytes.NewBufferString(`{"resourceType":"Patient","id":"p1"}`))
	req.Header.Set("Content-Type", "application/fhir+json")
	srv.ServeHTTP(w, req)
	if w.Code != http.StatusCreated {
		t.Fatalf("status %d, want 201", w.Code)
	}
	if got, want := w.Header().Get("Location"), "http://example.test/fhir/Patient/p1/_history/1"; got != want {
		t.Errorf("Location %q, want %q", got, want)
	}
}
