package main

import (
	"context"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/liaisonhq/liaison/gateway/store"
)

// Long operations — a connector's sync, a replay — follow the messages they
// sent off until each one is delivered, dead again or waiting for a retry,
// and show how far they got: a bar on a terminal, plain lines otherwise.

// followEvery is how often a long operation asks the gateway how it goes.
const followEvery = 200 * time.Millisecond

// progressBarWidth is the number of cells of a progress bar.
const progressBarWidth = 24

// progressBar shows how a long operation goes on standard error: a bar
// redrawn in place when standard error is a terminal; otherwise a plain
// line whenever the numbers change, at most one a second, and the last
// one always. Standard output stays for the result.
type progressBar struct {
	w       io.Writer
	tty     bool
	label   string
	drawn   string    // the last line written
	pending string    // plain lines: the latest line, not written yet
	at      time.Time // plain lines: when one was last written
}

func newProgressBar(s *stdio, label string) *progressBar {
	return &progressBar{w: s.err, tty: isTerminal(s.err), label: label}
}

// show draws done out of total, then detail; without a bar or count when
// total is 0, and nothing when there is no detail either.
func (p *progressBar) show(done, total int, detail string) {
	if total == 0 && detail == "" {
		return // nothing to tell
	}
	if p.tty {
		line := p.label
		if total > 0 {
			line += "  " + barCells(done, total, progressBarWidth) + fmt.Sprintf("  %d/%d", done, total)
		}
		if detail != "" {
			line += "  " + detail
		}
		if line != p.drawn {
			fmt.Fprintf(p.w, "\r\x1b[K%s", line) // as map run --ndjson draws its line
			p.drawn = line
		}
		return
	}
	line := p.label + ":"
	if total > 0 {
		line += fmt.Sprintf(" %d/%d", done, total)
	}
	if detail != "" {
		line += " " + detail
	}
	if line == p.drawn {
		p.pending = ""
		return
	}
	if time.Since(p.at) < time.Second {
		p.pending = line
		return
	}
	p.write(line)
}

func (p *progressBar) write(line string) {
	fmt.Fprintln(p.w, line)
	p.drawn, p.pending, p.at = line, "", time.Now()
}

// finish ends the display: the bar's line is closed, the last plain line
// written.
func (p *progressBar) finish() {
	switch {
	case p.tty && p.drawn != "":
		fmt.Fprintln(p.w)
	case !p.tty && p.pending != "":
		p.write(p.pending)
	}
}

// barCells is done out of total as a bar of width cells: [██████░░░░░░].
func barCells(done, total, width int) string {
	filled := width
	if total > 0 {
		filled = min(max(done, 0)*width/total, width)
	}
	return "[" + strings.Repeat("█", filled) + strings.Repeat("░", width-filled) + "]"
}

// tally is where the messages a long operation follows stand.
type tally struct {
	Total     int `json:"total"`
	Delivered int `json:"delivered"`
	Dead      int `json:"dead"`     // dead again: the connector refused them
	Retrying  int `json:"retrying"` // failed again; retried later
	Held      int `json:"held"`     // queued behind a message of their record that waits for its retry
	Pending   int `json:"pending"`  // not tried yet
}

// settled is how many messages have an answer: all but the pending ones.
func (t tally) settled() int { return t.Total - t.Pending }

// String is the non-zero counts: "38 delivered, 2 dead, 1 retrying".
func (t tally) String() string {
	parts := []string{thousands(t.Delivered) + " delivered"}
	for _, c := range []struct {
		n    int
		what string
	}{{t.Dead, "dead"}, {t.Retrying, "retrying"}, {t.Held, "held"}, {t.Pending, "pending"}} {
		if c.n > 0 {
			parts = append(parts, thousands(c.n)+" "+c.what)
		}
	}
	return strings.Join(parts, ", ")
}

// follower follows messages of one connector.
type follower struct {
	c     *apiClient
	conn  string         // the connector's id
	start map[string]int // the followed messages: id → attempts when the operation began
}

// followState returns a follower of the connector's messages now in the
// states: what an operation about to start will send off.
func followState(ctx context.Context, c *apiClient, conn string, states ...store.State) (*follower, error) {
	f := &follower{c: c, conn: conn, start: map[string]int{}}
	for _, st := range states {
		ms, _, err := c.messagesIn(ctx, conn, st)
		if err != nil {
			return nil, err
		}
		for _, m := range ms {
			f.start[m.ID] = m.Attempts
		}
	}
	return f, nil
}

