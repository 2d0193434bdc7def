package demo

import (
	"bytes"
	"context"
	"errors"
	"net"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/liaisonhq/liaison/gateway"
	"github.com/liaisonhq/liaison/gateway/adapters/fhirrest"
	"github.com/liaisonhq/liaison/gateway/adapters/rest"
	"github.com/liaisonhq/liaison/gateway/connector"
	"github.com/liaisonhq/liaison/gateway/outbox"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// testAdapters is the part of cmd/liaison's registry the demo needs.
func testAdapters() gateway.Adapters {
	return gateway.Adapters{
		connector.FHIR: func(cfg connector.Config, c *http.Client) (outbox.Sender, error) { return fhirrest.New(cfg, c) },
		connector.REST: func(cfg connector.Config, c *http.Client) (outbox.Sender, error) { return rest.New(cfg, c) },
	}
}

// start starts a demo on a free port, closed when the test ends.
func start(t *testing.T) *Demo {
	t.Helper()
	d, err := Start(Config{Addr: "127.0.0.1:0", Adapters: testAdapters()}, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := d.Close(); err != nil {
			t.Errorf("close: %v", err)
		}
	})
	return d
}

// The scenario runs to its end state, and the report says what went where:
// each change to the other system only, none back to where it came from.
func TestPlay(t *testing.T) {
	d := start(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	r, err := d.Play(ctx)
	if err != nil {
		t.Fatalf("play: %v", err)
	}
	if len(r.Flows) != 14 {
		t.Errorf("%d flows, want 14 (11 from the scheduler, 3 from the EHR)", len(r.Flows))
	}
	other := map[string]string{labelScheduler: labelEHR, labelEHR: labelScheduler}
	counts := map[string]int{}
	for _, f := range r.Flows {
		if len(f.Deliveries) != 1 || f.Deliveries[0].To != other[f.From] {
			t.Errorf("%s %s %s went to %+v, want the %s only", f.From, f.Type, f.ID, f.Deliveries, other[f.From])
		}
		for _, dv := range f.Deliveries {
			if dv.State != "delivered" || dv.Request == "" || dv.Status/100 != 2 {
				t.Errorf("%s %s %s to the %s: %+v", f.From, f.Type, f.ID, dv.To, dv)
			}
			counts[dv.To]++
		}
	}
	if counts[labelEHR] != 11 || counts[labelScheduler] != 3 {
		t.Errorf("deliveries by destination: %v, want EHR 11, scheduler 3", counts)
	}
	delivered := map[string]int{}
	for _, c := range r.Connectors {
		if c.Status != "connected" || c.Queued+c.Failed+c.Dead != 0 {
			t.Errorf("connector %s at the end: %+v", c.Name, c)
		}
		delivered[c.Label] = c.Delivered
	}
	if delivered[labelEHR] != 11 || delivered[labelScheduler] != 3 {
		t.Errorf("delivered by connector: %v, want EHR 11, scheduler 3", delivered)
	}
	// The scheduler took only the EHR's changes: the walk-in and its
	// booking, and the cancellation of A-1003.
	// Different records are delivered concurrently: compare as a set.
	var got []string
	for _, rc := range d.sched.deliveries() {
		got = append(got, rc.method+" "+rc.path+" "+rc.note)
	}
	slices.Sort(got)
	if want := []string{
		"PUT /api/Appointment/A-1003 updated",
		"PUT /api/Appointment/E-2001 created",
		"PUT /api/Patient/E-7001 created",
	}; !slices.Equal(got, want) {
		t.Errorf("the scheduler took %q, want %q", got, want)
	}
	if failed := r.Failed(); len(failed) > 0 || len(r.Checks) != 3 || r.Checks[0].What != "all 14 messages delivered to the other system, none dead" {
		t.Errorf("checks %+v", r.Checks)
	}

	var out bytes.Buffer
	r.WriteTo(&out)
	for _, want := range []string{
		"PUT Appointment?identifier=urn:hms:appointment|A-1001",
		"DELETE Appointment?identifier=urn:hms:appointment|A-1005",
		"PUT /api/Appointment/E-2001",
		"14 changes, 14 deliveries in ",
		"Console: " + d.URL() + "/  admin token: " + d.AdminToken(),
		"LIAISON_URL=" + d.URL() + " LIAISON_ADMIN_TOKEN=" + d.AdminToken(),
	} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("the report lacks %q:\n%s", want, out.String())
		}
	}
	for _, name := range []string{"Alex", "Example", "Casey", "Fictional"} {
		if strings.Contains(out.String(), name) {
			t.Errorf("the report shows a patient's name (%s)", name)
		}
	}
}

// verify notices an end state that differs, at either side.
func TestVerifyNoticesDifferences(t *testing.T) {
	d := start(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if _, err := d.Play(ctx); err != nil {
		t.Fatalf("play: %v", err)
	}
	req, _ := http.NewRequestWithContext(ctx, http.MethodDelete, d.ehr.base+"/Appointment?identifier="+systemAppointment+"|A-1001", nil)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	d.sched.mu.Lock()
	d.sched.records["Appointment"]["E-2001"] = []byte(`{"appointmentId":"E-2001","status":"noshow"}`)
	delete(d.sched.records["Patient"], "E-7001")
	d.sched.mu.Unlock()

	r := &Report{}
	d.verify(r)
	failed := strings.Join(r.Failed(), "\n")
	for _, want := range []string{
		"the EHR has no appointment A-1001",
		"the scheduler has appointment E-2001 noshow, want booked",
		"the scheduler has no patient E-7001",
	} {
		if !strings.Contains(failed, want) {
			t.Errorf("failed checks lack %q:\n%s", want, failed)
		}
	}
}

// A port in use moves the gateway to a free one, and says so.
func TestStartMovesFromABusyPort(t *testing.T) {
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	d, err := Start(Config{Addr: busy.Addr().String(), Adapters: testAdapters()}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	if d.Moved() != busy.Addr().String() || d.URL() == "http://"+busy.Addr().String() {
		t.Errorf("moved %q, url %s", d.Moved(), d.URL())
	}
	res, err := http.Get(d.URL() + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusOK {
		t.Errorf("healthz: %d", res.StatusCode)
	}
}

func TestConfigValidate(t *testing.T) {
	tests := []struct {
		name string
		cfg  Config
		want string // in the error; "" for none
	}{
		{name: "defaults", cfg: Config{Adapters: testAdapters()}},
		{name: "no adapters", cfg: Config{}, want: "adapters: none for fhir connectors"},
		{name: "bad address", cfg: Config{Addr: "localhost", Adapters: testAdapters()}, want: `addr "localhost"`},
		{name: "negative timeout", cfg: Config{Timeout: -time.Second, Adapters: testAdapters()}, want: "timeout -1s"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.cfg.withDefaults().Validate()
			switch {
			case tt.want == "" && err != nil:
				t.Errorf("error %v", err)
			case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)):
				t.Errorf("error %v, want %q", err, tt.want)
			}
		})
	}
	if _, err := Start(Config{}, nil); err == nil || errors.Is(err, ErrVerify) {
		t.Errorf("Start without adapters: %v", err)
	}
}
