package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/liaisonhq/liaison/gateway/store"
)

func connectorsList(ctx context.Context, s *stdio, args []string) int {
	const cmd = "connectors list"
	f := newFlags(cmd, "[--json]", `
Lists the gateway's connectors as a table: id, name, type, status
(connected, error, paused, disabled), the outbox counts — queued, delivered,
failed (to be retried), dead — the age of the oldest undelivered message and
the last error, cut short (liaison connectors show ID has it whole).
`+opsAbout)
	o := addOpsFlags(f, "write the gateway's JSON array instead")
	if code, ok := noArguments(s, f, args); !ok {
		return code
	}
	c, err := o.client()
	if err != nil {
		return opsFail(s, cmd, err)
	}
	all, raws, err := c.connectors(ctx)
	if err != nil {
		return opsFail(s, cmd, err)
	}
	if o.json {
		raw, err := json.Marshal(raws) // the gateway's JSON as it came
		if err != nil {
			return opsFail(s, cmd, err)
		}
		return writeRaw(s, cmd, raw)
	}
	if len(all) == 0 {
		fmt.Fprintln(s.out, "No connectors registered.")
		return exitOK
	}
	w := newTable(s.out)
	tableRow(w, "ID", "NAME", "TYPE", "STATUS", "QUEUED", "DELIVERED", "FAILED", "DEAD", "OLDEST QUEUED", "LAST ERROR")
	for _, cs := range all {
		tableRow(w, cs.ID, cs.Name, string(cs.Type), cs.Status, thousands(cs.Queued), thousands(cs.Delivered), thousands(cs.Failed), thousands(cs.Dead),
			oldestAge(cs.OldestQueuedAge), shorten(cs.LastError, 64))
	}
	return flushTable(s, cmd, w)
}

// oldestAge is the age of the oldest undelivered message, in seconds as the
// API gives it, for people.
func oldestAge(seconds *float64) string {
	if seconds == nil {
		return noValue
	}
	return humanSpan(time.Duration(*seconds * float64(time.Second)))
}

// flushTable writes a table out.
func flushTable(s *stdio, cmd string, w interface{ Flush() error }) int {
	if err := w.Flush(); err != nil {
		return opsFail(s, cmd, fmt.Errorf("write: %w", err))
	}
	return exitOK
}

func connectorsShow(ctx context.Context, s *stdio, args []string) int {
	const cmd = "connectors show"
	f := newFlags(cmd, "ID|NAME [--json]", `
Shows one connector, by id or by name: its configuration (secrets show as
***), status, outbox counts, circuit breaker, last error, last sync, and
its last pull for a polling connector.
`+opsAbout)
	o := addOpsFlags(f, "write the gateway's JSON instead")
	ref, code, ok := oneArgument(s, f, args, "a connector ID or NAME")
	if !ok {
		return code
	}
	c, err := o.client()
	if err != nil {
		return opsFail(s, cmd, err)
	}
	cs, raw, err := c.connector(ctx, ref)
	if err != nil {
		return opsFail(s, cmd, err)
	}
	if o.json {
		return writeRaw(s, cmd, raw)
	}
	now := time.Now()
	w := newTable(s.out)
	field := func(name, value string) { tableRow(w, name, value) }
	field("ID", cs.ID)
	field("Name", cs.Name)
	field("Type", string(cs.Type))
	field("Endpoint", cs.Endpoint)
	field("Status", cs.Status)
	field("Sync", describeSync(cs))
	field("Resources", strings.Join(cs.Resources, ", "))
	if cs.Auth != nil {
		field("Auth", cs.Auth.Scheme)
	}
	field("Mapping", describeMapping(cs))
	d := cs.Delivery
	field("Delivery", fmt.Sprintf("retried for %s, backoff %s to %s, timeout %s, %d at once", d.MaxAge, d.InitialBackoff, d.MaxBackoff, d.Timeout, d.Concurrency))
	field("Breaker", cs.Breaker)
	field("Queued", thousands(cs.Queued))
	field("Delivered", thousands(cs.Delivered))
	field("Failed", thousands(cs.Failed)+" (to be retried)")
	field("Dead", thousands(cs.Dead))
	field("Oldest queued", oldestAge(cs.OldestQueuedAge))
	field("Last sync", humanAgo(cs.LastSyncAt, now))
	field("Last error", cs.LastError)
	if p := cs.Pull; p != nil {
		field("Last pull", describePull(p, now))
	}
	field("Registered", humanAgo(cs.CreatedAt, now))
	return flushTable(s, cmd, w)
}

