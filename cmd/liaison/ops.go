package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"
	"syscall"
	"time"

	"github.com/liaisonhq/liaison/fhir"
	"github.com/liaisonhq/liaison/gateway"
	"github.com/liaisonhq/liaison/gateway/connector"
	"github.com/liaisonhq/liaison/gateway/store"
)

// The operator commands — "liaison connectors", "liaison messages",
// "liaison records" — are clients of a running gateway's management API.
// This file holds what they share: the --url, --token and --json flags,
// the API client, the error reporting, and the API's answers as Go types.
// Each command is its own ops_*.go file; tables, numbers and ages are in
// ops_format.go, progress bars in ops_progress.go.

// Environment variables the operator commands read.
const (
	envURL   = "LIAISON_URL"
	envToken = "LIAISON_ADMIN_TOKEN"
)

// defaultGatewayURL is where the gateway is when neither --url nor LIAISON_URL
// says: where "liaison serve" listens by default.
const defaultGatewayURL = "http://" + gateway.DefaultAddr

// opsAbout ends the usage text of every operator command.
const opsAbout = `
It talks to a running gateway: --url, else LIAISON_URL, else
` + defaultGatewayURL + `; with the admin token --token, else LIAISON_ADMIN_TOKEN
(prefer the variable: a flag shows in the process list). An error from the
gateway is printed as one line on standard error, and the exit status is 1.`

// apiTimeout bounds one API call.
const apiTimeout = 30 * time.Second

// opsFlags are the flags every operator command has.
type opsFlags struct {
	url, token string
	json       bool
}

// addOpsFlags adds --url, --token and --json, whose usage is jsonUsage.
func addOpsFlags(f *flags, jsonUsage string) *opsFlags {
	o := &opsFlags{}
	f.StringVar(&o.url, "url", "", "the gateway's `URL` (default $"+envURL+", else "+defaultGatewayURL+")")
	f.StringVar(&o.token, "token", "", "the admin `token` (default $"+envToken+")")
	f.BoolVar(&o.json, "json", false, jsonUsage)
	return o
}

// client returns the API client the flags and the environment describe.
func (o *opsFlags) client() (*apiClient, error) {
	raw := firstSet(o.url, os.Getenv(envURL), defaultGatewayURL)
	if !strings.Contains(raw, "://") {
		raw = "http://" + raw // "127.0.0.1:8080", as --addr takes it
	}
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("gateway URL %q: want http://host:port", raw)
	}
	token := firstSet(o.token, os.Getenv(envToken))
	if token == "" {
		return nil, fmt.Errorf("no admin token: set %s (or pass --token) to the token the gateway was started with", envToken)
	}
	return &apiClient{
		base:  strings.TrimRight(u.String(), "/"),
		shown: strings.TrimRight(u.Redacted(), "/"),
		token: token,
		http:  &http.Client{Timeout: apiTimeout},
	}, nil
}

// firstSet returns the first of its arguments that is not empty.
func firstSet(values ...string) string {
	for _, v := range values {
		if v != "" {
			return v
		}
	}
	return ""
}

// apiClient calls a gateway's management API with the admin token. Its
// methods return an *apiError for an answer other than 2xx and a
// *reachError when no answer came.
type apiClient struct {
	base  string // "http://127.0.0.1:8080", no trailing slash
	shown string // base for messages: a password in it hidden
	token string
	http  *http.Client
}

// apiError is an error answer of the gateway: its status and the issues
// of its OperationOutcome.
type apiError struct {
	status int
	issues fhir.Issues
}

// Error is the issues' diagnostics on one line, each with its location.
func (e *apiError) Error() string {
	var parts []string
	for _, is := range e.issues {
		text := is.Diagnostics
		if text == "" {
			text = string(is.Code)
		}
		if len(is.Expression) > 0 {
			text += " (at " + strings.Join(is.Expression, ", ") + ")"
		}
		parts = append(parts, text)
	}
	if len(parts) == 0 {
		parts = append(parts, fmt.Sprintf("the gateway answered %d %s", e.status, http.StatusText(e.status)))
	}
	msg := strings.Join(parts, "; ")
	if e.status == http.StatusUnauthorized {
		msg += " (check " + envToken + " or --token)"
	}
	return msg
}

// reachError is a call that got no answer.
type reachError struct {
	url string
	err error
}

func (e *reachError) Error() string {
	if errors.Is(e.err, syscall.ECONNREFUSED) {
		return fmt.Sprintf("cannot reach the gateway at %s: is `liaison serve` running?", e.url)
	}
	return fmt.Sprintf("cannot reach the gateway at %s: %v", e.url, e.err)
}

func (e *reachError) Unwrap() error { return e.err }

