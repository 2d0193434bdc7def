package demo

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/liaisonhq/liaison/fhir"
)

// Labels of the two sample systems in the narrative.
const (
	labelEHR       = "EHR"
	labelScheduler = "scheduler"
)

// ehrWebhookPath is where the EHR connector takes its webhooks.
const ehrWebhookPath = "/api/webhooks/sample-ehr"

// settlePoll is how often Play looks at the outbox while it waits.
const settlePoll = 20 * time.Millisecond

// Play registers the two connectors, plays the scenario and checks the
// end state, all within Config.Timeout. The report holds what it saw so
// far, whatever the error: ErrVerify, wrapped, when the scenario ran but
// the end state is wrong (the report's Checks say where); another error
// when the scenario could not run (a registration or a change refused).
func (d *Demo) Play(ctx context.Context) (*Report, error) {
	start := time.Now()
	ctx, cancel := context.WithTimeout(ctx, d.cfg.Timeout)
	defer cancel()
	r := &Report{Gateway: d.gw.url, EHR: d.ehr.base, Scheduler: d.sched.url + "/api", Token: d.gw.token, Moved: d.moved}
	defer func() { r.Elapsed = time.Since(start) }()

	if err := d.register(ctx, r); err != nil {
		return r, err
	}
	err := d.playScheduler(ctx, r)
	if err == nil {
		err = d.settle(ctx, r)
	}
	if err == nil {
		err = d.playEHR(ctx, r)
	}
	if err == nil {
		err = d.settle(ctx, r)
	}
	// Tell what happened even when the time is up.
	fctx, fcancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer fcancel()
	if terr := d.trace(fctx, r); err == nil {
		err = terr
	}
	if serr := d.summarize(fctx, r); err == nil {
		err = serr
	}
	if errors.Is(err, context.DeadlineExceeded) {
		r.Checks = append(r.Checks, Check{What: fmt.Sprintf("every message delivered within %s", d.cfg.Timeout), Detail: "timed out"})
		d.verify(r)
		return r, fmt.Errorf("%w: not every message was delivered within %s", ErrVerify, d.cfg.Timeout)
	}
	if err != nil {
		return r, err
	}
	d.verify(r)
	if failed := r.Failed(); len(failed) > 0 {
		return r, fmt.Errorf("%w: %s", ErrVerify, strings.Join(failed, "; "))
	}
	return r, nil
}

// register registers the EHR and the scheduler with the gateway, as an
// operator would: POST /api/external-connectors.
func (d *Demo) register(ctx context.Context, r *Report) error {
	delivery := map[string]any{"initialBackoff": "100ms", "maxBackoff": "2s", "timeout": "5s"}
	conns := []struct {
		Connector
		body map[string]any
	}{
		{Connector{Name: "Sample EHR", Label: labelEHR, Type: "fhir",
			Out: "FHIR by the shipped hms-*-to-fhir mappings, conditional update by identifier",
			In:  "Standard Webhooks at " + ehrWebhookPath + ", by the shipped fhir-*-to-hms mappings"},
			map[string]any{"name": "Sample EHR", "type": "fhir", "endpoint": d.ehr.base,
				"resources": []string{"Patient", "Appointment"},
				"sync": map[string]any{"mode": "webhook", "path": ehrWebhookPath,
					"verify": map[string]any{"scheme": "standard-webhooks", "secrets": []string{d.secret}}},
				"delivery": delivery}},
		{Connector{Name: "Sample scheduler", Label: labelScheduler, Type: "rest",
			Out: "HMS records as they are, PUT and DELETE /api/{type}/{id}, with an API key",
			In:  "the scheduler posts its changes to /api/records with the admin token and ?source= naming this connector"},
			map[string]any{"name": "Sample scheduler", "type": "rest", "endpoint": d.sched.url + "/api/{type}/{id}",
				"resources": []string{"Patient", "Appointment"},
				"auth":      map[string]any{"scheme": "apikey", "key": d.apiKey},
				"delivery":  delivery}},
	}
	for _, c := range conns {
		var answer map[string]any
		code, err := d.gw.call(ctx, http.MethodPost, "/api/external-connectors", c.body, &answer)
		if err != nil {
			return fmt.Errorf("register %s: %w", c.Name, err)
		}
		if code != http.StatusCreated {
			return fmt.Errorf("register %s: %d %s", c.Name, code, outcomeText(answer))
		}
		if answer["status"] != "connected" {
			return fmt.Errorf("register %s: status %v: %v", c.Name, answer["status"], answer["lastError"])
		}
		c.ID, _ = answer["connectorId"].(string)
		if c.Label == labelScheduler {
			d.sched.source = c.ID
		}
		r.Connectors = append(r.Connectors, c.Connector)
	}
	if n := len(d.ehr.subscribers()); n != 1 {
		return fmt.Errorf("register Sample EHR: the gateway subscribed %d callbacks at the EHR, want 1", n)
	}
	r.Subscriptions = len(d.ehr.fhir.Resources("Subscription"))
	return nil
}

