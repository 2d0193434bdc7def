package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/liaisonhq/liaison/fhir"
	"github.com/liaisonhq/liaison/gateway/store"
)

func messagesList(ctx context.Context, s *stdio, args []string) int {
	const cmd = "messages list"
	f := newFlags(cmd, "[--connector ID|NAME] [--state STATE] [--record TYPE/ID] [--limit N] [--before ID] [--json]", `
Lists outbox messages, newest first, as a table: id, connector, record,
operation, state, attempts, age, next attempt and last error. Each message
is one record change on its way to one connector. The gateway gives 100
messages unless --limit says otherwise; --before the last id shown gives
the next page.
`+opsAbout)
	o := addOpsFlags(f, "write the gateway's JSON instead")
	conn := f.String("connector", "", "only the messages of this connector, by `ID or NAME`")
	state := f.String("state", "", "only the messages in this `state`: queued, failed (to be retried), delivered or dead")
	record := f.String("record", "", "only the messages of one record, as `TYPE/ID` (Appointment/A-1001)")
	limit := f.Int("limit", 0, "at most `N` messages, 1 to 1000 (default 100)")
	before := f.String("before", "", "only messages older than the message `ID`: the next page")
	if code, ok := noArguments(s, f, args); !ok {
		return code
	}
	c, err := o.client()
	if err != nil {
		return opsFail(s, cmd, err)
	}
	q := url.Values{}
	if *conn != "" {
		cs, _, err := c.connector(ctx, *conn)
		if err != nil {
			return opsFail(s, cmd, err)
		}
		q.Set("connector", cs.ID)
	}
	if *state != "" {
		q.Set("state", *state)
	}
	if *record != "" {
		q.Set("record", *record)
	}
	if *limit != 0 {
		q.Set("limit", strconv.Itoa(*limit))
	}
	if *before != "" {
		q.Set("before", *before)
	}
	var page messagePage
	raw, err := c.get(ctx, "/api/messages", q, &page)
	if err != nil {
		return opsFail(s, cmd, err)
	}
	if o.json {
		return writeRaw(s, cmd, raw)
	}
	if len(page.Messages) == 0 {
		fmt.Fprintln(s.out, "No messages.")
		return exitOK
	}
	names := c.connectorNames(ctx)
	now := time.Now()
	w := newTable(s.out)
	tableRow(w, "ID", "CONNECTOR", "RECORD", "OP", "STATE", "ATTEMPTS", "CREATED", "NEXT ATTEMPT", "LAST ERROR")
	for _, m := range page.Messages {
		tableRow(w, m.ID, connectorName(names, m.Connector), m.RecordType+"/"+m.RecordID, m.Op, string(m.State), thousands(m.Attempts),
			humanAgo(m.CreatedAt, now), nextAttempt(m.messageView, now), shorten(m.LastError, 64))
	}
	if code := flushTable(s, cmd, w); code != exitOK {
		return code
	}
	pageSize := *limit
	if pageSize == 0 {
		pageSize = 100 // the gateway's default
	}
	if n := len(page.Messages); n == pageSize {
		fmt.Fprintf(s.err, "More may follow: add --before %s for the next page.\n", page.Messages[n-1].ID)
	}
	return exitOK
}

// connectorName is a connector's name for tables, its id when it has none.
func connectorName(names map[string]string, id string) string {
	if n := names[id]; n != "" {
		return n
	}
	return id
}

// nextAttempt is when a message will be tried next, for people.
func nextAttempt(m messageView, now time.Time) string {
	if m.NextAttemptAt.IsZero() || m.State == store.Delivered || m.State == store.Dead {
		return noValue
	}
	if !m.NextAttemptAt.After(now) {
		return "now"
	}
	return humanAgo(m.NextAttemptAt, now)
}

