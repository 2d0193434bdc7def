package fhirrest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"strings"

	"github.com/liaisonhq/liaison/fhir"
	"github.com/liaisonhq/liaison/gateway/adapters/httpresult"
	"github.com/liaisonhq/liaison/gateway/connector"
	"github.com/liaisonhq/liaison/gateway/outbox"
)

const mimeFHIRJSON = "application/fhir+json"

// Client delivers outbox messages to one FHIR R4 server over its RESTful
// API. It is safe for concurrent use.
type Client struct {
	cfg  config
	http *http.Client
}

var _ outbox.Sender = (*Client)(nil)

// New returns a Client for the connector cfg: cfg.Endpoint is the FHIR
// base, or a base followed by a resource type. client carries the
// connector's outbound authentication in its Transport; nil means a plain
// client bounded by cfg.Delivery.Timeout. New does no I/O; it fails only
// on a bad cfg.
func New(cfg connector.Config, client *http.Client) (*Client, error) {
	c, err := newConfig(cfg)
	if err != nil {
		return nil, fmt.Errorf("fhirrest: connector %q: %w", cfg.Name, err)
	}
	if client == nil {
		client = &http.Client{Timeout: c.timeout}
	}
	return &Client{cfg: c, http: client}, nil
}

// Send delivers m: an upsert as a conditional update by identifier, else an
// update by id; a delete as a conditional delete by identifier, else a
// delete by id. It returns nil when the server answers 2xx (or 404/410 to
// a delete), and otherwise a *outbox.SendError: Permanent when m cannot be
// delivered at all (no resource, no identifier and no id), Status 0 when no
// answer came within the attempt's timeout. Errors never hold the payload.
func (c *Client) Send(ctx context.Context, m outbox.Message) error {
	ctx, cancel := context.WithTimeout(ctx, c.cfg.timeout)
	defer cancel()
	r, err := c.plan(m)
	if err != nil {
		return &outbox.SendError{Permanent: true, Err: err}
	}
	var body io.Reader
	if r.body != nil {
		body = bytes.NewReader(r.body)
	}
	req, err := http.NewRequestWithContext(ctx, r.method, r.url, body)
	if err != nil { // the URL is built from a checked base and escaped parts
		return &outbox.SendError{Permanent: true, Err: fmt.Errorf("%s: cannot build the request", r.op)}
	}
	req.Header.Set("Accept", mimeFHIRJSON)
	if r.body != nil {
		req.Header.Set("Content-Type", mimeFHIRJSON)
	}
	req.Header.Set("Prefer", "return=minimal")
	if m.IdempotencyKey != "" {
		req.Header.Set("Idempotency-Key", m.IdempotencyKey)
		req.Header.Set("X-Request-Id", m.IdempotencyKey)
	}
	resp, err := c.http.Do(req)
	err = httpresult.Classify(r.op, resp, err)
	if m.Op == outbox.Delete {
		err = httpresult.IgnoreAbsent(err)
	}
	return err
}

// request is one planned FHIR interaction.
type request struct {
	method string
	url    string
	op     string // names it in errors: "conditional PUT Appointment"
	body   []byte // nil for none
}

// plan turns m into the interaction that delivers it. Its errors say why
// m can never be delivered.
func (c *Client) plan(m outbox.Message) (request, error) {
	var method string
	switch m.Op {
	case outbox.Upsert:
		method = http.MethodPut
	case outbox.Delete:
		method = http.MethodDelete
	default:
		return request{}, fmt.Errorf("unknown operation %q", m.Op)
	}
	if !validHeaderValue(m.IdempotencyKey) {
		return request{}, errors.New("the idempotency key is not a valid header value")
	}
	if len(bytes.TrimSpace(m.Body)) == 0 {
		if m.Op == outbox.Delete {
			return c.planBareDelete(m)
		}
		return request{}, errors.New("upsert without a body")
	}
	res, rewritten, err := c.resource(m)
	if err != nil {
		return request{}, err
	}
	typ := res.Type()
	r := request{method: method}
	switch system, value := identifier(res); {
	case system != "":
		r.op = "conditional " + method + " " + typ
		r.url = c.cfg.base + "/" + typ + "?identifier=" + url.QueryEscape(escapeToken(system)+"|"+escapeToken(value))
	case res.ID() != "":
		id := res.ID()
		if id == "." || id == ".." {
			return request{}, fmt.Errorf("%s %s: the resource's id is not a path segment", method, typ)
		}
		r.op = method + " " + typ
		r.url = c.cfg.base + "/" + typ + "/" + url.PathEscape(id)
	default:
		return request{}, fmt.Errorf("%s %s: the resource has neither an identifier with system and value nor an id", method, typ)
	}
	if m.Op == outbox.Upsert {
		r.body = m.Body
		if rewritten {
			if r.body, err = fhir.EncodeJSON(res); err != nil {
				return request{}, fmt.Errorf("%s: cannot encode the resource as JSON", r.op)
			}
		}
	}
	return r, nil
}