// playScheduler makes the scheduler's changes, each posted to the
// gateway's records API.
func (d *Demo) playScheduler(ctx context.Context, r *Report) error {
	for _, s := range schedulerSteps() {
		code, ch, err := d.sched.save(ctx, s.typ, s.id, s.record)
		if err != nil {
			return err
		}
		verb := http.MethodPost
		switch {
		case s.record == nil:
			verb = http.MethodDelete
		case slices.ContainsFunc(r.Flows, func(f Flow) bool { return f.Type == s.typ && f.ID == s.id }):
			verb = http.MethodPut
		}
		r.Flows = append(r.Flows, Flow{From: labelScheduler, Verb: verb, Type: s.typ, ID: s.id, What: s.what, Status: code, messages: ch.Messages})
	}
	return nil
}

// playEHR makes the EHR's changes, each notified to the gateway: the
// walk-in, then the cancellation of one of the scheduler's bookings.
func (d *Demo) playEHR(ctx context.Context, r *Report) error {
	var stored []fhir.Resource
	for _, res := range walkIn() {
		s, err := d.ehr.write(ctx, res)
		if err != nil {
			return err
		}
		stored = append(stored, s)
	}
	if err := d.notify(ctx, r, stored, walkInWhat); err != nil {
		return err
	}
	appt := d.ehr.find("Appointment", systemAppointment, ehrCancels)
	if appt == nil {
		return fmt.Errorf("sample EHR: no Appointment %s to cancel: the gateway did not deliver it", ehrCancels)
	}
	appt["status"] = "cancelled"
	appt["cancelationReason"] = map[string]any{"text": "the patient called to cancel"}
	s, err := d.ehr.write(ctx, appt)
	if err != nil {
		return err
	}
	return d.notify(ctx, r, []fhir.Resource{s}, cancelWhat)
}

// notify has the EHR tell the gateway of its changes, and notes a flow
// for each record the gateway took from them.
func (d *Demo) notify(ctx context.Context, r *Report, changed []fhir.Resource, what map[string]string) error {
	answers, err := d.ehr.notify(ctx, changed...)
	if err != nil {
		return err
	}
	for _, n := range answers {
		if n.status != http.StatusAccepted {
			return fmt.Errorf("sample EHR: the gateway answered its webhook %d %s", n.status, n.problem)
		}
		for _, ch := range n.records {
			r.Flows = append(r.Flows, Flow{From: labelEHR, Verb: "webhook", Type: ch.Type, ID: ch.ID, What: what[ch.Type], Status: n.status, messages: ch.Messages})
		}
	}
	return nil
}

// settle waits until every message of the flows so far is delivered or
// dead, until ctx ends.
func (d *Demo) settle(ctx context.Context, r *Report) error {
	t := time.NewTicker(settlePoll)
	defer t.Stop()
	for {
		msgs, err := d.gw.messages(ctx)
		if err != nil {
			return err
		}
		if settled(r.Flows, msgs) {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
		}
	}
}

