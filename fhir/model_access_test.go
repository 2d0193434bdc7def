package fhir

import (
	"os"
	"testing"

	models "github.com/samply/golang-fhir-models/fhir-models/fhir"
)

func TestDecodeModel(t *testing.T) {
	data, err := os.ReadFile("../testdata/fhir/examples/Patient-example.json")
	if err != nil {
		t.Fatal(err)
	}
	res, err := ParseJSON(data)
	if err != nil {
		t.Fatal(err)
	}
	p, err := DecodeModel[models.Patient](res)
	if err != nil {
		t.Fatal(err)
	}
	if p.Gender == nil || *p.Gender != models.AdministrativeGenderMale || p.BirthDate == nil || *p.BirthDate != "1974-12-25" {
		t.Errorf("typed patient = gender %v birthDate %v", p.Gender, p.BirthDate)
	}
	// The typed view drops "_birthDate"; the Resource it came from keeps it.
	if _, ok := res["_birthDate"]; !ok {
		t.Error("the resource lost _birthDate")
	}
	if _, err := DecodeModel[models.Appointment](res); err == nil {
		t.Error("a Patient decoded as an Appointment")
	}
}
