package graphql

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"
)

// server is a GraphQL API for tests that reads requests as a real server
// does (GraphQL over HTTP): POST of application/json holding a JSON object
// with a string query, an optional operationName and a variables object.
// It finds the operation to run (operationName is required when the
// document holds several), checks that every non-null variable without a
// default is given, and answers like Apollo Server: 400 with
// BAD_REQUEST or GRAPHQL_VALIDATION_FAILED for requests it cannot run,
// 200 with BAD_USER_INPUT for missing variables, else 200 with data. It
// records each request and implements adaptertest.Target; FailNext
// answers an errors body whose extensions carry an OperationOutcome, as
// the Target contract asks. Safe for concurrent use.
type server struct {
	ts     *httptest.Server
	closed chan struct{}

	mu         sync.Mutex
	replies    []reply
	failN      int
	failStatus int
	retryAfter string
	delay      time.Duration
	reqs       []received
}

// reply is one scripted answer.
type reply struct {
	status int
	header http.Header
	body   string
}

// received is one request the server received.
type received struct {
	Header        http.Header
	Body          []byte
	Query         string
	OperationName string
	Variables     map[string]json.RawMessage
	Operation     string // the operation the server ran
}

func startServer(t testing.TB) *server {
	t.Helper()
	s := &server{closed: make(chan struct{})}
	s.ts = httptest.NewServer(http.HandlerFunc(s.serve))
	t.Cleanup(func() {
		close(s.closed)
		s.ts.Close()
	})
	return s
}

func (s *server) URL() string { return s.ts.URL + "/graphql" }

// Reply makes the next request (after those already scripted) that the
// server can run get this answer.
func (s *server) Reply(status int, header http.Header, body string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.replies = append(s.replies, reply{status, header, body})
}

func (s *server) FailNext(n, status int, retryAfter string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.failN, s.failStatus, s.retryAfter = max(n, 0), status, retryAfter
}

func (s *server) SetDelay(d time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.delay = d
}

func (s *server) Requests() []received {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]received, len(s.reqs))
	for i, r := range s.reqs {
		r.Header = r.Header.Clone()
		out[i] = r
	}
	return out
}

func (s *server) Headers() []http.Header {
	reqs := s.Requests()
	out := make([]http.Header, len(reqs))
	for i, r := range reqs {
		out[i] = r.Header
	}
	return out
}

var (
	// operationRE finds the operations of a document: keyword, name, and
	// variable definitions.
	operationRE = regexp.MustCompile(`(?s)\b(query|mutation|subscription)\b\s*([_A-Za-z][_0-9A-Za-z]*)?\s*(\((.*?)\))?\s*\{`)
	// variableRE finds one variable definition: name, type, default.
	variableRE = regexp.MustCompile(`\$([_A-Za-z][_0-9A-Za-z]*)\s*:\s*([\[\]_0-9A-Za-z!]+)\s*(=)?`)
	// fieldRE finds the first field of a selection set.
	fieldRE = regexp.MustCompile(`\{\s*([_A-Za-z][_0-9A-Za-z]*)`)
)