// settled tells whether every message of the flows is delivered or dead.
func settled(flows []Flow, msgs map[string]message) bool {
	for _, f := range flows {
		for _, id := range f.messages {
			if m, ok := msgs[id]; !ok || (m.State != "delivered" && m.State != "dead") {
				return false
			}
		}
	}
	return true
}

// trace fills each flow's deliveries: for each of its messages, the
// request that reached the destination (found by the message's
// idempotency key) and its answer.
func (d *Demo) trace(ctx context.Context, r *Report) error {
	msgs, err := d.gw.messages(ctx)
	if err != nil {
		return err
	}
	labels := map[string]string{}
	for _, c := range r.Connectors {
		labels[c.ID] = c.Label
	}
	atEHR := map[string]Delivery{}
	for _, req := range d.ehr.fhir.Requests() {
		if key := req.Header.Get("Idempotency-Key"); key != "" {
			atEHR[key] = Delivery{Request: req.Method + " " + fhirTarget(req.Path, req.Query), Status: req.Status, Note: fhirNote(req.Method, req.Status)}
		}
	}
	atScheduler := map[string]Delivery{}
	for _, rc := range d.sched.deliveries() {
		atScheduler[rc.key] = Delivery{Request: rc.method + " " + rc.path, Status: rc.status, Note: rc.note}
	}
	for i := range r.Flows {
		f := &r.Flows[i]
		f.Deliveries = f.Deliveries[:0]
		for _, id := range f.messages {
			m := msgs[id]
			to := labels[m.Connector]
			dv := atEHR[m.IdempotencyKey]
			if to == labelScheduler {
				dv = atScheduler[m.IdempotencyKey]
			}
			dv.To, dv.State = to, m.State
			if m.State != "delivered" && m.LastError != "" {
				dv.Note = m.LastError
			}
			f.Deliveries = append(f.Deliveries, dv)
		}
		slices.SortFunc(f.Deliveries, func(a, b Delivery) int { return strings.Compare(a.To, b.To) })
	}
	return nil
}

// fhirTarget is a FHIR request's target below the base, its query
// decoded: "Appointment?identifier=urn:hms:appointment|A-1001".
func fhirTarget(path string, query map[string][]string) string {
	target := strings.TrimPrefix(strings.TrimPrefix(path, "/fhir"), "/")
	var params []string
	for k, vs := range query {
		for _, v := range vs {
			params = append(params, k+"="+v)
		}
	}
	slices.Sort(params)
	if len(params) > 0 {
		target += "?" + strings.Join(params, "&")
	}
	return target
}

// fhirNote says what a FHIR server's answer means: created, updated, deleted.
func fhirNote(method string, status int) string {
	switch {
	case status == http.StatusCreated:
		return "created"
	case method == http.MethodDelete && status/100 == 2:
		return "deleted"
	case method == http.MethodPut && status == http.StatusOK:
		return "updated"
	}
	return ""
}

// summarize fills the connectors' status and counts from the gateway.
func (d *Demo) summarize(ctx context.Context, r *Report) error {
	var list []struct {
		ID        string `json:"connectorId"`
		Status    string `json:"status"`
		Queued    int    `json:"queued"`
		Failed    int    `json:"failed"`
		Delivered int    `json:"delivered"`
		Dead      int    `json:"dead"`
	}
	code, err := d.gw.call(ctx, http.MethodGet, "/api/external-connectors", nil, &list)
	if err != nil {
		return err
	}
	if code != http.StatusOK {
		return fmt.Errorf("list connectors: %d", code)
	}
	for i := range r.Connectors {
		c := &r.Connectors[i]
		for _, l := range list {
			if l.ID == c.ID {
				c.Status, c.Queued, c.Failed, c.Delivered, c.Dead = l.Status, l.Queued, l.Failed, l.Delivered, l.Dead
			}
		}
	}
	return nil
}
