package fhir

import (
	"regexp"
	"strings"
	"testing"
)

func TestTransactionBundle(t *testing.T) {
	tx := NewTransaction()
	patient := Resource{"resourceType": "Patient", "identifier": []any{map[string]any{"system": "urn:hms:patient", "value": "P1"}}}
	ref := tx.Create(patient, "identifier=urn:hms:patient|P1")
	appt := Resource{"resourceType": "Appointment", "id": "A1", "status": "booked",
		"participant": []any{map[string]any{"actor": map[string]any{"reference": ref}, "status": "accepted"}}}
	tx.ConditionalUpdate(appt, "identifier=urn:hms:appointment|A1")
	tx.Update(Resource{"resourceType": "Patient", "id": "P2", "active": true})
	tx.Delete("Appointment?identifier=urn:hms:appointment|A0")

	if !regexp.MustCompile(`^urn:uuid:[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`).MatchString(ref) {
		t.Errorf("fullUrl %q is not a urn:uuid v4", ref)
	}
	b := tx.Bundle()
	if issues := Validate(b); issues.HasErrors() {
		t.Fatalf("transaction bundle is invalid:\n%v", issues)
	}
	out, err := EncodeJSON(b)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		`"type":"transaction"`,
		`"request":{"method":"POST","url":"Patient","ifNoneExist":"identifier=urn:hms:patient|P1"}`,
		`"request":{"method":"PUT","url":"Appointment?identifier=urn:hms:appointment|A1"}`,
		`"request":{"method":"PUT","url":"Patient/P2"}`,
		`"request":{"method":"DELETE","url":"Appointment?identifier=urn:hms:appointment|A0"}`,
		`"reference":"` + ref + `"`,
	} {
		if !strings.Contains(string(out), want) {
			t.Errorf("bundle lacks %s\n%s", want, out)
		}
	}
	if got := Entries(b); len(got) != 3 || got[1].Type() != "Appointment" {
		t.Errorf("Entries = %d resources, want 3 with the Appointment second", len(got))
	}
	if NewBatch().Bundle()["type"] != "batch" {
		t.Error("NewBatch is not a batch")
	}
}
