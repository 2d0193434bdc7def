package soap

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strings"
	"time"

	"github.com/liaisonhq/liaison/gateway/adapters/httpresult"
	"github.com/liaisonhq/liaison/gateway/connector"
	"github.com/liaisonhq/liaison/gateway/outbox"
)

// Client delivers outbox messages to a SOAP service: XML bodies to the
// configured operation, HL7 v2 bodies to a CDC IIS's submitSingleMessage.
// It is safe for concurrent use.
type Client struct {
	cfg  config
	http *http.Client
	// now and random make WS-Security's Created and Nonce; tests replace
	// them.
	now    func() time.Time
	random io.Reader
}

var _ outbox.Sender = (*Client)(nil)

// New returns a Client for the connector cfg with the zero Options: SOAP
// 1.1 without WS-Security for XML bodies, the CDC IIS over SOAP 1.2 for
// HL7 v2 bodies. See NewWith.
func New(cfg connector.Config, client *http.Client) (*Client, error) {
	return NewWith(cfg, Options{}, client)
}

// NewWith returns a Client for the connector cfg, whose Endpoint is the
// service's URL, with the settings connector.Config has no field for in
// opts. client carries the connector's transport-level authentication (TLS
// client certificates, an HTTP Authorization) in its Transport; nil means
// a plain client bounded by cfg.Delivery.Timeout. NewWith does no I/O; it
// fails only on a bad cfg or opts, and its errors hold no secret.
func NewWith(cfg connector.Config, opts Options, client *http.Client) (*Client, error) {
	c, err := newConfig(cfg, opts)
	if err != nil {
		return nil, fmt.Errorf("soap: connector %q: %w", cfg.Name, err)
	}
	if client == nil {
		client = &http.Client{Timeout: c.timeout}
	}
	return &Client{cfg: c, http: client, now: time.Now, random: rand.Reader}, nil
}

// Send delivers m in one SOAP request. It returns nil when the service
// accepted it, and otherwise a *outbox.SendError (see the package
// documentation for the verdicts). Errors never hold the payload, the
// credentials or the service's free text.
func (c *Client) Send(ctx context.Context, m outbox.Message) error {
	ctx, cancel := context.WithTimeout(ctx, c.cfg.timeout)
	defer cancel()
	r, err := c.plan(m)
	if err != nil {
		return &outbox.SendError{Permanent: true, Err: err}
	}
	var header []byte
	if t := c.cfg.opts.Security; t != nil {
		if header, err = t.header(r.version, c.now(), c.random); err != nil {
			return &outbox.SendError{Err: fmt.Errorf("%s: %w", r.op, err)}
		}
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.cfg.endpoint, bytes.NewReader(envelope(r.version, header, r.payload)))
	if err != nil { // the endpoint was checked by New
		return &outbox.SendError{Permanent: true, Err: fmt.Errorf("%s: cannot build the request", r.op)}
	}
	req.Header.Set("Content-Type", r.version.mediaType(r.action))
	if r.version == V11 {
		req.Header.Set("SOAPAction", quoted(r.action))
	}
	req.Header.Set("Accept", r.version.accept())
	if m.IdempotencyKey != "" {
		req.Header.Set("Idempotency-Key", m.IdempotencyKey)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return httpresult.Classify(r.op, resp, err)
	}
	return judge(r, resp)
}

// request is one planned SOAP request.
type request struct {
	op      string // names it in errors: "POST submitSingleMessage"
	version Version
	action  string
	payload []byte // the element in soap:Body
	// iis tells that the answer is a submitSingleMessageResponse holding
	// an acknowledgment of the message whose MSH-10 is controlID.
	iis       bool
	controlID string
}

