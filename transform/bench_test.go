package transform_test

import (
	"bytes"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/liaisonhq/liaison/fhir"
	"github.com/liaisonhq/liaison/mappings"
	"github.com/liaisonhq/liaison/transform"
)

// The HMS benchmarks measure the per-record cost of a shipped mapping
// through the public API — a parsed record (as Decode gives it) mapped with
// Map, then validated and encoded with Encode — against a hand-written Go
// function doing the same work on the same record: build the resource, parse
// the time in its zone, validate with fhir.Validate, encode with
// fhir.EncodeJSON. Both must give the same bytes. Compare with
//
//	go test ./transform/ -run '^$' -bench HMS -benchmem -count 6

const hmsAppointment = `{"appointmentId": "A1", "patientId": "P9", "datetime": "2024-06-15 09:30", "tz": "America/New_York",
 "durationMin": 15, "locationId": "LOC-1", "status": "booked",
 "vaccine": {"code": "141", "display": "Influenza, seasonal, injectable"}, "notes": "  bring card  "}`

const hmsPatient = `{"mrn": "12345", "firstName": "Ada", "middleName": "M", "lastName": "Lovelace", "dob": "1815-12-10", "sex": "F",
 "phones": [{"type": "home", "number": "555-0100"}, {"type": "mobile", "number": "555-0101"}],
 "address": {"line1": "12 St James Sq", "city": "London", "state": "LN", "zip": "SW1Y 4JH"}}`

func BenchmarkHMSAppointmentToFHIR(b *testing.B) {
	benchmarkMapping(b, "hms-appointment-to-fhir", hmsAppointment, appointmentToFHIR)
}

func BenchmarkHMSPatientToFHIR(b *testing.B) {
	benchmarkMapping(b, "hms-patient-to-fhir", hmsPatient, patientToFHIR)
}

