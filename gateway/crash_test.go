package gateway

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/liaisonhq/liaison/gateway/internal/fhirserver"
)

// Figures of the crash-safety test.
const (
	crashKeys    = 1000             // distinct appointments
	crashRounds  = 3                // changes per appointment: booked, cancelled, then re-booked or no-show
	crashClients = 16               // concurrent HMS clients; each owns its keys
	crashKills   = 4                // SIGKILLs while posting
	crashReady   = 10 * time.Second // a start or restart must be ready within this
	crashPosting = 60 * time.Second // every change acknowledged within this
	// Once the EHR is up, deliveries must make progress every crashStall
	// and be done within crashDrain. (Most of the work is the EHR's, in
	// this race-instrumented process, so a loaded machine slows it down.)
	crashStall = 20 * time.Second
	crashDrain = 90 * time.Second
)

// The real binary, killed with SIGKILL mid-stream several times while HMS
// clients post thousands of appointment changes and the EHR is down:
// nothing acknowledged is lost, every appointment ends in the state of its
// last acknowledged change (or of a later attempt whose answer the kill
// swallowed), the EHR gets exactly one Appointment per appointment, and
// its history follows the order the changes were posted in. Also: a second
// process on the same data directory is refused at once.
func TestCrashSafety(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the liaison binary; skipped with -short")
	}
	began := time.Now()
	bin := buildLiaison(t)
	t.Logf("built liaison in %v", time.Since(began).Round(time.Millisecond))

	ehr := fhirserver.Start(t)
	ehr.SetDown(true)

	gw := &crashGateway{t: t, bin: bin, addr: freeAddr(t), data: t.TempDir(), logPath: filepath.Join(t.TempDir(), "liaison.log")}
	gw.launch()

	client := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: crashClients}}
	t.Cleanup(client.CloseIdleConnections)
	connID := registerEHR(t, client, gw, ehr.URL(), nil)

	secondProcessRefused(t, gw)

	// Post while a killer kills and restarts the gateway.
	ctx, cancel := context.WithTimeout(t.Context(), crashPosting)
	defer cancel()
	attempts := make([]map[string][]crashAttempt, crashClients) // per client: key → attempts in order
	var acked, failed atomic.Int64
	postStart := time.Now()
	var clients sync.WaitGroup
	for c := range crashClients {
		attempts[c] = map[string][]crashAttempt{}
		clients.Go(func() { postChanges(ctx, t, client, []*crashGateway{gw}, c, attempts[c], &acked, &failed) })
	}
	clientsDone := make(chan struct{})
	go func() { clients.Wait(); close(clientsDone) }()

	var restarts []time.Duration
	killerDone := make(chan struct{})
	go func() {
		defer close(killerDone)
		total := crashKeys * crashRounds
		for i := range crashKills {
			// A random point in the i-th slice of the first 90% of the stream.
			at := int64(float64(total) * 0.9 * (float64(i) + 0.1 + 0.8*rand.Float64()) / crashKills)
			for acked.Load() < at {
				select {
				case <-clientsDone:
					return
				case <-ctx.Done():
					return
				case <-time.After(2 * time.Millisecond):
				}
			}
			time.Sleep(rand.N(20 * time.Millisecond))
			killed := time.Now()
			gw.kill()
			if err := gw.start(); err != nil {
				t.Errorf("restart %d: %v", i+1, err)
				cancel()
				return
			}
			restarts = append(restarts, time.Since(killed))
		}
	}()
	<-clientsDone
	<-killerDone
	postTime := time.Since(postStart)
	if t.Failed() {
		t.FailNow()
	}
	if len(restarts) < 3 {
		t.Fatalf("only %d kills while posting; want at least 3", len(restarts))
	}
	t.Logf("posted %d changes to %d appointments in %v: %d acknowledged, %d attempts unanswered or refused; %d kills, restart to ready %v",
		acked.Load()+failed.Load(), crashKeys, postTime.Round(time.Millisecond), acked.Load(), failed.Load(), len(restarts), roundAll(restarts))

	// Bring the EHR up and wait until every message is delivered.
	whileDown := ehr.Count("")
	ehr.SetDown(false)
	drainStart := time.Now()
	var firstDelivery time.Duration
	var view map[string]any
	delivered, progressAt, loggedAt := float64(0), drainStart, drainStart
	for {
		view = nil
		code, err := crashCall(client, "GET", gw.url()+"/api/external-connectors/"+connID, nil, &view)
		if err != nil || code != http.StatusOK {
			t.Fatalf("connector status: %d %v", code, err)
		}
		if view["queued"] == float64(0) && view["failed"] == float64(0) {
			break
		}
		now := time.Now()
		if d, _ := view["delivered"].(float64); d > delivered {
			if delivered == 0 {
				firstDelivery = now.Sub(drainStart)
			}
			delivered, progressAt = d, now
		}
		if now.Sub(loggedAt) >= 5*time.Second {
			t.Logf("draining, after %v: delivered %v, queued %v, failed %v", now.Sub(drainStart).Round(time.Second), view["delivered"], view["queued"], view["failed"])
			loggedAt = now
		}
		if now.Sub(progressAt) > crashStall || now.Sub(drainStart) > crashDrain {
			t.Fatalf("not drained after %v, no delivery for %v: %v", now.Sub(drainStart).Round(time.Millisecond), now.Sub(progressAt).Round(time.Millisecond), view)
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Logf("drained in %v (first delivery after %v): delivered %v, dead %v; EHR requests: %d refused while down, %d once up",
		time.Since(drainStart).Round(time.Millisecond), firstDelivery.Round(time.Millisecond), view["delivered"], view["dead"], whileDown, ehr.Count("")-whileDown)
	if view["dead"] != float64(0) {
		t.Errorf("%v dead messages", view["dead"])
	}

	// Merge what the clients saw; each key belongs to one client.
	byKey := map[string][]crashAttempt{}
	for _, m := range attempts {
		for k, a := range m {
			byKey[k] = a
		}
	}
	checkDownstream(t, ehr, byKey)
	t.Logf("total %v", time.Since(began).Round(time.Millisecond))
}

// crashAttempt is one post of one change, in the order its client made it.
type crashAttempt struct {
	status string
	acked  bool // answered 2xx
}

// postChanges posts client c's share of the changes: round by round, every
// key it owns, each change retried until acknowledged, each attempt to the
// next of the gateways. Attempts are kept per key in order.
func postChanges(ctx context.Context, t *testing.T, client *http.Client, gws []*crashGateway, c int,
	attempts map[string][]crashAttempt, acked, failed *atomic.Int64) {
	next := c
	for round := range crashRounds {
		for k := c; k < crashKeys; k += crashClients {
			key := fmt.Sprintf("A%d", k)
			status := [...]string{"booked", "cancelled", "booked"}[round]
			if round == 2 && k%2 == 1 {
				status = "noshow"
			}
			rec := map[string]any{"appointmentId": key, "patientId": fmt.Sprintf("P%d", k%97),
				"datetime": fmt.Sprintf("2024-06-%02d %02d:%02d", 1+k%28, 8+k%9, k%4*15), "tz": "America/New_York",
				"durationMin": 15, "locationId": "LOC-1", "status": status}
			for {
				gw := gws[next%len(gws)]
				next++
				code, err := crashCall(client, "POST", gw.url()+"/api/records/Appointment", rec, nil)
				ok := err == nil && code/100 == 2
				attempts[key] = append(attempts[key], crashAttempt{status: status, acked: ok})
				if ok {
					acked.Add(1)
					break
				}
				failed.Add(1)
				if err == nil && code/100 == 4 {
					t.Errorf("post %s %s: %d", key, status, code)
					return
				}
				select {
				case <-ctx.Done():
					t.Errorf("post %s %s: gave up: %v (last: %d %v)", key, status, ctx.Err(), code, err)
					return
				case <-time.After(10 * time.Millisecond):
				}
			}
		}
	}
}

// checkDownstream checks the EHR against the attempts: one Appointment per
// acknowledged key and none other, each in the state of its last
// acknowledged change or of a later attempt, with a history that follows
// the order of the attempts.
func checkDownstream(t *testing.T, ehr *fhirserver.Server, byKey map[string][]crashAttempt) {
	t.Helper()
	ackedKeys := 0
	for _, as := range byKey {
		if slices.ContainsFunc(as, func(a crashAttempt) bool { return a.acked }) {
			ackedKeys++
		}
	}
	appts := ehr.Resources("Appointment")
	if len(appts) != ackedKeys {
		t.Errorf("%d Appointments on the EHR, want %d (one per acknowledged appointment)", len(appts), ackedKeys)
	}
	byIdent := map[string]map[string]any{}
	for _, a := range appts {
		ident := hmsIdentifier(a)
		if ident == "" {
			t.Errorf("Appointment %v has no urn:hms:appointment identifier", a["id"])
			continue
		}
		if prev := byIdent[ident]; prev != nil {
			t.Errorf("identifier %s on Appointments %v and %v", ident, prev["id"], a["id"])
		}
		byIdent[ident] = a
	}
	bad := 0
	for key, as := range byKey {
		last := lastIndex(as, func(a crashAttempt) bool { return a.acked })
		a := byIdent[key]
		if last < 0 {
			continue // never acknowledged: it may or may not be there
		}
		if a == nil {
			t.Errorf("acknowledged appointment %s is not on the EHR", key)
			bad++
			continue
		}
		allowed := map[string]bool{}
		for _, at := range as[last:] {
			allowed[at.status] = true
		}
		got, _ := a["status"].(string)
		if !allowed[got] {
			t.Errorf("appointment %s: status %q, want one of %v (attempts %v)", key, got, allowed, as)
			bad++
		}
		var hist []string
		for _, v := range ehr.History("Appointment", a["id"].(string)) {
			if v == nil {
				hist = append(hist, "deleted")
				continue
			}
			if s, _ := v["status"].(string); len(hist) == 0 || hist[len(hist)-1] != s {
				hist = append(hist, s)
			}
		}
		if !inOrder(hist, as) {
			t.Errorf("appointment %s: history %v does not follow the attempts %v", key, hist, as)
			bad++
		}
		if bad > 10 {
			t.Fatal("too many wrong appointments")
		}
	}
	t.Logf("%d appointments acknowledged, %d Appointments on the EHR", ackedKeys, len(appts))
}

// lastIndex is the index of the last attempt that meets f, -1 for none.
func lastIndex(as []crashAttempt, f func(crashAttempt) bool) int {
	for i := len(as) - 1; i >= 0; i-- {
		if f(as[i]) {
			return i
		}
	}
	return -1
}

// inOrder tells whether hist is a subsequence of the attempts' statuses.
func inOrder(hist []string, as []crashAttempt) bool {
	i := 0
	for _, a := range as {
		if i < len(hist) && hist[i] == a.status {
			i++
		}
	}
	return i == len(hist)
}

// hmsIdentifier is an Appointment's urn:hms:appointment identifier value.
func hmsIdentifier(a map[string]any) string {
	ids, _ := a["identifier"].([]any)
	for _, i := range ids {
		if m, _ := i.(map[string]any); m["system"] == "urn:hms:appointment" {
			v, _ := m["value"].(string)
			return v
		}
	}
	return ""
}

// secondProcessRefused starts a second liaison serve on gw's data
// directory: it must exit non-zero within about two seconds, saying the
// directory is in use, and leave gw serving.
func secondProcessRefused(t *testing.T, gw *crashGateway) {
	t.Helper()
	var stderr bytes.Buffer
	cmd := exec.Command(gw.bin, "serve", "--addr", freeAddr(t), "--data", gw.data)
	cmd.Env = append(os.Environ(), "LIAISON_ADMIN_TOKEN="+crashToken)
	cmd.Stderr = &stderr
	began := time.Now()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		took := time.Since(began)
		var exit *exec.ExitError
		if !errors.As(err, &exit) || cmd.ProcessState.ExitCode() <= 0 {
			t.Errorf("second serve on the same data directory: %v, want a non-zero exit", err)
		}
		if msg := stderr.String(); !strings.Contains(msg, gw.data) || !strings.Contains(msg, "in use") {
			t.Errorf("second serve's stderr does not say that %s is in use: %q", gw.data, msg)
		}
		if took > 2500*time.Millisecond {
			t.Errorf("second serve took %v to give up", took)
		}
		t.Logf("second serve on the same data directory exited %d after %v: %s", cmd.ProcessState.ExitCode(), took.Round(time.Millisecond), strings.TrimSpace(stderr.String()))
	case <-time.After(5 * time.Second):
		cmd.Process.Kill()
		<-done
		t.Fatalf("second serve on the same data directory still running after 5s; stderr %q", stderr.String())
	}
	if res, err := http.Get(gw.url() + "/readyz"); err != nil || res.StatusCode != http.StatusOK {
		t.Fatalf("first gateway after the second was refused: %v %v", res, err)
	} else {
		res.Body.Close()
	}
}

