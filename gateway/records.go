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
	"time"

	"github.com/labstack/echo/v4"

	"github.com/liaisonhq/liaison/fhir"
	"github.com/liaisonhq/liaison/gateway/store"
	"github.com/liaisonhq/liaison/transform"
)

// sourceHMS is the source of record changes posted by HMS applications.
const sourceHMS = "hms"

// change is one record change on its way into the store: the record and
// one message per connector it goes to.
type change struct {
	typ, id  string
	data     json.RawMessage // canonical JSON; nil for a delete
	hash     string
	deleted  bool
	source   string // sourceHMS or a connector id: it gets no message
	messages []*store.Message
	// requestID and address are the accepting request's X-Request-Id and
	// client address, for the audit trail; "" when none (a poll).
	requestID, address string
}

// result is what a change did, for the answer.
type result struct {
	Type      string   `json:"type"`
	ID        string   `json:"id"`
	Version   int64    `json:"version"`
	Status    string   `json:"status"` // accepted, unchanged, deleted
	Messages  []string `json:"messages,omitempty"`
	unchanged bool
}

// recordKey is the field that holds the id of a record type.
func (g *Gateway) recordKey(typ string) string {
	if k := g.cfg.RecordKeys[typ]; k != "" {
		return k
	}
	return "id"
}