func messagesShow(ctx context.Context, s *stdio, args []string) int {
	const cmd = "messages show"
	f := newFlags(cmd, "ID [--body] [--json]", `
Shows one outbox message: its record, connector, state, mapping and
idempotency key, then every attempt at delivering it — time, HTTP status,
duration, and the error with the diagnostics of the OperationOutcome the
connector answered. The body, which holds patient data, is printed only
with --body.
`+opsAbout)
	o := addOpsFlags(f, "write the gateway's JSON instead, body included")
	body := f.Bool("body", false, "print the message's body too")
	id, code, ok := oneArgument(s, f, args, "a message ID")
	if !ok {
		return code
	}
	c, err := o.client()
	if err != nil {
		return opsFail(s, cmd, err)
	}
	var m messageDetail
	raw, err := c.get(ctx, "/api/messages/"+url.PathEscape(id), nil, &m)
	if err != nil {
		return opsFail(s, cmd, err)
	}
	if o.json {
		return writeRaw(s, cmd, raw)
	}
	names := c.connectorNames(ctx)
	now := time.Now()
	w := newTable(s.out)
	field := func(name, value string) { tableRow(w, name, value) }
	field("ID", m.ID)
	field("Connector", describeConnector(names, m.Connector))
	field("Record", m.RecordType+"/"+m.RecordID)
	field("Operation", m.Op)
	field("State", string(m.State))
	field("Created", humanWhen(m.CreatedAt, now))
	field("Next attempt", nextAttempt(m.messageView, now))
	if !m.DeliveredAt.IsZero() {
		field("Delivered", humanWhen(m.DeliveredAt, now))
	}
	if m.Mapping != "" {
		field("Mapping", m.Mapping+" (version "+m.MappingVersion+")")
	}
	field("Idempotency key", m.IdempotencyKey)
	field("Last error", m.LastError)
	bodyText := noValue
	if m.Body != "" {
		bodyText = humanSize(len(m.Body)) + " of " + m.ContentType
		if !*body {
			bodyText += " (--body prints it)"
		}
	}
	field("Body", bodyText)
	if code := flushTable(s, cmd, w); code != exitOK {
		return code
	}

	fmt.Fprintf(s.out, "\nAttempts (%d):\n", len(m.Attempts))
	if len(m.Attempts) == 0 {
		fmt.Fprintln(s.out, "None yet.")
	} else {
		w = newTable(s.out)
		tableRow(w, "#", "TIME", "STATUS", "DURATION", "ERROR")
		for i, a := range m.Attempts {
			status := noValue
			if a.Status != 0 {
				status = strconv.Itoa(a.Status)
			}
			tableRow(w, strconv.Itoa(i+1), a.At.Local().Format(time.DateTime), status, humanLatency(a.Duration), attemptError(a))
		}
		if code := flushTable(s, cmd, w); code != exitOK {
			return code
		}
	}
	if *body && m.Body != "" {
		fmt.Fprintln(s.out, "\nBody:")
		var buf bytes.Buffer
		if json.Indent(&buf, []byte(m.Body), "", "  ") != nil {
			buf.Reset()
			buf.WriteString(m.Body)
		}
		fmt.Fprintln(s.out, strings.TrimRight(buf.String(), "\n"))
	}
	return exitOK
}

// describeConnector is "name (id)", or the id alone when its name is unknown.
func describeConnector(names map[string]string, id string) string {
	if n := names[id]; n != "" {
		return n + " (" + id + ")"
	}
	return id
}

// humanWhen is a time, local, and how long ago it was.
func humanWhen(t, now time.Time) string {
	if t.IsZero() {
		return noValue
	}
	return t.Local().Format(time.DateTime) + " (" + humanAgo(t, now) + ")"
}

// attemptError is what went wrong in an attempt: its error, and the
// diagnostics of the OperationOutcome the connector answered, or the
// start of its answer otherwise.
func attemptError(a store.Attempt) string {
	parts := []string{}
	if a.Error != "" {
		parts = append(parts, a.Error)
	}
	if len(a.Outcome) > 0 {
		var oo struct {
			ResourceType string      `json:"resourceType"`
			Issue        fhir.Issues `json:"issue"`
		}
		if json.Unmarshal(a.Outcome, &oo) == nil && oo.ResourceType == "OperationOutcome" {
			for _, is := range oo.Issue {
				text := is.Diagnostics
				if len(is.Expression) > 0 {
					text += " (at " + strings.Join(is.Expression, ", ") + ")"
				}
				if text != "" {
					parts = append(parts, text)
				}
			}
		} else {
			parts = append(parts, shorten(string(a.Outcome), 80))
		}
	}
	if a.Response != "" {
		parts = append(parts, shorten(a.Response, 80))
	}
	return strings.Join(parts, " — ")
}

