package gateway

import (
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/liaisonhq/liaison/fhir"
)

// Translation answers in the format Accept asks for, a collection Bundle
// for an input of several records, and 406 for a format it cannot give.
func TestTranslate(t *testing.T) {
	lv := startLive(t, Config{})
	post := func(mapping, ctype, accept, body string) (int, string, []byte) {
		req, _ := http.NewRequest("POST", lv.url+"/api/translate/"+mapping, strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+testToken)
		req.Header.Set("Content-Type", ctype)
		if accept != "" {
			req.Header.Set("Accept", accept)
		}
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		data, _ := io.ReadAll(res.Body)
		return res.StatusCode, res.Header.Get("Content-Type"), data
	}
	appt := `{"appointmentId":"A1","patientId":"P9","datetime":"2024-06-15 09:30","tz":"America/New_York","durationMin":15,"locationId":"LOC-1","status":"booked"}`

	code, ctype, body := post("hms-appointment-to-fhir", "application/json", "", appt)
	if r, err := fhir.ParseJSON(body); code != 200 || ctype != mimeFHIRJSON || err != nil || r["start"] != "2024-06-15T13:30:00Z" {
		t.Errorf("JSON: %d %s %s", code, ctype, body)
	}
	code, ctype, body = post("hms-appointment-to-fhir", "application/json", "application/fhir+xml", appt)
	if r, err := fhir.ParseXML(body); code != 200 || ctype != mimeFHIRXML || err != nil || r["id"] != "A1" {
		t.Errorf("XML: %d %s %s", code, ctype, body)
	}
	roster := "mrn,first_name,last_name,dob,sex,phone,zip\nR-1,Ann,Lee,07/04/1980,f,,94110\nR-2,Bo,Kim,01/02/1975,m,,94110\n"
	code, _, body = post("csv-roster-to-fhir-patient", "text/csv", "", roster)
	b, err := fhir.ParseJSON(body)
	if code != 200 || err != nil || b["type"] != "collection" || len(fhir.Entries(b)) != 2 {
		t.Errorf("CSV: %d %s", code, body)
	}
	if code, _, _ := post("csv-roster-to-fhir-patient", "text/csv", "", "mrn,first_name\n"); code != 400 {
		t.Errorf("CSV without rows: %d, want 400", code)
	}
	if code, _, _ := post("hms-appointment-to-fhir", "application/json", "text/html", appt); code != 406 {
		t.Errorf("Accept text/html: %d, want 406", code)
	}
}
