package gateway

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/liaisonhq/liaison/fhir"
	"github.com/liaisonhq/liaison/gateway/store"
	"github.com/liaisonhq/liaison/transform"
)

// sourceHMS is the source of record changes posted by HMS applications.
const sourceHMS = store.SourceHMS

// result is what a change did, for the answer.
type result struct {
	Type      string   `json:"type"`
	ID        string   `json:"id"`
	Version   int64    `json:"version"`
	Status    string   `json:"status"` // accepted, unchanged, deleted
	Messages  []string `json:"messages,omitempty"`
	unchanged bool
}

// writeResult answers with r as JSON, written without reflection: it is
// the answer to every accepted record (BENCHMARKS.md, "Stop 12"). With
// ?pretty it leaves the answer to Echo, which indents it.
func writeResult(c echo.Context, status int, r *result) error {
	if strings.Contains(c.Request().URL.RawQuery, "pretty") { // Echo indents it for a real ?pretty
		return c.JSON(status, r)
	}
	b := make([]byte, 0, 96+len(r.Type)+len(r.ID)+20*len(r.Messages))
	b = append(b, `{"type":`...)
	b = fhir.AppendJSONString(b, r.Type)
	b = append(b, `,"id":`...)
	b = fhir.AppendJSONString(b, r.ID)
	b = append(b, `,"version":`...)
	b = strconv.AppendInt(b, r.Version, 10)
	b = append(b, `,"status":`...)
	b = fhir.AppendJSONString(b, r.Status)
	if len(r.Messages) > 0 {
		b = append(b, `,"messages":[`...)
		for i, id := range r.Messages {
			if i > 0 {
				b = append(b, ',')
			}
			b = fhir.AppendJSONString(b, id)
		}
		b = append(b, ']')
	}
	b = append(b, "}\n"...)
	return c.Blob(status, echo.MIMEApplicationJSON, b)
}

// recordKey is the field that holds the id of a record type.
func (g *Gateway) recordKey(typ string) string {
	if k := g.cfg.RecordKeys[typ]; k != "" {
		return k
	}
	return "id"
}

// decodeRecord reads an HMS record: a JSON object, numbers kept as
// written, with the FHIR core's JSON decoder (fhir.ParseJSON checks syntax
// only), so a record whose meaning is ambiguous — a key given twice, an
// unpaired UTF-16 surrogate — is refused with where it goes wrong.
func decodeRecord(data []byte) (map[string]any, error) {
	res, err := fhir.ParseJSON(data)
	if err == nil {
		return res, nil
	}
	diag := "a record is a JSON object"
	var se *fhir.SyntaxError
	if trimmed := bytes.TrimLeft(data, " \t\r\n"); len(trimmed) > 0 && trimmed[0] == '{' && errors.As(err, &se) {
		diag = fmt.Sprintf("body is not a record: line %d, column %d: %s", se.Line, se.Col, se.Msg)
	}
	return nil, &statusError{status: http.StatusBadRequest, issue: fhir.Issue{Severity: fhir.SeverityError, Code: fhir.IssueStructure, Diagnostics: diag}}
}

// idOf returns the record's id from its key field.
func idOf(rec map[string]any, key string) (string, bool) {
	switch v := rec[key].(type) {
	case string:
		return v, validName(v)
	case json.Number:
		return v.String(), validName(v.String())
	}
	return "", false
}

// contentHash is the hash of a record's canonical JSON (keys sorted,
// numbers as written): equal records have equal hashes.
func contentHash(canonical []byte) string {
	sum := sha256.Sum256(canonical)
	return hex.EncodeToString(sum[:])
}

// prepareChange maps a record change for every connector that takes its
// type, except its source. A mapping that fails is the caller's 422: the
// record is refused as a whole, so nothing half-sent is stored.
//
// rec is the record's fields when the caller has them: for an upsert,
// ch.Data decoded (nil decodes it here); for a delete, the record as last
// known (nil when unknown).
func (g *Gateway) prepareChange(ch *store.Change, rec map[string]any) error {
	if rec == nil && !ch.Deleted {
		var err error
		if rec, err = decodeRecord(ch.Data); err != nil {
			return err
		}
	}
	op := "upsert"
	if ch.Deleted {
		op = "delete"
	}
	for _, lc := range g.liveConnectors() {
		if lc.id == ch.Source || !lc.sends(ch.Type) {
			continue
		}
		m := &store.Message{Connector: lc.id, RecordType: ch.Type, RecordID: ch.ID, Op: op}
		if rec != nil {
			body, ctype, err := g.mapFor(lc, ch.Type, rec)
			if err != nil {
				return mappingError(lc, ch.Type, err)
			}
			m.Body, m.ContentType = string(body), ctype
			if mp := lc.outbound[ch.Type]; mp != nil {
				m.Mapping, m.MappingVersion = mp.Name, mp.Version
			}
		}
		ch.Messages = append(ch.Messages, m)
	}
	return nil
}

