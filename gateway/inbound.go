package gateway

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/liaisonhq/liaison/fhir"
	"github.com/liaisonhq/liaison/gateway/connector"
	"github.com/liaisonhq/liaison/gateway/store"
)

// dedupeWindow is how long inbound delivery ids are remembered: a replay
// within it is acknowledged and not applied again.
const dedupeWindow = 8 * 24 * time.Hour

// inbound is one payload a connector sent (a webhook body, a queue
// message, a page of a poll), with the id its sender gave it.
type inbound struct {
	conn       *liveConnector
	deliveryID string // "" when the sender gives none: nothing to deduplicate
	payload    []byte
	// resource, when set, is the payload already parsed (a poll's page), in
	// place of payload.
	resource fhir.Resource
	// items, when set, are the records of a page of a REST poll, in place
	// of payload.
	items []map[string]any
	// cursorKey and cursor, when set, are stored in the same commit: how
	// far a poll has come.
	cursorKey, cursor string
	// requestID and address are the webhook request's X-Request-Id and
	// client address, for the audit trail.
	requestID, address string
}

// receive applies an inbound payload: each resource in it (a FHIR
// resource, each entry of a Bundle, or one JSON record) is mapped by the
// connector's inbound mapping to an HMS record, stored, and fanned out to
// the other connectors — never back to its source. Everything is one
// commit with the delivery id, so a payload is applied once, whole, or not
// at all. duplicate is true when the delivery id was seen already.
func (g *Gateway) receive(ctx context.Context, in inbound) (results []*result, duplicate bool, err error) {
	if in.deliveryID != "" {
		if seen, err := g.store.Seen(ctx, in.conn.id, in.deliveryID); err != nil || seen {
			return nil, seen, err
		}
	}
	changes, err := g.inboundChanges(in)
	if err != nil {
		return nil, false, err
	}
	for _, ch := range changes {
		ch.RequestID, ch.Address = in.requestID, in.address
	}
	done, err := g.store.Accept(ctx, &store.Batch{Changes: changes, Connector: in.conn.id, DeliveryID: in.deliveryID,
		CursorKey: in.cursorKey, Cursor: in.cursor})
	if errors.Is(err, store.ErrDuplicate) {
		return nil, true, nil
	}
	if err != nil {
		return nil, false, err
	}
	results = make([]*result, len(changes))
	for i, ch := range changes {
		results[i] = g.changed(ch, done[i])
	}
	return results, false, nil
}

// inboundChanges turns a payload into record changes, mapped for the
// other connectors.
func (g *Gateway) inboundChanges(in inbound) ([]*store.Change, error) {
	lc := in.conn
	items, err := inboundItems(in)
	if err != nil {
		return nil, err
	}
	changes := make([]*store.Change, 0, len(items))
	for _, it := range items {
		rec, err := lc.mapInbound(it)
		if err != nil {
			return nil, err
		}
		key := g.recordKey(it.typ)
		id, ok := idOf(rec, key)
		if !ok {
			return nil, &statusError{status: http.StatusUnprocessableEntity, issue: fhir.Issue{Severity: fhir.SeverityError, Code: fhir.IssueRequired,
				Diagnostics: fmt.Sprintf("the %s record mapped from connector %s has no usable id in %q", it.typ, lc.cfg.Name, key), Expression: []string{key}}}
		}
		canonical, err := canonicalJSON(rec)
		if err != nil {
			return nil, err
		}
		ch := &store.Change{Type: it.typ, ID: id, Data: canonical, Hash: contentHash(canonical), Source: lc.id}
		if err := g.prepareChange(ch, nil); err != nil {
			return nil, err
		}
		changes = append(changes, ch)
	}
	return changes, nil
}

// inboundItem is one thing a connector sent, before its inbound mapping.
type inboundItem struct {
	typ  string         // the HMS record type
	data map[string]any // a FHIR resource, or a record in the connector's own JSON
	fhir bool
}