const crashToken = "crash-admin-token"

// crashGateway is the liaison binary serving on addr with data, started
// and killed by the test. Its logs go to logPath, across restarts.
type crashGateway struct {
	t                        *testing.T
	bin, addr, data, logPath string
	args, env                []string // more flags for serve, more environment

	mu   sync.Mutex
	cmd  *exec.Cmd
	done chan struct{} // closed when cmd has exited
}

func (g *crashGateway) url() string { return "http://" + g.addr }

// launch starts the binary for the test: stopped when it ends, its log
// shown when it failed.
func (g *crashGateway) launch() {
	g.t.Helper()
	g.t.Cleanup(g.stop)
	g.t.Cleanup(func() {
		if g.t.Failed() {
			g.dumpLog()
		}
	})
	if err := g.start(); err != nil {
		g.t.Fatal(err)
	}
}

// registerEHR registers, through gw, a FHIR connector for Appointments at
// endpoint that retries quickly, with more delivery settings; its id.
func registerEHR(t *testing.T, client *http.Client, gw *crashGateway, endpoint string, delivery map[string]any) string {
	t.Helper()
	d := map[string]any{"initialBackoff": "10ms", "maxBackoff": "200ms"}
	maps.Copy(d, delivery)
	var conn map[string]any
	if code, err := crashCall(client, "POST", gw.url()+"/api/external-connectors", map[string]any{
		"name": "EHR", "type": "fhir", "endpoint": endpoint, "resources": []string{"Appointment"}, "delivery": d,
	}, &conn); err != nil || code != http.StatusCreated {
		t.Fatalf("register: %d %v %v", code, err, conn)
	}
	id, _ := conn["connectorId"].(string)
	return id
}