// planBareDelete plans a delete whose message has no body: by the
// record's id, as a resource of the endpoint's type (or of the record's
// type, when that is a resource type).
func (c *Client) planBareDelete(m outbox.Message) (request, error) {
	typ := c.cfg.typ
	if typ == "" && fhir.IsResourceType(m.RecordType) {
		typ = m.RecordType
	}
	switch {
	case typ == "":
		return request{}, errors.New("delete without a body, and neither the endpoint nor the record names a resource type")
	case m.RecordID == "" || m.RecordID == "." || m.RecordID == "..":
		return request{}, fmt.Errorf("DELETE %s: no body and no usable record id", typ)
	}
	return request{
		method: http.MethodDelete,
		url:    c.cfg.base + "/" + typ + "/" + url.PathEscape(m.RecordID),
		op:     "DELETE " + typ,
	}, nil
}

// resource parses m's body as a resource. A JSON object without
// resourceType (a rename mapping's output) gets the endpoint's type;
// rewritten tells that the body must be encoded anew.
func (c *Client) resource(m outbox.Message) (res fhir.Resource, rewritten bool, err error) {
	mt, _, _ := mime.ParseMediaType(m.ContentType)
	switch {
	case mt == "" || strings.HasSuffix(mt, "json"):
		res, err = fhir.ParseJSON(m.Body)
	case strings.HasSuffix(mt, "xml"):
		res, err = fhir.ParseXML(m.Body)
		rewritten = true
	default:
		return nil, false, fmt.Errorf("body of type %q: expected FHIR JSON or XML", mt)
	}
	if err != nil {
		return nil, false, bodyError(err)
	}
	rt, has := res["resourceType"]
	if !has {
		if c.cfg.typ == "" {
			return nil, false, errors.New("body has no resourceType, and the endpoint names no resource type")
		}
		res["resourceType"] = c.cfg.typ
		return res, true, nil
	}
	if typ, ok := rt.(string); !ok || !fhir.IsResourceType(typ) {
		return nil, false, errors.New("body's resourceType is not an R4 resource type")
	}
	return res, rewritten, nil
}

// bodyError describes why a body is not a resource: the decoder's first
// finding, which says where and what, never the value found.
func bodyError(err error) error {
	var (
		syntax *fhir.SyntaxError
		issues fhir.Issues
	)
	switch {
	case errors.As(err, &syntax):
		return fmt.Errorf("body is not a FHIR resource: %w", syntax)
	case errors.As(err, &issues) && len(issues) > 0:
		more := ""
		if len(issues) > 1 {
			more = fmt.Sprintf(" (and %d more)", len(issues)-1)
		}
		return fmt.Errorf("body is not a FHIR resource: %s%s", issues[0], more)
	}
	return errors.New("body is not a FHIR resource")
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

// identifier returns the system and value of the resource's first
// identifier that has both, or "", "".
func identifier(res fhir.Resource) (system, value string) {
	var list []any
	switch id := res["identifier"].(type) {
	case []any:
		list = id
	case map[string]any: // the types where identifier does not repeat
		list = []any{id}
	}
	for _, item := range list {
		id, _ := item.(map[string]any)
		s, _ := id["system"].(string)
		v, _ := id["value"].(string)
		if s != "" && v != "" {
			return s, v
		}
	}
	return "", ""
}

// tokenEscaper escapes the characters that are syntax in a FHIR search
// token (hl7.org/fhir/R4/search.html#escaping).
var tokenEscaper = strings.NewReplacer(`\`, `\\`, `|`, `\|`, `,`, `\,`, `$`, `\$`)

func escapeToken(s string) string { return tokenEscaper.Replace(s) }
