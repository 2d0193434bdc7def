package gateway

import (
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
)

// scrape returns the /metrics lines of the gateway, by metric and labels.
func scrape(t *testing.T, lv *live) string {
	t.Helper()
	res, err := http.Get(lv.url + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	data, _ := io.ReadAll(res.Body)
	return string(data)
}

// After a run with failures, /metrics counts what happened: retries,
// deliveries, dead letters, messages by state, requests by route template,
// mapping durations — with connector ids and routes as labels, never a
// record id.
func TestMetrics(t *testing.T) {
	ehr := startEHR(t)
	lv := startLive(t, Config{})
	var c map[string]any
	if code := lv.call("POST", "/api/external-connectors", map[string]any{
		"name": "EHR", "type": "fhir", "endpoint": ehr.URL(), "resources": []string{"Appointment"},
		"delivery": map[string]any{"initialBackoff": "10ms", "maxBackoff": "50ms"},
	}, &c); code != 201 {
		t.Fatalf("register: %d %v", code, c)
	}
	id := c["connectorId"].(string)
	appt := func(aid string) map[string]any {
		return map[string]any{"appointmentId": aid, "patientId": "P9", "datetime": "2024-06-15 09:30", "tz": "America/New_York",
			"durationMin": 15, "locationId": "LOC-1", "status": "booked"}
	}
	ehr.FailNext(2, 503, "")
	lv.call("POST", "/api/records/Appointment", appt("Metric-A1"), nil)
	lv.waitFor("the first delivered", func() bool {
		var s map[string]any
		lv.call("GET", "/api/external-connectors/"+id, nil, &s)
		return s["delivered"] == float64(1)
	})
	ehr.FailNext(1, 422, "")
	lv.call("POST", "/api/records/Appointment", appt("Metric-A2"), nil)
	lv.waitFor("the second dead", func() bool {
		var s map[string]any
		lv.call("GET", "/api/external-connectors/"+id, nil, &s)
		return s["dead"] == float64(1)
	})

	text := scrape(t, lv)
	for _, want := range []string{
		fmt.Sprintf(`liaison_delivery_attempts_total{connector="%s",result="retried"} 2`, id),
		fmt.Sprintf(`liaison_delivery_attempts_total{connector="%s",result="delivered"} 1`, id),
		fmt.Sprintf(`liaison_delivery_attempts_total{connector="%s",result="dead"} 1`, id),
		fmt.Sprintf(`liaison_connector_messages{connector="%s",state="delivered"} 1`, id),
		fmt.Sprintf(`liaison_connector_messages{connector="%s",state="dead"} 1`, id),
		fmt.Sprintf(`liaison_connector_messages{connector="%s",state="queued"} 0`, id),
		fmt.Sprintf(`liaison_connector_oldest_queued_age_seconds{connector="%s"} 0`, id),
		fmt.Sprintf(`liaison_delivery_duration_seconds_count{connector="%s"} 4`, id),
		`liaison_http_requests_total{method="POST",route="/api/records/:type",status="202"} 2`,
		`liaison_mapping_duration_seconds_count{mapping="hms-appointment-to-fhir"} 2`,
	} {
		if !strings.Contains(text, want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
	if strings.Contains(text, "Metric-A1") {
		t.Error("a record id is in the metrics")
	}
	if t.Failed() {
		for _, l := range strings.Split(text, "\n") {
			if strings.HasPrefix(l, "liaison_") {
				t.Log(l)
			}
		}
	}
}