// inboundItems splits a payload: the items of a REST poll page, each
// resource of a FHIR payload (validated, Bundles split), or else one JSON
// record of the connector's one record type.
func inboundItems(in inbound) ([]inboundItem, error) {
	lc := in.conn
	if res := parseFHIR(in); res != nil {
		// FHIR from outside is checked like a FHIR server would: invalid
		// content is refused with its issues (which never quote values).
		if issues := fhir.Validate(res); issues.HasErrors() {
			return nil, &issuesError{status: http.StatusUnprocessableEntity, issues: issues}
		}
		resources := []fhir.Resource{res}
		if res.Type() == "Bundle" {
			resources = fhir.Entries(res)
		}
		items := make([]inboundItem, len(resources))
		for i, r := range resources {
			items[i] = inboundItem{typ: r.Type(), data: r, fhir: true}
		}
		return items, nil
	}
	if len(lc.cfg.Resources) != 1 {
		return nil, &statusError{status: http.StatusBadRequest, issue: fhir.Issue{Severity: fhir.SeverityError, Code: fhir.IssueStructure,
			Diagnostics: "the payload is not a FHIR resource, and the connector exchanges several record types: send FHIR, or one type per connector"}}
	}
	typ := lc.cfg.Resources[0]
	records := in.items
	if records == nil {
		if err := checkJSON(in.payload); err != nil {
			return nil, err
		}
		rec, err := decodeRecord(in.payload)
		if err != nil {
			return nil, err
		}
		records = []map[string]any{rec}
	}
	items := make([]inboundItem, len(records))
	for i, rec := range records {
		items[i] = inboundItem{typ: typ, data: rec}
	}
	return items, nil
}

// parseFHIR is the payload as a FHIR resource; nil for poll items and for
// payloads that are not FHIR.
func parseFHIR(in inbound) fhir.Resource {
	if in.resource != nil {
		return in.resource
	}
	if in.items != nil {
		return nil
	}
	res, _, err := fhir.Parse(in.payload)
	if err != nil || res.Type() == "" {
		return nil
	}
	return res
}

// mapInbound turns one inbound item into an HMS record with the
// connector's inbound mapping for its type. FHIR needs a mapping; a JSON
// record without one is taken as it is.
func (lc *liveConnector) mapInbound(it inboundItem) (map[string]any, error) {
	m := lc.inbound[it.typ]
	if m == nil {
		if it.fhir {
			return nil, &statusError{status: http.StatusUnprocessableEntity, issue: fhir.Issue{Severity: fhir.SeverityError, Code: fhir.IssueNotSupported,
				Diagnostics: fmt.Sprintf("connector %s has no inbound mapping for %s resources", lc.cfg.Name, it.typ), Expression: []string{it.typ}}}
		}
		return it.data, nil
	}
	out, err := m.Map(it.data)
	if err != nil {
		return nil, mappingError(lc, it.typ, err)
	}
	rec, ok := out.(map[string]any)
	if !ok {
		return nil, mappingError(lc, it.typ, errors.New("the inbound mapping did not produce a record object"))
	}
	return rec, nil
}

// webhookVerifier checks an inbound webhook's signature or credentials
// over the raw body, and names the delivery for deduplication.
type webhookVerifier interface {
	Verify(h http.Header, body []byte, now time.Time) (deliveryID string, err error)
}