// noArguments parses a command line that takes flags only.
func noArguments(s *stdio, f *flags, args []string) (int, bool) {
	pos, code, ok := f.parse(s, args)
	switch {
	case !ok:
		return code, false
	case len(pos) > 0:
		return f.usageError(s, "unexpected argument %q", pos[0]), false
	}
	return 0, true
}

// oneArgument parses a command line that takes exactly one argument, what.
func oneArgument(s *stdio, f *flags, args []string, what string) (string, int, bool) {
	pos, code, ok := f.parse(s, args)
	switch {
	case !ok:
		return "", code, false
	case len(pos) == 0:
		return "", f.usageError(s, "%s is required", what), false
	case len(pos) > 1:
		return "", f.usageError(s, "unexpected argument %q", pos[1]), false
	}
	return pos[0], 0, true
}

func describeSync(cs *connectorStatus) string {
	sy := cs.Sync
	switch {
	case sy.Path != "":
		return sy.Mode + " at " + sy.Path
	case sy.Interval != 0:
		return sy.Mode + " every " + sy.Interval.String()
	case sy.Subject != "":
		return sy.Mode + " on " + sy.Subject
	}
	return sy.Mode
}

func describeMapping(cs *connectorStatus) string {
	m := cs.Mapping
	var parts []string
	for _, dir := range []struct {
		name string
		by   map[string]string
	}{{"outbound", m.Outbound}, {"inbound", m.Inbound}} {
		for _, typ := range slices.Sorted(maps.Keys(dir.by)) {
			parts = append(parts, dir.name+" "+typ+": "+dir.by[typ])
		}
	}
	if len(m.Rename) > 0 {
		parts = append(parts, fmt.Sprintf("rename %d %s", len(m.Rename), plural(len(m.Rename), "field", "fields")))
	}
	if len(parts) == 0 {
		return "default"
	}
	return strings.Join(parts, "; ")
}

func describePull(p *pullStatus, now time.Time) string {
	kind := "changes"
	if p.Full {
		kind = "full"
	}
	out := fmt.Sprintf("%s (%s), %s %s, %s %s, started %s", p.State, kind, thousands(p.Pages), plural(p.Pages, "page", "pages"),
		thousands(p.Resources), plural(p.Resources, "resource", "resources"), humanAgo(p.StartedAt, now))
	if p.Error != "" {
		out += ": " + p.Error
	}
	return out
}

func connectorsPause(ctx context.Context, s *stdio, args []string) int {
	return pauseOrResume(ctx, s, args, true)
}

func connectorsResume(ctx context.Context, s *stdio, args []string) int {
	return pauseOrResume(ctx, s, args, false)
}

// pauseOrResume runs "connectors pause" and "connectors resume".
func pauseOrResume(ctx context.Context, s *stdio, args []string, pause bool) int {
	cmd, about := "connectors resume", `
Resumes deliveries to a connector, by id or by name, and re-enables one
that a 410 Gone disabled.`
	if pause {
		cmd, about = "connectors pause", `
Pauses deliveries to a connector, by id or by name: nothing is sent to it,
polls and queue consumers stop, and its messages keep queueing until
liaison connectors resume.`
	}
	f := newFlags(cmd, "ID|NAME [--json]", about+"\n"+opsAbout)
	o := addOpsFlags(f, "write the gateway's JSON of the connector instead")
	ref, code, ok := oneArgument(s, f, args, "a connector ID or NAME")
	if !ok {
		return code
	}
	c, err := o.client()
	if err != nil {
		return opsFail(s, cmd, err)
	}
	cs, _, err := c.connector(ctx, ref)
	if err != nil {
		return opsFail(s, cmd, err)
	}
	action := "resume"
	if pause {
		action = "pause"
	}
	var after connectorStatus
	raw, err := c.post(ctx, connectorPath(cs.ID, action), &after)
	if err != nil {
		return opsFail(s, cmd, err)
	}
	if o.json {
		return writeRaw(s, cmd, raw)
	}
	if pause {
		fmt.Fprintf(s.out, "Paused %s: nothing is delivered until liaison connectors resume; %s queued.\n", after.Name, thousands(after.Queued))
	} else {
		fmt.Fprintf(s.out, "Resumed %s: status %s, %s queued.\n", after.Name, after.Status, thousands(after.Queued))
	}
	return exitOK
}

