package gateway

import (
	"encoding/json"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/liaisonhq/liaison/fhir"
	"github.com/liaisonhq/liaison/gateway/store"
)

// The audit trail: every accepted record change and every delivery
// attempt leaves an entry, written in the same transaction as what it
// records, so the trail has neither gaps nor entries for what did not
// happen. GET /api/audit shows them as FHIR AuditEvents in the IHE Basic
// Audit Log Patterns (BALP) style: type rest, subtype the FHIR interaction
// (create, update, delete), the client and server agents, the record as a
// System Object entity and the X-Request-Id. Entries carry ids only —
// never a record's contents — and are kept for Config.AuditRetention.
// With Config.AuditTo, each entry is also queued, as an AuditEvent, for
// that connector (an audit repository), in the same transaction.

// auditRecordType is the record type of the AuditEvents queued for
// Config.AuditTo.
const auditRecordType = "AuditEvent"

// auditDelivery is the outbox's Audit hook: the entry of one attempt.
// The deliveries of the trail itself to Config.AuditTo are not audited
// again.
func (g *Gateway) auditDelivery(m *store.Message, a store.Attempt, st store.State) *store.AuditEntry {
	if m.RecordType == auditRecordType && m.Connector == g.auditTo() {
		return nil
	}
	e := &store.AuditEntry{Kind: store.AuditDelivery, Interaction: "update", RecordType: m.RecordType, RecordID: m.RecordID,
		Agent: "liaison", Connector: m.Connector, MessageID: m.ID, Status: a.Status, Outcome: deliveryOutcome(st)}
	if m.Op == "delete" {
		e.Interaction = "delete"
	}
	return e
}

// deliveryOutcome maps an attempt's result to AuditEvent.outcome: 0
// delivered, 4 (minor failure) retried, 8 (serious failure) dead.
func deliveryOutcome(st store.State) int {
	switch st {
	case store.Delivered:
		return 0
	case store.Dead:
		return 8
	}
	return 4
}

// auditMessage is the store's AuditMessage hook: the entry as an
// AuditEvent for Config.AuditTo, queued with the entry; nil when there is
// no audit connector.
func (g *Gateway) auditMessage(e *store.AuditEntry) (*store.Message, error) {
	to := g.auditTo()
	if to == "" {
		return nil, nil
	}
	body, err := json.Marshal(g.auditEvent(e))
	if err != nil {
		return nil, err
	}
	return &store.Message{Connector: to, RecordType: auditRecordType, RecordID: e.ID(), Op: "upsert",
		Body: string(body), ContentType: mimeFHIRJSON, IdempotencyKey: "audit-" + e.ID()}, nil
}

// auditTo is the id of the connector Config.AuditTo names (by id or by
// name), or "" when there is none.
func (g *Gateway) auditTo() string {
	if g.cfg.AuditTo == "" {
		return ""
	}
	g.mu.RLock()
	defer g.mu.RUnlock()
	for id, lc := range g.connectors {
		if id == g.cfg.AuditTo || lc.cfg.Name == g.cfg.AuditTo {
			return id
		}
	}
	return ""
}

// attempted is the outbox's OnAttempt hook: metrics, and a nudge to the
// audit connector, which has the attempt's AuditEvent queued now.
func (g *Gateway) attempted(connector string, st store.State, took time.Duration) {
	g.metrics.attempt(connector, st, took)
	if to := g.auditTo(); to != "" && to != connector {
		g.outbox.Notify(to)
	}
}

// ---- AuditEvent

type coding struct {
	System  string `json:"system,omitempty"`
	Code    string `json:"code"`
	Display string `json:"display,omitempty"`
}

type identifier struct {
	System string `json:"system,omitempty"`
	Value  string `json:"value"`
}

type reference struct {
	Identifier *identifier `json:"identifier,omitempty"`
	Display    string      `json:"display,omitempty"`
}

type auditNetwork struct {
	Address string `json:"address"`
	Type    string `json:"type"` // 2 IP address, 5 URI
}

type auditAgent struct {
	Type      codeable      `json:"type"`
	Who       reference     `json:"who"`
	Requestor bool          `json:"requestor"`
	Network   *auditNetwork `json:"network,omitempty"`
}

type codeable struct {
	Coding []coding `json:"coding"`
}

type auditSource struct {
	Observer reference `json:"observer"`
	Type     []coding  `json:"type"`
}

type auditEntity struct {
	What        reference `json:"what"`
	Type        *coding   `json:"type,omitempty"`
	Role        *coding   `json:"role,omitempty"`
	Description string    `json:"description,omitempty"`
}