// mapFor maps a record for a connector: its outbound mapping, or the
// record as it is.
func (g *Gateway) mapFor(lc *liveConnector, typ string, rec map[string]any) ([]byte, string, error) {
	m := lc.outbound[typ]
	if m == nil {
		body, err := canonicalJSON(rec)
		return body, echo.MIMEApplicationJSON, err
	}
	defer g.metrics.mapped(m.Name, time.Now())
	out, err := m.Map(rec)
	if err != nil {
		return nil, "", err
	}
	body, err := m.Encode(out)
	return body, contentType(m.Output), err
}

// contentType is the media type of a mapping output format.
func contentType(f transform.Format) string {
	switch f {
	case transform.FormatFHIR:
		return mimeFHIRJSON
	case transform.FormatFHIRXML:
		return mimeFHIRXML
	case transform.FormatXML:
		return echo.MIMEApplicationXML
	case transform.FormatHL7v2:
		return mimeHL7v2
	}
	return echo.MIMEApplicationJSON
}

// mappingError is the 422 for a record a connector's mapping cannot take,
// with the mapping's issues (FHIR validation) or its error (rule and
// input paths, never values).
func mappingError(lc *liveConnector, typ string, err error) error {
	prefix := fmt.Sprintf("connector %s, %s mapping: ", lc.cfg.Name, typ)
	var issues fhir.Issues
	if errors.As(err, &issues) {
		out := make(fhir.Issues, len(issues))
		for i, is := range issues {
			is.Diagnostics = prefix + is.Diagnostics
			out[i] = is
		}
		return &issuesError{status: http.StatusUnprocessableEntity, issues: out}
	}
	var te *transform.Error
	is := fhir.Issue{Severity: fhir.SeverityError, Code: fhir.IssueProcessing, Diagnostics: prefix + err.Error()}
	if errors.As(err, &te) {
		is.Expression = te.Input
	}
	return &statusError{status: http.StatusUnprocessableEntity, issue: is}
}

// commitChange stores the record and its messages — on bbolt in one
// transaction shared with concurrent requests; when it returns nil, the
// change is durable. A record whose content did not change sends nothing.
func (g *Gateway) commitChange(c echo.Context, ch *store.Change) (*result, error) {
	ch.RequestID, ch.Address = requestID(c), clientAddress(c)
	done, err := g.store.Accept(c.Request().Context(), &store.Batch{Changes: []*store.Change{ch}})
	if err != nil {
		return nil, err
	}
	return g.changed(ch, done[0]), nil
}

// changed finishes an accepted change: the answer's result, and a nudge
// to the connectors that got messages.
func (g *Gateway) changed(ch *store.Change, a store.Accepted) *result {
	res := &result{Type: ch.Type, ID: ch.ID, Version: a.Version, Messages: a.Messages, Status: "accepted", unchanged: a.Unchanged}
	switch {
	case a.Unchanged:
		res.Status = "unchanged"
	case ch.Deleted:
		res.Status = "deleted"
	}
	if len(a.Messages) > 0 {
		conns := make([]string, len(ch.Messages))
		for i, m := range ch.Messages {
			conns[i] = m.Connector
		}
		g.outbox.Notify(conns...)
	}
	return res
}

// changeSource is where a change posted to the records API comes from:
// the connector named (by id or name) in ?source=, which then gets no
// message for it — an application that is also a connector does not get
// its own changes back — or else sourceHMS.
func (g *Gateway) changeSource(c echo.Context) (string, error) {
	name := c.QueryParam("source")
	if name == "" {
		return sourceHMS, nil
	}
	for _, lc := range g.liveConnectors() {
		if lc.id == name || lc.cfg.Name == name {
			return lc.id, nil
		}
	}
	return "", &statusError{status: http.StatusBadRequest, issue: fhir.Issue{Severity: fhir.SeverityError, Code: fhir.IssueNotFound,
		Diagnostics: "source names no connector: give a connector's id or name, or leave it out", Expression: []string{"source"}}}
}

