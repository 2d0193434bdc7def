package demo

import (
	"time"

	"github.com/liaisonhq/liaison/fhir"
)

// The scenario. Every name, date and number in it is made up.
//
// The scheduler registers four patients, books five appointments,
// cancels one and withdraws one booked in error; the gateway takes each
// to the EHR. Then the EHR registers a walk-in patient with an
// appointment, and cancels one of the scheduler's bookings; the gateway
// takes both to the scheduler.

// zone is the scheduler's time zone: America/New_York when this system
// knows it, else UTC.
func zone() string {
	if _, err := time.LoadLocation("America/New_York"); err == nil {
		return "America/New_York"
	}
	return "UTC"
}

// step is one change the scheduler makes and posts to the gateway.
type step struct {
	typ, id string
	what    string         // "booked", for the narrative
	record  map[string]any // nil: withdrawn, a DELETE
}

func schedulerSteps() []step {
	tz := zone()
	patient := func(mrn, first, last, dob, sex string) step {
		return step{typ: "Patient", id: mrn, what: "registered", record: map[string]any{
			"mrn": mrn, "firstName": first, "lastName": last, "dob": dob, "sex": sex,
		}}
	}
	appointment := func(id, patient, datetime, status string) map[string]any {
		return map[string]any{"appointmentId": id, "patientId": patient, "datetime": datetime, "tz": tz,
			"durationMin": 15, "locationId": "DEMO-CLINIC-1", "status": status}
	}
	flu := appointment("A-1001", "P-1001", "2030-01-07 09:00", "booked")
	flu["vaccine"] = map[string]any{"code": "141", "display": "Influenza, seasonal, injectable"}
	return []step{
		patient("P-1001", "Alex", "Example", "1970-01-01", "F"),
		patient("P-1002", "Sam", "Sample", "1982-02-02", "M"),
		patient("P-1003", "Jo", "Placeholder", "1994-03-03", "X"),
		patient("P-1004", "Robin", "Testcase", "2001-04-04", "U"),
		{typ: "Appointment", id: "A-1001", what: "booked", record: flu},
		{typ: "Appointment", id: "A-1002", what: "booked", record: appointment("A-1002", "P-1002", "2030-01-07 09:30", "booked")},
		{typ: "Appointment", id: "A-1003", what: "booked", record: appointment("A-1003", "P-1003", "2030-01-07 10:00", "booked")},
		{typ: "Appointment", id: "A-1004", what: "booked", record: appointment("A-1004", "P-1004", "2030-01-08 11:15", "booked")},
		{typ: "Appointment", id: "A-1005", what: "booked", record: appointment("A-1005", "P-1001", "2030-01-08 14:00", "booked")},
		{typ: "Appointment", id: "A-1002", what: "cancelled", record: appointment("A-1002", "P-1002", "2030-01-07 09:30", "cancelled")},
		{typ: "Appointment", id: "A-1005", what: "withdrawn"},
	}
}

// walkIn is the EHR's own change: a walk-in patient registered at its
// front desk, and booked for the next day.
func walkIn() []fhir.Resource {
	return []fhir.Resource{
		{"resourceType": "Patient", "id": "E-7001",
			"name":   []any{map[string]any{"use": "official", "family": "Fictional", "given": []any{"Casey"}}},
			"gender": "other", "birthDate": "1990-05-05"},
		{"resourceType": "Appointment", "id": "E-2001", "status": "booked",
			"start": "2030-01-09T14:00:00Z", "end": "2030-01-09T14:20:00Z", "minutesDuration": 20,
			"participant": []any{map[string]any{"actor": map[string]any{"reference": "Patient/E-7001"}, "status": "accepted"}}},
	}
}

// ehrCancels is the appointment the EHR cancels, one the scheduler booked.
const ehrCancels = "A-1003"

// What the narrative says of the EHR's changes, by resource type.
var (
	walkInWhat = map[string]string{"Patient": "registered (walk-in)", "Appointment": "booked"}
	cancelWhat = map[string]string{"Appointment": "cancelled"}
)

// The end state both sides must hold: each appointment's status ("" when
// there must be none), and the patients.
var (
	wantAppointments = map[string]string{
		"A-1001": "booked", "A-1002": "cancelled", "A-1003": "cancelled", "A-1004": "booked", "A-1005": "", "E-2001": "booked",
	}
	wantPatients = []string{"P-1001", "P-1002", "P-1003", "P-1004", "E-7001"}
)

// Identifier systems of the shipped hms-*-to-fhir mappings.
const (
	systemMRN         = "urn:hms:mrn"
	systemAppointment = "urn:hms:appointment"
)
