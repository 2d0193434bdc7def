package demo

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"slices"
	"strings"
	"sync/atomic"
	"time"

	"github.com/liaisonhq/liaison/fhir"
	"github.com/liaisonhq/liaison/gateway/internal/fhirserver"
	"github.com/liaisonhq/liaison/gateway/webhook"
)

const mimeFHIRJSON = "application/fhir+json"

// ehr is the sample EHR: an in-memory FHIR R4 server on 127.0.0.1 whose
// own changes (those made through write, as its users would) are posted
// to its subscribers as Standard Webhooks signed with the secret the
// gateway's connector verifies. Changes the gateway makes are not
// notified back.
type ehr struct {
	fhir   *fhirserver.Server
	srv    *http.Server
	served chan struct{}
	base   string // the FHIR base: http://127.0.0.1:PORT/fhir
	signer *webhook.Signer
	client *http.Client
	seq    atomic.Int64 // numbers the webhook ids
}

// startEHR starts the sample EHR on a free port of 127.0.0.1.
func startEHR(secret string) (*ehr, error) {
	signer, err := webhook.NewSigner(secret)
	if err != nil {
		return nil, fmt.Errorf("sample EHR: %w", err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("sample EHR: listen: %w", err)
	}
	e := &ehr{
		fhir:   fhirserver.New(),
		served: make(chan struct{}),
		base:   "http://" + l.Addr().String() + fhirserver.BasePath,
		signer: signer,
		client: &http.Client{Timeout: 10 * time.Second},
	}
	e.srv = &http.Server{Handler: e.fhir, ReadHeaderTimeout: 10 * time.Second}
	go func() {
		defer close(e.served)
		e.srv.Serve(l) // http.ErrServerClosed once shut down
	}()
	return e, nil
}

// close shuts the server down.
func (e *ehr) close() error {
	e.fhir.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	err := e.srv.Shutdown(ctx)
	if err != nil {
		err = errors.Join(err, e.srv.Close())
	}
	<-e.served
	return err
}

// write stores a resource as the EHR's own users would: PUT [type]/[id],
// with If-Match when it carries a version. It returns the stored version.
func (e *ehr) write(ctx context.Context, res fhir.Resource) (fhir.Resource, error) {
	body, err := fhir.EncodeJSON(res)
	if err != nil {
		return nil, err
	}
	target := e.base + "/" + res.Type() + "/" + res.ID()
	req, err := http.NewRequestWithContext(ctx, http.MethodPut, target, bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", mimeFHIRJSON)
	req.Header.Set("Accept", mimeFHIRJSON)
	if meta, ok := res["meta"].(map[string]any); ok {
		if vid, ok := meta["versionId"].(string); ok {
			req.Header.Set("If-Match", `W/"`+vid+`"`)
		}
	}
	answer, err := e.client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("sample EHR: PUT %s/%s: %w", res.Type(), res.ID(), err)
	}
	defer answer.Body.Close()
	data, _ := io.ReadAll(io.LimitReader(answer.Body, 1<<20))
	if answer.StatusCode/100 != 2 {
		return nil, fmt.Errorf("sample EHR: PUT %s/%s: %s", res.Type(), res.ID(), answer.Status)
	}
	return fhir.ParseJSON(data)
}

// find returns the current resource of a type with the identifier
// system|value, nil when there is none.
func (e *ehr) find(typ, system, value string) fhir.Resource {
	for _, r := range e.fhir.Resources(typ) {
		ids, _ := r["identifier"].([]any)
		for _, id := range ids {
			if m, ok := id.(map[string]any); ok && m["system"] == system && m["value"] == value {
				return r
			}
		}
	}
	return nil
}

// subscriber is where a rest-hook Subscription asks the EHR to post.
type subscriber struct {
	endpoint string
	types    []string // the resource types its Subscriptions take
}

// subscribers returns the rest-hook subscribers that are not off, with
// the resource types their criteria name ("Appointment", or
// "Appointment?status=booked", read as every Appointment).
func (e *ehr) subscribers() []subscriber {
	var out []subscriber
	for _, s := range e.fhir.Resources("Subscription") {
		channel, _ := s["channel"].(map[string]any)
		endpoint, _ := channel["endpoint"].(string)
		criteria, _ := s["criteria"].(string)
		if channel["type"] != "rest-hook" || endpoint == "" || s["status"] == "off" || s["status"] == "error" {
			continue
		}
		typ, _, _ := strings.Cut(criteria, "?")
		i := slices.IndexFunc(out, func(sb subscriber) bool { return sb.endpoint == endpoint })
		if i < 0 {
			out = append(out, subscriber{endpoint: endpoint})
			i = len(out) - 1
		}
		out[i].types = append(out[i].types, typ)
	}
	return out
}

// notified is a subscriber's answer to one notification.
type notified struct {
	status  int
	records []change // the gateway's answer: one per resource
	problem string   // the answer's diagnostics when it was not a success
}

// notify posts the changed resources to every subscriber that takes their
// types: one resource as it is, several as a collection Bundle, signed
// per Standard Webhooks. It returns each subscriber's answer; an error
// when nobody subscribed or a subscriber could not be reached.
func (e *ehr) notify(ctx context.Context, changed ...fhir.Resource) ([]notified, error) {
	subs := e.subscribers()
	if len(subs) == 0 {
		return nil, errors.New("sample EHR: nobody subscribed to its changes (the gateway's set-up makes a Subscription)")
	}
	var out []notified
	for _, sub := range subs {
		var picked []fhir.Resource
		for _, r := range changed {
			if slices.Contains(sub.types, r.Type()) {
				picked = append(picked, r)
			}
		}
		if len(picked) == 0 {
			continue
		}
		payload := picked[0]
		if len(picked) > 1 {
			entries := make([]any, len(picked))
			for i, r := range picked {
				entries[i] = map[string]any{"fullUrl": e.base + "/" + r.Type() + "/" + r.ID(), "resource": map[string]any(r)}
			}
			payload = fhir.Resource{"resourceType": "Bundle", "type": "collection", "entry": entries}
		}
		n, err := e.post(ctx, sub.endpoint, payload)
		if err != nil {
			return nil, err
		}
		out = append(out, n)
	}
	return out, nil
}

// post sends one signed notification.
func (e *ehr) post(ctx context.Context, endpoint string, payload fhir.Resource) (notified, error) {
	body, err := fhir.EncodeJSON(payload)
	if err != nil {
		return notified{}, err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, endpoint, bytes.NewReader(body))
	if err != nil {
		return notified{}, err
	}
	req.Header.Set("Content-Type", mimeFHIRJSON)
	id := fmt.Sprintf("msg_sample_ehr_%d_%d", time.Now().Unix(), e.seq.Add(1))
	for k, v := range e.signer.Sign(id, time.Now(), body) {
		req.Header[k] = v
	}
	res, err := e.client.Do(req)
	if err != nil {
		return notified{}, fmt.Errorf("sample EHR: notify the gateway: %w", err)
	}
	defer res.Body.Close()
	var answer struct {
		Records []change `json:"records"`
		Issue   []any    `json:"issue"`
	}
	data, _ := io.ReadAll(io.LimitReader(res.Body, 1<<20))
	json.Unmarshal(data, &answer)
	n := notified{status: res.StatusCode, records: answer.Records}
	if res.StatusCode/100 != 2 {
		n.problem = outcomeText(map[string]any{"issue": answer.Issue})
	}
	return n, nil
}
