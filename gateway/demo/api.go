package demo

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
)

// api is a client of the gateway's management API, with the admin token.
// The scheduler posts its changes through it; Play registers connectors
// and follows messages with it.
type api struct {
	url    string // http://127.0.0.1:PORT
	token  string
	client *http.Client
}

// call sends a JSON body (nil for none) and decodes a JSON answer into out
// (nil to drop it). It returns the status; an error only when no answer
// came or the answer could not be read.
func (a *api) call(ctx context.Context, method, path string, body, out any) (int, error) {
	var r io.Reader
	if body != nil {
		data, err := json.Marshal(body)
		if err != nil {
			return 0, fmt.Errorf("%s %s: %w", method, path, err)
		}
		r = bytes.NewReader(data)
	}
	req, err := http.NewRequestWithContext(ctx, method, a.url+path, r)
	if err != nil {
		return 0, fmt.Errorf("%s %s: %w", method, path, err)
	}
	req.Header.Set("Authorization", "Bearer "+a.token)
	req.Header.Set("Accept", "application/json")
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	res, err := a.client.Do(req)
	if err != nil {
		return 0, fmt.Errorf("%s %s: %w", method, path, err)
	}
	defer res.Body.Close()
	data, err := io.ReadAll(io.LimitReader(res.Body, 8<<20))
	if err != nil {
		return res.StatusCode, fmt.Errorf("%s %s: %w", method, path, err)
	}
	if out != nil && len(bytes.TrimSpace(data)) > 0 {
		if err := json.Unmarshal(data, out); err != nil {
			return res.StatusCode, fmt.Errorf("%s %s: %d, not JSON", method, path, res.StatusCode)
		}
	}
	return res.StatusCode, nil
}

// outcomeText is the diagnostics of an OperationOutcome answer, for
// errors: "" when the answer is not one.
func outcomeText(answer map[string]any) string {
	issues, _ := answer["issue"].([]any)
	var texts []string
	for _, is := range issues {
		if m, ok := is.(map[string]any); ok {
			if d, ok := m["diagnostics"].(string); ok {
				texts = append(texts, d)
			}
		}
	}
	return strings.Join(texts, "; ")
}

// change is what the gateway answers for one record change (the records
// API's answer, or one entry of a webhook's "records").
type change struct {
	Type     string   `json:"type"`
	ID       string   `json:"id"`
	Version  int64    `json:"version"`
	Status   string   `json:"status"` // accepted, unchanged, deleted
	Messages []string `json:"messages"`
}

// message is an outbox message as GET /api/messages lists it.
type message struct {
	ID             string `json:"id"`
	Connector      string `json:"connector"`
	RecordType     string `json:"recordType"`
	RecordID       string `json:"recordId"`
	Op             string `json:"op"`
	State          string `json:"state"`
	Attempts       int    `json:"attempts"`
	IdempotencyKey string `json:"idempotencyKey"`
	LastError      string `json:"lastError"`
}

// messages lists the newest outbox messages, by id.
func (a *api) messages(ctx context.Context) (map[string]message, error) {
	var page struct {
		Messages []message `json:"messages"`
	}
	code, err := a.call(ctx, http.MethodGet, "/api/messages?limit=1000", nil, &page)
	if err != nil {
		return nil, err
	}
	if code != http.StatusOK {
		return nil, fmt.Errorf("list messages: %d", code)
	}
	out := make(map[string]message, len(page.Messages))
	for _, m := range page.Messages {
		out[m.ID] = m
	}
	return out, nil
}