// syncAnswer is the answer of POST /api/external-connectors/{id}/sync.
type syncAnswer struct {
	Status    string      `json:"status"` // sync_started, or sync_running when a pull was running already
	StartedAt time.Time   `json:"startedAt"`
	Retried   int         `json:"retried"`  // failed messages made due now
	Replayed  int         `json:"replayed"` // dead messages replayed
	Pull      *pullStatus `json:"pull"`     // a polling connector's full pull
}

func connectorsSync(ctx context.Context, s *stdio, args []string) int {
	const cmd = "connectors sync"
	f := newFlags(cmd, "ID|NAME [--no-wait] [--json]", `
Syncs a connector, by id or by name: every message it has not taken is sent
again now — failed ones without waiting for their retry, dead ones replayed
— and a polling connector pulls everything, not only what changed.

It then follows the sync, with a progress bar on standard error, until
each message is delivered, dead again or waiting for a retry and the pull
has finished, and prints the result. It exits 0 when everything was
delivered, and 1, saying what is left, otherwise. It stops waiting when
the connector is paused or its circuit breaker opens; an interrupt stops
the waiting, not the sync. --no-wait returns once the sync has started.

With --json it writes the gateway's answer with --no-wait, else
{"sync": the gateway's answer, "result": {"total", "delivered", "dead",
"retrying", "held", "pending"}, "pull": the pull's status}.
`+opsAbout)
	o := addOpsFlags(f, "write JSON instead")
	noWait := f.Bool("no-wait", false, "return once the sync has started")
	ref, code, ok := oneArgument(s, f, args, "a connector ID or NAME")
	if !ok {
		return code
	}
	c, err := o.client()
	if err != nil {
		return opsFail(s, cmd, err)
	}
	cs, _, err := c.connector(ctx, ref)
	if err != nil {
		return opsFail(s, cmd, err)
	}
	var fl *follower
	if !*noWait {
		// What the sync sends again: everything the connector has not taken.
		if fl, err = followState(ctx, c, cs.ID, store.Queued, store.Failed, store.Dead); err != nil {
			return opsFail(s, cmd, err)
		}
	}
	var ans syncAnswer
	raw, err := c.post(ctx, connectorPath(cs.ID, "sync"), &ans)
	if err != nil {
		return opsFail(s, cmd, err)
	}
	if *noWait {
		if o.json {
			return writeRaw(s, cmd, raw)
		}
		fmt.Fprintf(s.out, "Sync of %s started: %s failed %s due now, %s dead %s replayed", cs.Name,
			thousands(ans.Retried), plural(ans.Retried, "message", "messages"), thousands(ans.Replayed), plural(ans.Replayed, "message", "messages"))
		if ans.Pull != nil {
			fmt.Fprint(s.out, ", a full pull running")
		}
		fmt.Fprintf(s.out, ". Follow it with: liaison connectors show %s\n", cs.ID)
		return exitOK
	}

	p := newProgressBar(s, "sync "+cs.Name)
	r, err := followMessages(ctx, p, fl, ans.Pull != nil)
	p.finish()
	if errors.Is(err, context.Canceled) {
		return opsFail(s, cmd, fmt.Errorf("stopped waiting; the sync goes on in the gateway (liaison connectors show %s)", cs.ID))
	}
	if err != nil {
		return opsFail(s, cmd, err)
	}
	if o.json {
		out := struct {
			Sync   json.RawMessage `json:"sync"`
			Result tally           `json:"result"`
			Pull   *pullStatus     `json:"pull,omitempty"`
		}{raw, r.tally, r.pull}
		if code := writeJSON(s, cmd, out); code != exitOK {
			return code
		}
		return reportFollowed(s, cmd, cs, r)
	}
	fmt.Fprintf(s.out, "Sync of %s: ", cs.Name)
	switch {
	case r.Total == 0:
		fmt.Fprint(s.out, "nothing to send again")
	default:
		fmt.Fprintf(s.out, "%s %s sent again: %s", thousands(r.Total), plural(r.Total, "message", "messages"), r.tally)
	}
	if r.pull != nil {
		fmt.Fprintf(s.out, "; pull %s: %s %s, %s %s", r.pull.State, thousands(r.pull.Pages), plural(r.pull.Pages, "page", "pages"),
			thousands(r.pull.Resources), plural(r.pull.Resources, "resource", "resources"))
	}
	fmt.Fprintln(s.out, ".")
	return reportFollowed(s, cmd, cs, r)
}