// call makes one API call and returns the answer's body and the server's
// clock (its Date header; the local clock when it has none).
func (c *apiClient) call(ctx context.Context, method, path string, query url.Values) ([]byte, time.Time, error) {
	u := c.base + path
	if len(query) > 0 {
		u += "?" + query.Encode()
	}
	req, err := http.NewRequestWithContext(ctx, method, u, nil)
	if err != nil {
		return nil, time.Time{}, fmt.Errorf("%s %s: %w", method, path, err)
	}
	req.Header.Set("Authorization", "Bearer "+c.token)
	req.Header.Set("Accept", "application/json")
	res, err := c.http.Do(req)
	if err != nil {
		if ctx.Err() != nil {
			return nil, time.Time{}, ctx.Err()
		}
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err // its text repeats the URL
		}
		return nil, time.Time{}, &reachError{url: c.shown, err: err}
	}
	defer res.Body.Close()
	body, err := io.ReadAll(res.Body)
	if err != nil {
		return nil, time.Time{}, &reachError{url: c.shown, err: err}
	}
	now, err := http.ParseTime(res.Header.Get("Date"))
	if err != nil {
		now = time.Now()
	}
	if res.StatusCode < 200 || res.StatusCode > 299 {
		return nil, now, answerError(res.StatusCode, body)
	}
	return body, now, nil
}

// answerError reads an error answer's OperationOutcome.
func answerError(status int, body []byte) error {
	var oo struct {
		ResourceType string      `json:"resourceType"`
		Issue        fhir.Issues `json:"issue"`
	}
	e := &apiError{status: status}
	if json.Unmarshal(body, &oo) == nil && oo.ResourceType == "OperationOutcome" {
		e.issues = oo.Issue
	}
	return e
}

// get calls GET path and decodes the JSON answer into out (unless nil). It
// returns the answer as it came, for --json.
func (c *apiClient) get(ctx context.Context, path string, query url.Values, out any) ([]byte, error) {
	body, _, err := c.call(ctx, http.MethodGet, path, query)
	return body, decodeAnswer(body, err, out)
}

// post calls POST path, without a body, like get.
func (c *apiClient) post(ctx context.Context, path string, out any) ([]byte, error) {
	body, _, err := c.call(ctx, http.MethodPost, path, nil)
	return body, decodeAnswer(body, err, out)
}

// decodeAnswer decodes a JSON answer into out (unless nil), unless the call
// failed with err.
func decodeAnswer(body []byte, err error, out any) error {
	if err != nil || out == nil {
		return err
	}
	if err := json.Unmarshal(body, out); err != nil {
		return errUnderstood(err)
	}
	return nil
}

// errUnderstood is the error for an answer that does not decode.
func errUnderstood(err error) error {
	return fmt.Errorf("the gateway's answer is not what this liaison understands (another version?): %w", err)
}

// isStatus tells whether err is the gateway's answer with that status.
func isStatus(err error, status int) bool {
	var ae *apiError
	return errors.As(err, &ae) && ae.status == status
}

// connectorPath is the API path of a connector, or of one of its actions.
func connectorPath(id string, action ...string) string {
	p := "/api/external-connectors/" + url.PathEscape(id)
	for _, a := range action {
		p += "/" + a
	}
	return p
}

// connector finds the connector ref names: its id, else its name. It
// returns its status and the JSON the gateway sent for it.
func (c *apiClient) connector(ctx context.Context, ref string) (*connectorStatus, []byte, error) {
	var cs connectorStatus
	raw, err := c.get(ctx, connectorPath(ref), nil, &cs)
	if err == nil || !isStatus(err, http.StatusNotFound) {
		return &cs, raw, err
	}
	notFound := err
	all, raws, err := c.connectors(ctx)
	if err != nil {
		return nil, nil, err
	}
	match := -1
	for i := range all {
		if all[i].Name == ref {
			return &all[i], raws[i], nil
		}
		if strings.EqualFold(all[i].Name, ref) {
			if match >= 0 {
				return nil, nil, fmt.Errorf("%q names several connectors, in different cases: give its id", ref)
			}
			match = i
		}
	}
	if match >= 0 {
		return &all[match], raws[match], nil
	}
	return nil, nil, fmt.Errorf("%w, neither by id nor by name (liaison connectors list shows them)", notFound)
}

// connectors lists every connector, decoded and as the gateway sent each.
func (c *apiClient) connectors(ctx context.Context) ([]connectorStatus, []json.RawMessage, error) {
	var raws []json.RawMessage
	if _, err := c.get(ctx, "/api/external-connectors", nil, &raws); err != nil {
		return nil, nil, err
	}
	all := make([]connectorStatus, len(raws))
	for i, r := range raws {
		if err := json.Unmarshal(r, &all[i]); err != nil {
			return nil, nil, errUnderstood(err)
		}
	}
	return all, raws, nil
}

// connectorNames maps the connectors' ids to their names, for tables; an
// empty map when they cannot be listed (the tables then show ids).
func (c *apiClient) connectorNames(ctx context.Context) map[string]string {
	names := map[string]string{}
	all, _, err := c.connectors(ctx)
	if err != nil {
		return names
	}
	for _, cs := range all {
		names[cs.ID] = cs.Name
	}
	return names
}

