// Command liaison is the Liaison gateway and its tools in one binary:
// "liaison serve" runs the gateway, "liaison fhir convert" and "liaison fhir
// validate" work on FHIR R4 resources, and "liaison help" lists every
// command (the table is in commands.go).
//
// Exit status: 0 on success, 1 when the work failed (invalid input, a server
// error), 2 on a usage error.
package main

import (
	"context"
	"io"
	"os"
	"os/signal"
	"syscall"
)

// Exit statuses.
const (
	exitOK    = 0
	exitFail  = 1 // the command ran and failed: bad input, invalid resource, server error
	exitUsage = 2 // the command line is wrong
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	context.AfterFunc(ctx, stop) // after the first signal, a second one kills at once
	code := run(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// run runs the command line args (without the program name) and returns the
// exit status. Cancelling ctx stops a long-running command (serve) gracefully.
func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	s := &stdio{in: stdin, out: stdout, err: stderr}
	return dispatch(ctx, s, rootCommand(), nil, args)
}

// stdio is a command's standard streams.
type stdio struct {
	in       io.Reader
	out, err io.Writer
}