// webhook handles POST /api/webhooks/… and PUT /api/webhooks/…/{type}/{id}:
// the connector whose sync.path it is verifies it with its own scheme (not
// the admin token), then the payload is applied; 202 only after the
// commit. A replay of a delivery id already applied is acknowledged with
// 200 and changes nothing. A verified notification without a body starts
// a pull of what changed.
func (g *Gateway) webhook(c echo.Context) error {
	req := c.Request()
	lc, typ, id := g.webhookConnector(req.Method, req.URL.Path)
	if lc == nil {
		return &statusError{status: http.StatusNotFound, issue: fhir.Issue{Severity: fhir.SeverityError, Code: fhir.IssueNotFound, Diagnostics: "no connector takes webhooks at " + req.URL.Path}}
	}
	body, err := readBody(c, g.cfg.MaxBody)
	if err != nil {
		return err
	}
	if lc.verify == nil {
		// Secure by default: a webhook nobody can authenticate is refused.
		return &statusError{status: http.StatusUnauthorized, issue: fhir.Issue{Severity: fhir.SeverityError, Code: fhir.IssueSecurity,
			Diagnostics: "connector " + lc.cfg.Name + " has no webhook verification configured (sync.verify, or auth.secret): its webhooks are refused"}}
	}
	deliveryID, err := lc.verify.Verify(req.Header, body, time.Now())
	if err != nil {
		g.log.Warn("webhook refused", "connector", lc.id, "reason", err.Error())
		c.Response().Header().Set(echo.HeaderWWWAuthenticate, `Signature realm="liaison"`)
		return &statusError{status: http.StatusUnauthorized, issue: fhir.Issue{Severity: fhir.SeverityError, Code: fhir.IssueSecurity, Diagnostics: "webhook verification failed: " + err.Error()}}
	}
	if len(bytes.TrimSpace(body)) == 0 {
		return g.notified(c, lc)
	}
	if typ != "" {
		if err := checkRestHookPut(body, typ, id); err != nil {
			return err
		}
	}
	results, dup, err := g.receive(req.Context(), inbound{conn: lc, deliveryID: deliveryID, payload: bytes.Clone(body),
		requestID: requestID(c), address: clientAddress(c)})
	if err != nil {
		return err
	}
	if dup {
		return c.JSON(http.StatusOK, map[string]any{"status": "duplicate", "deliveryId": deliveryID})
	}
	return c.JSON(http.StatusAccepted, map[string]any{"status": "accepted", "records": results})
}

// notified answers a notification without a payload — an R4 rest-hook
// whose Subscription has no channel.payload — by pulling what changed on
// the connector's FHIR server since its cursors, in the background.
func (g *Gateway) notified(c echo.Context, lc *liveConnector) error {
	if lc.cfg.Type != connector.FHIR {
		return &statusError{status: http.StatusBadRequest, issue: fhir.Issue{Severity: fhir.SeverityError, Code: fhir.IssueRequired,
			Diagnostics: "the webhook has no body: only a FHIR connector can answer a notification without a payload, by pulling what changed"}}
	}
	g.startPull(lc, false)
	return c.JSON(http.StatusAccepted, map[string]any{"status": "pulling"})
}

// checkRestHookPut checks the body of PUT {path}/{type}/{id}: R4 rest-hook
// notifications with a payload are an update of the resource at the
// endpoint taken as a FHIR base. The resource must be the one the URL
// names.
func checkRestHookPut(body []byte, typ, id string) error {
	var head struct {
		ResourceType string `json:"resourceType"`
		ID           string `json:"id"`
	}
	if err := json.Unmarshal(body, &head); err != nil || head.ResourceType != typ || head.ID != "" && head.ID != id {
		return &statusError{status: http.StatusBadRequest, issue: fhir.Issue{Severity: fhir.SeverityError, Code: fhir.IssueInvalid,
			Diagnostics: "a PUT to " + typ + "/" + id + " carries that " + typ + " resource (resourceType " + typ + ", id " + id + ")", Expression: []string{"resourceType"}}}
	}
	return nil
}

// webhookConnector finds the connector a webhook is for: POST to its
// sync.path, or PUT to {sync.path}/{type}/{id} (an R4 rest-hook with a
// payload, which takes the endpoint as a FHIR base). typ and id are set
// for the latter.
func (g *Gateway) webhookConnector(method, path string) (lc *liveConnector, typ, id string) {
	g.mu.RLock()
	defer g.mu.RUnlock()
	for _, c := range g.connectors {
		if c.cfg.Sync.Mode != "webhook" {
			continue
		}
		switch method {
		case http.MethodPost:
			if c.cfg.Sync.Path == path {
				return c, "", ""
			}
		case http.MethodPut:
			rest, ok := strings.CutPrefix(path, c.cfg.Sync.Path+"/")
			if !ok {
				continue
			}
			t, i, ok := strings.Cut(rest, "/")
			if ok && fhir.IsResourceType(t) && validName(i) {
				return c, t, i
			}
		}
	}
	return nil, "", ""
}