// connectorStatus is a connector as GET /api/external-connectors/{id}
// shows it: its configuration, secrets as "***", and its status.
type connectorStatus struct {
	connector.Config
	ID         string    `json:"connectorId"`
	Status     string    `json:"status"` // connected, error, paused, disabled
	Breaker    string    `json:"breaker"`
	Queued     uint64    `json:"queued"`
	Failed     uint64    `json:"failed"`
	Delivered  uint64    `json:"delivered"`
	Dead       uint64    `json:"dead"`
	CreatedAt  time.Time `json:"createdAt"`
	LastSyncAt time.Time `json:"lastSyncAt"`
	LastError  string    `json:"lastError"`
	// OldestQueuedAge is the age of the oldest undelivered message, in
	// seconds; nil when there is none.
	OldestQueuedAge *float64    `json:"oldestQueuedAge"`
	Pull            *pullStatus `json:"pull"`
}

// pullStatus is how a polling connector's last pull went.
type pullStatus struct {
	State      string    `json:"state"` // running, done, failed
	Full       bool      `json:"full"`
	StartedAt  time.Time `json:"startedAt"`
	FinishedAt time.Time `json:"finishedAt"`
	Pages      int       `json:"pages"`
	Resources  int       `json:"resources"`
	Error      string    `json:"error"`
}

// The states of a pull.
const (
	pullRunning = "running"
	pullFailed  = "failed"
)

// messageView is what the API shows of every outbox message.
type messageView struct {
	ID             string      `json:"id"`
	Connector      string      `json:"connector"`
	RecordType     string      `json:"recordType"`
	RecordID       string      `json:"recordId"`
	Op             string      `json:"op"`
	State          store.State `json:"state"`
	CreatedAt      time.Time   `json:"createdAt"`
	NextAttemptAt  time.Time   `json:"nextAttemptAt"`
	DeliveredAt    time.Time   `json:"deliveredAt"`
	LastError      string      `json:"lastError"`
	Mapping        string      `json:"mapping"`
	MappingVersion string      `json:"mappingVersion"`
	IdempotencyKey string      `json:"idempotencyKey"`
}

// messageItem is a message in a list, or as a replay answers: its
// attempts counted.
type messageItem struct {
	messageView
	Attempts int `json:"attempts"`
}

// messageDetail is one message asked for by id: its attempts and body.
type messageDetail struct {
	messageView
	Attempts    []store.Attempt `json:"attempts"`
	ContentType string          `json:"contentType"`
	Body        string          `json:"body"`
}

// messagePage is the answer of GET /api/messages.
type messagePage struct {
	Messages []messageItem `json:"messages"`
}

// maxMessagePage is the most messages GET /api/messages gives at once.
const maxMessagePage = 1000

// messagesIn lists every message of a connector in a state, page after
// page, and the server's clock when the last page was read.
func (c *apiClient) messagesIn(ctx context.Context, conn string, state store.State) ([]messageItem, time.Time, error) {
	var all []messageItem
	q := url.Values{"connector": {conn}, "state": {string(state)}, "limit": {fmt.Sprint(maxMessagePage)}}
	for {
		body, now, err := c.call(ctx, http.MethodGet, "/api/messages", q)
		if err != nil {
			return nil, now, err
		}
		var page messagePage
		if err := json.Unmarshal(body, &page); err != nil {
			return nil, now, errUnderstood(err)
		}
		all = append(all, page.Messages...)
		if len(page.Messages) < maxMessagePage {
			return all, now, nil
		}
		q.Set("before", page.Messages[len(page.Messages)-1].ID)
	}
}

// recordView is the answer of GET /api/records/{type}/{id}.
type recordView struct {
	Type      string            `json:"type"`
	ID        string            `json:"id"`
	Version   int64             `json:"version"`
	Hash      string            `json:"hash"`
	Source    string            `json:"source"` // "hms" or a connector id
	Deleted   bool              `json:"deleted"`
	UpdatedAt time.Time         `json:"updatedAt"`
	Data      json.RawMessage   `json:"data"`
	Sync      []store.SyncState `json:"sync"`
}

// opsFail reports err on one line of standard error and returns exitFail.
func opsFail(s *stdio, cmd string, err error) int {
	if errors.Is(err, context.Canceled) {
		err = errors.New("interrupted")
	}
	fmt.Fprintf(s.err, "liaison %s: %v\n", cmd, err)
	return exitFail
}

// writeRaw writes the gateway's JSON answer to standard output, indented
// by two spaces.
func writeRaw(s *stdio, cmd string, raw []byte) int {
	var buf bytes.Buffer
	if err := json.Indent(&buf, raw, "", "  "); err != nil {
		return opsFail(s, cmd, fmt.Errorf("the gateway's answer is not JSON: %w", err))
	}
	buf.WriteByte('\n')
	if _, err := s.out.Write(buf.Bytes()); err != nil {
		return opsFail(s, cmd, fmt.Errorf("write: %w", err))
	}
	return exitOK
}
