package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"

	"github.com/liaisonhq/liaison/gateway/demo"
)

func demoCommand(ctx context.Context, s *stdio, args []string) int {
	f := newFlags("demo", "[flags]", `
Starts the gateway on embedded defaults (a temporary store, removed at
exit) together with a sample EHR (a FHIR R4 server) and a sample scheduler
(an HMS-style REST API) on 127.0.0.1, registers their connectors, sends a
few made-up patients, bookings and cancellations both ways, waits until
every message is delivered (30 seconds at most), checks what each side
holds, and prints what flowed where and the console's URL.

Then, when standard input is a terminal, it keeps serving until Ctrl-C so
that you can look around; otherwise it exits. The exit status is 1 when
the end state is not the expected one.`)
	addr := f.String("addr", demo.DefaultAddr, "TCP `address` of the gateway, host:port; a free port when that one is in use")
	once := f.Bool("once", false, "exit after the scenario, even on a terminal")
	stay := f.Bool("stay", false, "keep serving after the scenario until interrupted, even without a terminal")
	level := slog.LevelWarn
	f.TextVar(&level, "log-level", slog.LevelWarn, "least `level` the gateway logs on standard error: debug, info, warn or error")
	pos, code, ok := f.parse(s, args)
	if !ok {
		return code
	}
	if len(pos) > 0 {
		return f.usageError(s, "unexpected argument %q", pos[0])
	}
	if *once && *stay {
		return f.usageError(s, "--once and --stay exclude each other")
	}
	log := slog.New(slog.NewJSONHandler(s.err, &slog.HandlerOptions{Level: level}))

	fmt.Fprintln(s.out, "Starting the gateway, a sample EHR and a sample scheduler on 127.0.0.1 …")
	d, err := demo.Start(demo.Config{Addr: *addr, Adapters: adapters()}, log)
	if err != nil {
		fmt.Fprintf(s.err, "liaison demo: %v\n", err)
		return exitFail
	}
	report, err := d.Play(ctx)
	fmt.Fprintln(s.out)
	report.WriteTo(s.out)
	if err != nil {
		if errors.Is(err, demo.ErrVerify) {
			fmt.Fprintf(s.err, "liaison demo: verification failed: %v\n", err)
		} else {
			fmt.Fprintf(s.err, "liaison demo: %v\n", err)
		}
		if cerr := d.Close(); cerr != nil {
			fmt.Fprintf(s.err, "liaison demo: stop: %v\n", cerr)
		}
		return exitFail
	}
	if *stay || (!*once && interactive(s.in) && ctx.Err() == nil) {
		fmt.Fprintln(s.out, "\nServing until Ctrl-C; the store is temporary and goes when the demo stops.")
		<-ctx.Done()
	}
	if err := d.Close(); err != nil {
		fmt.Fprintf(s.err, "liaison demo: stop: %v\n", err)
		return exitFail
	}
	fmt.Fprintln(s.out, "\nDemo stopped; its temporary store is removed.")
	return exitOK
}

// interactive tells whether r is a terminal: a character device other
// than the null device, which is what a service or CI gives as input.
func interactive(r io.Reader) bool {
	f, ok := r.(*os.File)
	if !ok {
		return false
	}
	fi, err := f.Stat()
	if err != nil || fi.Mode()&os.ModeCharDevice == 0 {
		return false
	}
	null, err := os.Stat(os.DevNull)
	return err != nil || !os.SameFile(fi, null)
}
