package gateway

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"

	"github.com/liaisonhq/liaison/gateway/internal/fhirserver"
)

// The console is public and served with its security headers; the API
// behind it is not. Unknown console paths stay the router's 404s.
func TestConsolePage(t *testing.T) {
	lv := startLive(t, Config{})
	get := func(path string) (*http.Response, string) {
		res, err := http.Get(lv.url + path)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		body, _ := io.ReadAll(res.Body)
		return res, string(body)
	}
	res, body := get("/")
	if res.StatusCode != 200 || !strings.HasPrefix(res.Header.Get("Content-Type"), "text/html") || !strings.Contains(body, "Liaison") {
		t.Fatalf("GET /: %d %s", res.StatusCode, res.Header.Get("Content-Type"))
	}
	if csp := res.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "default-src 'self'") || res.Header.Get("Cache-Control") != "no-store" {
		t.Errorf("GET / headers: %v", res.Header)
	}
	if res, _ := get("/console/console.js"); res.StatusCode != 200 {
		t.Errorf("GET /console/console.js: %d", res.StatusCode)
	}
	res, body = get("/console/nope.js")
	if res.StatusCode != 404 || !strings.Contains(body, "OperationOutcome") {
		t.Errorf("unknown asset: %d %s", res.StatusCode, body)
	}
	if res, _ := get("/api/external-connectors"); res.StatusCode != 401 {
		t.Errorf("the API without the token: %d, want 401", res.StatusCode)
	}
}

// chromium finds the browser for the console test. Without one the test
// skips, but only on a developer's machine: as root (where scripts/test
// installs it) or under CI, a missing browser is a failure.
func chromium(t *testing.T) string {
	t.Helper()
	if p := os.Getenv("LIAISON_CHROMIUM"); p != "" {
		return p
	}
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	msg := "no Chromium found (Debian: apt-get install chromium; scripts/test installs it as root; or set LIAISON_CHROMIUM)"
	if os.Getenv("CI") == "" && os.Geteuid() != 0 {
		t.Skip(msg)
	}
	t.Fatal(msg)
	return ""
}

// browser drives one headless Chromium tab with a step timeout, and
// records every script error the page raises.
type browser struct {
	t     *testing.T
	ctx   context.Context
	shots string // LIAISON_SCREENSHOTS: where screenshots go, "" for none

	mu     sync.Mutex
	errors []string
}

func newBrowser(t *testing.T, path string) *browser {
	t.Helper()
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(path),
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.WindowSize(1280, 800),
	)
	// Everything the browser does is bounded: a stuck step fails the test.
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	actx, cancelAlloc := chromedp.NewExecAllocator(ctx, opts...)
	tctx, cancelTab := chromedp.NewContext(actx)
	t.Cleanup(func() {
		// Close the browser gracefully, so that it has stopped writing
		// to its profile directory when the allocator removes it.
		chromedp.Cancel(tctx)
		cancelTab()
		cancelAlloc()
		cancel()
	})
	b := &browser{t: t, ctx: tctx, shots: os.Getenv("LIAISON_SCREENSHOTS")}
	chromedp.ListenTarget(tctx, func(ev any) {
		switch ev := ev.(type) {
		case *runtime.EventExceptionThrown:
			b.mu.Lock()
			b.errors = append(b.errors, ev.ExceptionDetails.Error())
			b.mu.Unlock()
		case *runtime.EventConsoleAPICalled:
			if ev.Type == runtime.APITypeError {
				var args []string
				for _, a := range ev.Args {
					args = append(args, string(a.Value)+a.Description)
				}
				b.mu.Lock()
				b.errors = append(b.errors, "console.error: "+strings.Join(args, " "))
				b.mu.Unlock()
			}
		}
	})
	// The first run starts the browser, and must use the tab's own
	// context: a browser started under a step's shorter one would die
	// with it.
	if err := chromedp.Run(tctx, chromedp.EmulateViewport(1280, 800)); err != nil {
		t.Fatalf("start %s: %v", path, err)
	}
	return b
}

// run runs actions as one step, which fails the test after 20 s.
func (b *browser) run(step string, actions ...chromedp.Action) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 20*time.Second)
	defer cancel()
	if err := chromedp.Run(ctx, actions...); err != nil {
		b.t.Fatalf("%s: %v", step, err)
	}
}

