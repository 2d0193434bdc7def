package graphql

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"reflect"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/liaisonhq/liaison/gateway/adapters/adaptertest"
	"github.com/liaisonhq/liaison/gateway/connector"
	"github.com/liaisonhq/liaison/gateway/outbox"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

const (
	secretBody = `{"id":"P1","mrn":"SECRET-4711","name":"Jane Secretperson"}`

	// upsertFlat takes the record's fields as variables.
	upsertFlat = `# fields as variables
mutation UpsertPatient($id: ID!, $mrn: String!, $name: String) {
  upsertPatient(id: $id, mrn: $mrn, name: $name) { id }
}`
	// upsertInput takes the record as one input object.
	upsertInput   = `mutation UpsertPatient($input: PatientInput!) { upsertPatient(input: $input) { id } }`
	deletePatient = `mutation DeletePatient($id: ID!) { deletePatient(id: $id) { id } }`
)

var secrets = []string{"SECRET-4711", "Secretperson"}

func TestConformance(t *testing.T) {
	for _, opts := range []Options{
		{Mutation: upsertFlat},
		{Mutation: upsertInput, InputVariable: "input", DeleteMutation: deletePatient},
	} {
		t.Run(opts.InputVariable, func(t *testing.T) {
			adaptertest.Run(t, adaptertest.Factory{
				Target: func(t *testing.T) (adaptertest.Target, string) {
					srv := startServer(t)
					return srv, srv.URL()
				},
				New:    func(cfg connector.Config, c *http.Client) (outbox.Sender, error) { return NewWith(cfg, opts, c) },
				Config: connector.Config{Name: "conformance", Type: connector.GraphQL},
				Message: outbox.Message{ID: "m1", Connector: "conformance", RecordType: "Patient", RecordID: "P1",
					Op: outbox.Upsert, Body: []byte(secretBody), ContentType: "application/json"},
				Secrets: secrets,
			})
		})
	}
}

// start returns a test API and a Client for it with opts, with an HTTP
// client closed with the test.
func start(t *testing.T, opts Options) (*server, *Client) {
	t.Helper()
	srv := startServer(t)
	tr := &http.Transport{}
	t.Cleanup(tr.CloseIdleConnections)
	c, err := NewWith(connector.Config{Name: "api", Type: connector.GraphQL, Endpoint: srv.URL()}, opts, &http.Client{Transport: tr})
	if err != nil {
		t.Fatal(err)
	}
	return srv, c
}

func message(op outbox.Op, body string) outbox.Message {
	return outbox.Message{ID: "m1", Connector: "api", RecordType: "Patient", RecordID: "P1", Op: op,
		Body: []byte(body), ContentType: "application/json", IdempotencyKey: "key-1", Attempt: 1}
}

func only(t *testing.T, srv *server) received {
	t.Helper()
	reqs := srv.Requests()
	if len(reqs) != 1 {
		t.Fatalf("%d requests, want 1", len(reqs))
	}
	return reqs[0]
}

