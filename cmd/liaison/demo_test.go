package main

import (
	"bytes"
	"context"
	"net"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// demoLines are lines "liaison demo" must print, as patterns: the
// narrative in both directions, the summary counts (the scheduler gets
// only the EHR's 3 changes, none of its own back), the checks, and the
// console with the admin token.
var demoLines = []string{
	`scheduler\s+→ gateway\s+POST\s+Patient\s+P-1001\s+registered\s+202\s+→ EHR\s+PUT Patient\?identifier=urn:hms:mrn\|P-1001\s+201 created`,
	`scheduler\s+→ gateway\s+POST\s+Appointment\s+A-1001\s+booked\s+202\s+→ EHR\s+PUT Appointment\?identifier=urn:hms:appointment\|A-1001\s+201 created`,
	`scheduler\s+→ gateway\s+PUT\s+Appointment\s+A-1002\s+cancelled\s+202\s+→ EHR\s+PUT Appointment\?identifier=urn:hms:appointment\|A-1002\s+200 updated`,
	`scheduler\s+→ gateway\s+DELETE\s+Appointment\s+A-1005\s+withdrawn\s+202\s+→ EHR\s+DELETE Appointment\?identifier=urn:hms:appointment\|A-1005\s+204 deleted`,
	`EHR\s+→ gateway\s+webhook\s+Patient\s+E-7001\s+registered \(walk-in\)\s+202\s+→ scheduler\s+PUT /api/Patient/E-7001\s+201 created`,
	`EHR\s+→ gateway\s+webhook\s+Appointment\s+E-2001\s+booked\s+202\s+→ scheduler\s+PUT /api/Appointment/E-2001\s+201 created`,
	`EHR\s+→ gateway\s+webhook\s+Appointment\s+A-1003\s+cancelled\s+202\s+→ scheduler\s+PUT /api/Appointment/A-1003\s+200 updated`,
	`Sample EHR\s+connected\s+11\s+0\s+0\n`,
	`Sample scheduler\s+connected\s+3\s+0\s+0\n`,
	`✓ all 14 messages delivered to the other system, none dead`,
	`14 changes, 14 deliveries in `,
	`✓ the EHR holds 5 patients; A-1001 booked, A-1002 cancelled, A-1003 cancelled, A-1004 booked, E-2001 booked; no A-1005`,
	`✓ the scheduler holds the same`,
	`Console: http://127\.0\.0\.1:\d+/  admin token: lsn_\w+\n`,
	`export LIAISON_URL=http://127\.0\.0\.1:\d+ LIAISON_ADMIN_TOKEN=lsn_\w+\n`,
}

// checkDemoOutput fails the test for every line of demoLines missing.
func checkDemoOutput(t *testing.T, out string) {
	t.Helper()
	for _, p := range demoLines {
		if !regexp.MustCompile(p).MatchString(out) {
			t.Errorf("no line matches %s", p)
		}
	}
	// The scheduler gets the EHR's 3 changes and none of its own 11 back.
	if n := len(regexp.MustCompile(`→ scheduler\s+(PUT|DELETE) /api/`).FindAllString(out, -1)); n != 3 {
		t.Errorf("%d deliveries to the scheduler, want 3 (the EHR's changes only)", n)
	}
	if strings.Contains(out, "✗") {
		t.Errorf("a check failed")
	}
	if t.Failed() {
		t.Logf("output:\n%s", out)
	}
}

// "liaison demo --once" plays the scenario, prints what flowed where, and
// exits 0 within the demo's 30 seconds.
func TestDemo(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	var out, errOut bytes.Buffer
	start := time.Now()
	code := run(ctx, []string{"demo", "--once", "--addr", "127.0.0.1:0"}, strings.NewReader(""), &out, &errOut)
	if code != exitOK {
		t.Fatalf("exit %d\nstdout:\n%s\nstderr:\n%s", code, out.String(), errOut.String())
	}
	if d := time.Since(start); d > 45*time.Second {
		t.Errorf("the demo took %s", d)
	}
	checkDemoOutput(t, out.String())
	if !strings.HasSuffix(out.String(), "Demo stopped; its temporary store is removed.\n") {
		t.Errorf("the demo did not stop:\n%s", out.String())
	}
}

// A busy --addr moves the gateway to a free port, and the demo says so.
func TestDemoBusyAddr(t *testing.T) {
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	var out, errOut bytes.Buffer
	code := run(ctx, []string{"demo", "--once", "--addr", busy.Addr().String()}, strings.NewReader(""), &out, &errOut)
	if code != exitOK {
		t.Fatalf("exit %d\n%s\n%s", code, out.String(), errOut.String())
	}
	if want := busy.Addr().String() + " is in use, so the gateway listens on 127.0.0.1:"; !strings.Contains(out.String(), want) {
		t.Errorf("no %q in:\n%s", want, out.String())
	}
	if strings.Contains(out.String(), "Console: http://"+busy.Addr().String()+"/") {
		t.Errorf("the console is shown at the busy address")
	}
}

func TestDemoUsage(t *testing.T) {
	tests := []struct {
		name string
		args []string
		code int
		want string // in stderr, or stdout for -h
	}{
		{name: "once and stay", args: []string{"--once", "--stay"}, code: exitUsage, want: "--once and --stay exclude each other"},
		{name: "argument", args: []string{"extra"}, code: exitUsage, want: `unexpected argument "extra"`},
		{name: "help", args: []string{"-h"}, code: exitOK, want: "Usage: liaison demo [flags]"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := liaison(t, "", append([]string{"demo"}, tt.args...)...)
			if r.code != tt.code || !strings.Contains(r.stdout+r.stderr, tt.want) {
				t.Errorf("exit %d, want %d; want %q in\n%s%s", r.code, tt.code, tt.want, r.stdout, r.stderr)
			}
		})
	}
}

// The README's command, as built: the binary with no flags and standard
// input not a terminal plays the demo and exits 0 (on 127.0.0.1:8080, or
// a free port when that one is busy).
func TestDemoBinary(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	bin := filepath.Join(t.TempDir(), "liaison")
	build := exec.Command("go", "build", "-o", bin, ".")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, "demo")
	cmd.Stdin = nil // the null device: not a terminal
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	if err := cmd.Run(); err != nil {
		t.Fatalf("liaison demo: %v\nstdout:\n%s\nstderr:\n%s", err, out.String(), errOut.String())
	}
	checkDemoOutput(t, out.String())
}