// eval evaluates a JavaScript expression in the page.
func (b *browser) eval(step, expr string, out any) {
	b.t.Helper()
	b.run(step, chromedp.Evaluate(expr, out))
}

// waitFor polls a JavaScript expression until it is true. It evaluates
// through DevTools rather than chromedp.Poll, which would need eval in
// the page and so fail under the console's Content-Security-Policy.
func (b *browser) waitFor(what, expr string) {
	b.t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		var ok bool
		err := chromedp.Run(b.ctx, chromedp.Evaluate("!!("+expr+")", &ok))
		if err == nil && ok {
			return
		}
		if time.Now().After(deadline) || b.ctx.Err() != nil {
			var text string
			chromedp.Run(b.ctx, chromedp.Evaluate(`document.querySelector('#main, main, body').innerText.slice(0, 2000)`, &text))
			b.t.Fatalf("timed out waiting for %s (%v); the page shows:\n%s", what, err, text)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// text is the text of the first element matching a CSS selector, "" when
// there is none.
func (b *browser) text(sel string) string {
	b.t.Helper()
	var s string
	b.eval("read "+sel, fmt.Sprintf(`(document.querySelector(%s) || {}).textContent || ""`, jsString(sel)), &s)
	return s
}

// has is a JavaScript expression: the element matching sel holds want.
func has(sel, want string) string {
	return fmt.Sprintf(`((document.querySelector(%s) || {}).textContent || "").includes(%s)`, jsString(sel), jsString(want))
}

func jsString(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

// screenshot saves a full-page PNG under LIAISON_SCREENSHOTS, when set
// (a relative path is taken from this package's directory, where go test
// runs it).
func (b *browser) screenshot(name string) {
	b.t.Helper()
	if b.shots == "" {
		return
	}
	var png []byte
	b.run("screenshot "+name,
		chromedp.Evaluate(`document.querySelectorAll('.toast').forEach((t) => t.remove())`, nil), // passing notes, not the page
		chromedp.FullScreenshot(&png, 100))
	if err := os.MkdirAll(b.shots, 0o755); err != nil {
		b.t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(b.shots, name+".png"), png, 0o644); err != nil {
		b.t.Fatal(err)
	}
}

func (b *browser) scriptErrors() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]string(nil), b.errors...)
}