type auditEvent struct {
	ResourceType string        `json:"resourceType"`
	ID           string        `json:"id"`
	Meta         auditMeta     `json:"meta"`
	Type         coding        `json:"type"`
	Subtype      []coding      `json:"subtype"`
	Action       string        `json:"action"`
	Recorded     string        `json:"recorded"`
	Outcome      string        `json:"outcome"`
	OutcomeDesc  string        `json:"outcomeDesc,omitempty"`
	Agent        []auditAgent  `json:"agent"`
	Source       auditSource   `json:"source"`
	Entity       []auditEntity `json:"entity"`
}

type auditMeta struct {
	Profile []string `json:"profile"`
}

const (
	systemDICOM         = "http://dicom.nema.org/resources/ontology/DCM"
	systemConnector     = "urn:liaison:connector"
	systemRecordPrefix  = "urn:liaison:record:"
	systemMessage       = "urn:liaison:message"
	systemBALPEntity    = "https://profiles.ihe.net/ITI/BALP/CodeSystem/BasicAuditEntityType"
	balpProfilePrefix   = "https://profiles.ihe.net/ITI/BALP/StructureDefinition/IHE.BasicAudit."
	systemAuditType     = "http://terminology.hl7.org/CodeSystem/audit-event-type"
	systemInteraction   = "http://hl7.org/fhir/restful-interaction"
	systemSourceType    = "http://terminology.hl7.org/CodeSystem/security-source-type"
	systemEntityType    = "http://terminology.hl7.org/CodeSystem/audit-entity-type"
	systemObjectRole    = "http://terminology.hl7.org/CodeSystem/object-role"
	clientRole, srvRole = "110153", "110152" // DICOM Source Role ID, Destination Role ID
)

// auditEvent renders an entry as a FHIR R4 AuditEvent. Accepts have the
// HMS application or the sending connector as client and the gateway as
// server; deliveries have the gateway as client and the connector as
// server.
func (g *Gateway) auditEvent(e *store.AuditEntry) auditEvent {
	action := map[string]string{"create": "C", "update": "U", "delete": "D"}[e.Interaction]
	profile := map[string]string{"create": "Create", "update": "Update", "delete": "Delete"}[e.Interaction]
	ev := auditEvent{
		ResourceType: "AuditEvent", ID: e.ID(),
		Meta:     auditMeta{Profile: []string{balpProfilePrefix + profile}},
		Type:     coding{System: systemAuditType, Code: "rest", Display: "Restful Operation"},
		Subtype:  []coding{{System: systemInteraction, Code: e.Interaction, Display: e.Interaction}},
		Action:   action,
		Recorded: e.At.UTC().Format("2006-01-02T15:04:05.000Z07:00"),
		Outcome:  strconv.Itoa(e.Outcome),
		Source: auditSource{Observer: reference{Display: "liaison"},
			Type: []coding{{System: systemSourceType, Code: "4", Display: "Application Server"}}},
	}
	gatewayAgent := func(requestor bool) auditAgent {
		a := auditAgent{Type: codeable{[]coding{{System: systemDICOM, Code: srvRole, Display: "Destination Role ID"}}},
			Who: reference{Display: "liaison"}, Requestor: requestor}
		if requestor {
			a.Type.Coding[0] = coding{System: systemDICOM, Code: clientRole, Display: "Source Role ID"}
		}
		if g.cfg.PublicURL != "" {
			a.Network = &auditNetwork{Address: g.cfg.PublicURL, Type: "5"}
		}
		return a
	}
	switch e.Kind {
	case store.AuditAccept:
		client := auditAgent{Type: codeable{[]coding{{System: systemDICOM, Code: clientRole, Display: "Source Role ID"}}}, Requestor: true}
		if e.Connector != "" {
			client.Who = g.connectorRef(e.Connector)
		} else {
			client.Who = reference{Display: "HMS application (admin token)"}
		}
		if e.Address != "" {
			client.Network = &auditNetwork{Address: e.Address, Type: "2"}
		}
		ev.Agent = []auditAgent{client, gatewayAgent(false)}
		if e.Unchanged {
			ev.OutcomeDesc = "unchanged: the record already had this content"
		}
	case store.AuditDelivery:
		server := auditAgent{Type: codeable{[]coding{{System: systemDICOM, Code: srvRole, Display: "Destination Role ID"}}}, Who: g.connectorRef(e.Connector)}
		ev.Agent = []auditAgent{gatewayAgent(true), server}
		switch {
		case e.Status != 0 && e.Outcome != 0:
			ev.OutcomeDesc = "HTTP " + strconv.Itoa(e.Status) + " " + http.StatusText(e.Status)
		case e.Outcome != 0:
			ev.OutcomeDesc = "no answer (connection failed or timed out)"
		}
	}
	record := auditEntity{
		What: reference{Identifier: &identifier{System: systemRecordPrefix + e.RecordType, Value: e.RecordID}},
		Type: &coding{System: systemEntityType, Code: "2", Display: "System Object"},
		Role: &coding{System: systemObjectRole, Code: "4", Display: "Domain Resource"},
	}
	if e.Version > 0 {
		record.Description = e.RecordType + " record, version " + strconv.FormatInt(e.Version, 10)
	}
	ev.Entity = []auditEntity{record}
	if e.MessageID != "" {
		ev.Entity = append(ev.Entity, auditEntity{What: reference{Identifier: &identifier{System: systemMessage, Value: e.MessageID}},
			Type: &coding{System: systemEntityType, Code: "2", Display: "System Object"}, Description: "outbox message"})
	}
	if e.RequestID != "" {
		ev.Entity = append(ev.Entity, auditEntity{What: reference{Identifier: &identifier{Value: e.RequestID}},
			Type: &coding{System: systemBALPEntity, Code: "XrequestId"}})
	}
	return ev
}

