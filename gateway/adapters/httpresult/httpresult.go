// Package httpresult turns the answer to one outbound HTTP request into the
// outbox's verdict: nil for a 2xx, otherwise a *outbox.SendError. It is the
// one place where the HTTP adapters (fhirrest, rest, and those to come)
// read Retry-After, keep the response and describe a failure, so that they
// all do it alike.
//
// Descriptions never hold a URL, a request body or a response's free text:
// URLs may carry identifiers (a conditional update's
// ?identifier=system|value), and servers echo values in their
// diagnostics. The response itself is kept on the SendError, for operators.
package httpresult

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/liaisonhq/liaison/gateway/outbox"
)

// MaxRetryAfter caps a server's Retry-After: a longer wait is cut to it,
// so that a message is retried before the outbox gives up on it.
const MaxRetryAfter = 24 * time.Hour

// maxDrain bounds what is read and thrown away from a response body so
// that its connection can be reused; a longer body costs the connection.
const maxDrain = 256 << 10

// Classify returns the verdict on a request named op ("PUT Appointment";
// never a URL or anything from the payload) given what http.Client.Do
// returned:
//
//   - err != nil: a *outbox.SendError with Status 0 wrapping err without
//     its URL (context.DeadlineExceeded and context.Canceled stay
//     visible to errors.Is);
//   - a redirect that changed the method (a PUT followed as a GET): a
//     *outbox.SendError with the redirect's status, since nothing was
//     delivered;
//   - a 2xx: nil;
//   - any other status: a *outbox.SendError with the status, RetryAfter
//     from the Retry-After header, Response holding at most
//     outbox.MaxResponse bytes of the body, and Err naming op, the status
//     and, for an OperationOutcome, its first issue's code and location.
//
// It always drains (up to a bound) and closes resp.Body.
func Classify(op string, resp *http.Response, err error) error {
	if err != nil {
		if resp != nil {
			discard(resp.Body)
		}
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err // its Error() quotes the URL
		}
		return &outbox.SendError{Err: fmt.Errorf("%s: %w", op, err)}
	}
	defer discard(resp.Body)
	if status, ok := methodChanged(resp); ok {
		return &outbox.SendError{
			Status: status,
			Err:    fmt.Errorf("%s: redirected with %d to a %s, which does not deliver: give the endpoint's final URL", op, status, resp.Request.Method),
		}
	}
	if resp.StatusCode >= 200 && resp.StatusCode < 300 {
		return nil
	}
	body, _ := io.ReadAll(io.LimitReader(resp.Body, outbox.MaxResponse))
	if len(body) == 0 {
		body = nil
	}
	return &outbox.SendError{
		Status:     resp.StatusCode,
		RetryAfter: RetryAfter(resp.Header.Get("Retry-After"), time.Now()),
		Response:   body,
		Err:        errors.New(describe(op, resp, body)),
	}
}

// methodChanged reports whether http.Client followed a redirect that
// changed the request's method — a 301, 302 or 303 turns a PUT, POST or
// DELETE into a GET, whose 2xx says nothing about delivery — and the
// status of that redirect.
func methodChanged(resp *http.Response) (int, bool) {
	last := resp.Request
	if last == nil || last.Response == nil {
		return 0, false
	}
	first := last
	for first.Response != nil && first.Response.Request != nil {
		first = first.Response.Request
	}
	if first.Method == last.Method {
		return 0, false
	}
	return last.Response.StatusCode, true
}

// IgnoreAbsent returns nil for a *outbox.SendError with status 404 or 410,
// and err otherwise. Adapters apply it to deletes: the record being absent
// is what a delete wants, and a retried delete whose first attempt
// succeeded gets one of these from many servers.
func IgnoreAbsent(err error) error {
	var se *outbox.SendError
	if errors.As(err, &se) && (se.Status == http.StatusNotFound || se.Status == http.StatusGone) {
		return nil
	}
	return err
}

// RetryAfter reads a Retry-After header value, delay-seconds ("120") or an
// HTTP date, as a wait from now: rounded up to whole seconds, at most
// MaxRetryAfter, and 0 when the value is absent, malformed or in the past.
func RetryAfter(value string, now time.Time) time.Duration {
	value = strings.TrimSpace(value)
	if value == "" {
		return 0
	}
	n, err := strconv.ParseUint(value, 10, 64)
	switch {
	case errors.Is(err, strconv.ErrRange), err == nil && n >= uint64(MaxRetryAfter/time.Second):
		return MaxRetryAfter
	case err == nil:
		return time.Duration(n) * time.Second
	}
	at, err := http.ParseTime(value)
	if err != nil {
		return 0
	}
	switch d := at.Sub(now); { // saturated for dates centuries away
	case d <= 0:
		return 0
	case d >= MaxRetryAfter:
		return MaxRetryAfter
	case d%time.Second != 0:
		return d.Truncate(time.Second) + time.Second
	default:
		return d
	}
}

// describe is the text of a failure: "PUT Appointment: Unprocessable
// Entity: OperationOutcome error code-invalid at Appointment.status". The
// status code itself is left to SendError.Error.
func describe(op string, resp *http.Response, body []byte) string {
	text := http.StatusText(resp.StatusCode)
	if text == "" {
		text = "unexpected status"
	}
	msg := op + ": " + text
	if issue := firstIssue(resp.Header.Get("Content-Type"), body); issue != "" {
		msg += ": OperationOutcome " + issue
	}
	return msg
}

// firstIssue renders the first error issue of an OperationOutcome body
// (else its first issue) as "error code-invalid at Appointment.status",
// without diagnostics; "" when the body is no OperationOutcome.
func firstIssue(contentType string, body []byte) string {
	if mt, _, _ := mime.ParseMediaType(contentType); mt != "" && !strings.Contains(mt, "json") {
		return ""
	}
	var oo struct {
		ResourceType string `json:"resourceType"`
		Issue        []struct {
			Severity   string   `json:"severity"`
			Code       string   `json:"code"`
			Expression []string `json:"expression"`
		} `json:"issue"`
	}
	if json.Unmarshal(body, &oo) != nil || oo.ResourceType != "OperationOutcome" || len(oo.Issue) == 0 {
		return ""
	}
	is := oo.Issue[0]
	for _, i := range oo.Issue {
		if i.Severity == "error" || i.Severity == "fatal" {
			is = i
			break
		}
	}
	s := token(is.Severity) + " " + token(is.Code)
	if len(is.Expression) > 0 {
		s += " at " + token(is.Expression[0])
	}
	return s
}

// token keeps a code or location from a server's answer short and on one
// line; anything longer than a location is likely not one.
func token(s string) string {
	const maxLen = 120
	if len(s) > maxLen {
		cut := 0
		for i := range s { // at a rune boundary
			if i > maxLen {
				break
			}
			cut = i
		}
		s = s[:cut] + "…"
	}
	return strings.Map(func(r rune) rune {
		if r < ' ' || r == 0x7f {
			return ' '
		}
		return r
	}, s)
}

// discard drains and closes a response body so that its connection can be
// reused.
func discard(body io.ReadCloser) {
	if body == nil {
		return
	}
	_, _ = io.CopyN(io.Discard, body, maxDrain)
	_ = body.Close()
}