// start starts the binary and waits until /readyz answers 200.
func (g *crashGateway) start() error {
	log, err := os.OpenFile(g.logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return err
	}
	defer log.Close()
	cmd := exec.Command(g.bin, append([]string{"serve", "--addr", g.addr, "--data", g.data}, g.args...)...)
	cmd.Env = append(append(os.Environ(), "LIAISON_ADMIN_TOKEN="+crashToken), g.env...)
	cmd.Stdout, cmd.Stderr = log, log
	began := time.Now()
	if err := cmd.Start(); err != nil {
		return err
	}
	done := make(chan struct{})
	go func() { cmd.Wait(); close(done) }()
	g.mu.Lock()
	g.cmd, g.done = cmd, done
	g.mu.Unlock()
	for {
		select {
		case <-done:
			return fmt.Errorf("liaison serve exited at start: %v", cmd.ProcessState)
		default:
		}
		if res, err := http.Get(g.url() + "/readyz"); err == nil {
			res.Body.Close()
			if res.StatusCode == http.StatusOK {
				return nil
			}
		}
		if time.Since(began) > crashReady {
			return fmt.Errorf("liaison serve not ready after %v", crashReady)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// kill kills the running binary with SIGKILL and waits until it is gone.
func (g *crashGateway) kill() {
	g.mu.Lock()
	cmd, done := g.cmd, g.done
	g.cmd = nil
	g.mu.Unlock()
	if cmd == nil {
		return
	}
	cmd.Process.Kill()
	<-done
}

// stop kills the binary if it runs; for t.Cleanup.
func (g *crashGateway) stop() { g.kill() }

// dumpLog logs the end of the gateway's log.
func (g *crashGateway) dumpLog() {
	data, err := os.ReadFile(g.logPath)
	lines := strings.Split(strings.TrimSpace(string(data)), "\n")
	g.t.Logf("liaison log %s (%d bytes, %v), last lines:\n%s", g.logPath, len(data), err, strings.Join(lines[max(0, len(lines)-40):], "\n"))
}

// buildLiaison builds cmd/liaison into a temporary directory.
func buildLiaison(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "liaison")
	out, err := exec.Command("go", "build", "-o", bin, "../cmd/liaison").CombinedOutput()
	if err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// freeAddr returns a 127.0.0.1 address with a port free at the time.
func freeAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// crashCall makes an API call with the admin token, and decodes a JSON
// answer into out when out is not nil. An error is a request that got no
// answer.
func crashCall(client *http.Client, method, url string, body, out any) (int, error) {
	var r io.Reader
	if body != nil {
		data, err := json.Marshal(body)
		if err != nil {
			return 0, err
		}
		r = bytes.NewReader(data)
	}
	req, err := http.NewRequest(method, url, r)
	if err != nil {
		return 0, err
	}
	req.Header.Set("Authorization", "Bearer "+crashToken)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	res, err := client.Do(req)
	if err != nil {
		return 0, err
	}
	defer res.Body.Close()
	data, err := io.ReadAll(res.Body)
	if err != nil {
		return 0, err
	}
	if out != nil {
		if err := json.Unmarshal(data, out); err != nil {
			return res.StatusCode, fmt.Errorf("%s %s: %d %s", method, url, res.StatusCode, data)
		}
	}
	return res.StatusCode, nil
}

// roundAll rounds durations to the millisecond, for the log.
func roundAll(ds []time.Duration) []time.Duration {
	out := make([]time.Duration, len(ds))
	for i, d := range ds {
		out[i] = d.Round(time.Millisecond)
	}
	return out
}
