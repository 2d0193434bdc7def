package gateway

import (
	"net/http"
	"slices"
	"strconv"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/liaisonhq/liaison/fhir"
	"github.com/liaisonhq/liaison/gateway/store"
)

// listMessages handles GET /api/messages?connector=&state=&before=&limit=:
// newest first, paged with before (the last id of the previous page).
func (g *Gateway) listMessages(c echo.Context) error {
	f := store.Filter{Connector: c.QueryParam("connector"), State: store.State(c.QueryParam("state")), Before: c.QueryParam("before")}
	if rec := c.QueryParam("record"); rec != "" {
		typ, id, ok := strings.Cut(rec, "/")
		if !ok || !validName(typ) || !validName(id) {
			return badQuery("record", "record must be TYPE/ID, e.g. Appointment/A-1001")
		}
		f.RecordType, f.RecordID = typ, id
	}
	if f.State != "" && !slices.Contains(store.States, f.State) {
		return &statusError{status: http.StatusBadRequest, issue: fhir.Issue{Severity: fhir.SeverityError, Code: fhir.IssueInvalid,
			Diagnostics: "state must be queued, failed, delivered or dead", Expression: []string{"state"}}}
	}
	if l := c.QueryParam("limit"); l != "" {
		n, err := strconv.Atoi(l)
		if err != nil || n < 1 || n > 1000 {
			return &statusError{status: http.StatusBadRequest, issue: fhir.Issue{Severity: fhir.SeverityError, Code: fhir.IssueInvalid,
				Diagnostics: "limit must be a number from 1 to 1000", Expression: []string{"limit"}}}
		}
		f.Limit = n
	}
	ms, err := g.store.Messages(c.Request().Context(), f)
	if err != nil {
		return err
	}
	out := make([]map[string]any, len(ms))
	for i, m := range ms {
		out[i] = messageView(m, false)
	}
	return c.JSON(http.StatusOK, map[string]any{"messages": out})
}

// messageView is a message as the API shows it. The body, which holds
// patient data, is shown only for one message asked for by id.
func messageView(m *store.Message, full bool) map[string]any {
	v := map[string]any{
		"id": m.ID, "connector": m.Connector, "recordType": m.RecordType, "recordId": m.RecordID,
		"op": m.Op, "state": m.State, "createdAt": m.CreatedAt, "attempts": len(m.Attempts),
		"idempotencyKey": m.IdempotencyKey,
	}
	if m.Mapping != "" {
		v["mapping"], v["mappingVersion"] = m.Mapping, m.MappingVersion
	}
	if !m.NextAttemptAt.IsZero() && m.State != store.Delivered && m.State != store.Dead {
		v["nextAttemptAt"] = m.NextAttemptAt
	}
	if !m.DeliveredAt.IsZero() {
		v["deliveredAt"] = m.DeliveredAt
	}
	if n := len(m.Attempts); n > 0 {
		v["lastAttemptAt"] = m.Attempts[n-1].At
	}
	if m.LastError != "" {
		v["lastError"] = m.LastError
	}
	if full {
		attempts := m.Attempts
		if attempts == nil {
			attempts = []store.Attempt{}
		}
		v["attempts"] = attempts
		v["contentType"] = m.ContentType
		v["body"] = m.Body
	}
	return v
}

// getMessage handles GET /api/messages/{id}: one message with its attempts.
func (g *Gateway) getMessage(c echo.Context) error {
	m, err := g.store.Message(c.Request().Context(), c.Param("id"))
	if err != nil {
		return notFound(err, "message", c.Param("id"))
	}
	return c.JSON(http.StatusOK, messageView(m, true))
}

// replayMessage handles POST /api/messages/{id}/replay: a dead message
// goes back to its lane.
func (g *Gateway) replayMessage(c echo.Context) error {
	m, err := g.store.Replay(c.Request().Context(), c.Param("id"))
	if err != nil {
		return notFound(err, "message", c.Param("id"))
	}
	g.outbox.Notify(m.Connector)
	return c.JSON(http.StatusAccepted, messageView(m, false))
}