// The console in a real browser: sign in (a wrong token is refused),
// watch two connectors, pause one, open the other, whose system refused a
// message, see the dead letter and its attempt, replay it once the system
// accepts and watch it delivered without a reload, look up the record's
// sync state, and use the mapping playground on good and bad input.
func TestConsoleBrowser(t *testing.T) {
	chrome := chromium(t)
	ehr := fhirserver.Start(t)
	registry := fhirserver.Start(t)
	registry.FailNext(1000, http.StatusBadRequest, "") // refuses everything, for now
	lv := startLive(t, Config{})

	register := func(name, endpoint string) string {
		var c map[string]any
		code := lv.call("POST", "/api/external-connectors", map[string]any{
			"name": name, "type": "fhir", "endpoint": endpoint, "resources": []string{"Patient"},
			"delivery": map[string]any{"initialBackoff": "10ms", "maxBackoff": "50ms"},
		}, &c)
		if code != 201 {
			t.Fatalf("register %s: %d %v", name, code, c)
		}
		return c["connectorId"].(string)
	}
	ehrID := register("County EHR", ehr.URL())
	regID := register("State Registry", registry.URL())
	patient := map[string]any{"mrn": "MRN-1001", "firstName": "Test", "lastName": "Patient", "dob": "1980-01-02", "sex": "F"}
	if code := lv.call("POST", "/api/records/Patient", patient, nil); code != 202 {
		t.Fatalf("post patient: %d", code)
	}
	connector := func(id string) map[string]any {
		var c map[string]any
		lv.call("GET", "/api/external-connectors/"+id, nil, &c)
		return c
	}
	lv.waitFor("delivered to the EHR, dead at the registry", func() bool {
		return connector(ehrID)["delivered"] == float64(1) && connector(regID)["dead"] == float64(1)
	})
	var dead struct{ Messages []map[string]any }
	lv.call("GET", "/api/messages?connector="+regID+"&state=dead", nil, &dead)
	if len(dead.Messages) != 1 {
		t.Fatalf("dead letters: %v", dead.Messages)
	}
	deadID := dead.Messages[0]["id"].(string)

	b := newBrowser(t, chrome)
	row := func(table, attr, id string) string {
		return fmt.Sprintf(`#%s tr[data-%s=%s]`, table, attr, jsString(id))
	}

	// Sign-in: a wrong token is refused, the right one opens the connectors.
	b.run("open the console", chromedp.Navigate(lv.url+"/"), chromedp.WaitVisible(`#token`, chromedp.ByQuery))
	b.run("sign in with a wrong token", chromedp.SendKeys(`#token`, "not-the-token", chromedp.ByQuery), chromedp.Click(`#signin-button`, chromedp.ByQuery))
	b.waitFor("the wrong token refused", `!document.querySelector('#signin-error').hidden && `+has(`#signin-error`, "not accepted"))
	if !strings.Contains(b.text(`#signin-error`), "not accepted") {
		t.Errorf("sign-in error %q", b.text(`#signin-error`))
	}
	b.run("sign in", chromedp.SetValue(`#token`, testToken, chromedp.ByQuery), chromedp.Click(`#signin-button`, chromedp.ByQuery))

	// Connectors: both, with their counts.
	b.waitFor("both connectors listed", `document.querySelector('`+row("connectors", "connector", ehrID)+`') && document.querySelector('`+row("connectors", "connector", regID)+`')`)
	b.waitFor("the EHR's delivered count", has(row("connectors", "connector", ehrID)+` td.delivered`, "1"))
	b.waitFor("the registry's dead count", has(row("connectors", "connector", regID)+` td.dead`, "1"))
	if got := b.text(row("connectors", "connector", ehrID) + ` td.status`); !strings.Contains(got, "connected") {
		t.Errorf("EHR status %q, want connected", got)
	}
	var stored string
	b.eval("read the token's storage", `sessionStorage.getItem('liaison.token')`, &stored)
	if stored != testToken {
		t.Errorf("sessionStorage holds %q", stored)
	}

	// Pause the EHR: the page and the API both say paused.
	b.run("pause the EHR", chromedp.Click(row("connectors", "connector", ehrID)+` button[data-action="pause"]`, chromedp.ByQuery))
	b.waitFor("the EHR shown paused", has(row("connectors", "connector", ehrID)+` td.status`, "paused"))
	if st := connector(ehrID)["status"]; st != "paused" {
		t.Errorf("the API says the EHR is %v, want paused", st)
	}
	b.waitFor("a resume button", `document.querySelector('`+row("connectors", "connector", ehrID)+` button[data-action="resume"]')`)
	b.screenshot("connectors")

	// The registry: its dead letter and the attempt that killed it.
	b.run("open the registry", chromedp.Click(row("connectors", "connector", regID)+` a`, chromedp.ByQuery))
	b.waitFor("the dead letter", `document.querySelector('`+row("dead-letters", "message", deadID)+`')`)
	b.run("open the dead letter", chromedp.Click(row("dead-letters", "message", deadID)+` td`, chromedp.ByQuery))
	b.waitFor("its attempt, refused with 400", has(`#attempt-list`, "400"))
	b.waitFor("the system's OperationOutcome", has(`#attempt-list`, "injected failure"))
	b.screenshot("connector")

	// The registry accepts again: replay, and see it delivered, live.
	registry.FailNext(0, 0, "")
	b.eval("mark the page", `window.__sameDocument = true`, nil)
	b.run("replay the dead letter", chromedp.Click(row("dead-letters", "message", deadID)+` button[data-action="replay"]`, chromedp.ByQuery))
	b.waitFor("the message delivered", has(row("messages", "message", deadID)+` td.state`, "delivered"))
	b.waitFor("no dead letters left", `document.querySelector('#no-dead-letters')`)
	b.waitFor("the dead count back to 0", has(`#view .stats`, "Dead0"))
	if got := registry.Resources("Patient"); len(got) != 1 {
		t.Errorf("the registry holds %d patients after the replay, want 1", len(got))
	}

	// A change made elsewhere shows up too: another patient, posted
	// through the API, is delivered while the page is open.
	other := map[string]any{"mrn": "MRN-1002", "firstName": "Other", "lastName": "Patient", "dob": "1990-03-04", "sex": "M"}
	if code := lv.call("POST", "/api/records/Patient", other, nil); code != 202 {
		t.Fatalf("post another patient: %d", code)
	}
	b.waitFor("the new delivery counted", has(`#view .stats`, "Delivered2"))
	var same bool
	b.eval("check the page was not reloaded", `window.__sameDocument === true`, &same)
	if !same {
		t.Error("the page reloaded: live updates must not reload it")
	}

	// Records: look one up and see where it stands at each connector.
	b.run("open records", chromedp.Click(`a[data-nav="records"]`, chromedp.ByQuery), chromedp.WaitVisible(`#record-id`, chromedp.ByQuery))
	b.run("look up the patient", chromedp.SetValue(`#record-type`, "Patient", chromedp.ByQuery), chromedp.SendKeys(`#record-id`, "MRN-1001", chromedp.ByQuery),
		chromedp.Click(`#record-lookup`, chromedp.ByQuery))
	b.waitFor("the sync state at the EHR", has(row("sync-states", "connector", ehrID)+` td.state`, "delivered"))
	b.waitFor("the sync state at the registry", has(row("sync-states", "connector", regID)+` td.state`, "delivered"))
	if got := b.text(row("sync-states", "connector", regID)); !strings.Contains(got, "State Registry") {
		t.Errorf("sync state row %q does not name the connector", got)
	}
	b.screenshot("record")

	// Mappings, and the playground from there.
	var mappings []map[string]any
	lv.call("GET", "/api/mappings", nil, &mappings)
	version := ""
	for _, m := range mappings {
		if m["name"] == "hms-appointment-to-fhir" {
			version = m["version"].(string)
		}
	}
	mrow := row("mappings", "mapping", "hms-appointment-to-fhir")
	b.run("open mappings", chromedp.Click(`a[data-nav="mappings"]`, chromedp.ByQuery))
	b.waitFor("the mapping and its version", has(mrow+` td.version`, version))
	b.run("open the playground", chromedp.Click(mrow+` a[data-action="playground"]`, chromedp.ByQuery))
	b.waitFor("the mapping picked", `document.querySelector('#pg-mapping') && document.querySelector('#pg-mapping').value === 'hms-appointment-to-fhir'`)
	b.waitFor("its example explained", has(`#pg-output`, `"resourceType": "Appointment"`)+` && `+has(`#pg-trace`, "rules.start"))

	good := `{"appointmentId": "A-77", "patientId": "MRN-1001", "datetime": "2024-06-15 09:30", "tz": "America/New_York",
  "durationMin": 15, "locationId": "LOC-1", "status": "booked", "vaccine": {"code": "141", "display": "Influenza"}}`
	b.run("paste an input", chromedp.SetValue(`#pg-input`, good, chromedp.ByQuery), chromedp.Click(`#pg-run`, chromedp.ByQuery))
	b.waitFor("the output", has(`#pg-output`, `"id": "A-77"`)+` && `+has(`#pg-output`, `"start": "2024-06-15T13:30:00Z"`))
	b.waitFor("no issues", has(`#pg-issues`, "Valid")+` && `+has(`#pg-status`, "valid"))
	b.waitFor("the explain view", has(`#pg-trace`, "input.appointmentId")+` && `+has(`#pg-trace`, "hms-appointment-to-fhir.yaml"))
	b.screenshot("playground")

	bad := strings.Replace(good, `"booked"`, `"maybe"`, 1)
	b.run("paste a bad input", chromedp.SetValue(`#pg-input`, bad, chromedp.ByQuery), chromedp.Click(`#pg-run`, chromedp.ByQuery))
	b.waitFor("the validation issue", has(`#pg-issues`, "Appointment.status")+` && `+has(`#pg-status`, "invalid"))
	if strings.Contains(b.text(`#pg-issues`), "maybe") {
		t.Errorf("the issues echo the input value: %q", b.text(`#pg-issues`))
	}
	b.run("paste broken JSON", chromedp.SetValue(`#pg-input`, `{"appointmentId": "A-77",`, chromedp.ByQuery), chromedp.Click(`#pg-run`, chromedp.ByQuery))
	b.waitFor("where the input is broken", has(`#pg-issues`, "line 1"))

	// Sign out: the token leaves the tab.
	b.run("sign out", chromedp.Click(`#signout`, chromedp.ByQuery), chromedp.WaitVisible(`#signin-form`, chromedp.ByQuery))
	var left bool
	b.eval("check the token is gone", `sessionStorage.getItem('liaison.token') === null`, &left)
	if !left {
		t.Error("the token is still in sessionStorage after signing out")
	}

	for _, e := range b.scriptErrors() {
		t.Errorf("script error in the page: %s", e)
	}
}