// connectorRef names a connector: its id, and its name while it exists.
func (g *Gateway) connectorRef(id string) reference {
	r := reference{Identifier: &identifier{System: systemConnector, Value: id}}
	if lc := g.live(id); lc != nil {
		r.Display = lc.cfg.Name
	}
	return r
}

// ---- GET /api/audit

// listAudit handles GET /api/audit: a searchset Bundle of AuditEvents,
// newest first. Parameters: kind (accept or delivery), entity (TYPE/ID of
// a record), connector, since (a FHIR instant or date), before (an
// AuditEvent id, for the next page) and _count (1 to 1000, default 100).
func (g *Gateway) listAudit(c echo.Context) error {
	q := c.QueryParams()
	f := store.AuditFilter{Kind: store.AuditKind(q.Get("kind")), Connector: q.Get("connector"), Before: q.Get("before"), Limit: 100}
	if f.Kind != "" && f.Kind != store.AuditAccept && f.Kind != store.AuditDelivery {
		return badQuery("kind", "kind must be accept or delivery")
	}
	if ent := q.Get("entity"); ent != "" {
		typ, id, ok := strings.Cut(ent, "/")
		if !ok || !validName(typ) || !validName(id) {
			return badQuery("entity", "entity must be TYPE/ID of a record, e.g. Appointment/A-1001")
		}
		f.RecordType, f.RecordID = typ, id
	}
	if s := q.Get("since"); s != "" {
		t, err := parseSince(s)
		if err != nil {
			return badQuery("since", "since must be a date or an instant, e.g. 2026-11-29 or 2026-11-29T05:00:00Z")
		}
		f.Since = t
	}
	if s := q.Get("_count"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > 1000 {
			return badQuery("_count", "_count must be a number from 1 to 1000")
		}
		f.Limit = n
	}
	entries, err := g.store.Audit(c.Request().Context(), f)
	if err != nil {
		return err
	}
	type entry struct {
		Resource auditEvent `json:"resource"`
	}
	type link struct {
		Relation string `json:"relation"`
		URL      string `json:"url"`
	}
	bundle := struct {
		ResourceType string  `json:"resourceType"`
		Type         string  `json:"type"`
		Link         []link  `json:"link"`
		Entry        []entry `json:"entry,omitempty"`
	}{ResourceType: "Bundle", Type: "searchset", Link: []link{{"self", c.Request().URL.RequestURI()}}}
	for i := range entries {
		bundle.Entry = append(bundle.Entry, entry{g.auditEvent(&entries[i])})
	}
	if len(entries) == f.Limit {
		next := url.Values{}
		for k, v := range q {
			next[k] = v
		}
		next.Set("before", entries[len(entries)-1].ID())
		bundle.Link = append(bundle.Link, link{"next", c.Request().URL.Path + "?" + next.Encode()})
	}
	c.Response().Header().Set(echo.HeaderContentType, mimeFHIRJSON)
	return c.JSON(http.StatusOK, bundle)
}

// clientAddress is the address the request came from: the peer's, not
// what X-Forwarded-For claims, which any client can write.
func clientAddress(c echo.Context) string {
	host, _, err := net.SplitHostPort(c.Request().RemoteAddr)
	if err != nil {
		return ""
	}
	return host
}

func badQuery(param, diagnostics string) error {
	return &statusError{status: http.StatusBadRequest, issue: fhir.Issue{Severity: fhir.SeverityError, Code: fhir.IssueInvalid,
		Diagnostics: diagnostics, Expression: []string{param}}}
}

// parseSince reads a FHIR date or instant.
func parseSince(s string) (time.Time, error) {
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return t, nil
	}
	return time.Parse("2006-01-02", s)
}
