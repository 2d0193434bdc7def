package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"slices"
	"strings"
)

// command is one entry of the command table: either a leaf with run, or a
// group of subcommands.
type command struct {
	name    string
	summary string // one line, for the command list
	run     func(ctx context.Context, s *stdio, args []string) int
	sub     []*command
}

// rootCommand is the command table. A new command is one more entry here
// and one file with its run function.
func rootCommand() *command {
	return &command{name: "liaison", sub: []*command{
		{name: "demo", summary: "run the gateway with a sample EHR and scheduler, and show what flows where", run: demoCommand},
		{name: "serve", summary: "run the gateway (HTTP on 127.0.0.1:8080 by default)", run: serve},
		{name: "fhir", summary: "FHIR R4 resources", sub: []*command{
			{name: "convert", summary: "convert a resource between FHIR JSON and FHIR XML", run: fhirConvert},
			{name: "validate", summary: "validate resources against the FHIR R4 model", run: fhirValidate},
		}},
		{name: "map", summary: "mapping files", sub: []*command{
			{name: "run", summary: "map an input, or a stream of NDJSON records, with a mapping", run: mapRun},
			{name: "test", summary: "run the tests written in mapping files", run: mapTest},
			{name: "check", summary: "compile mapping files and print every error", run: mapCheck},
			{name: "explain", summary: "show which rule and input paths produced each output field", run: mapExplain},
			{name: "list", summary: "list the mappings", run: mapList},
		}},
		{name: "connectors", summary: "connectors of a running gateway", sub: []*command{
			{name: "list", summary: "list the connectors with their status and outbox counts", run: connectorsList},
			{name: "show", summary: "show one connector: configuration, counts, breaker, last error", run: connectorsShow},
			{name: "sync", summary: "send again everything a connector has not taken, with progress", run: connectorsSync},
			{name: "pause", summary: "stop deliveries to a connector; messages keep queueing", run: connectorsPause},
			{name: "resume", summary: "restart deliveries to a connector", run: connectorsResume},
		}},
		{name: "messages", summary: "outbox messages of a running gateway", sub: []*command{
			{name: "list", summary: "list outbox messages, by connector and state", run: messagesList},
			{name: "show", summary: "show one message and its delivery attempts", run: messagesShow},
			{name: "replay", summary: "send dead messages again, with progress", run: messagesReplay},
		}},
		{name: "records", summary: "records of a running gateway", sub: []*command{
			{name: "get", summary: "show a record and its sync state at each connector", run: recordsGet},
		}},
		{name: "audit", summary: "the audit trail of a running gateway", sub: []*command{
			{name: "list", summary: "list audit entries (accepts and deliveries), by record, connector and time", run: auditList},
		}},
		{name: "version", summary: "print the version", run: version},
		{name: "help", summary: "show help for a command"}, // answered by dispatch, which knows the table
	}}
}

// dispatch finds the command named by args in group and runs it. path is
// the names of the groups already entered.
func dispatch(ctx context.Context, s *stdio, group *command, path []string, args []string) int {
	if len(args) == 0 {
		printCommands(s.err, group, path)
		return exitUsage
	}
	name := args[0]
	switch {
	case name == "-h" || name == "-help" || name == "--help":
		printCommands(s.out, group, path)
		return exitOK
	case name == "help":
		return help(ctx, s, group, path, args[1:])
	}
	for _, c := range group.sub {
		if c.name != name {
			continue
		}
		if c.sub != nil {
			return dispatch(ctx, s, c, slices.Concat(path, []string{name}), args[1:])
		}
		return c.run(ctx, s, args[1:])
	}
	fmt.Fprintf(s.err, "liaison: unknown command %q\n\n", strings.Join(slices.Concat(path, []string{name}), " "))
	printCommands(s.err, group, path)
	return exitUsage
}

// help prints the usage of the command args names within group: the
// command list for a group, the flags of a leaf (as COMMAND -h does).
func help(ctx context.Context, s *stdio, group *command, path, args []string) int {
	return dispatch(ctx, s, group, path, slices.Concat(args, []string{"-h"}))
}

// printCommands writes a group's usage: every leaf below it, one a line.
func printCommands(w io.Writer, group *command, path []string) {
	prefix := strings.Join(slices.Concat([]string{"liaison"}, path), " ")
	if len(path) == 0 {
		fmt.Fprint(w, "Liaison is a FHIR-focused integration gateway.\n\n")
	}
	fmt.Fprintf(w, "Usage: %s COMMAND [ARGS]\n\nCommands:\n", prefix)
	type line struct{ name, summary string }
	var lines []line
	var walk func(c *command, names []string)
	walk = func(c *command, names []string) {
		if c.sub == nil {
			lines = append(lines, line{strings.Join(names, " "), c.summary})
			return
		}
		for _, sub := range c.sub {
			walk(sub, append(names[:len(names):len(names)], sub.name))
		}
	}
	walk(group, nil)
	width := 0
	for _, l := range lines {
		width = max(width, len(l.name))
	}
	for _, l := range lines {
		fmt.Fprintf(w, "  %-*s  %s\n", width, l.name, l.summary)
	}
	fmt.Fprintf(w, "\nRun 'liaison help %sCOMMAND' for a command's flags.\n", strings.Join(slices.Concat(path, []string{""}), " "))
}

// flags is a leaf command's flag set with its usage text.
type flags struct {
	*flag.FlagSet
	name     string // "fhir convert"
	synopsis string // what follows the name: "--to xml|json [FILE]"
	about    string // a paragraph or two
}

func newFlags(name, synopsis, about string) *flags {
	fs := flag.NewFlagSet("liaison "+name, flag.ContinueOnError)
	fs.SetOutput(io.Discard) // parse reports errors itself
	fs.Usage = func() {}
	return &flags{FlagSet: fs, name: name, synopsis: synopsis, about: about}
}

// parse parses args, flags and arguments in any order ("--" ends the flags)
// and returns the arguments. When ok is false the command returns code at
// once: exitOK after -h (usage on stdout), exitUsage after a bad flag (the
// error and the usage on stderr).
func (f *flags) parse(s *stdio, args []string) (pos []string, code int, ok bool) {
	for {
		err := f.Parse(args)
		if errors.Is(err, flag.ErrHelp) {
			f.printUsage(s.out)
			return nil, exitOK, false
		}
		if err != nil {
			return nil, f.usageError(s, "%v", err), false
		}
		rest := f.Args()
		if len(rest) == 0 {
			return pos, 0, true
		}
		if consumed := len(args) - len(rest); consumed > 0 && args[consumed-1] == "--" {
			return append(pos, rest...), 0, true
		}
		pos = append(pos, rest[0])
		args = rest[1:]
	}
}

// usageError prints the error and the usage on stderr and returns exitUsage.
func (f *flags) usageError(s *stdio, format string, a ...any) int {
	fmt.Fprintf(s.err, "liaison %s: %s\n\n", f.name, fmt.Sprintf(format, a...))
	f.printUsage(s.err)
	return exitUsage
}

func (f *flags) printUsage(w io.Writer) {
	fmt.Fprintf(w, "Usage: liaison %s %s\n\n%s\n", f.name, f.synopsis, strings.TrimSpace(f.about))
	hasFlags := false
	f.VisitAll(func(*flag.Flag) { hasFlags = true })
	if hasFlags {
		fmt.Fprint(w, "\nFlags:\n")
		f.SetOutput(w)
		f.PrintDefaults()
		f.SetOutput(io.Discard)
	}
}