// tally finds where the followed messages stand. The connector's
// undelivered messages are listed in the order messages move through the
// states — queued, failed, dead — so that a message moving on between two
// lists is seen in the later state, never in none; a followed message in
// noValue of them is delivered.
func (f *follower) tally(ctx context.Context) (tally, error) {
	t := tally{Total: len(f.start)}
	if t.Total == 0 {
		return t, nil
	}
	queued, _, err := f.c.messagesIn(ctx, f.conn, store.Queued)
	if err != nil {
		return t, err
	}
	failed, now, err := f.c.messagesIn(ctx, f.conn, store.Failed)
	if err != nil {
		return t, err
	}
	dead, _, err := f.c.messagesIn(ctx, f.conn, store.Dead)
	if err != nil {
		return t, err
	}
	seen := map[string]bool{}
	for _, m := range dead {
		if _, ok := f.start[m.ID]; ok && !seen[m.ID] {
			seen[m.ID] = true
			t.Dead++
		}
	}
	waiting := map[string]bool{} // records whose message at the head of their lane waits for a retry
	for _, m := range failed {
		a, followed := f.start[m.ID]
		// Tried again since the operation began; or, for the others and
		// for messages whose attempts history is full, due well later.
		retried := (followed && m.Attempts > a) || m.NextAttemptAt.After(now.Add(time.Second))
		if retried {
			waiting[m.RecordType+"/"+m.RecordID] = true
		}
		if !followed || seen[m.ID] {
			continue
		}
		seen[m.ID] = true
		if retried {
			t.Retrying++
		} else {
			t.Pending++
		}
	}
	for _, m := range queued {
		if _, ok := f.start[m.ID]; !ok || seen[m.ID] {
			continue
		}
		seen[m.ID] = true
		if waiting[m.RecordType+"/"+m.RecordID] {
			t.Held++
		} else {
			t.Pending++
		}
	}
	t.Delivered = t.Total - len(seen)
	return t, nil
}

// followed is how a long operation ended.
type followed struct {
	tally
	pull    *pullStatus // the connector's pull, when the operation started one
	stopped string      // why it stopped waiting before every message had an answer
}

// followMessages polls the connector until every followed message is
// delivered, dead or waiting for a retry, and, when pulling, its pull has
// finished, showing progress on p. It stops waiting early, saying why, when the
// connector is paused or disabled or its circuit breaker is open: nothing
// would move. It returns ctx's error when ctx ends first.
func followMessages(ctx context.Context, p *progressBar, f *follower, pulling bool) (followed, error) {
	for {
		var cs connectorStatus
		if _, err := f.c.get(ctx, connectorPath(f.conn), nil, &cs); err != nil {
			return followed{}, err
		}
		t, err := f.tally(ctx)
		if err != nil {
			return followed{}, err
		}
		out := followed{tally: t}
		if pulling {
			out.pull = cs.Pull
		}
		p.show(t.settled(), t.Total, describeProgress(t, out.pull))
		if out.pull == nil || out.pull.State != pullRunning { // a pull goes on whatever the deliveries do
			if t.Pending == 0 {
				return out, nil
			}
			if out.stopped = stalled(&cs); out.stopped != "" {
				return out, nil
			}
		}
		select {
		case <-ctx.Done():
			return out, ctx.Err()
		case <-time.After(followEvery):
		}
	}
}

// stalled says why nothing will be delivered to the connector for now,
// or "".
func stalled(cs *connectorStatus) string {
	switch {
	case cs.Status == "paused":
		return cs.Name + " is paused: liaison connectors resume " + cs.ID
	case cs.Status == "disabled":
		return cs.Name + " is disabled (" + cs.LastError + "): liaison connectors resume " + cs.ID + " once it is fixed"
	case cs.Breaker == "open":
		return "the circuit breaker of " + cs.Name + " is open after repeated failures: deliveries start again after its cool-down"
	}
	return ""
}

// describeProgress is the words after a progress bar.
func describeProgress(t tally, pull *pullStatus) string {
	var parts []string
	if pull != nil {
		verb := "pulled"
		if pull.State == pullRunning {
			verb = "pulling"
		}
		parts = append(parts, fmt.Sprintf("%s %s %s, %s %s", verb, thousands(pull.Pages), plural(pull.Pages, "page", "pages"),
			thousands(pull.Resources), plural(pull.Resources, "resource", "resources")))
	}
	if t.Total > 0 {
		parts = append(parts, t.String())
	}
	return strings.Join(parts, "; ")
}

// reportFollowed prints, on standard error, what a long operation left
// undone, and returns the exit status: exitOK when every message was
// delivered and the pull (if any) succeeded.
func reportFollowed(s *stdio, cmd string, cs *connectorStatus, r followed) int {
	code := exitOK
	problem := func(format string, a ...any) {
		fmt.Fprintf(s.err, "liaison %s: %s\n", cmd, fmt.Sprintf(format, a...))
		code = exitFail
	}
	if r.pull != nil && r.pull.State == pullFailed {
		problem("the pull failed: %s", r.pull.Error)
	}
	if r.Dead > 0 {
		problem("%s %s dead again (liaison messages list --connector %s --state dead)", thousands(r.Dead), plural(r.Dead, "message is", "messages are"), cs.ID)
	}
	if n := r.Retrying + r.Held; n > 0 {
		problem("%s %s for a retry (liaison messages list --connector %s --state failed)", thousands(n), plural(n, "message waits", "messages wait"), cs.ID)
	}
	if r.stopped != "" {
		problem("%s %s: %s", thousands(r.Pending), plural(r.Pending, "message waits", "messages wait"), r.stopped)
	}
	return code
}