func messagesReplay(ctx context.Context, s *stdio, args []string) int {
	const cmd = "messages replay"
	f := newFlags(cmd, "ID | --connector ID|NAME --dead  [--no-wait] [--json]", `
Sends dead messages again: the message ID, or with --connector and --dead
every dead message of a connector. Fix what made them fail first.

It then follows the replayed messages, with a progress bar on standard
error, until each one is delivered, dead again or waiting for a retry,
and prints the result. It exits 0 when every message was delivered, and 1,
saying what is left, otherwise. It stops waiting when the connector is
paused or its circuit breaker opens. --no-wait returns at once.

With --json it writes the gateway's answer with --no-wait, else
{"replay": the gateway's answer, "result": {"total", "delivered", "dead",
"retrying", "held", "pending"}}.
`+opsAbout)
	o := addOpsFlags(f, "write JSON instead")
	conn := f.String("connector", "", "replay the dead messages of this connector, by `ID or NAME` (with --dead)")
	dead := f.Bool("dead", false, "with --connector: replay every dead message")
	noWait := f.Bool("no-wait", false, "return once the messages are queued again")
	pos, code, ok := f.parse(s, args)
	if !ok {
		return code
	}
	switch {
	case len(pos) > 1:
		return f.usageError(s, "unexpected argument %q", pos[1])
	case len(pos) == 1 && (*conn != "" || *dead):
		return f.usageError(s, "give a message ID or --connector with --dead, not both")
	case len(pos) == 0 && *conn == "":
		return f.usageError(s, "a message ID, or --connector with --dead, is required")
	case len(pos) == 0 && !*dead:
		return f.usageError(s, "--connector replays every dead message of the connector: add --dead to say so")
	case *dead && *conn == "":
		return f.usageError(s, "--dead needs --connector")
	}
	c, err := o.client()
	if err != nil {
		return opsFail(s, cmd, err)
	}

	var (
		cs  *connectorStatus
		fl  *follower
		raw []byte
	)
	if len(pos) == 1 {
		var m messageItem
		if raw, err = c.post(ctx, "/api/messages/"+url.PathEscape(pos[0])+"/replay", &m); err != nil {
			return opsFail(s, cmd, err)
		}
		if cs, _, err = c.connector(ctx, m.Connector); err != nil {
			return opsFail(s, cmd, err)
		}
		fl = &follower{c: c, conn: cs.ID, start: map[string]int{m.ID: m.Attempts}}
	} else {
		if cs, _, err = c.connector(ctx, *conn); err != nil {
			return opsFail(s, cmd, err)
		}
		if !*noWait {
			if fl, err = followState(ctx, c, cs.ID, store.Dead); err != nil {
				return opsFail(s, cmd, err)
			}
		}
		if raw, err = c.post(ctx, connectorPath(cs.ID, "replay"), nil); err != nil {
			return opsFail(s, cmd, err)
		}
	}
	if *noWait {
		if o.json {
			return writeRaw(s, cmd, raw)
		}
		if len(pos) == 1 {
			fmt.Fprintf(s.out, "Message %s is queued again for %s.\n", pos[0], cs.Name)
		} else {
			var ans struct {
				Replayed int `json:"replayed"`
			}
			json.Unmarshal(raw, &ans)
			fmt.Fprintf(s.out, "%s dead %s of %s queued again.\n", thousands(ans.Replayed), plural(ans.Replayed, "message", "messages"), cs.Name)
		}
		return exitOK
	}

	p := newProgressBar(s, "replay to "+cs.Name)
	r, err := followMessages(ctx, p, fl, false)
	p.finish()
	if errors.Is(err, context.Canceled) {
		return opsFail(s, cmd, fmt.Errorf("stopped waiting; the messages are delivered all the same (liaison messages list --connector %s)", cs.ID))
	}
	if err != nil {
		return opsFail(s, cmd, err)
	}
	if o.json {
		out := struct {
			Replay json.RawMessage `json:"replay"`
			Result tally           `json:"result"`
		}{raw, r.tally}
		if code := writeJSON(s, cmd, out); code != exitOK {
			return code
		}
		return reportFollowed(s, cmd, cs, r)
	}
	switch {
	case r.Total == 0:
		fmt.Fprintf(s.out, "%s has no dead messages.\n", cs.Name)
	case len(pos) == 1 && r.Delivered == 1:
		fmt.Fprintf(s.out, "Message %s delivered to %s.\n", pos[0], cs.Name)
	default:
		fmt.Fprintf(s.out, "Replayed %s %s to %s: %s.\n", thousands(r.Total), plural(r.Total, "message", "messages"), cs.Name, r.tally)
	}
	if len(pos) == 1 && r.Dead+r.Retrying > 0 {
		// Say why, as the connector answered.
		var m messageDetail
		if _, err := c.get(ctx, "/api/messages/"+url.PathEscape(pos[0]), nil, &m); err == nil && m.LastError != "" {
			fmt.Fprintf(s.err, "liaison %s: %s: %s\n", cmd, pos[0], m.LastError)
		}
	}
	return reportFollowed(s, cmd, cs, r)
}