// plan turns m into the request that delivers it. Its errors say why m
// can never be delivered, without its content.
func (c *Client) plan(m outbox.Message) (request, error) {
	o := c.cfg.opts
	r := request{version: o.Version, action: o.Action}
	if m.Op != outbox.Upsert && m.Op != outbox.Delete {
		return request{}, fmt.Errorf("unknown operation %q", m.Op)
	}
	if !validHeaderValue(m.IdempotencyKey) {
		return request{}, errors.New("the idempotency key is not a valid header value")
	}
	del := m.Op == outbox.Delete
	switch {
	case isHL7(m.ContentType):
		r.op, r.iis = "POST submitSingleMessage", true
		if r.version == "" {
			r.version = V12
		}
		if r.action == "" {
			r.action = IISAction
		}
		if len(bytes.TrimSpace(m.Body)) == 0 {
			return request{}, fmt.Errorf("%s: %s without a body", r.op, m.Op)
		}
		er7, id, err := hl7Request(m.Body, del)
		if err != nil {
			return request{}, fmt.Errorf("%s: %w", r.op, err)
		}
		r.payload, r.controlID = submitSingleMessage(o.IIS, er7), id
	case del:
		d := o.Delete
		if d == nil {
			return request{}, errors.New("delete: the SOAP connector has no delete operation configured")
		}
		r.op, r.action = "POST "+d.Element, d.Action
		if m.RecordID == "" || !xmlText([]byte(m.RecordID)) {
			return request{}, fmt.Errorf("%s: the record has no id usable in XML", r.op)
		}
		r.payload = deletePayload(d, m.RecordID)
	default:
		if !isXML(m.ContentType) {
			mt, _, _ := mime.ParseMediaType(m.ContentType)
			return request{}, fmt.Errorf("POST record: a SOAP connector sends XML or HL7 v2, not %q", name(mt, 64))
		}
		if len(bytes.TrimSpace(m.Body)) == 0 {
			return request{}, errors.New("POST record: upsert without a body")
		}
		payload, root, err := payloadOf(m.Body)
		if err != nil {
			return request{}, fmt.Errorf("POST record: %w", err)
		}
		r.op, r.payload = "POST "+name(root, 64), payload
	}
	if r.version == "" {
		r.version = V11
	}
	return r, nil
}

// isXML tells whether contentType is that of an XML document; "" counts
// as XML, the only kind a SOAP connector's mapping writes besides HL7 v2.
func isXML(contentType string) bool {
	if contentType == "" {
		return true
	}
	mt, _, err := mime.ParseMediaType(contentType)
	if err != nil {
		return false
	}
	return mt == "application/xml" || mt == "text/xml" || strings.HasSuffix(mt, "+xml")
}

// maxAnswer bounds the answer read. readAnswer stops at the first element
// in the Body unless that is a Fault or the IIS's response, so an answer
// cut at the bound is still understood.
const maxAnswer = 1 << 20

// maxDrain bounds what is read and thrown away after the answer so that
// the connection can be reused.
const maxDrain = 256 << 10

// judge returns the verdict on the answer resp to r: httpresult's, made
// more precise by a SOAP Fault on a 5xx, and by the envelope on a 2xx. It
// closes resp.Body.
func judge(r request, resp *http.Response) error {
	body, readErr := readBody(resp.Body)
	ok := resp.StatusCode >= 200 && resp.StatusCode < 300
	if readErr != nil && ok {
		return &outbox.SendError{Response: bound(body), Err: fmt.Errorf("%s: read the answer: %w", r.op, readErr)}
	}
	resp.Body = io.NopCloser(bytes.NewReader(body))
	verdict := httpresult.Classify(r.op, resp, nil)
	var se *outbox.SendError
	switch {
	case verdict == nil:
		return accepted(r, resp, body)
	case errors.As(verdict, &se) && se.Status >= 500:
		if a, err := readAnswer(body, false); err == nil && a.fault != nil {
			se.Err = fmt.Errorf("%w: %s", se.Err, a.fault)
			se.Permanent = a.fault.verdict() == permanent
		}
	}
	return verdict
}

// accepted judges a 2xx answer: a Fault in it, or for the IIS its
// acknowledgment. A retry after a 2xx has Status 0, since the outbox
// reads a 2xx status as final.
func accepted(r request, resp *http.Response, body []byte) error {
	if len(bytes.TrimSpace(body)) == 0 {
		if r.iis {
			return &outbox.SendError{Err: fmt.Errorf("%s: %d without an answer: no acknowledgment", r.op, resp.StatusCode)}
		}
		return nil // a one-way operation
	}
	a, err := readAnswer(body, r.iis)
	if err != nil {
		return &outbox.SendError{Response: bound(body), Err: fmt.Errorf("%s: %d: %w", r.op, resp.StatusCode, err)}
	}
	if f := a.fault; f != nil {
		if f.verdict() == permanent {
			return &outbox.SendError{Status: resp.StatusCode, Permanent: true, Response: bound(body), Err: fmt.Errorf("%s: %s", r.op, f)}
		}
		return &outbox.SendError{
			RetryAfter: httpresult.RetryAfter(resp.Header.Get("Retry-After"), time.Now()),
			Response:   bound(body),
			Err:        fmt.Errorf("%s: %d with a %s", r.op, resp.StatusCode, f),
		}
	}
	if !r.iis {
		return nil
	}
	if a.payload.Local != "submitSingleMessageResponse" {
		return &outbox.SendError{Response: bound(body), Err: fmt.Errorf("%s: %d: the answer is not a submitSingleMessageResponse", r.op, resp.StatusCode)}
	}
	return judgeAck(r.op, a.ret, resp.StatusCode, r.controlID)
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