// decodeRecord reads an HMS record: a JSON object, numbers kept as written.
func decodeRecord(data []byte) (map[string]any, error) {
	d := json.NewDecoder(bytes.NewReader(data))
	d.UseNumber()
	var rec map[string]any
	if err := d.Decode(&rec); err != nil || rec == nil {
		return nil, &statusError{status: http.StatusBadRequest, issue: fhir.Issue{Severity: fhir.SeverityError, Code: fhir.IssueStructure, Diagnostics: "a record is a JSON object"}}
	}
	return rec, nil
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
// ch.data decoded (nil decodes it here); for a delete, the record as last
// known (nil when unknown).
func (g *Gateway) prepareChange(ch *change, rec map[string]any) error {
	if rec == nil && !ch.deleted {
		var err error
		if rec, err = decodeRecord(ch.data); err != nil {
			return err
		}
	}
	op := "upsert"
	if ch.deleted {
		op = "delete"
	}
	for _, lc := range g.liveConnectors() {
		if lc.id == ch.source || !lc.sends(ch.typ) {
			continue
		}
		m := &store.Message{Connector: lc.id, RecordType: ch.typ, RecordID: ch.id, Op: op}
		if rec != nil {
			body, ctype, err := g.mapFor(lc, ch.typ, rec)
			if err != nil {
				return mappingError(lc, ch.typ, err)
			}
			m.Body, m.ContentType = string(body), ctype
			if mp := lc.outbound[ch.typ]; mp != nil {
				m.Mapping, m.MappingVersion = mp.Name, mp.Version
			}
		}
		ch.messages = append(ch.messages, m)
	}
	return nil
}

// mapFor maps a record for a connector: its outbound mapping, or the
// record as it is.
func (g *Gateway) mapFor(lc *liveConnector, typ string, rec map[string]any) ([]byte, string, error) {
	m := lc.outbound[typ]
	if m == nil {
		body, err := json.Marshal(rec)
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

// idempotencyKey is the same for every attempt of one change to one
// connector, and differs between changes: the record's version is in it,
// so a record that goes from A to B and back to A sends its third change
// under a key of its own (a downstream that deduplicates by key, or a
// queue by message id, would otherwise drop it as a repeat of the first).
func idempotencyKey(source, conn, typ, id, op, hash string, version int64) string {
	sum := sha256.Sum256([]byte(source + "\x00" + conn + "\x00" + typ + "\x00" + id + "\x00" + op + "\x00" + hash + "\x00" + strconv.FormatInt(version, 10)))
	return hex.EncodeToString(sum[:16])
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

// commitChange stores the record and its messages in one transaction,
// shared with concurrent requests; when it returns nil, the change is on
// disk. A record whose content did not change sends nothing.
func (g *Gateway) commitChange(c echo.Context, ch *change) (*result, error) {
	res := &result{Type: ch.typ, ID: ch.id}
	ch.requestID, ch.address = requestID(c), clientAddress(c)
	err := g.store.Update(c.Request().Context(), func(tx *store.Tx) error { return g.applyChange(tx, ch, res) })
	if err != nil {
		return nil, err
	}
	g.changed(res, ch)
	return res, nil
}

// applyChange writes one change inside a transaction, with its audit
// entry, and fills res. It may run more than once (group commit): it
// resets what it fills.
func (g *Gateway) applyChange(tx *store.Tx, ch *change, res *result) error {
	res.Messages, res.unchanged = res.Messages[:0], false
	old, err := tx.Record(ch.typ, ch.id)
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return err
	}
	if old != nil && old.Deleted == ch.deleted && (ch.deleted || old.Hash == ch.hash) {
		res.Version, res.unchanged = old.Version, true
		return g.auditAccept(tx, ch, res, false)
	}
	if old == nil && ch.deleted {
		return store.ErrNotFound
	}
	rec := &store.Record{Type: ch.typ, ID: ch.id, Data: ch.data, Hash: ch.hash, Version: 1, Source: ch.source, Deleted: ch.deleted, UpdatedAt: tx.Now()}
	if old != nil {
		rec.Version = old.Version + 1
		if ch.deleted {
			rec.Data, rec.Hash = old.Data, old.Hash
		}
	}
	if err := tx.PutRecord(rec); err != nil {
		return err
	}
	res.Version = rec.Version
	for _, m := range ch.messages {
		cp := *m
		cp.CreatedAt = tx.Now()
		cp.IdempotencyKey = idempotencyKey(ch.source, cp.Connector, ch.typ, ch.id, cp.Op, ch.hash, rec.Version)
		if err := tx.Enqueue(&cp); err != nil {
			return err
		}
		res.Messages = append(res.Messages, cp.ID)
	}
	return g.auditAccept(tx, ch, res, old == nil)
}

// changed finishes a committed change: its status, and a nudge to the
// connectors that got messages.
func (g *Gateway) changed(res *result, ch *change) {
	res.Status = "accepted"
	switch {
	case res.unchanged:
		res.Status = "unchanged"
	case ch.deleted:
		res.Status = "deleted"
	}
	if len(res.Messages) > 0 {
		conns := make([]string, len(ch.messages))
		for i, m := range ch.messages {
			conns[i] = m.Connector
		}
		g.outbox.Notify(conns...)
	}
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
	canonical, err := json.Marshal(rec)
	if err != nil {
		return err
	}
	source, err := g.changeSource(c)
	if err != nil {
		return err
	}
	ch := &change{typ: typ, id: id, data: canonical, hash: contentHash(canonical), source: source}
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
	return c.JSON(status, res)
}

// deleteRecord handles DELETE /api/records/{type}/{id}: every connector
// that has the record gets a delete, mapped from the record as last known.
func (g *Gateway) deleteRecord(c echo.Context) error {
	typ, id := c.Param("type"), c.Param("id")
	if !validName(typ) || !validName(id) {
		return badParam("type and id", "a record type and id")
	}
	var last map[string]any
	var old *store.Record
	g.store.View(func(tx *store.Tx) error {
		old, _ = tx.Record(typ, id)
		return nil
	})
	if old == nil {
		return notFound(store.ErrNotFound, typ+" record", id)
	}
	if len(old.Data) > 0 {
		last, _ = decodeRecord(old.Data)
	}
	source, err := g.changeSource(c)
	if err != nil {
		return err
	}
	ch := &change{typ: typ, id: id, deleted: true, hash: "deleted-" + strconv.FormatInt(old.Version, 10), source: source}
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
	return c.JSON(status, res)
}

// getRecord handles GET /api/records/{type}/{id}: the record and where it
// stands at each connector.
func (g *Gateway) getRecord(c echo.Context) error {
	typ, id := c.Param("type"), c.Param("id")
	var rec *store.Record
	var states []store.SyncState
	err := g.store.View(func(tx *store.Tx) error {
		var err error
		if rec, err = tx.Record(typ, id); err != nil {
			return err
		}
		states, err = tx.SyncStates(typ, id)
		return err
	})
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
