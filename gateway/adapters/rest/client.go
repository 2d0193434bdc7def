package rest

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"strings"

	"github.com/liaisonhq/liaison/gateway/adapters/httpresult"
	"github.com/liaisonhq/liaison/gateway/connector"
	"github.com/liaisonhq/liaison/gateway/outbox"
)

const mimeJSON = "application/json"

// Client delivers outbox messages to a plain JSON REST API. It is safe for
// concurrent use.
type Client struct {
	cfg  config
	http *http.Client
}

var _ outbox.Sender = (*Client)(nil)

// New returns a Client for the connector cfg, whose Endpoint is a URL
// template (see the package documentation). client carries the
// connector's outbound authentication in its Transport; nil means a plain
// client bounded by cfg.Delivery.Timeout. New does no I/O; it fails only on
// a bad cfg.
func New(cfg connector.Config, client *http.Client) (*Client, error) {
	c, err := newConfig(cfg)
	if err != nil {
		return nil, fmt.Errorf("rest: connector %q: %w", cfg.Name, err)
	}
	if client == nil {
		client = &http.Client{Timeout: c.timeout}
	}
	return &Client{cfg: c, http: client}, nil
}

// Send delivers m to the URL the endpoint template gives for it. It
// returns nil when the API answers 2xx (or 404/410 to a delete), and
// otherwise a *outbox.SendError: Permanent when m cannot be delivered at
// all (no body to upsert, no id where the URL needs one), Status 0 when no
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
	if err != nil { // the URL is built from a checked template and escaped parts
		return &outbox.SendError{Permanent: true, Err: fmt.Errorf("%s: cannot build the request", r.op)}
	}
	req.Header.Set("Accept", mimeJSON)
	if r.body != nil {
		req.Header.Set("Content-Type", r.contentType)
	}
	if m.IdempotencyKey != "" {
		req.Header.Set("Idempotency-Key", m.IdempotencyKey)
	}
	resp, err := c.http.Do(req)
	err = httpresult.Classify(r.op, resp, err)
	if m.Op == outbox.Delete {
		err = httpresult.IgnoreAbsent(err)
	}
	return err
}

// request is one planned HTTP request.
type request struct {
	method, url string
	op          string // names it in errors: "PUT Appointment"
	body        []byte // nil for none
	contentType string
}

// plan turns m into the request that delivers it. Its errors say why m
// can never be delivered.
func (c *Client) plan(m outbox.Message) (request, error) {
	var r request
	switch {
	case m.Op == outbox.Upsert && c.cfg.hasID:
		r.method = http.MethodPut
	case m.Op == outbox.Upsert:
		r.method = http.MethodPost
	case m.Op == outbox.Delete:
		r.method = http.MethodDelete
	default:
		return request{}, fmt.Errorf("unknown operation %q", m.Op)
	}
	typ := m.RecordType
	if typ == "" {
		typ = "record"
	}
	r.op = r.method + " " + typ
	if !validHeaderValue(m.IdempotencyKey) {
		return request{}, fmt.Errorf("%s: the idempotency key is not a valid header value", r.op)
	}
	appendID := m.Op == outbox.Delete && !c.cfg.hasID
	if (c.cfg.hasID || appendID) && !pathSegment(m.RecordID) {
		return request{}, fmt.Errorf("%s: the URL needs the record's id, and it has none usable", r.op)
	}
	if c.cfg.hasType && !pathSegment(m.RecordType) {
		return request{}, fmt.Errorf("%s: the URL needs the record's type, and it has none usable", r.op)
	}
	r.url = c.cfg.expand(m.RecordType, m.RecordID, appendID)
	if m.Op == outbox.Upsert {
		if len(bytes.TrimSpace(m.Body)) == 0 {
			return request{}, fmt.Errorf("%s: upsert without a body", r.op)
		}
		r.body, r.contentType = m.Body, m.ContentType
		if r.contentType == "" {
			r.contentType = mimeJSON
		}
		if mt, _, _ := mime.ParseMediaType(r.contentType); strings.HasSuffix(mt, "json") && !json.Valid(m.Body) {
			return request{}, fmt.Errorf("%s: body is not valid JSON", r.op)
		}
	}
	return r, nil
}

// expand fills the endpoint template in for a record: placeholders in the
// path are path-escaped, those in the query query-escaped; appendID adds
// "/id" to the path.
func (c config) expand(typ, id string, appendID bool) string {
	p := strings.NewReplacer(placeID, url.PathEscape(id), placeType, url.PathEscape(typ)).Replace(c.path)
	if appendID {
		p = strings.TrimRight(p, "/") + "/" + url.PathEscape(id)
	}
	if c.query != "" {
		p += "?" + strings.NewReplacer(placeID, url.QueryEscape(id), placeType, url.QueryEscape(typ)).Replace(c.query)
	}
	return p
}

// pathSegment tells whether s can be put in a URL path as one segment:
// not empty and not a dot-segment, which servers would resolve.
func pathSegment(s string) bool { return s != "" && s != "." && s != ".." }

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
