package graphql

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/liaisonhq/liaison/gateway/adapters/httpresult"
	"github.com/liaisonhq/liaison/gateway/connector"
	"github.com/liaisonhq/liaison/gateway/outbox"
)

// Client delivers outbox messages to a GraphQL API as mutations. It is
// safe for concurrent use.
type Client struct {
	cfg  config
	http *http.Client
}

var _ outbox.Sender = (*Client)(nil)

// New is NewWith with the zero Options. A GraphQL connector needs at
// least its mutation, which connector.Config cannot carry yet, so New
// always fails; it exists so that the adapter has the constructor every
// adapter has, and says what is missing.
func New(cfg connector.Config, client *http.Client) (*Client, error) {
	return NewWith(cfg, Options{}, client)
}

// NewWith returns a Client for the connector cfg, whose Endpoint is the
// GraphQL endpoint's URL, running the documents in opts. client carries
// the connector's outbound authentication in its Transport; nil means a
// plain client bounded by cfg.Delivery.Timeout. NewWith does no I/O; it
// fails only on a bad cfg or opts, such as a document that is not a
// mutation or does not declare the variables it is sent.
func NewWith(cfg connector.Config, opts Options, client *http.Client) (*Client, error) {
	c, err := newConfig(cfg, opts)
	if err != nil {
		return nil, fmt.Errorf("graphql: connector %q: %w", cfg.Name, err)
	}
	if client == nil {
		client = &http.Client{Timeout: c.timeout}
	}
	return &Client{cfg: c, http: client}, nil
}

