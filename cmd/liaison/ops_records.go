package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"strconv"
	"time"
)

func recordsGet(ctx context.Context, s *stdio, args []string) int {
	const cmd = "records get"
	f := newFlags(cmd, "TYPE ID [--json]", `
Shows a record as the gateway holds it — the HMS side's current view: its
version, where its last change came from, its data in JSON — and where it
stands at each connector that takes its type: the state of its latest
message there (queued, failed, delivered, dead), that message and its last
error. liaison messages show MESSAGE tells the attempts.
`+opsAbout)
	o := addOpsFlags(f, "write the gateway's JSON instead")
	pos, code, ok := f.parse(s, args)
	if !ok {
		return code
	}
	switch {
	case len(pos) < 2:
		return f.usageError(s, "a record TYPE and ID are required")
	case len(pos) > 2:
		return f.usageError(s, "unexpected argument %q", pos[2])
	}
	c, err := o.client()
	if err != nil {
		return opsFail(s, cmd, err)
	}
	var rec recordView
	raw, err := c.get(ctx, "/api/records/"+url.PathEscape(pos[0])+"/"+url.PathEscape(pos[1]), nil, &rec)
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
	field("Record", rec.Type+"/"+rec.ID)
	field("Version", strconv.FormatInt(rec.Version, 10))
	source := "HMS"
	if rec.Source != sourceHMS {
		source = describeConnector(names, rec.Source)
	}
	field("Changed by", source)
	field("Updated", humanWhen(rec.UpdatedAt, now))
	if rec.Deleted {
		field("Deleted", "yes: every connector that had it gets a delete")
	}
	if code := flushTable(s, cmd, w); code != exitOK {
		return code
	}
	if len(rec.Data) > 0 {
		var buf bytes.Buffer
		if json.Indent(&buf, rec.Data, "", "  ") != nil {
			buf.Reset()
			buf.Write(rec.Data)
		}
		fmt.Fprintf(s.out, "\nData:\n%s\n", bytes.TrimRight(buf.Bytes(), "\n"))
	}

	fmt.Fprintln(s.out, "\nSync:")
	if len(rec.Sync) == 0 {
		fmt.Fprintln(s.out, "No connector takes "+rec.Type+" records.")
		return exitOK
	}
	w = newTable(s.out)
	tableRow(w, "CONNECTOR", "STATE", "MESSAGE", "UPDATED", "LAST ERROR")
	for _, st := range rec.Sync {
		tableRow(w, connectorName(names, st.Connector), string(st.State), st.MessageID, humanAgo(st.UpdatedAt, now), shorten(st.LastError, 64))
	}
	return flushTable(s, cmd, w)
}

// sourceHMS is a record's source when an HMS application changed it.
const sourceHMS = "hms"