func (s *server) serve(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(io.LimitReader(r.Body, 4<<20))
	s.mu.Lock()
	idx := len(s.reqs)
	s.reqs = append(s.reqs, received{Header: r.Header.Clone(), Body: body})
	delay := s.delay
	s.mu.Unlock()

	if delay > 0 {
		timer := time.NewTimer(delay)
		defer timer.Stop()
		select {
		case <-timer.C:
		case <-s.closed:
		case <-r.Context().Done():
			return
		}
	}

	s.mu.Lock()
	fail, status, retryAfter := s.failN > 0, s.failStatus, s.retryAfter
	if fail {
		s.failN--
	}
	s.mu.Unlock()
	if fail {
		if retryAfter != "" {
			w.Header().Set("Retry-After", retryAfter)
		}
		code := "BAD_REQUEST"
		if status == 408 || status == 429 || status >= 500 {
			code = "SERVICE_UNAVAILABLE"
		}
		respond(w, status, fmt.Sprintf(`{"errors":[{"message":"injected failure","extensions":{"code":%q,`+
			`"outcome":{"resourceType":"OperationOutcome","issue":[{"severity":"error","code":"processing","diagnostics":%q}]}}}]}`,
			code, "injected failure: "+http.StatusText(status)))
		return
	}

	if r.Method != http.MethodPost {
		w.Header().Set("Allow", "POST")
		answerError(w, http.StatusMethodNotAllowed, "BAD_REQUEST", "POST only")
		return
	}
	if mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); mt != "application/json" {
		answerError(w, http.StatusUnsupportedMediaType, "BAD_REQUEST", "want application/json")
		return
	}
	var req struct {
		Query         *string         `json:"query"`
		OperationName *string         `json:"operationName"`
		Variables     json.RawMessage `json:"variables"`
	}
	d := json.NewDecoder(bytes.NewReader(body))
	d.DisallowUnknownFields()
	if err := d.Decode(&req); err != nil {
		answerError(w, http.StatusBadRequest, "BAD_REQUEST", "body is not a GraphQL request")
		return
	}
	if req.Query == nil || strings.TrimSpace(*req.Query) == "" {
		answerError(w, http.StatusBadRequest, "BAD_REQUEST", "query missing")
		return
	}
	vars := map[string]json.RawMessage{}
	if len(req.Variables) > 0 && string(req.Variables) != "null" {
		if err := json.Unmarshal(req.Variables, &vars); err != nil || vars == nil {
			answerError(w, http.StatusBadRequest, "BAD_REQUEST", "variables must be an object")
			return
		}
	}
	opName := ""
	if req.OperationName != nil {
		opName = *req.OperationName
	}
	s.mu.Lock()
	s.reqs[idx].Query, s.reqs[idx].OperationName, s.reqs[idx].Variables = *req.Query, opName, vars
	s.mu.Unlock()

	ops := operationRE.FindAllStringSubmatchIndex(*req.Query, -1)
	var op []int
	switch {
	case len(ops) == 0:
		answerError(w, http.StatusBadRequest, "GRAPHQL_VALIDATION_FAILED", "no operation")
		return
	case opName != "":
		for _, o := range ops {
			if o[4] >= 0 && (*req.Query)[o[4]:o[5]] == opName {
				op = o
			}
		}
		if op == nil {
			answerError(w, http.StatusBadRequest, "GRAPHQL_VALIDATION_FAILED", "Unknown operation named "+opName)
			return
		}
	case len(ops) > 1:
		answerError(w, http.StatusBadRequest, "GRAPHQL_VALIDATION_FAILED", "Must provide operation name if query contains multiple operations.")
		return
	default:
		op = ops[0]
	}
	q := *req.Query
	if q[op[2]:op[3]] != "mutation" {
		answerError(w, http.StatusBadRequest, "BAD_REQUEST", "this endpoint runs mutations")
		return
	}
	if op[8] >= 0 {
		for _, v := range variableRE.FindAllStringSubmatch(q[op[8]:op[9]], -1) {
			if _, given := vars[v[1]]; !given && strings.HasSuffix(v[2], "!") && v[3] == "" {
				respond(w, http.StatusOK, fmt.Sprintf(`{"errors":[{"message":"Variable \"$%s\" of required type \"%s\" was not provided.","extensions":{"code":"BAD_USER_INPUT"}}]}`, v[1], v[2]))
				return
			}
		}
	}
	field := "ok"
	if m := fieldRE.FindStringSubmatch(q[op[1]-1:]); m != nil {
		field = m[1]
	}
	s.mu.Lock()
	s.reqs[idx].Operation = q[op[2]:op[3]]
	if op[4] >= 0 {
		s.reqs[idx].Operation += " " + q[op[4]:op[5]]
	}
	var scripted *reply
	if len(s.replies) > 0 {
		scripted = &s.replies[0]
		s.replies = s.replies[1:]
	}
	s.mu.Unlock()
	if scripted != nil {
		for k, vs := range scripted.header {
			w.Header()[k] = vs
		}
		respond(w, scripted.status, scripted.body)
		return
	}
	respond(w, http.StatusOK, fmt.Sprintf(`{"data":{%q:{"id":"1"}}}`, field))
}

func respond(w http.ResponseWriter, status int, body string) {
	if w.Header().Get("Content-Type") == "" {
		w.Header().Set("Content-Type", "application/graphql-response+json; charset=utf-8")
	}
	w.WriteHeader(status)
	_, _ = io.WriteString(w, body)
}

func answerError(w http.ResponseWriter, status int, code, message string) {
	respond(w, status, fmt.Sprintf(`{"errors":[{"message":%q,"extensions":{"code":%q}}]}`, message, code))
}
