package main

import (
	"context"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"time"
)

func auditList(ctx context.Context, s *stdio, args []string) int {
	const cmd = "audit list"
	f := newFlags(cmd, "[--entity TYPE/ID] [--kind accept|delivery] [--connector ID|NAME] [--since WHEN] [--limit N] [--before ID] [--json]", `
Lists the audit trail, newest first, as a table: when, what (accept or
delivery), the interaction (create, update, delete), the outcome (ok,
retry, dead), the record, who asked, the connector, and the HTTP status of
a delivery or the request id of an accept. Every accepted record change
and every delivery attempt has an entry, written with what it records;
--json prints the gateway's FHIR Bundle of AuditEvents.
`+opsAbout)
	o := addOpsFlags(f, "write the gateway's FHIR Bundle of AuditEvents instead")
	entity := f.String("entity", "", "only the entries of one record, as `TYPE/ID` (Appointment/A-1001)")
	kind := f.String("kind", "", "only accepts or only deliveries: `accept` or `delivery`")
	conn := f.String("connector", "", "only the entries of this connector, as client or server, by `ID or NAME`")
	since := f.String("since", "", "only entries at or after `WHEN`: a date (2026-11-29) or an instant (2026-11-29T05:00:00Z)")
	limit := f.Int("limit", 0, "at most `N` entries, 1 to 1000 (default 100)")
	before := f.String("before", "", "only entries older than the entry `ID`: the next page")
	if code, ok := noArguments(s, f, args); !ok {
		return code
	}
	c, err := o.client()
	if err != nil {
		return opsFail(s, cmd, err)
	}
	q := url.Values{}
	for name, v := range map[string]string{"entity": *entity, "kind": *kind, "since": *since, "before": *before} {
		if v != "" {
			q.Set(name, v)
		}
	}
	if *conn != "" {
		cs, _, err := c.connector(ctx, *conn)
		if err != nil {
			return opsFail(s, cmd, err)
		}
		q.Set("connector", cs.ID)
	}
	if *limit != 0 {
		q.Set("_count", strconv.Itoa(*limit))
	}
	var bundle auditBundle
	raw, err := c.get(ctx, "/api/audit", q, &bundle)
	if err != nil {
		return opsFail(s, cmd, err)
	}
	if o.json {
		return writeRaw(s, cmd, raw)
	}
	if len(bundle.Entry) == 0 {
		fmt.Fprintln(s.out, "No audit entries.")
		return exitOK
	}
	names := c.connectorNames(ctx)
	now := time.Now()
	w := newTable(s.out)
	tableRow(w, "ID", "WHEN", "WHAT", "INTERACTION", "OUTCOME", "RECORD", "BY", "CONNECTOR", "DETAIL")
	for _, e := range bundle.Entry {
		ev := e.Resource
		tableRow(w, ev.ID, humanAgo(ev.Recorded, now), ev.kind(), ev.interaction(), ev.outcome(), ev.record(),
			ev.requestor(names), connectorName(names, ev.server()), ev.detail())
	}
	if code := flushTable(s, cmd, w); code != exitOK {
		return code
	}
	for _, l := range bundle.Link {
		if l.Relation == "next" {
			if u, err := url.Parse(l.URL); err == nil {
				fmt.Fprintf(s.err, "More may follow: add --before %s for the next page.\n", u.Query().Get("before"))
			}
		}
	}
	return exitOK
}

// auditBundle is what GET /api/audit answers: a searchset Bundle of
// AuditEvents, as much of them as the table shows.
type auditBundle struct {
	Link []struct {
		Relation string `json:"relation"`
		URL      string `json:"url"`
	} `json:"link"`
	Entry []struct {
		Resource auditEvent `json:"resource"`
	} `json:"entry"`
}

type auditEvent struct {
	ID       string    `json:"id"`
	Recorded time.Time `json:"recorded"`
	Subtype  []struct {
		Code string `json:"code"`
	} `json:"subtype"`
	Outcome     string `json:"outcome"`
	OutcomeDesc string `json:"outcomeDesc"`
	Agent       []struct {
		Type struct {
			Coding []struct {
				Code string `json:"code"`
			} `json:"coding"`
		} `json:"type"`
		Who struct {
			Identifier *struct {
				System string `json:"system"`
				Value  string `json:"value"`
			} `json:"identifier"`
			Display string `json:"display"`
		} `json:"who"`
		Requestor bool `json:"requestor"`
	} `json:"agent"`
	Entity []struct {
		What struct {
			Identifier *struct {
				System string `json:"system"`
				Value  string `json:"value"`
			} `json:"identifier"`
		} `json:"what"`
		Type *struct {
			Code string `json:"code"`
		} `json:"type"`
	} `json:"entity"`
}

// The AuditEvent codes the gateway writes (gateway/audit.go).
const (
	auditConnectorSystem = "urn:liaison:connector"
	auditRecordPrefix    = "urn:liaison:record:"
)

// kind is accept when the gateway served the request, delivery when it
// made it.
func (ev auditEvent) kind() string {
	for _, a := range ev.Agent {
		if a.Requestor && a.Who.Display == "liaison" {
			return "delivery"
		}
	}
	return "accept"
}

func (ev auditEvent) interaction() string {
	if len(ev.Subtype) == 0 {
		return noValue
	}
	return ev.Subtype[0].Code
}

func (ev auditEvent) outcome() string {
	switch ev.Outcome {
	case "0":
		return "ok"
	case "4":
		return "retry"
	case "8":
		return "dead"
	}
	return ev.Outcome
}

func (ev auditEvent) record() string {
	for _, e := range ev.Entity {
		if id := e.What.Identifier; id != nil && strings.HasPrefix(id.System, auditRecordPrefix) {
			return strings.TrimPrefix(id.System, auditRecordPrefix) + "/" + id.Value
		}
	}
	return noValue
}

// requestor is who asked: the HMS application, a connector, or the gateway.
func (ev auditEvent) requestor(names map[string]string) string {
	for _, a := range ev.Agent {
		if !a.Requestor {
			continue
		}
		if id := a.Who.Identifier; id != nil && id.System == auditConnectorSystem {
			return connectorName(names, id.Value)
		}
		if strings.HasPrefix(a.Who.Display, "HMS") {
			return "HMS"
		}
		return a.Who.Display
	}
	return noValue
}

// server is the connector a delivery went to, or the one a change came
// from; "" for an HMS accept.
func (ev auditEvent) server() string {
	for _, a := range ev.Agent {
		if id := a.Who.Identifier; id != nil && id.System == auditConnectorSystem {
			return id.Value
		}
	}
	return ""
}

// detail is a failed delivery's outcome, or an accept's request id.
func (ev auditEvent) detail() string {
	if ev.OutcomeDesc != "" {
		return shorten(ev.OutcomeDesc, 48)
	}
	for _, e := range ev.Entity {
		if e.Type != nil && e.Type.Code == "XrequestId" && e.What.Identifier != nil {
			return "request " + e.What.Identifier.Value
		}
	}
	return ""
}