// putRecord handles POST /api/records/{type} and PUT /api/records/{type}/{id}.
func (g *Gateway) putRecord(c echo.Context) error {
	typ := c.Param("type")
	if !validName(typ) {
		return badParam("type", "a record type")
	}
	body, err := readJSONBody(c, g.cfg.MaxBody)
	if err != nil {
		return err
	}
	rec, err := decodeRecord(body)
	if err != nil {
		return err
	}
	key := g.recordKey(typ)
	id, ok := idOf(rec, key)
	if urlID := c.Param("id"); urlID != "" {
		if !validName(urlID) {
			return badParam("id", "a record id")
		}
		if _, present := rec[key]; !present {
			rec[key], id, ok = urlID, urlID, true
		} else if id != urlID {
			return &statusError{status: http.StatusBadRequest, issue: fhir.Issue{Severity: fhir.SeverityError, Code: fhir.IssueInvalid,
				Diagnostics: fmt.Sprintf("the record's %s differs from the id in the path", key), Expression: []string{key}}}
		}
	}
	if !ok {
		return &statusError{status: http.StatusBadRequest, issue: fhir.Issue{Severity: fhir.SeverityError, Code: fhir.IssueRequired,
			Diagnostics: fmt.Sprintf("a %s record needs its id in %q: text of 1 to 128 characters, without / or control characters", typ, key), Expression: []string{key}}}
	}
	canonical, err := canonicalJSON(rec)
	if err != nil {
		return err
	}
	source, err := g.changeSource(c)
	if err != nil {
		return err
	}
	ch := &store.Change{Type: typ, ID: id, Data: canonical, Hash: contentHash(canonical), Source: source}
	if err := g.prepareChange(ch, rec); err != nil { // rec is canonical decoded: no need to decode it again
		return err
	}
	res, err := g.commitChange(c, ch)
	if err != nil {
		return err
	}
	status := http.StatusAccepted
	if res.unchanged {
		status = http.StatusOK
	}
	return writeResult(c, status, res)
}

// deleteRecord handles DELETE /api/records/{type}/{id}: every connector
// that has the record gets a delete, mapped from the record as last known.
func (g *Gateway) deleteRecord(c echo.Context) error {
	typ, id := c.Param("type"), c.Param("id")
	if !validName(typ) || !validName(id) {
		return badParam("type and id", "a record type and id")
	}
	var last map[string]any
	old, err := g.store.Record(c.Request().Context(), typ, id)
	if err != nil {
		return notFound(store.ErrNotFound, typ+" record", id)
	}
	if len(old.Data) > 0 {
		last, _ = decodeRecord(old.Data)
	}
	source, err := g.changeSource(c)
	if err != nil {
		return err
	}
	ch := &store.Change{Type: typ, ID: id, Deleted: true, Hash: "deleted-" + strconv.FormatInt(old.Version, 10), Source: source}
	if err := g.prepareChange(ch, last); err != nil {
		return err
	}
	res, err := g.commitChange(c, ch)
	if err != nil {
		return notFound(err, typ+" record", id)
	}
	status := http.StatusAccepted
	if res.unchanged {
		status = http.StatusOK
	}
	return writeResult(c, status, res)
}

// getRecord handles GET /api/records/{type}/{id}: the record and where it
// stands at each connector.
func (g *Gateway) getRecord(c echo.Context) error {
	typ, id := c.Param("type"), c.Param("id")
	ctx := c.Request().Context()
	rec, err := g.store.Record(ctx, typ, id)
	var states []store.SyncState
	if err == nil {
		states, err = g.store.SyncStates(ctx, typ, id)
	}
	if err != nil {
		return notFound(err, typ+" record", id)
	}
	if states == nil {
		states = []store.SyncState{}
	}
	return c.JSON(http.StatusOK, map[string]any{
		"type": rec.Type, "id": rec.ID, "version": rec.Version, "hash": rec.Hash, "source": rec.Source,
		"deleted": rec.Deleted, "updatedAt": rec.UpdatedAt, "data": rec.Data, "sync": states,
	})
}

// badParam is the 400 for a path parameter that cannot be used.
func badParam(name, what string) error {
	return &statusError{status: http.StatusBadRequest, issue: fhir.Issue{Severity: fhir.SeverityError, Code: fhir.IssueInvalid,
		Diagnostics: fmt.Sprintf("%s must be %s: 1 to 128 characters, without / or control characters", name, what)}}
}