// benchmarkMapping runs the mapping and the hand-written function on one
// record, after checking once that they write the same bytes.
func benchmarkMapping(b *testing.B, name, input string, handwritten func(map[string]any) ([]byte, error)) {
	set, err := transform.NewSet(mappings.FS)
	if err != nil {
		b.Fatal(err)
	}
	m, err := set.Get(name)
	if err != nil {
		b.Fatal(err)
	}
	records, err := m.Decode([]byte(input))
	if err != nil {
		b.Fatal(err)
	}
	rec := records[0]
	viaMapping := func() ([]byte, error) {
		out, err := m.Map(rec)
		if err != nil {
			return nil, err
		}
		return m.Encode(out)
	}
	want, err := viaMapping()
	if err != nil {
		b.Fatal(err)
	}
	got, err := handwritten(rec.(map[string]any))
	if err != nil {
		b.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		b.Fatalf("the hand-written function differs from the mapping\nmapping:     %s\nhandwritten: %s", want, got)
	}
	b.Run("mapping", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := viaMapping(); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("handwritten", func(b *testing.B) {
		b.ReportAllocs()
		r := rec.(map[string]any)
		for b.Loop() {
			if _, err := handwritten(r); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// encodeResource is what Mapping.Encode does for a fhir output: check the
// resource type, validate, encode.
func encodeResource(res map[string]any, resourceType string) ([]byte, error) {
	if fhir.Resource(res).Type() != resourceType {
		return nil, fmt.Errorf("resourceType is not %s", resourceType)
	}
	if issues := fhir.Validate(res); issues.HasErrors() {
		return nil, issues
	}
	return fhir.EncodeJSON(res)
}

// put sets a field unless the value is empty, as a mapping leaves out
// empty values.
func put(obj map[string]any, key string, v any) {
	switch x := v.(type) {
	case nil:
		return
	case string:
		if x == "" {
			return
		}
	case []any:
		if len(x) == 0 {
			return
		}
	case map[string]any:
		if len(x) == 0 {
			return
		}
	}
	obj[key] = v
}

var appointmentStatus = map[string]string{"booked": "booked", "cancelled": "cancelled", "noshow": "noshow"}

// zoneCache is what careful hand-written code does: time.LoadLocation reads
// the zone file on every call.
var zoneCache sync.Map

func cachedZone(name string) (*time.Location, error) {
	if loc, ok := zoneCache.Load(name); ok {
		return loc.(*time.Location), nil
	}
	loc, err := time.LoadLocation(name)
	if err == nil {
		zoneCache.Store(name, loc)
	}
	return loc, err
}

// appointmentToFHIR is mappings/hms-appointment-to-fhir.yaml written in Go.
func appointmentToFHIR(in map[string]any) ([]byte, error) {
	id, _ := in["appointmentId"].(string)
	tz, _ := in["tz"].(string)
	datetime, _ := in["datetime"].(string)
	loc, err := cachedZone(tz)
	if err != nil {
		return nil, err
	}
	start, err := time.ParseInLocation("2006-01-02 15:04", datetime, loc)
	if err != nil {
		return nil, err
	}
	minutes, ok := in["durationMin"].(int)
	if !ok {
		return nil, errors.New("durationMin is not a whole number")
	}
	const instant = "2006-01-02T15:04:05.999999999Z07:00"
	end := start.Add(time.Duration(minutes) * time.Minute)

	res := map[string]any{"resourceType": "Appointment"}
	put(res, "id", id)
	put(res, "extension", []any{map[string]any{"url": "http://hl7.org/fhir/StructureDefinition/tz-code", "valueCode": tz}})
	put(res, "identifier", []any{map[string]any{"system": "urn:hms:appointment", "value": id}})
	if s, ok := in["status"].(string); ok {
		put(res, "status", appointmentStatus[s])
	}
	if v, ok := in["vaccine"].(map[string]any); ok {
		coding := map[string]any{"system": "http://hl7.org/fhir/sid/cvx"}
		put(coding, "code", v["code"])
		put(coding, "display", v["display"])
		res["serviceType"] = []any{map[string]any{"coding": []any{coding}}}
	}
	res["start"] = start.UTC().Format(instant)
	res["end"] = end.UTC().Format(instant)
	res["minutesDuration"] = minutes
	notes, _ := in["notes"].(string)
	put(res, "comment", strings.TrimSpace(notes))
	patient, _ := in["patientId"].(string)
	participants := []any{map[string]any{"actor": map[string]any{"reference": "Patient/" + patient}, "status": "accepted"}}
	if l, ok := in["locationId"].(string); ok {
		participants = append(participants, map[string]any{"actor": map[string]any{"reference": "Location/" + l}, "status": "accepted"})
	}
	res["participant"] = participants
	return encodeResource(res, "Appointment")
}

var (
	patientGender   = map[string]string{"F": "female", "M": "male", "U": "unknown", "X": "other"}
	patientPhoneUse = map[string]string{"home": "home", "mobile": "mobile"}
)

// patientToFHIR is mappings/hms-patient-to-fhir.yaml written in Go.
func patientToFHIR(in map[string]any) ([]byte, error) {
	mrn, _ := in["mrn"].(string)
	res := map[string]any{"resourceType": "Patient"}
	put(res, "id", mrn)
	put(res, "identifier", []any{map[string]any{"system": "urn:hms:mrn", "value": mrn}})

	name := map[string]any{"use": "official"}
	put(name, "family", in["lastName"])
	var given []any
	for _, k := range []string{"firstName", "middleName"} {
		if s, _ := in[k].(string); s != "" {
			given = append(given, s)
		}
	}
	put(name, "given", given)
	res["name"] = []any{name}

	phones, _ := in["phones"].([]any)
	telecom := make([]any, 0, len(phones))
	for _, p := range phones {
		phone, _ := p.(map[string]any)
		t := map[string]any{"system": "phone"}
		put(t, "value", phone["number"])
		if s, ok := phone["type"].(string); ok {
			put(t, "use", patientPhoneUse[s])
		}
		telecom = append(telecom, t)
	}
	put(res, "telecom", telecom)
	if s, ok := in["sex"].(string); ok {
		put(res, "gender", patientGender[s])
	}
	put(res, "birthDate", in["dob"])

	if a, ok := in["address"].(map[string]any); ok {
		addr := map[string]any{}
		var lines []any
		for _, k := range []string{"line1", "line2"} {
			if s, _ := a[k].(string); s != "" {
				lines = append(lines, s)
			}
		}
		put(addr, "line", lines)
		put(addr, "city", a["city"])
		put(addr, "state", a["state"])
		put(addr, "postalCode", a["zip"])
		put(res, "address", []any{addr})
	}
	return encodeResource(res, "Patient")
}