// Send runs the mutation for m. It returns nil when the API answers 2xx
// without errors, and otherwise a *outbox.SendError (see the package
// documentation for the verdicts). Errors never hold the payload or the
// API's error messages.
func (c *Client) Send(ctx context.Context, m outbox.Message) error {
	ctx, cancel := context.WithTimeout(ctx, c.cfg.timeout)
	defer cancel()
	r, err := c.plan(m)
	if err != nil {
		return &outbox.SendError{Permanent: true, Err: err}
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.cfg.endpoint, bytes.NewReader(r.body))
	if err != nil { // the endpoint was checked by New
		return &outbox.SendError{Permanent: true, Err: fmt.Errorf("%s: cannot build the request", r.op)}
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/graphql-response+json, application/json;q=0.9")
	if m.IdempotencyKey != "" {
		req.Header.Set("Idempotency-Key", m.IdempotencyKey)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return httpresult.Classify(r.op, resp, err)
	}
	return c.judge(r.op, resp)
}

// request is one planned GraphQL request.
type request struct {
	op   string // names it in errors: "POST mutation UpsertPatient"
	body []byte // the JSON request
}

// wire is a GraphQL request as it is sent (GraphQL over HTTP, 5.1).
type wire struct {
	Query         string          `json:"query"`
	OperationName string          `json:"operationName,omitempty"`
	Variables     json.RawMessage `json:"variables"`
}

// plan turns m into the request that delivers it. Its errors say why m
// can never be delivered, without its content.
func (c *Client) plan(m outbox.Message) (request, error) {
	if !validHeaderValue(m.IdempotencyKey) {
		return request{}, errors.New("the idempotency key is not a valid header value")
	}
	var (
		doc  document
		vars []byte
		err  error
	)
	switch m.Op {
	case outbox.Upsert:
		doc = c.cfg.upsert
		if vars, err = c.variables(m); err != nil {
			return request{}, fmt.Errorf("%s: %w", doc.op, err)
		}
	case outbox.Delete:
		if c.cfg.delete == nil {
			return request{}, errors.New("delete: the GraphQL connector has no delete mutation configured")
		}
		doc = *c.cfg.delete
		if m.RecordID == "" {
			return request{}, fmt.Errorf("%s: the record has no id", doc.op)
		}
		if vars, err = json.Marshal(map[string]string{"id": m.RecordID}); err != nil {
			return request{}, fmt.Errorf("%s: %w", doc.op, err)
		}
	default:
		return request{}, fmt.Errorf("unknown operation %q", m.Op)
	}
	body, err := json.Marshal(wire{Query: doc.text, OperationName: doc.operationName, Variables: vars})
	if err != nil {
		return request{}, fmt.Errorf("%s: body is not valid JSON", doc.op)
	}
	return request{op: doc.op, body: body}, nil
}

// variables returns the variables object for an upsert: the body, or
// {InputVariable: body}.
func (c *Client) variables(m outbox.Message) ([]byte, error) {
	if mt, _, err := mime.ParseMediaType(m.ContentType); m.ContentType != "" && (err != nil || mt != "application/json" && !strings.HasSuffix(mt, "+json")) {
		return nil, fmt.Errorf("a GraphQL connector sends JSON, not %q", token(mt, 64))
	}
	body := bytes.TrimSpace(m.Body)
	switch {
	case len(body) == 0:
		return nil, errors.New("upsert without a body")
	case !json.Valid(body):
		return nil, errors.New("body is not valid JSON")
	case c.cfg.input != "":
		return json.Marshal(map[string]json.RawMessage{c.cfg.input: body})
	case body[0] != '{':
		return nil, errors.New("body is not a JSON object, so it cannot be the variables: set an input variable")
	}
	return body, nil
}

// maxAnswer bounds the answer read.
const maxAnswer = 1 << 20

// maxDrain bounds what is read and thrown away after the answer so that
// the connection can be reused.
const maxDrain = 256 << 10

// judge returns the verdict on resp, the answer to the request named op:
// httpresult's for a status other than 2xx, with the GraphQL error codes
// the answer holds; for a 2xx, the verdict of its errors. It closes
// resp.Body.
func (c *Client) judge(op string, resp *http.Response) error {
	body, readErr := readBody(resp.Body)
	ok := resp.StatusCode >= 200 && resp.StatusCode < 300
	if readErr != nil && ok {
		return &outbox.SendError{Response: bound(body), Err: fmt.Errorf("%s: read the answer: %w", op, readErr)}
	}
	resp.Body = io.NopCloser(bytes.NewReader(body))
	verdict := httpresult.Classify(op, resp, nil)
	if verdict != nil {
		var se *outbox.SendError
		if a, err := readAnswer(body); err == nil && len(a.errors) > 0 && errors.As(verdict, &se) && se.Status >= 400 {
			se.Err = fmt.Errorf("%w: %s", se.Err, describe(a.errors))
		}
		return verdict
	}
	a, err := readAnswer(body)
	if err != nil {
		return &outbox.SendError{Response: bound(body), Err: fmt.Errorf("%s: %d: %w", op, resp.StatusCode, err)}
	}
	if len(a.errors) == 0 {
		if !a.data {
			return &outbox.SendError{Response: bound(body), Err: fmt.Errorf("%s: %d: the answer has neither data nor errors", op, resp.StatusCode)}
		}
		return nil
	}
	for _, e := range a.errors {
		if !c.cfg.retry[e.code] {
			return &outbox.SendError{Status: resp.StatusCode, Permanent: true, Response: bound(body),
				Err: fmt.Errorf("%s: %s", op, describe(a.errors))}
		}
	}
	// Every error is transient. Status 0: the outbox reads a 2xx as final.
	return &outbox.SendError{
		RetryAfter: httpresult.RetryAfter(resp.Header.Get("Retry-After"), time.Now()),
		Response:   bound(body),
		Err:        fmt.Errorf("%s: %d with %s", op, resp.StatusCode, describe(a.errors)),
	}
}

// answer is what a GraphQL response says, as far as the adapter needs it.
type answer struct {
	data   bool // data is present and not null
	errors []gqlError
}

// gqlError is one error of a response, without its message, which may
// echo the variables.
type gqlError struct {
	code string // extensions.code, "" when absent or not a string
	path string // "upsertPatient.input.0.name", "" when absent
}

// errNotGraphQL is returned by readAnswer for an answer that is no GraphQL
// response.
var errNotGraphQL = errors.New("the answer is not a GraphQL response")

// readAnswer reads a GraphQL response: a JSON object with data, errors or
// both. Its errors never quote the answer.
func readAnswer(body []byte) (answer, error) {
	var raw struct {
		Data   json.RawMessage   `json:"data"`
		Errors []json.RawMessage `json:"errors"`
	}
	if len(bytes.TrimSpace(body)) == 0 || json.Unmarshal(body, &raw) != nil || bytes.TrimSpace(body)[0] != '{' {
		return answer{}, errNotGraphQL
	}
	a := answer{data: len(raw.Data) > 0 && string(raw.Data) != "null"}
	for _, r := range raw.Errors {
		var e struct {
			Path       []json.RawMessage          `json:"path"`
			Extensions map[string]json.RawMessage `json:"extensions"`
		}
		_ = json.Unmarshal(r, &e) // a malformed error counts, without a code
		var ge gqlError
		_ = json.Unmarshal(e.Extensions["code"], &ge.code)
		parts := make([]string, 0, len(e.Path))
		for _, p := range e.Path {
			var s string
			var n int
			switch {
			case json.Unmarshal(p, &s) == nil:
				parts = append(parts, token(s, 64))
			case json.Unmarshal(p, &n) == nil:
				parts = append(parts, strconv.Itoa(n))
			default:
				parts = append(parts, "?")
			}
		}
		ge.path = strings.Join(parts, ".")
		a.errors = append(a.errors, ge)
	}
	return a, nil
}

// maxErrors bounds the errors an error message names.
const maxErrors = 3

// describe names errors by code and path: "2 GraphQL errors:
// BAD_USER_INPUT at upsertPatient.input.name, INTERNAL_SERVER_ERROR".
func describe(errs []gqlError) string {
	parts := make([]string, 0, maxErrors+1)
	for i, e := range errs {
		if i == maxErrors {
			parts = append(parts, fmt.Sprintf("%d more", len(errs)-i))
			break
		}
		s := token(e.code, 64)
		if s == "" {
			s = "no code"
		}
		if e.path != "" {
			s += " at " + e.path
		}
		parts = append(parts, s)
	}
	what := "1 GraphQL error"
	if len(errs) != 1 {
		what = fmt.Sprintf("%d GraphQL errors", len(errs))
	}
	return what + ": " + strings.Join(parts, ", ")
}

// readBody reads at most maxAnswer bytes of an answer, then drains (up
// to a bound) and closes it.
func readBody(rc io.ReadCloser) ([]byte, error) {
	defer func() {
		_, _ = io.CopyN(io.Discard, rc, maxDrain)
		_ = rc.Close()
	}()
	return io.ReadAll(io.LimitReader(rc, maxAnswer))
}

// bound returns at most outbox.MaxResponse bytes of b, nil for none.
func bound(b []byte) []byte {
	if len(b) == 0 {
		return nil
	}
	return bytes.Clone(b[:min(len(b), outbox.MaxResponse)])
}

// token keeps a code, field name or media type from an answer or a
// message when it is a short run of letters, digits and _-.+/, cut to n
// bytes; otherwise it is "?". It returns "" for "".
func token(s string, n int) string {
	if s == "" {
		return ""
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || strings.IndexByte("_-.+/", c) >= 0) {
			return "?"
		}
	}
	if len(s) > n {
		s = s[:n] + "…"
	}
	return s
}

// validHeaderValue tells whether s can be sent as a header value: no
// control characters but tab.
func validHeaderValue(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; (c < ' ' && c != '\t') || c == 0x7f {
			return false
		}
	}
	return true
}
