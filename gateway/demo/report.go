package demo

import (
	"bytes"
	"fmt"
	"io"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"
)

// Report is what Play saw: the systems, the connectors, every change and
// where it went, and the checks of the end state. WriteTo tells it.
type Report struct {
	Gateway   string // the gateway's base URL
	EHR       string // the sample EHR's FHIR base
	Scheduler string // the sample scheduler's API
	Token     string // the admin token of the demo's gateway
	Moved     string // the address asked for, when it was in use; "" otherwise

	Connectors    []Connector
	Subscriptions int // the Subscriptions the gateway made at the EHR
	Flows         []Flow
	Checks        []Check
	Elapsed       time.Duration
}

// Connector is one connector the demo registered, with its counts at the
// end.
type Connector struct {
	ID    string
	Name  string // "Sample EHR"
	Label string // "EHR", as flows name it
	Type  string // "fhir"
	Out   string // how the gateway delivers to it, in words
	In    string // how its changes reach the gateway, in words

	Status                          string // connected, error, ...
	Queued, Failed, Delivered, Dead int
}

// Flow is one record change: who made it, what the gateway answered, and
// the deliveries it gave.
type Flow struct {
	From       string // "scheduler" or "EHR"
	Verb       string // how it reached the gateway: POST, PUT, DELETE (records API) or webhook
	Type, ID   string // the HMS record
	What       string // "booked", "cancelled", ...
	Status     int    // the gateway's answer
	Deliveries []Delivery

	messages []string // the outbox messages the gateway made
}

// Delivery is one outbox message of a flow, as its destination saw it.
type Delivery struct {
	To      string // "EHR" or "scheduler"
	Request string // the request that reached it: "PUT Appointment?identifier=urn:hms:appointment|A-1001"; "" when none did
	Status  int    // its answer; 0 when none came
	State   string // the message's state: delivered, dead, failed, queued
	Note    string // the scheduler's word on it (created, unchanged, …), or the last error
}

// Check is one thing verified at the end.
type Check struct {
	What   string
	OK     bool
	Detail string // what differs, when not OK
}

// Failed lists the checks that failed, with what differs.
func (r *Report) Failed() []string {
	var out []string
	for _, c := range r.Checks {
		if !c.OK {
			out = append(out, c.What+": "+c.Detail)
		}
	}
	return out
}

// WriteTo writes the report for people: the systems, the connectors,
// one aligned line per flow and destination, the counts per connector,
// the checks, and how to reach the console and the API.
func (r *Report) WriteTo(w io.Writer) (int64, error) {
	var b bytes.Buffer
	tw := tabwriter.NewWriter(&b, 0, 0, 2, ' ', 0)
	table := func() { tw.Flush() }

	fmt.Fprint(&b, "Liaison demo: a sample EHR and a sample scheduler, kept in step by the gateway.\n\n")
	if r.Moved != "" {
		fmt.Fprintf(&b, "%s is in use, so the gateway listens on %s instead.\n\n", r.Moved, strings.TrimPrefix(r.Gateway, "http://"))
	}
	fmt.Fprintf(tw, "  gateway\t%s\tembedded mappings, a temporary store\n", r.Gateway)
	fmt.Fprintf(tw, "  EHR\t%s\tFHIR R4 server; tells the gateway of its own changes by signed webhook\n", r.EHR)
	fmt.Fprintf(tw, "  scheduler\t%s\tHMS-style REST API; posts its own changes to the gateway's records API, naming itself as source\n", r.Scheduler)
	table()

	fmt.Fprint(&b, "\nConnectors, registered with POST /api/external-connectors\n")
	for _, c := range r.Connectors {
		in := c.In
		if c.Label == labelEHR && r.Subscriptions > 0 {
			in += fmt.Sprintf("; %d Subscriptions", r.Subscriptions)
		}
		fmt.Fprintf(tw, "  %s\t%s\tout\t%s\n", c.Name, c.Type, c.Out)
		fmt.Fprintf(tw, "  \t\tin\t%s\n", in)
	}
	table()

	fmt.Fprint(&b, "\nWhat flowed where\n")
	for _, f := range r.Flows {
		lead := fmt.Sprintf("  %s\t→ gateway\t%s\t%s\t%s\t%s\t%d", f.From, f.Verb, f.Type, f.ID, f.What, f.Status)
		for i, dv := range f.Deliveries {
			if i > 0 {
				lead = "  \t\t\t\t\t\t"
			}
			fmt.Fprintf(tw, "%s\t→ %s\t%s\t%s\n", lead, dv.To, orDash(dv.Request), outcome(dv))
		}
		if len(f.Deliveries) == 0 {
			fmt.Fprintf(tw, "%s\t\t—\t\n", lead)
		}
	}
	table()

	fmt.Fprint(&b, "\nSummary\n")
	fmt.Fprint(tw, "  connector\tstatus\tdelivered\tdead\tqueued\n")
	for _, c := range r.Connectors {
		fmt.Fprintf(tw, "  %s\t%s\t%d\t%d\t%d\n", c.Name, c.Status, c.Delivered, c.Dead, c.Queued+c.Failed)
	}
	table()
	b.WriteString("\n")
	for _, c := range r.Checks {
		if c.OK {
			fmt.Fprintf(&b, "  ✓ %s\n", c.What)
		} else {
			fmt.Fprintf(&b, "  ✗ %s: %s\n", c.What, c.Detail)
		}
	}
	fmt.Fprintf(&b, "  %d changes, %d deliveries in %s.\n", len(r.Flows), r.deliveries(), r.Elapsed.Round(time.Millisecond))

	fmt.Fprintf(&b, "\nConsole: %s/  admin token: %s\n", r.Gateway, r.Token)
	fmt.Fprintf(&b, "Operator CLI: export LIAISON_URL=%s LIAISON_ADMIN_TOKEN=%s\n", r.Gateway, r.Token)
	fmt.Fprint(&b, "  then (with --stay): liaison connectors list, liaison messages list, liaison records get Appointment A-1002\n")
	n, err := w.Write(b.Bytes())
	return int64(n), err
}

// deliveries counts the deliveries of every flow.
func (r *Report) deliveries() int {
	n := 0
	for _, f := range r.Flows {
		n += len(f.Deliveries)
	}
	return n
}

// outcome is a delivery's answer in a few words: "201 created", "dead:
// …", "queued".
func outcome(dv Delivery) string {
	switch {
	case dv.State == "delivered":
		s := strconv.Itoa(dv.Status)
		if dv.Note != "" {
			s += " " + dv.Note
		}
		return s
	case dv.Note != "":
		return dv.State + ": " + dv.Note
	}
	return dv.State
}

func orDash(s string) string {
	if s == "" {
		return "—"
	}
	return s
}