func TestRequests(t *testing.T) {
	tests := []struct {
		name      string
		opts      Options
		m         outbox.Message
		query     string
		operation string
		variables string
	}{
		{"body as variables", Options{Mutation: upsertFlat}, message(outbox.Upsert, secretBody),
			upsertFlat, "mutation UpsertPatient", secretBody},
		{"body as input", Options{Mutation: upsertInput, InputVariable: "input"}, message(outbox.Upsert, secretBody),
			upsertInput, "mutation UpsertPatient", `{"input":` + secretBody + `}`},
		{"array as input", Options{Mutation: `mutation($input: [String!]!) { tag(names: $input) }`, InputVariable: "input"}, message(outbox.Upsert, `["a","b"]`),
			`mutation($input: [String!]!) { tag(names: $input) }`, "mutation", `{"input":["a","b"]}`},
		{"delete", Options{Mutation: upsertFlat, DeleteMutation: deletePatient}, message(outbox.Delete, secretBody),
			deletePatient, "mutation DeletePatient", `{"id":"P1"}`},
		{"named among several", Options{Mutation: upsertInput + "\nmutation Other($x: Int) { other(x: $x) }\nquery Q { q }", OperationName: "UpsertPatient", InputVariable: "input"},
			message(outbox.Upsert, secretBody), upsertInput + "\nmutation Other($x: Int) { other(x: $x) }\nquery Q { q }", "mutation UpsertPatient", `{"input":` + secretBody + `}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv, c := start(t, tt.opts)
			if err := c.Send(context.Background(), tt.m); err != nil {
				t.Fatalf("Send: %v", err)
			}
			r := only(t, srv)
			if r.Query != tt.query || r.Operation != tt.operation {
				t.Errorf("query %q ran %q, want %q running %q", r.Query, r.Operation, tt.query, tt.operation)
			}
			var got, want any
			_ = json.Unmarshal(mustJSON(t, r.Variables), &got)
			_ = json.Unmarshal([]byte(tt.variables), &want)
			if !reflect.DeepEqual(got, want) {
				t.Errorf("variables %v, want %v", got, want)
			}
			for h, want := range map[string]string{
				"Content-Type":    "application/json",
				"Idempotency-Key": "key-1",
				"Accept":          "application/graphql-response+json, application/json;q=0.9",
			} {
				if got := r.Header.Get(h); got != want {
					t.Errorf("%s %q, want %q", h, got, want)
				}
			}
			var raw map[string]json.RawMessage
			_ = json.Unmarshal(r.Body, &raw)
			if _, ok := raw["operationName"]; ok != (tt.operation != "mutation") {
				t.Errorf("operationName sent: %v, for operation %q", ok, tt.operation)
			}
		})
	}
}

func mustJSON(t *testing.T, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestServerRejects: what a real server refuses to run reaches the
// outbox with the right verdict.
func TestServerRejects(t *testing.T) {
	t.Run("missing variable", func(t *testing.T) {
		_, c := start(t, Options{Mutation: upsertFlat})
		err := c.Send(context.Background(), message(outbox.Upsert, `{"id":"P1","name":"Jane Secretperson"}`))
		var se *outbox.SendError
		if !errors.As(err, &se) || !se.Permanent || se.Status != 200 || !strings.Contains(err.Error(), "BAD_USER_INPUT") {
			t.Fatalf("got %v, want a Permanent BAD_USER_INPUT", err)
		}
		noSecrets(t, err)
		if !strings.Contains(string(se.Response), "$mrn") {
			t.Errorf("Response %q, want the answer", se.Response)
		}
	})
}

func TestAnswers(t *testing.T) {
	const secretMsg = `"message":"Patient Jane Secretperson (SECRET-4711) is invalid"`
	errs := func(codes ...string) string {
		var parts []string
		for _, c := range codes {
			e := `{` + secretMsg + `,"path":["upsertPatient","input",0,"name"]`
			if c != "" {
				e += `,"extensions":{"code":"` + c + `"}`
			}
			parts = append(parts, e+`}`)
		}
		return `"errors":[` + strings.Join(parts, ",") + `]`
	}
	const (
		done = iota
		retry
		dead
	)
	tests := []struct {
		name       string
		opts       Options
		status     int
		header     http.Header
		body       string
		verdict    int
		wantStatus int
		wantErr    string
	}{
		{name: "data", status: 200, body: `{"data":{"upsertPatient":{"id":"1"}}}`, verdict: done},
		{name: "data and empty errors", status: 200, body: `{"data":{"upsertPatient":null},"errors":[]}`, verdict: done},
		{name: "INTERNAL_SERVER_ERROR", status: 200, body: `{"data":null,` + errs("INTERNAL_SERVER_ERROR") + `}`, verdict: retry,
			wantErr: "1 GraphQL error: INTERNAL_SERVER_ERROR at upsertPatient.input.0.name"},
		{name: "RATE_LIMITED with Retry-After", status: 200, header: http.Header{"Retry-After": {"12"}}, body: `{` + errs("RATE_LIMITED") + `}`, verdict: retry},
		{name: "all transient", status: 200, body: `{"data":null,` + errs("TIMEOUT", "SERVICE_UNAVAILABLE", "THROTTLED") + `}`, verdict: retry,
			wantErr: "3 GraphQL errors"},
		{name: "partial data, transient", status: 200, body: `{"data":{"upsertPatient":{"id":"1"}},` + errs("TIMEOUT") + `}`, verdict: retry},
		{name: "BAD_USER_INPUT", status: 200, body: `{"data":null,` + errs("BAD_USER_INPUT") + `}`, verdict: dead, wantStatus: 200, wantErr: "BAD_USER_INPUT"},
		{name: "GRAPHQL_VALIDATION_FAILED", status: 200, body: `{` + errs("GRAPHQL_VALIDATION_FAILED") + `}`, verdict: dead, wantStatus: 200},
		{name: "UNAUTHENTICATED", status: 200, body: `{` + errs("UNAUTHENTICATED") + `}`, verdict: dead, wantStatus: 200},
		{name: "FORBIDDEN", status: 200, body: `{` + errs("FORBIDDEN") + `}`, verdict: dead, wantStatus: 200},
		{name: "mixed", status: 200, body: `{` + errs("INTERNAL_SERVER_ERROR", "BAD_USER_INPUT") + `}`, verdict: dead, wantStatus: 200},
		{name: "no code", status: 200, body: `{` + errs("") + `}`, verdict: dead, wantStatus: 200, wantErr: "no code"},
		{name: "many", status: 200, body: `{` + errs("A", "B", "C", "D", "E") + `}`, verdict: dead, wantStatus: 200, wantErr: "5 GraphQL errors: A at upsertPatient.input.0.name, B at upsertPatient.input.0.name, C at upsertPatient.input.0.name, 2 more"},
		{name: "malformed error", status: 200, body: `{"errors":[{"message":1,"extensions":"x","path":{}}]}`, verdict: dead, wantStatus: 200},
		{name: "own retry codes", opts: Options{RetryCodes: []string{"BUSY"}}, status: 200, body: `{` + errs("BUSY") + `}`, verdict: retry},
		{name: "own retry codes replace the default", opts: Options{RetryCodes: []string{"BUSY"}}, status: 200, body: `{` + errs("TIMEOUT") + `}`, verdict: dead, wantStatus: 200},
		{name: "neither data nor errors", status: 200, body: `{}`, verdict: retry, wantErr: "neither data nor errors"},
		{name: "data null", status: 200, body: `{"data":null}`, verdict: retry},
		{name: "not JSON", status: 200, body: `<html>Jane Secretperson</html>`, verdict: retry, wantErr: "not a GraphQL response"},
		{name: "JSON array", status: 200, body: `[1]`, verdict: retry},
		{name: "errors not a list", status: 200, body: `{"errors":"SECRET-4711"}`, verdict: retry},
		{name: "400 validation", status: 400, body: `{` + errs("GRAPHQL_VALIDATION_FAILED") + `}`, verdict: dead, wantStatus: 400,
			wantErr: "Bad Request: 1 GraphQL error: GRAPHQL_VALIDATION_FAILED"},
		{name: "500 with errors", status: 500, body: `{` + errs("BAD_USER_INPUT") + `}`, verdict: retry, wantStatus: 500},
		{name: "503 with Retry-After", status: 503, header: http.Header{"Retry-After": {"12"}}, body: "busy", verdict: retry, wantStatus: 503},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			opts := tt.opts
			opts.Mutation = upsertFlat
			srv, c := start(t, opts)
			srv.Reply(tt.status, tt.header, tt.body)
			err := c.Send(context.Background(), message(outbox.Upsert, secretBody))
			if tt.verdict == done {
				if err != nil {
					t.Fatalf("Send: %v, want nil", err)
				}
				return
			}
			var se *outbox.SendError
			if !errors.As(err, &se) {
				t.Fatalf("got %v, want a SendError", err)
			}
			// A 4xx is dead by its status; Permanent is the adapter's own verdict on a 2xx.
			if want := tt.verdict == dead && tt.wantStatus < 300; se.Permanent != want {
				t.Errorf("Permanent = %v, want %v", se.Permanent, want)
			}
			if se.Status != tt.wantStatus {
				t.Errorf("Status = %d, want %d", se.Status, tt.wantStatus)
			}
			if tt.header.Get("Retry-After") != "" && se.RetryAfter != 12*time.Second {
				t.Errorf("RetryAfter = %v, want 12s", se.RetryAfter)
			}
			if tt.wantErr != "" && !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("error %q, want it to hold %q", err, tt.wantErr)
			}
			if string(se.Response) != tt.body {
				t.Errorf("Response %q, want the answer", se.Response)
			}
			noSecrets(t, err)
		})
	}
}

func TestPermanent(t *testing.T) {
	xml := message(outbox.Upsert, `<patient>SECRET-4711</patient>`)
	xml.ContentType = "application/xml"
	noID := message(outbox.Delete, secretBody)
	noID.RecordID = ""
	badKey := message(outbox.Upsert, secretBody)
	badKey.IdempotencyKey = "k\nX: y"
	tests := []struct {
		name string
		opts Options
		m    outbox.Message
		want string
	}{
		{"not JSON", Options{Mutation: upsertFlat}, message(outbox.Upsert, `{"mrn":"SECRET-4711"`), "not valid JSON"},
		{"XML", Options{Mutation: upsertFlat}, xml, `not "application/xml"`},
		{"no body", Options{Mutation: upsertFlat}, message(outbox.Upsert, " "), "without a body"},
		{"array as variables", Options{Mutation: upsertFlat}, message(outbox.Upsert, `["SECRET-4711"]`), "not a JSON object"},
		{"delete without mutation", Options{Mutation: upsertFlat}, message(outbox.Delete, secretBody), "no delete mutation"},
		{"delete without id", Options{Mutation: upsertFlat, DeleteMutation: deletePatient}, noID, "no id"},
		{"unknown op", Options{Mutation: upsertFlat}, message("merge", secretBody), "unknown operation"},
		{"idempotency key", Options{Mutation: upsertFlat}, badKey, "idempotency key"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv, c := start(t, tt.opts)
			err := c.Send(context.Background(), tt.m)
			var se *outbox.SendError
			if !errors.As(err, &se) || !se.Permanent || se.Status != 0 {
				t.Fatalf("got %#v, want a Permanent SendError", err)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %q, want it to hold %q", err, tt.want)
			}
			noSecrets(t, err)
			if n := len(srv.Requests()); n != 0 {
				t.Errorf("%d requests sent", n)
			}
		})
	}
}

// TestDefaultClient: without a client, Delivery.Timeout bounds an attempt.
func TestDefaultClient(t *testing.T) {
	srv := startServer(t)
	srv.SetDelay(time.Minute)
	cfg := connector.Config{Name: "api", Type: connector.GraphQL, Endpoint: srv.URL()}
	cfg.Delivery.Timeout = connector.Duration(100 * time.Millisecond)
	c, err := NewWith(cfg, Options{Mutation: upsertFlat}, nil)
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	err = c.Send(context.Background(), message(outbox.Upsert, secretBody))
	var se *outbox.SendError
	if !errors.As(err, &se) || se.Status != 0 || !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("got %v, want a SendError with status 0 for the deadline", err)
	}
	if d := time.Since(start); d > 3*time.Second {
		t.Errorf("took %v", d)
	}
	t.Cleanup(http.DefaultClient.CloseIdleConnections)
}

func TestNew(t *testing.T) {
	const endpoint = "https://api.example/graphql"
	tests := []struct {
		name     string
		endpoint string
		typ      connector.Type
		opts     Options
		err      string
	}{
		{name: "flat", endpoint: endpoint, opts: Options{Mutation: upsertFlat}},
		{name: "input and delete", endpoint: endpoint, typ: "GraphQL", opts: Options{Mutation: upsertInput, InputVariable: "input", DeleteMutation: deletePatient}},
		{name: "anonymous", endpoint: endpoint, opts: Options{Mutation: `mutation { touch }`}},
		{name: "with fragment", endpoint: endpoint, opts: Options{Mutation: `mutation M($input: In!) { m(input: $input) { ...F } } fragment F on P { id }`, InputVariable: "input"}},
		{name: "New without options", endpoint: endpoint, err: "mutation: missing"},
		{name: "no endpoint", opts: Options{Mutation: upsertFlat}, err: "endpoint: missing"},
		{name: "credentials", endpoint: "https://u:SECRET@api.example/graphql", opts: Options{Mutation: upsertFlat}, err: "credentials"},
		{name: "type", endpoint: endpoint, typ: connector.REST, opts: Options{Mutation: upsertFlat}, err: `not "graphql"`},
		{name: "a query", endpoint: endpoint, opts: Options{Mutation: `query Q { patients { id } }`}, err: "a query, not a mutation"},
		{name: "shorthand", endpoint: endpoint, opts: Options{Mutation: `{ patients { id } }`}, err: "a query, not a mutation"},
		{name: "two without a name", endpoint: endpoint, opts: Options{Mutation: upsertFlat + " mutation B { b }"}, err: "2 operations"},
		{name: "unknown name", endpoint: endpoint, opts: Options{Mutation: upsertFlat, OperationName: "Nope"}, err: `no operation named "Nope"`},
		{name: "input not declared", endpoint: endpoint, opts: Options{Mutation: upsertFlat, InputVariable: "input"}, err: "does not declare $input"},
		{name: "bad input name", endpoint: endpoint, opts: Options{Mutation: upsertInput, InputVariable: "in-put"}, err: "inputVariable"},
		{name: "delete without $id", endpoint: endpoint, opts: Options{Mutation: upsertFlat, DeleteMutation: `mutation D($key: ID!) { d(id: $key) }`}, err: "deleteMutation: the mutation does not declare $id"},
		{name: "delete name alone", endpoint: endpoint, opts: Options{Mutation: upsertFlat, DeleteOperationName: "D"}, err: "without a deleteMutation"},
		{name: "unbalanced", endpoint: endpoint, opts: Options{Mutation: `mutation { a { b }`}, err: "never closed"},
		{name: "unterminated string", endpoint: endpoint, opts: Options{Mutation: `mutation { a(x: "b) }`}, err: "unterminated string"},
		{name: "type definition", endpoint: endpoint, opts: Options{Mutation: `type Patient { id: ID }`}, err: "executable document"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := NewWith(connector.Config{Name: "api", Type: tt.typ, Endpoint: tt.endpoint}, tt.opts, nil)
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("got %v, want an error about %q", err, tt.err)
				}
				noSecrets(t, err)
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if c.cfg.timeout != defaultTimeout {
				t.Errorf("timeout %v", c.cfg.timeout)
			}
		})
	}
	if _, err := New(connector.Config{Name: "api", Type: connector.GraphQL, Endpoint: endpoint}, nil); err == nil || !strings.Contains(err.Error(), "mutation: missing") {
		t.Errorf("New: %v, want an error naming the missing mutation", err)
	}
}

func TestOperations(t *testing.T) {
	tests := []struct {
		doc  string
		want []operation
		err  string
	}{
		{doc: upsertFlat, want: []operation{{"mutation", "UpsertPatient", []string{"id", "mrn", "name"}}}},
		{doc: `mutation($a: [In!]! = [{x: 1, y: "}"}], $b: Int = -1.5e3) @dir(x: 1) { f(a: $a) }`, want: []operation{{"mutation", "", []string{"a", "b"}}}},
		{doc: "\uFEFF# c { \nquery { a } mutation M { b(s: \"\"\"multi\n} \\\"\"\" line\"\"\") }, subscription S { c }",
			want: []operation{{"query", "", nil}, {"mutation", "M", nil}, {"subscription", "S", nil}}},
		{doc: `mutation M { f(s: "\u00e9\u{1F600}\n") }`, want: []operation{{"mutation", "M", nil}}},
		{doc: `fragment F on T { a } mutation M { ...F }`, want: []operation{{"mutation", "M", nil}}},
		{doc: ``, want: nil},
		{doc: `mutation M { a ]`, err: `unbalanced "]"`},
		{doc: `mutation M`, err: "no selection set"},
		{doc: `mutation M { f(s: "\q") }`, err: "bad escape"},
		{doc: `mutation M { f(x: 01) }`, err: "malformed number"},
		{doc: `mutation M { f(x: 1.) }`, err: "malformed number"},
		{doc: `mutation M { é }`, err: "unexpected character"},
		{doc: `fragment F { a }`, err: "malformed fragment"},
		{doc: `mutation M = { a }`, err: `unexpected "="`},
		{doc: `mutation M { a(s: """x) }`, err: "unterminated block string"},
	}
	for _, tt := range tests {
		t.Run(tt.doc, func(t *testing.T) {
			got, err := operations(tt.doc)
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("got %v, want an error about %q", err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got %+v, want %+v", got, tt.want)
			}
		})
	}
}

// noSecrets fails when err shows patient data.
func noSecrets(t *testing.T, err error) {
	t.Helper()
	msg := err.Error()
	for _, s := range append(secrets, "is invalid", "was not provided") {
		if strings.Contains(msg, s) {
			t.Errorf("error shows %q: %s", s, msg)
		}
	}
}

// FuzzOperations: lexing is a round trip — the tokens, written back with
// a space between each, lex to the same tokens and give the same
// operations.
func FuzzOperations(f *testing.F) {
	f.Add(upsertFlat)
	f.Add(upsertInput + " " + deletePatient)
	f.Add(`mutation($a: [In!]! = [{x: 1, y: "}"}], $b: Int = -1.5e3) @dir(x: 1) { f(a: $a, s: """a\"""b""") }`)
	f.Add("# comment\n{ a } fragment F on T { ...F }")
	f.Fuzz(func(t *testing.T, doc string) {
		toks, err := lex(doc)
		if err != nil {
			return
		}
		texts := make([]string, len(toks))
		for i, tk := range toks {
			texts[i] = tk.text
		}
		again, err := lex(strings.Join(texts, " "))
		if err != nil {
			t.Fatalf("tokens %q do not lex again: %v", texts, err)
		}
		if len(again) != len(toks) {
			t.Fatalf("%q: %d tokens, then %d", doc, len(toks), len(again))
		}
		for i := range toks {
			if again[i].text != toks[i].text || again[i].kind != toks[i].kind {
				t.Fatalf("%q: token %d %q became %q", doc, i, toks[i].text, again[i].text)
			}
		}
		ops1, err1 := operations(doc)
		ops2, err2 := operations(strings.Join(texts, " "))
		if (err1 == nil) != (err2 == nil) || !reflect.DeepEqual(ops1, ops2) {
			t.Fatalf("%q: operations %v %v, then %v %v", doc, ops1, err1, ops2, err2)
		}
	})
}
